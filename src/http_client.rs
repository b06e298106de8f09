//! How every outbound HTTP client of the agent starts: rustls with ring, our user
//! agent, no redirects (a redirect must never carry a token or a record elsewhere),
//! and proxies as users set them, except that loopback never goes through one.

/// A client builder with the agent's defaults; add timeouts and roots, then build.
pub fn builder() -> Result<reqwest::ClientBuilder, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    with_proxies(
        reqwest::Client::builder()
            .user_agent(concat!("pstn-agent/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none()),
    )
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
