//! Bad input never panics: pages, rows, timestamps, configs, next links and
//! `${VAR}` references, random and mutated from real ones.
//!
//! CI runs proptest's default number of cases; the long run (a million cases and more):
//! `PROPTEST_CASES=200000 cargo test --release --test it fuzz::`

use bytes::Bytes;
use proptest::prelude::*;
use pstn_agent::config::{Config, Environment, interpolate};
use pstn_agent::graph::{GraphEndpoint, Page};
use pstn_agent::model::{ApiVersion, LogKind, Row};
use pstn_agent::simulate::{Generator, Lateness};
use pstn_agent::time::Timestamp;
use std::path::Path;

/// A real page of the simulated tenant, to mutate.
fn real_page() -> String {
    page_of(20)
}

/// A page of `rows` calls of the simulated tenant, with a next link.
fn page_of(rows: usize) -> String {
    let generator = Generator::new(9, 5000.0, Lateness::None);
    let from = Timestamp::parse("2024-05-06T00:00:00Z").unwrap();
    let to = Timestamp::parse("2024-05-06T02:00:00Z").unwrap();
    let mut body = String::from(
        "{\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/x(from=a,to=b)?$skip=20\",\"value\":[",
    );
    for (index, call) in generator
        .visible_calls(
            LogKind::Pstn,
            from,
            to,
            false,
            to.saturating_add(std::time::Duration::from_secs(86_400 * 9)),
        )
        .take(rows)
        .enumerate()
    {
        if index > 0 {
            body.push(',');
        }
        generator.write_row(LogKind::Pstn, ApiVersion::Beta, &call, &mut body);
    }
    body.push_str("]}");
    body
}

const CONFIG: &str = "data_dir = \"/tmp/x\"\n[sources.a]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"${S:-x}\"\npoll_interval = \"5m\"\n[sinks.b]\ntype = \"console\"\ninputs = [\"a\"]\n";

/// Applies byte edits (position, new byte) and a cut to a valid text.
fn mutate(text: &str, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for (position, byte) in edits {
        let index = position % bytes.len();
        bytes[index] = *byte;
    }
    bytes.truncate(cut % (bytes.len() + 1));
    bytes
}

fn parse_page_and_rows(bytes: Vec<u8>) {
    if let Ok(page) = Page::parse(Bytes::from(bytes)) {
        for raw in page.rows() {
            if let Ok(row) = Row::parse(raw) {
                let _ = row.dedupe_key();
                let _ = row.charge.as_ref().and_then(|amount| amount.value());
            }
        }
    }
}

/// Bytes that matter to JSON's grammar, so that edits hit it more often than chance.
const JSON_BYTES: &[u8] = b"{}[]\",:\\ \t\n\r0123456789-+.eEtrufalsnxgdD/\x01\x7f";

/// A page of three calls with what Graph's pages rarely hold: nested unread fields,
/// escapes, every literal, exponents.
fn unusual_page() -> String {
    let page = page_of(3);
    let extra = r#""extra":{"a":[1,-2.5e-3,true,false,null,"x\u00e9\n"],"b":{}},"@odata.count":3,"#;
    page.replacen('{', &format!("{{{extra}"), 1)
}

/// Applies edits to a text, each at a small step (0 to 7 bytes) past the one before and
/// the first at `at`, so that edits build short runs (`\x`, `1.e`) as well as single
/// bytes: an edit 0 replaces, 1 inserts, 2 deletes a byte, taken from [`JSON_BYTES`].
fn edit_json(text: &str, at: usize, edits: &[(u8, u8, usize)]) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let mut index = at % (bytes.len() + 1);
    for (step, edit, byte) in edits {
        index = (index + usize::from(step % 8)).min(bytes.len());
        let byte = JSON_BYTES[byte % JSON_BYTES.len()];
        match (edit % 3, index < bytes.len()) {
            (0, true) => bytes[index] = byte,
            (2, true) => {
                bytes.remove(index);
            }
            _ => bytes.insert(index, byte),
        }
    }
    String::from_utf8(bytes).ok()
}

/// What a page reads as: its rows' texts and next link, or the error's message.
type PageRead = Result<(Vec<String>, Option<String>), String>;

fn read_by_the_agent(body: &str) -> PageRead {
    Page::parse(Bytes::from(body.to_owned()))
        .map(|page| {
            let rows = page.rows().map(str::to_owned).collect();
            (rows, page.next_link().map(str::to_owned))
        })
        .map_err(|error| error.to_string())
}

/// Asserts that each row of the page reads the same from the places the walk noted as
/// from its own scan, as each kind.
fn rows_read_from_spans_read_as_scanned(body: &str) {
    let Ok(page) = Page::parse(Bytes::from(body.to_owned())) else {
        return;
    };
    for (raw, spans) in page.rows_with_spans() {
        for kind in [
            LogKind::Pstn,
            LogKind::DirectRouting,
            LogKind::Sms,
            LogKind::PstnBlockedUser,
        ] {
            assert_eq!(
                format!("{:?}", Row::parse_page_row(raw, kind, spans)),
                format!("{:?}", Row::parse_page_row(raw, kind, None)),
                "{kind:?} {raw}"
            );
        }
    }
}

fn read_by_serde_json(body: &str) -> PageRead {
    Page::parse_by_serde_json(body)
        .map(|(rows, link)| (rows.into_iter().map(str::to_owned).collect(), link))
        .map_err(|error| error.to_string())
}

