use super::*;
use crate::model::Secret;
use crate::sinks::Progress;
use crate::sinks::batch_of;

fn sink(hash: &[&str], drop: &[&str], key: Option<&str>) -> RedactingSink {
    keeping(hash, drop, None, key)
}

fn keeping(
    hash: &[&str],
    drop: &[&str],
    keep: Option<&[&str]>,
    key: Option<&str>,
) -> RedactingSink {
    struct Nowhere;
    impl Sink for Nowhere {
        fn deliver<'a>(&'a mut self, _: &'a Batch, _: &'a mut Progress) -> DeliveryFuture<'a> {
            Box::pin(async { Ok(()) })
        }
    }
    let config = RedactConfig {
        hash: hash.iter().map(|f| f.to_string()).collect(),
        drop: drop.iter().map(|f| f.to_string()).collect(),
        keep: keep.map(|keep| keep.iter().map(|f| f.to_string()).collect()),
        key: key.map(|k| Secret::new(k.to_owned())),
    };
    RedactingSink::new("siem", Box::new(Nowhere), &config)
}

fn hmac_hex(key: &str, text: &str) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        text.as_bytes(),
    );
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("hmac-sha256:{hex}")
}

#[test]
fn named_fields_are_hashed_or_dropped_and_everything_else_kept_in_order() {
    let batch = batch_of(&[
        r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","callerNumber":"+1 555\u0030","x":{"k": [1, 2]},"userDisplayName":"Ann","calleeNumber":null,"n":12}"#,
        r#"{"id":"b","startDateTime":"2024-05-01T00:00:01Z"}"#,
    ]);
    let redactor = sink(
        &["callerNumber", "calleeNumber", "n"],
        &["userDisplayName"],
        Some("k"),
    );
    let redacted = redactor.redact(&batch).unwrap();
    assert_eq!(redacted.events.len(), 2);
    let line = std::str::from_utf8(redacted.line(0)).unwrap();
    let expected_call = format!(
        r#"{{"id":"a","startDateTime":"2024-05-01T00:00:00Z","callerNumber":"{}","x":{{"k": [1, 2]}},"calleeNumber":null,"n":"{}"}}"#,
        hmac_hex("k", "+1 5550"),
        hmac_hex("k", "12"),
    );
    let envelope =
        std::str::from_utf8(&batch.lines[batch.events[0].line.start..batch.events[0].call.start])
            .unwrap();
    assert_eq!(
        line,
        format!("{envelope}{expected_call}}}\n"),
        "envelope and order kept"
    );
    assert_eq!(
        std::str::from_utf8(redacted.call(0)).unwrap(),
        expected_call
    );
    assert_eq!(redacted.timestamp_text(0), "2024-05-01T00:00:00Z");
    assert_eq!(
        redacted.line(1),
        batch.line(1),
        "a row without those fields is unchanged"
    );
}

