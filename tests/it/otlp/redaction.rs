//! Redaction reaches the OTLP sink as it reaches the file sink: hashed fields hashed,
//! dropped ones absent, a keep list kept.

use super::*;

#[tokio::test]
async fn hashed_fields_are_hashed_and_dropped_fields_absent_in_every_sink() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    let harness = Harness::start(options()).await;
    let otlp = format!("endpoint = \"http://{address}\"");
    assert_eq!(
        harness
            .once(&config(&harness, &otlp, true))
            .await
            .exit_code(),
        0
    );
    // The simulator's own rows, to compute what the hashes must be.
    let originals: HashMap<String, serde_json::Value> = {
        let generator = &harness.simulator.generator;
        let now = at(NOW);
        generator
            .visible_calls(
                LogKind::Pstn,
                now.saturating_sub(Duration::from_secs(86_400)),
                now,
                false,
                now,
            )
            .map(|call| {
                let mut row = String::new();
                generator.write_row(
                    LogKind::Pstn,
                    pstn_agent::model::ApiVersion::V1,
                    &call,
                    &mut row,
                );
                let value: serde_json::Value = serde_json::from_str(&row).unwrap();
                (value["id"].as_str().unwrap().to_owned(), value)
            })
            .collect()
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, REDACT_KEY.as_bytes());
    let expected_hash = |text: &str| {
        let tag = ring::hmac::sign(&key, text.as_bytes());
        format!(
            "hmac-sha256:{}",
            tag.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    let file_calls: Vec<serde_json::Value> = harness
        .events()
        .into_iter()
        .map(|(_, event)| event["call"].clone())
        .collect();
    let otlp_calls: Vec<serde_json::Value> = received
        .records()
        .into_iter()
        .map(|(body, ..)| body["call"].clone())
        .collect();
    assert_eq!(file_calls.len(), otlp_calls.len());
    for call in file_calls.iter().chain(&otlp_calls) {
        let original = &originals[call["id"].as_str().unwrap()];
        for field in ["callerNumber", "calleeNumber"] {
            assert_eq!(
                call[field].as_str().unwrap(),
                expected_hash(original[field].as_str().unwrap()),
                "{field}"
            );
        }
        assert!(call.get("userDisplayName").is_none() && call.get("userPrincipalName").is_none());
        assert_eq!(
            call["callType"], original["callType"],
            "other fields are untouched"
        );
    }
}

#[tokio::test]
async fn a_keep_list_and_a_hashed_country_reach_every_sink_alike() {
    let address = free_address();
    let received = Arc::new(Received::default());
    start_grpc(address, received.clone());
    let harness = Harness::start(options()).await;
    let otlp = format!("endpoint = \"http://{address}\"");
    let keep = ["id", "startDateTime", "callType", "callerNumber"];
    let redaction = format!(
        "redact = {{ keep = {keep:?}, hash = [\"callerNumber\", \"other_party_country\"], key = \"{REDACT_KEY}\" }}\n"
    );
    let config = config_redacting(&harness, LogKind::Pstn, &otlp, &redaction);
    assert_eq!(harness.once(&config).await.exit_code(), 0);

    let by_id = |events: Vec<serde_json::Value>| -> HashMap<String, serde_json::Value> {
        events
            .into_iter()
            .map(|event| (event["call"]["id"].as_str().unwrap().to_owned(), event))
            .collect()
    };
    let file = by_id(harness.events().into_iter().map(|(_, e)| e).collect());
    let otlp = by_id(received.records().into_iter().map(|(b, ..)| b).collect());
    assert!(file.len() > 100, "{}", file.len());
    assert_eq!(file.len(), otlp.len());
    let mut countries = 0;
    for (id, event) in &file {
        let call = event["call"].as_object().unwrap();
        assert!(call.keys().all(|k| keep.contains(&k.as_str())), "{event}");
        assert!(
            call["callerNumber"]
                .as_str()
                .unwrap()
                .starts_with("hmac-sha256:")
        );
        if let Some(country) = event.get("other_party_country") {
            countries += 1;
            assert!(
                country.as_str().unwrap().starts_with("hmac-sha256:"),
                "{event}"
            );
        }
        let sent = &otlp[id];
        assert_eq!(sent["call"], event["call"], "the OTLP body's call");
        assert_eq!(
            sent.get("other_party_country"),
            event.get("other_party_country"),
            "the OTLP body's country"
        );
    }
    assert!(countries > 100, "{countries} events with a country");
}