#[test]
fn pages_read_by_the_walk_read_as_serde_json_reads_them() {
    for body in [real_page(), unusual_page()] {
        assert!(Page::walks(&body), "the walk reads real pages itself");
        assert_eq!(read_by_the_agent(&body), read_by_serde_json(&body));
        let page = Page::parse(Bytes::from(body.clone())).unwrap();
        assert!(
            page.rows_with_spans().all(|(_, spans)| spans.is_some()),
            "a walked page's rows are read from their spans"
        );
        rows_read_from_spans_read_as_scanned(&body);
    }
    // Bodies at the edges of JSON's grammar, each read as serde_json reads it.
    let deep = |levels: usize| {
        format!(
            "{{\"value\":[{}1{}]}}",
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    for body in [
        r#"{"value":["\ud800","\ud83d\ude00","\ude00\ud83d","\uDBFF\uDFFF"]}"#.to_owned(),
        r#"{"value":[-0,1E+2,0.0e0,1e999999,-1.5E-3,0]}"#.to_owned(),
        "{\"value\":[\"a\u{7f}b\"]}".to_owned(),
        "{\"value\":[\"a\u{1}b\"]}".to_owned(),
        "\u{feff}{\"value\":[]}".to_owned(),
        String::new(),
        r#"[[1],"x"]"#.to_owned(),
        r#"{"value":[1,"a",null,[],{},true,false]}"#.to_owned(),
        r#"{"value":[],"@odata.nextLink":""}"#.to_owned(),
        r#"{"value":[],"@odata.nextLink":null}"#.to_owned(),
        r#"{"value":[01]}"#.to_owned(),
        " {\"value\" : [ 1 , 2 ] } \n".to_owned(),
        deep(65),
        deep(300),
    ] {
        assert_eq!(
            read_by_the_agent(&body),
            read_by_serde_json(&body),
            "{body}"
        );
    }
    let escaped = r#"{"valu\u0065":[{"id":"a"}],"@odata.nextLink":"https:\/\/graph"}"#;
    assert_eq!(
        read_by_the_agent(escaped),
        Ok((
            vec![r#"{"id":"a"}"#.to_owned()],
            Some("https://graph".to_owned())
        ))
    );
    let twice = r#"{"value":[],"value":[]}"#;
    assert_eq!(read_by_the_agent(twice), read_by_serde_json(twice));
    assert!(read_by_the_agent(twice).is_err());
}

proptest! {
    #[test]
    fn edited_pages_read_as_serde_json_reads_them(at in any::<usize>(), edits in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<usize>()), 1..6), unusual in any::<bool>()) {
        thread_local!(static PAGES: [String; 2] = [page_of(3), unusual_page()]);
        let body = PAGES.with(|pages| edit_json(&pages[usize::from(unusual)], at, &edits));
        if let Some(body) = body {
            prop_assert_eq!(read_by_the_agent(&body), read_by_serde_json(&body), "{}", body);
            rows_read_from_spans_read_as_scanned(&body);
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_page_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_page_and_rows(bytes);
    }

    #[test]
    fn mutated_real_pages_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        thread_local!(static PAGE: String = real_page());
        let bytes = PAGE.with(|page| mutate(page, &edits, cut));
        parse_page_and_rows(bytes);
    }

    #[test]
    fn arbitrary_rows_never_panic(text in any::<String>()) {
        let _ = Row::parse(&text);
        let _ = Row::parse(&format!("{{\"id\":\"a\",\"startDateTime\":{}}}", serde_json::to_string(&text).unwrap()));
    }

    #[test]
    fn timestamps_never_panic_and_round_trip(text in any::<String>(), ticks in -621_355_968_000_000_000_i64..2_534_023_007_990_000_000_i64) {
        let _ = Timestamp::parse(&text);
        let timestamp = Timestamp::from_ticks(ticks);
        prop_assert_eq!(Timestamp::parse(&timestamp.to_string()), Ok(timestamp));
    }

    #[test]
    fn configs_never_panic(text in any::<String>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in any::<usize>()) {
        let environment = Environment::fixed([]);
        let _ = Config::parse(&text, Path::new("/"), &environment);
        let mutated = String::from_utf8_lossy(&mutate(CONFIG, &edits, cut)).into_owned();
        let _ = Config::parse(&mutated, Path::new("/"), &environment);
        let _ = interpolate(&text, &environment);
    }

    #[test]
    fn next_links_are_followed_only_to_the_graph_origin(link in any::<String>(), host in proptest::collection::vec(b'a'..=b'z', 1..12).prop_map(|letters| String::from_utf8(letters).unwrap_or_default()), port in 1u16..) {
        let endpoint = GraphEndpoint {
            base: url::Url::parse("https://graph.microsoft.com").unwrap(),
            version: ApiVersion::V1,
            kind: LogKind::Pstn,
            tenant_id: "t".into(),
        };
        if let Ok(url) = endpoint.check_next_link(&link) {
            prop_assert_eq!(url.host_str(), Some("graph.microsoft.com"));
            prop_assert_eq!(url.port_or_known_default(), Some(443));
            prop_assert_eq!(url.scheme(), "https");
        }
        let foreign = format!("https://{host}.example.com/v1.0/x?$skip=1");
        prop_assert!(endpoint.check_next_link(&foreign).is_err());
        let other_port = format!("https://graph.microsoft.com:{port}/v1.0/x");
        prop_assert_eq!(endpoint.check_next_link(&other_port).is_ok(), port == 443);
        let plain = "http://graph.microsoft.com/v1.0/x";
        prop_assert!(endpoint.check_next_link(plain).is_err());
    }
}
