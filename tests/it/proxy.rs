//! Proxies from the environment never see loopback traffic: the simulator (and any
//! sidecar on this host) gets secrets and tokens directly, not relayed in clear text.

use crate::common;

use common::Harness;
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
            "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\nlookback = \"1h\"\nrequests_per_minute = 60000\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
            harness.dir.path().join("state").display(),
            harness.output().display(),
            url = harness.simulator.url(),
        ),
    )
    .unwrap();
    let output = common::agent_once(&path, move |command| {
        for name in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
            command.env(name, &proxy_url);
        }
        command.env_remove("NO_PROXY").env_remove("no_proxy");
    })
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the proxy was used");
    assert!(!harness.events().is_empty());
}

/// A CONNECT proxy on loopback that tunnels every request to `to` and records the
/// targets it was asked for.
async fn connect_proxy(to: std::net::SocketAddr) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                record.lock().unwrap().push(line);
                let Ok(mut server) = tokio::net::TcpStream::connect(to).await else {
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (url, asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_carries_a_remote_tenant_and_no_proxy_exempts_it() {
    let pki = tempfile::tempdir().unwrap();
    common::make_pki(pki.path());
    let harness = Harness::start(SimulatorOptions {
        tls: Some((pki.path().join("server.pem"), pki.path().join("server.key"))),
        ..SimulatorOptions::default()
    })
    .await;
    let simulator: url::Url = harness.simulator.url().parse().unwrap();
    let port = simulator.port().unwrap();
    let (proxy_url, asked) = connect_proxy(([127, 0, 0, 1], port).into()).await;
    // A name only the proxy can reach (nothing resolves it here).
    let remote = format!("https://graph.example.test:{port}");
    // Each run its own state, so that each has windows to read.
    let config = |run: &str| {
        let path = harness.dir.path().join(format!("{run}.toml"));
        std::fs::write(
            &path,
            format!(
                "data_dir = \"{}\"\n[sources.tenant]\ntype = \"pstn_calls\"\ntenant_id = \"t\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\nauthority_url = \"{remote}\"\ngraph_url = \"{remote}\"\nlookback = \"30m\"\nretry_max_duration = \"2s\"\nca_file = \"{}\"\n[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = [\"tenant\"]\n",
                harness.dir.path().join(run).display(),
                pki.path().join("ca.pem").display(),
                harness.output().display(),
            ),
        )
        .unwrap();
        path
    };
    let run = |path: std::path::PathBuf, no_proxy: &'static str| {
        let proxy_url = proxy_url.clone();
        async move {
            common::agent_once(&path, move |command| {
                command
                    .env("HTTPS_PROXY", &proxy_url)
                    .env("NO_PROXY", no_proxy)
                    .env_remove("no_proxy");
            })
            .await
        }
    };
    let through = run(config("through"), "").await;
    let stderr = String::from_utf8_lossy(&through.stderr);
    assert!(through.status.success(), "{stderr}");
    assert!(!harness.events().is_empty());
    assert!(
        asked
            .lock()
            .unwrap()
            .iter()
            .all(|line| line.starts_with(&format!("CONNECT graph.example.test:{port} "))),
        "{asked:?}"
    );
    assert!(!asked.lock().unwrap().is_empty(), "the proxy was not used");

    asked.lock().unwrap().clear();
    let exempt = run(config("exempt"), "example.test").await;
    // Exempt from the proxy, the name resolves nowhere here: the run fails, and the proxy
    // saw nothing.
    assert!(
        !exempt.status.success(),
        "{}",
        String::from_utf8_lossy(&exempt.stderr)
    );
    assert!(
        asked.lock().unwrap().is_empty(),
        "NO_PROXY was not honoured: {asked:?}"
    );
}
