//! Embeds the agent's source in a program of its own: starts the simulated tenant on
//! loopback, reads its PSTN calls of the last hour (one poll), prints each batch and
//! acknowledges it.
//!
//!     cargo run --example embed

use pstn_agent::embed::{EmbeddedSource, Environment, ManualClock, SharedClock, Timestamp};
use pstn_agent::simulate::SimulatorOptions;
use std::sync::Arc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::parse("2024-05-20T12:00:00Z")?));
    let address = ([127, 0, 0, 1], 0).into();
    let tenant =
        pstn_agent::simulate::start(address, SimulatorOptions::default(), clock.clone()).await?;
    let data_dir = std::env::temp_dir().join(format!("pstn-agent-embed-{}", std::process::id()));
    let text = format!(
        r#"
        data_dir = "{data_dir}"
        [sources.pstn_calls]
        type = "pstn_calls"
        tenant_id = "contoso.onmicrosoft.com"
        client_id = "11111111-1111-1111-1111-111111111111"
        client_secret = "secret"
        authority_url = "{url}"
        graph_url = "{url}"
        lookback = "1h"
        "#,
        data_dir = data_dir.display(),
        url = tenant.url(),
    );
    let mut source =
        EmbeddedSource::from_toml(&text, "pstn_calls", &data_dir, &Environment::fixed([]))?
            .clock(clock)
            .once()
            .start()
            .await?;
    let (mut batches, mut events) = (0, 0);
    while let Some(delivery) = source.next_batch().await {
        let delivery = delivery?;
        let first = delivery
            .events()
            .next()
            .and_then(|event| event.envelope().call_id.clone())
            .unwrap_or_default();
        println!("batch: {} events, first call {first}", delivery.len());
        batches += 1;
        events += delivery.len();
        delivery.accept();
    }
    println!("acknowledged {events} events in {batches} batches");
    // The source's own metrics, for the program's /metrics.
    for line in source.metrics_text().lines() {
        if line.starts_with("pstn_calls_total{") {
            println!("metric: {line}");
        }
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
