//! How every outbound HTTP client of the agent starts: rustls with ring, our user
//! agent, no redirects (a redirect must never carry a token or a record elsewhere),
//! and proxies as users set them, except that loopback never goes through one. Then
//! one kit for their answers: capped reads and `Retry-After` ([`Answer`]), the error
//! bodies of Graph, Azure and Entra ID ([`ErrorBody`]), and the rules of a token-bearing
//! exchange (401 refreshes once, throttling waits within limits: [`Exchange`]), and the
//! few large buffers a source reuses from page to page ([`BufferPool`]).

mod answer;
mod details;
mod exchange;
mod pool;

pub use answer::{Answer, MAX_RETRY_AFTER, ReadError, retry_after};
pub use details::{ErrorBody, clip};
pub use exchange::{Exchange, Step, Throttling};
pub use pool::BufferPool;

/// A client builder with the agent's defaults; add timeouts and roots, then build.
pub fn builder() -> Result<reqwest::ClientBuilder, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    with_proxies(
        reqwest::Client::builder()
            .user_agent(concat!("pstn-agent/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none()),
    )
}

/// Why the agent's own HTTP client could not be built; each keeps its cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A proxy variable holds no usable URL (the message names the variable only).
    #[error("{0}")]
    Proxy(String),
    /// The `ca_file` could not be read.
    #[error("{}: {source}", path.display())]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The `ca_file` holds no usable PEM certificate.
    #[error("{}: {source}", path.display())]
    Certificate {
        /// The file.
        path: std::path::PathBuf,
        /// What reqwest said of it.
        source: reqwest::Error,
    },
    /// reqwest refused the settings.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

/// The HTTP client sources share: the defaults of [`builder`] (rustls with ring, no
/// redirects, a clear user agent), connect and idle timeouts, a cap on idle connections.
pub fn client() -> Result<reqwest::Client, ClientError> {
    client_trusting(None)
}

/// The same client, also trusting the CA in `ca_file` (PEM).
pub fn client_trusting(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, ClientError> {
    let mut builder = builder().map_err(ClientError::Proxy)?;
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|source| ClientError::CaFile {
            path: path.to_owned(),
            source,
        })?;
        let certificate =
            reqwest::Certificate::from_pem(&pem).map_err(|source| ClientError::Certificate {
                path: path.to_owned(),
                source,
            })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .connect_timeout(std::time::Duration::from_secs(15))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        // A thousand tenants polled together left 532 idle connections to one host
        // (17 kB each before TLS); a few dozen keep every poll's connection reused.
        .pool_max_idle_per_host(32)
        .build()
        .map_err(ClientError::Build)
}

/// Builds a proxy for one scheme from its URL.
type MakeProxy = fn(&str) -> reqwest::Result<reqwest::Proxy>;

/// Proxies from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case),
/// with loopback always excepted: a simulator or a sidecar on this host must not have
/// its secrets and tokens relayed through a proxy.
fn with_proxies(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, String> {
    let variable = |names: [&str; 2]| {
        names.into_iter().find_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
    };
    let exceptions = format!(
        "{},localhost,127.0.0.0/8,::1",
        variable(["NO_PROXY", "no_proxy"]).unwrap_or_default()
    );
    let mut builder = builder.no_proxy();
    let proxies: [(_, MakeProxy); 3] = [
        (["HTTPS_PROXY", "https_proxy"], |url| {
            reqwest::Proxy::https(url)
        }),
        (["HTTP_PROXY", "http_proxy"], |url| {
            reqwest::Proxy::http(url)
        }),
        (["ALL_PROXY", "all_proxy"], |url| reqwest::Proxy::all(url)),
    ];
    for (names, make) in proxies {
        if let Some(url) = variable(names) {
            // The URL may hold the proxy's password: the message names the variable only.
            let proxy = make(&url).map_err(|_| format!("{}: not a usable proxy URL", names[0]))?;
            builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_string(&exceptions)));
        }
    }
    Ok(builder)
}

/// An error and its causes, `outer: inner: innermost`: reqwest's own message says
/// only "error sending request", the cause (refused, certificate unknown) is below.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What a failed transfer says: for a connection that could not be made, plainly that
/// the host could not be reached and what to check; otherwise the error and its causes.
pub fn network_message(url: &url::Url, error: &reqwest::Error) -> String {
    let chain = error_chain(error);
    let lower = chain.to_ascii_lowercase();
    let tls = ["certificate", "unknownissuer", "handshake", "tls"]
        .iter()
        .any(|word| lower.contains(word));
    if error.is_connect() && tls {
        let origin = url.origin().ascii_serialization();
        format!(
            "the TLS certificate of {origin} is not trusted: {chain} (a private CA or a TLS-inspecting proxy? trust it with ca_file)"
        )
    } else if error.is_connect() {
        let origin = url.origin().ascii_serialization();
        let cause = chain.rsplit(": ").next().unwrap_or(&chain);
        format!(
            "cannot reach {origin}: {cause} (is it running? is a proxy needed? see HTTPS_PROXY)"
        )
    } else if error.is_timeout() {
        format!(
            "no answer from {} in time: {chain}",
            url.origin().ascii_serialization()
        )
    } else {
        chain
    }
}
