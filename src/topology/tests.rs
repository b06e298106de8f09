use super::*;
use crate::config::Environment;
use crate::shutdown::shutdown_pair;
use crate::time::SystemClock;

/// A configuration whose `[api].address` is `address`, with one source and a console sink.
fn config_listening_on(address: SocketAddr, data_dir: &std::path::Path) -> Config {
    let text = format!(
        r#"
data_dir = "{data}"
[api]
address = "{address}"
[sources.x]
type = "pstn_calls"
tenant_id = "contoso.onmicrosoft.com"
client_id = "11111111-1111-1111-1111-111111111111"
client_secret = "secret"
[sinks.out]
type = "console"
inputs = ["x"]
"#,
        data = data_dir.display(),
    );
    Config::parse(&text, data_dir, &Environment::fixed([]))
        .unwrap_or_else(|problems| panic!("{problems:?}"))
}

#[tokio::test]
async fn an_api_address_in_use_is_a_start_error_naming_the_key_and_keeping_its_cause() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config_listening_on(address, dir.path());
    let options = RunOptions {
        mode: RunMode::Forever,
        clock: Arc::new(SystemClock),
        retry: RetryPolicy::default(),
        reopen: ReopenSignal::default(),
        metrics: Metrics::new().unwrap(),
    };
    let (_trigger, shutdown) = shutdown_pair();
    let error = run(&config, options, shutdown).await.unwrap_err();
    assert!(matches!(error, StartError::Listen { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("api.address: cannot listen on {address}: ")),
        "{text}"
    );
    let cause = std::error::Error::source(&error)
        .and_then(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    assert_eq!(cause, Some(std::io::ErrorKind::AddrInUse));
}

#[test]
fn a_source_that_cannot_be_built_is_named_and_keeps_its_cause() {
    let missing = std::path::PathBuf::from("/nonexistent/ca.pem");
    let cause = crate::http_client::client_trusting(Some(&missing)).unwrap_err();
    let error = StartError::source("x", BuildError::Client(cause));
    let text = error.to_string();
    assert!(
        text.starts_with("sources.x: /nonexistent/ca.pem: "),
        "{text}"
    );
    // sources.x → the source's build error → the client's → the operating system's.
    let mut chain = std::error::Error::source(&error);
    let mut io = None;
    while let Some(cause) = chain {
        io = io.or(cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind));
        chain = cause.source();
    }
    assert_eq!(io, Some(std::io::ErrorKind::NotFound));
}

#[test]
fn the_tenants_of_a_source_share_its_page_buffers_and_another_source_has_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_listening_on("127.0.0.1:0".parse().unwrap(), dir.path());
    let (_trigger, shutdown) = shutdown_pair();
    let shared = leased::Shared {
        http: crate::http_client::builder().unwrap().build().unwrap(),
        paces: Arc::new(PaceBook::new([])),
        store: StateStore::open(dir.path()).unwrap(),
        clock: Arc::new(SystemClock),
        shutdown,
        metrics: Metrics::new().unwrap(),
        retry: RetryPolicy::default(),
        mode: crate::source::RunMode::Once,
        buffers: None,
    };
    let buffers = |shared: &leased::Shared| {
        let cx = shared.context(None, shared.shutdown.clone());
        cx.buffers
            .expect("a multi-tenant source's tenants get its buffers")
    };
    let (_, source) = tenants::sharing_client(&config.sources[0], &shared);
    let (_, another) = tenants::sharing_client(&config.sources[0], &shared);
    let (tenant, other_tenant) = (buffers(&source), buffers(&source));
    assert!(tenant.is_shared_with(&other_tenant));
    assert!(!tenant.is_shared_with(&buffers(&another)));
}
