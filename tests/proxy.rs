//! Proxies from the environment never see loopback traffic: the simulator (and any
//! sidecar on this host) gets secrets and tokens directly, not relayed in clear text.

mod common;

use common::{Harness, NOW};
use pstn_agent::simulate::SimulatorOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_never_goes_through_a_proxy_from_the_environment() {
    // A "proxy" that counts connections and answers nothing useful.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = proxy.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let harness = Harness::start(SimulatorOptions::default()).await;
    let path = harness.dir.path().join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1h\"\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
            url = harness.simulator.url(),
        ),
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
            .arg("--config")
            .arg(&path)
            .args(["--once", "--clock-start", NOW, "--time-scale", "0"])
            .env("HTTP_PROXY", &proxy_url)
            .env("http_proxy", &proxy_url)
            .env("HTTPS_PROXY", &proxy_url)
            .env("ALL_PROXY", &proxy_url)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the proxy was used");
    assert!(!harness.events().is_empty());
}
