//! Throughput on one core, medians of repeated runs (`cargo bench --bench throughput`):
//! - parse only: serde_json reading pages of 1,000 realistic rows into `Value`;
//! - pipeline: the agent's own path for the same bytes: page parse, typed row view,
//!   SQLite dedupe, event encoding into a discarding sink, SQLite commit; and the same
//!   with a directory (each row's `user` found as the agent finds it);
//! - simulator: rows/s the simulated tenant renders into pages (no HTTP), and served
//!   over loopback HTTP to one client.
//!
//! Numbers are printed, never asserted: these machines are noisy.

use bytes::Bytes;
use pstn_agent::event::EventEncoder;
use pstn_agent::graph::Page;
use pstn_agent::model::{
    ApiVersion, DedupeKey, DirectoryAttribute, Enrichment, LogKind, Row, UserAttributes,
};
use pstn_agent::simulate::{Generator, Lateness, SimulatorOptions};
use pstn_agent::state::{
    Commit, DirectoryWrite, SqliteDirectory as DirectoryState, SqliteStore as StateStore,
    StoredUser,
};
use pstn_agent::time::{ManualClock, SharedClock, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE_ROWS: usize = 1000;
const PAGES: usize = 50;
const RUNS: usize = 5;

fn pages(kind: LogKind) -> Vec<Bytes> {
    let generator = Generator::new(42, 200_000.0, Lateness::None);
    let from = Timestamp::parse("2024-05-06T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let far = Timestamp::parse("2030-01-01T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let calls: Vec<_> = generator
        .visible_calls(
            kind,
            from,
            from.saturating_add(Duration::from_secs(30 * 86_400)),
            false,
            far,
        )
        .take(PAGE_ROWS * PAGES)
        .collect();
    calls
        .chunks(PAGE_ROWS)
        .map(|chunk| {
            let mut body = String::from("{\"@odata.count\":1000,\"value\":[");
            for (index, call) in chunk.iter().enumerate() {
                if index > 0 {
                    body.push(',');
                }
                generator.write_row(kind, ApiVersion::V1, call, &mut body);
            }
            body.push_str("]}");
            Bytes::from(body)
        })
        .collect()
}

fn median_rate(rows: usize, mut run: impl FnMut()) -> f64 {
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            run();
            rows as f64 / started.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[RUNS / 2]
}

/// The agent's path without the state database: page, row view, encoding.
fn without_state(pages: &[Bytes]) {
    let encoder = EventEncoder::new("bench", "t", LogKind::Pstn);
    let observed = Timestamp::UNIX_EPOCH;
    let observed_text = observed.to_string();
    for body in pages {
        let page = Page::parse(body.clone()).unwrap_or_else(|error| panic!("{error}"));
        let mut lines = Vec::with_capacity(body.len() + page.len() * 192);
        for raw in page.rows() {
            if let Ok(row) = Row::parse(raw) {
                std::hint::black_box(row.dedupe_key());
                let enrichment = Enrichment {
                    other_party_country: pstn_agent::enrich::other_party_country(&row),
                    user: None,
                };
                std::hint::black_box(encoder.encode(
                    &row,
                    &enrichment,
                    observed,
                    &observed_text,
                    &mut lines,
                ));
            }
        }
        std::hint::black_box(lines);
    }
}

/// The directory of the bench's users, as the agent keeps it after a round and the
/// look-ups of ids Graph does not know: every row pool id, known or unknown.
fn fill_directory(directory: &DirectoryState) {
    let simulated = pstn_agent::simulate::Directory::new(
        pstn_agent::simulate::DEFAULT_DIRECTORY_USERS,
        500,
        false,
    );
    let attributes = DirectoryAttribute::defaults();
    let users = (0..pstn_agent::simulate::ROW_USER_POOL)
        .map(|index| {
            let bytes = simulated.user(index).map(|user| {
                let merged = pstn_agent::enrich::merge_user(&attributes, None, &user);
                UserAttributes::new(merged).json().as_bytes().to_vec()
            });
            (pstn_agent::simulate::user_id(index), bytes)
        })
        .collect();
    directory
        .write(&DirectoryWrite {
            users,
            ..DirectoryWrite::default()
        })
        .unwrap_or_else(|error| panic!("{error}"));
}

/// The users of a page's rows as the agent finds them (src/source/directory.rs): the
/// in-memory cache first, then one read transaction for the ids it lacks.
fn page_users(
    directory: &DirectoryState,
    cache: &mut HashMap<String, Option<Arc<UserAttributes>>>,
    rows: &[Row<'_>],
) -> HashMap<String, Arc<UserAttributes>> {
    let mut found = HashMap::new();
    let mut asked: Vec<String> = Vec::new();
    for id in rows.iter().filter_map(|row| row.user_id.as_deref()) {
        match cache.get(id) {
            Some(Some(user)) => {
                found.insert(id.to_owned(), user.clone());
            }
            Some(None) => {}
            None if !asked.iter().any(|asked| asked == id) => asked.push(id.to_owned()),
            None => {}
        }
    }
    if asked.is_empty() {
        return found;
    }
    let attributes = pstn_agent::model::DirectoryAttribute::defaults();
    let stored = directory
        .users(&asked)
        .unwrap_or_else(|error| panic!("{error}"));
    for (id, stored) in asked.into_iter().zip(stored) {
        let user = match stored {
            StoredUser::Known(bytes) => {
                pstn_agent::enrich::attributes_from_bytes(&attributes, &bytes).map(Arc::new)
            }
            StoredUser::Unknown | StoredUser::Missing => None,
        };
        if let Some(user) = &user {
            found.insert(id.clone(), user.clone());
        }
        cache.insert(id, user);
    }
    found
}

/// The agent's path over `pages` into a fresh state database, timed from the first
/// page on; with `directory`, each new row gets its user as a source with a
/// `[sources.NAME.directory]` does.
fn pipeline(pages: &[Bytes], directory: bool) -> Duration {
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let store = StateStore::open(dir.path()).unwrap_or_else(|error| panic!("{error}"));
    let state = store
        .source("bench", "pstn_calls", "t")
        .unwrap_or_else(|error| panic!("{error}"));
    let directory_state = state.directory().unwrap_or_else(|error| panic!("{error}"));
    if directory {
        fill_directory(&directory_state);
    }
    let mut cache = HashMap::new();
    let encoder = EventEncoder::new("bench", "t", LogKind::Pstn);
    let observed = Timestamp::UNIX_EPOCH;
    let observed_text = observed.to_string();
    let mut sink = std::io::sink();
    let started = Instant::now();
    for body in pages {
        let page = Page::parse(body.clone()).unwrap_or_else(|error| panic!("{error}"));
        let rows: Vec<Row<'_>> = page.rows().filter_map(|raw| Row::parse(raw).ok()).collect();
        let keyed: Vec<(DedupeKey, Timestamp)> = rows
            .iter()
            .map(|row| (row.dedupe_key(), row.start))
            .collect();
        let unseen = state
            .unseen(&keyed)
            .unwrap_or_else(|error| panic!("{error}"));
        let users = if directory {
            page_users(&directory_state, &mut cache, &rows)
        } else {
            HashMap::new()
        };
        // As src/source/page.rs sizes it: `user` adds up to about 256 bytes an event.
        let per_event = if directory { 192 + 256 } else { 192 };
        let mut lines = Vec::with_capacity(body.len() + rows.len() * per_event);
        let mut delivered = Vec::with_capacity(rows.len());
        for ((row, (key, _)), unseen) in rows.iter().zip(keyed).zip(unseen) {
            if unseen {
                let enrichment = Enrichment {
                    other_party_country: pstn_agent::enrich::other_party_country(row),
                    user: row.user_id.as_deref().and_then(|id| users.get(id)).cloned(),
                };
                std::hint::black_box(encoder.encode(
                    row,
                    &enrichment,
                    observed,
                    &observed_text,
                    &mut lines,
                ));
                delivered.push((key.into_bytes(), row.start));
            }
        }
        std::io::Write::write_all(&mut sink, &lines).unwrap_or_else(|error| panic!("{error}"));
        state
            .commit(&Commit {
                delivered,
                cursors: Vec::new(),
                plan_usage: Vec::new(),
                chargeback: Vec::new(),
            })
            .unwrap_or_else(|error| panic!("{error}"));
    }
    started.elapsed()
}

/// The median rows/s of `RUNS` runs that each time themselves.
fn median_timed_rate(rows: usize, mut run: impl FnMut() -> Duration) -> f64 {
    let mut rates: Vec<f64> = (0..RUNS)
        .map(|_| rows as f64 / run().as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[RUNS / 2]
}

/// Whether to run a section: `cargo bench --bench throughput -- pipeline` runs only it.
fn wanted(section: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    filters.is_empty()
        || filters
            .iter()
            .any(|filter| section.contains(filter.as_str()))
}

fn main() {
    let rows = PAGE_ROWS * PAGES;
    let pages = pages(LogKind::Pstn);
    let bytes: usize = pages.iter().map(Bytes::len).sum();
    println!(
        "{PAGES} pages of {PAGE_ROWS} PSTN rows, {:.0} bytes per row",
        bytes as f64 / rows as f64
    );
    let parse_value = median_rate(rows, || {
        for page in &pages {
            let value: serde_json::Value = serde_json::from_slice(page).unwrap_or_default();
            std::hint::black_box(value);
        }
    });
    println!("parse only (serde_json::Value): {parse_value:>10.0} rows/s");
    let parse_ignored = median_rate(rows, || {
        for page in &pages {
            let value: serde::de::IgnoredAny =
                serde_json::from_slice(page).unwrap_or_else(|error| panic!("{error}"));
            std::hint::black_box(value);
        }
    });
    println!("parse only (validate, IgnoredAny): {parse_ignored:>7.0} rows/s");
    if !wanted("pipeline") {
        return;
    }
    let no_state = median_rate(rows, || without_state(&pages));
    println!("agent path without state (page, view, encode): {no_state:>7.0} rows/s");
    let agent = median_timed_rate(rows, || pipeline(&pages, false));
    println!(
        "agent pipeline (new rows, SQLite dedupe + commit): {agent:>7.0} rows/s  = {:.2} x Value parse, {:.2} x IgnoredAny parse",
        agent / parse_value,
        agent / parse_ignored
    );
    let enriched = median_timed_rate(rows, || pipeline(&pages, true));
    println!(
        "agent pipeline with a directory (user on each row): {enriched:>6.0} rows/s  = {:+.1}% cost per row",
        (agent / enriched - 1.0) * 100.0
    );
    if wanted("simulator") {
        simulator_section(rows);
    }
}

/// How fast the simulator renders rows, and serves them over loopback HTTP.
fn simulator_section(rows: usize) {
    let generator = Generator::new(42, 200_000.0, Lateness::Default);
    let from = Timestamp::parse("2024-05-06T00:00:00Z").unwrap_or(Timestamp::UNIX_EPOCH);
    let now = from.saturating_add(Duration::from_secs(40 * 86_400));
    let render = median_rate(rows, || {
        let mut body = String::new();
        for call in generator
            .visible_calls(LogKind::Pstn, from, now, false, now)
            .take(rows)
        {
            generator.write_row(LogKind::Pstn, ApiVersion::V1, &call, &mut body);
            if body.len() > 4 << 20 {
                body.clear();
            }
        }
        std::hint::black_box(body);
    });
    println!("simulator rendering rows: {render:>10.0} rows/s");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let served = runtime.block_on(async {
        let clock: SharedClock = Arc::new(ManualClock::new(now));
        let options = SimulatorOptions { seed: 42, calls_per_day: 200_000.0, lateness: Lateness::None, ..SimulatorOptions::default() };
        let simulator = pstn_agent::simulate::start(([127, 0, 0, 1], 0).into(), options, clock).await.unwrap_or_else(|error| panic!("{error}"));
        let http = pstn_agent::topology::http_client().unwrap_or_else(|error| panic!("{error}"));
        let token_url = format!("{}/t/oauth2/v2.0/token", simulator.url());
        let answer: serde_json::Value = serde_json::from_slice(
            &http.post(token_url).header("content-type", "application/x-www-form-urlencoded").body("grant_type=client_credentials&client_id=c&client_secret=s&scope=x").send().await.unwrap_or_else(|error| panic!("{error}")).bytes().await.unwrap_or_default(),
        )
        .unwrap_or_default();
        let token = answer["access_token"].as_str().unwrap_or_default().to_owned();
        let mut url = format!("{}/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-05-06T00:00:00Z,toDateTime=2024-05-06T06:00:00Z)", simulator.url());
        let started = Instant::now();
        let mut served = 0usize;
        loop {
            let body = http.get(&url).bearer_auth(&token).send().await.unwrap_or_else(|error| panic!("{error}")).bytes().await.unwrap_or_default();
            let page = Page::parse(body).unwrap_or_else(|error| panic!("{error}"));
            served += page.len();
            match page.next_link() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        served as f64 / started.elapsed().as_secs_f64()
    });
    println!("simulator served over loopback HTTP (one client, 6 h window): {served:>7.0} rows/s");
}