#[test]
fn hashing_without_a_key_writes_null() {
    let batch =
        batch_of(&[r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","callerNumber":"+1"}"#]);
    let redacted = sink(&["callerNumber"], &[], None).redact(&batch).unwrap();
    let event: serde_json::Value = serde_json::from_slice(redacted.line(0)).unwrap();
    assert_eq!(event["call"]["callerNumber"], serde_json::Value::Null);
}

#[test]
fn a_call_that_cannot_be_read_is_a_permanent_error_for_that_event_without_its_fields() {
    let mut batch = batch_of(&[
        r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z"}"#,
        r#"{"id":"b","startDateTime":"2024-05-01T00:00:01Z","callerNumber":"+1"}"#,
    ]);
    // Spoil the second call's text (a valid source never hands such a row over).
    let mut lines = batch.lines.to_vec();
    let call = batch.events[1].call.clone();
    lines[call.end - 1] = b' ';
    batch.lines = lines.into();
    let error = sink(&["callerNumber"], &[], Some("k"))
        .redact(&batch)
        .unwrap_err();
    assert_eq!((error.is_retryable(), error.event()), (false, Some(1)));
    let seen = String::from_utf8(error.seen_as.unwrap().to_vec()).unwrap();
    let seen: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(seen["call"], serde_json::json!({"id": "b"}));
    assert_eq!(seen["source"], "tenant");
}

#[test]
fn compacting_keeps_strings_and_drops_whitespace() {
    assert_eq!(
        compact(r#"{ "a" : [1, 2], "b": "x  \" y" }"#),
        r#"{"a":[1,2],"b":"x  \" y"}"#
    );
}

#[test]
fn user_fields_are_hashed_or_dropped_in_the_line_and_the_envelope() {
    use crate::model::{CountryCode, Enrichment, LogKind, Row, UserAttributes};
    let row = Row::parse(r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z"}"#).unwrap();
    let user = UserAttributes::new(
        [
            ("department".to_owned(), "Sales".to_owned()),
            ("costCenter".to_owned(), "CC-1".to_owned()),
            ("officeLocation".to_owned(), "Oslo".to_owned()),
        ]
        .into(),
    );
    let enrichment = Enrichment {
        other_party_country: CountryCode::parse("NO"),
        user: Some(Arc::new(user)),
    };
    let encoder = crate::event::EventEncoder::new("s", "t", LogKind::Pstn);
    let mut lines = Vec::new();
    let span = encoder.encode(
        &row,
        &enrichment,
        crate::time::Timestamp::UNIX_EPOCH,
        "x",
        &mut lines,
    );
    let batch = Batch {
        lines: lines.into(),
        events: vec![span],
    };
    let redacted = sink(&["user.department"], &["user.costCenter"], Some("k"))
        .redact(&batch)
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(redacted.line(0)).unwrap();
    assert_eq!(event["user"]["department"], hmac_hex("k", "Sales"));
    assert_eq!(event["user"]["officeLocation"], "Oslo");
    assert!(event["user"].get("costCenter").is_none(), "{event}");
    assert_eq!(event["other_party_country"], "NO");
    assert_eq!(redacted.line(0).last(), Some(&b'\n'));
    let envelope_user = redacted.events[0].envelope.user.as_ref().unwrap();
    assert_eq!(
        envelope_user.get("department"),
        Some(hmac_hex("k", "Sales").as_str())
    );
    assert_eq!(envelope_user.get("costCenter"), None);

    let dropped = sink(&[], &["user"], None).redact(&batch).unwrap();
    let event: serde_json::Value = serde_json::from_slice(dropped.line(0)).unwrap();
    assert!(event.get("user").is_none(), "{event}");
    assert!(dropped.events[0].envelope.user.is_none());
}

/// One event of a PSTN row with the enrichment beside it: country `NO`, a user.
fn enriched_batch(raw: &str) -> Batch {
    use crate::model::{CountryCode, Enrichment, LogKind, Row, UserAttributes};
    let row = Row::parse(raw).unwrap();
    let user = UserAttributes::new([("department".to_owned(), "Sales".to_owned())].into());
    let enrichment = Enrichment {
        other_party_country: CountryCode::parse("NO"),
        user: Some(Arc::new(user)),
    };
    let encoder = crate::event::EventEncoder::new("s", "t", LogKind::Pstn);
    let mut lines = Vec::new();
    let span = encoder.encode(
        &row,
        &enrichment,
        crate::time::Timestamp::UNIX_EPOCH,
        "x",
        &mut lines,
    );
    Batch {
        lines: lines.into(),
        events: vec![span],
    }
}

#[test]
fn keep_lets_only_the_named_call_fields_pass_and_a_new_field_never() {
    let batch = enriched_batch(
        r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","callType":"user_out","callerNumber":"+4722","userDisplayName":"Ann","brandNewPersonalField":"secret"}"#,
    );
    let keep: &[&str] = &["id", "startDateTime", "callType", "callerNumber"];
    let redacted = keeping(&["callerNumber"], &[], Some(keep), Some("k"))
        .redact(&batch)
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(redacted.line(0)).unwrap();
    let call = event["call"].as_object().unwrap();
    let names: Vec<&str> = call.keys().map(String::as_str).collect();
    assert_eq!(names.len(), 4, "{event}");
    assert!(names.iter().all(|name| keep.contains(name)), "{event}");
    assert_eq!(call["callerNumber"], hmac_hex("k", "+4722"));
    assert_eq!(call["callType"], "user_out");
    // The enrichment is not the call's: it stays unless hash or drop names it.
    assert_eq!(event["other_party_country"], "NO");
    assert_eq!(event["user"]["department"], "Sales");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(redacted.call(0)).unwrap(),
        event["call"]
    );
}

#[test]
fn other_party_country_is_hashed_or_dropped_in_the_line_and_the_envelope() {
    let batch = enriched_batch(
        r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","calleeNumber":"+4722"}"#,
    );
    let hashed = sink(&["other_party_country"], &[], Some("k"))
        .redact(&batch)
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(hashed.line(0)).unwrap();
    assert_eq!(event["other_party_country"], hmac_hex("k", "NO"));
    assert_eq!(event["user"]["department"], "Sales", "{event}");
    assert_eq!(event["call"]["calleeNumber"], "+4722");
    assert!(hashed.events[0].envelope.other_party_country.is_none());
    assert_eq!(hashed.line(0).last(), Some(&b'\n'));

    let dropped = sink(&[], &["other_party_country", "user"], None)
        .redact(&batch)
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(dropped.line(0)).unwrap();
    assert!(event.get("other_party_country").is_none(), "{event}");
    assert!(event.get("user").is_none(), "{event}");
    assert!(dropped.events[0].envelope.other_party_country.is_none());
    assert!(dropped.events[0].envelope.user.is_none());
    // The enrichment the OTLP sink reads is the line's.
    assert_eq!(enrichment_object(&dropped, 0), None);
    assert_eq!(
        enrichment_object(&hashed, 0).map(|object| {
            serde_json::from_slice::<serde_json::Value>(&object).unwrap()["other_party_country"]
                .clone()
        }),
        Some(serde_json::Value::String(hmac_hex("k", "NO")))
    );
}

/// The envelope's id and call type become OTLP attributes: they follow the row's
/// redaction (hashed with it, gone with it), or the raw values would leak there.
#[test]
fn the_envelopes_id_and_call_type_are_redacted_like_the_row() {
    let batch = enriched_batch(
        r#"{"id":"a","startDateTime":"2024-05-01T00:00:00Z","callType":"user_out","calleeNumber":"+4722"}"#,
    );
    assert_eq!(batch.events[0].envelope.call_id.as_deref(), Some("a"));
    assert_eq!(
        batch.events[0].envelope.call_type.as_deref(),
        Some("user_out")
    );
    let hashed = sink(&["id"], &["callType"], Some("k"))
        .redact(&batch)
        .unwrap();
    let envelope = &hashed.events[0].envelope;
    assert_eq!(
        envelope.call_id.as_deref(),
        Some(hmac_hex("k", "a").as_str())
    );
    assert_eq!(envelope.call_type, None);
    let keep: &[&str] = &["startDateTime", "calleeNumber"];
    let kept = keeping(&[], &[], Some(keep), None).redact(&batch).unwrap();
    let envelope = &kept.events[0].envelope;
    assert_eq!(
        (envelope.call_id.as_deref(), envelope.call_type.as_deref()),
        (None, None)
    );
}
