//! Base URLs of services a table names (Entra, Graph, Logs Ingestion): https, or
//! plain http to loopback test servers only.

use super::fields::Fields;
use super::problems::Problems;
use url::Url;

/// An https base URL (plain http only for loopback), `default` when the key is absent.
pub fn read_url(
    fields: &mut Fields<'_>,
    key: &str,
    default: &str,
    problems: &mut Problems,
) -> Option<Url> {
    let text = fields
        .string(key, problems)
        .unwrap_or_else(|| default.to_owned());
    let url = match Url::parse(&text) {
        Ok(url) => url,
        Err(error) => {
            problems.add(&fields.key(key), format!("{text:?} is not a URL: {error}"));
            return None;
        }
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            problems.add(
                &fields.key(key),
                "must use https (plain http is allowed only for loopback test servers)",
            );
            return None;
        }
        other => {
            problems.add(
                &fields.key(key),
                format!("unsupported scheme {other:?} (use https)"),
            );
            return None;
        }
    }
    if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
        problems.add(
            &fields.key(key),
            "must be a plain base URL without query or fragment",
        );
        return None;
    }
    Some(url)
}
