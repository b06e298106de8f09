//! `[sources.NAME]`: one Graph log (calls, SMS, blocked users) of one tenant.

use super::fields::{Fields, Problems};
use super::{Secret, resolve};
use crate::model::{ApiVersion, LogKind};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// How the source (or a sink that gets its own tokens) proves it is the Entra application.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A client secret.
    Secret(Secret),
    /// A certificate and its private key (PEM files): a signed JWT client assertion.
    Certificate {
        /// The certificate (PEM), whose thumbprint Entra knows.
        certificate: PathBuf,
        /// The RSA private key (PEM, PKCS#8 or PKCS#1).
        private_key: PathBuf,
    },
}

impl Credential {
    /// What the token source signs in with: the secret, or the certificate and key
    /// loaded (the message names the file, never the key).
    pub fn material(&self) -> Result<crate::entra::CredentialMaterial, String> {
        use crate::entra::{AssertionAlgorithm, AssertionSigner, CredentialMaterial};
        Ok(match self {
            Credential::Secret(secret) => CredentialMaterial::Secret(secret.clone()),
            Credential::Certificate {
                certificate,
                private_key,
            } => CredentialMaterial::Assertion(Box::new(AssertionSigner::load(
                certificate,
                private_key,
                AssertionAlgorithm::default(),
            )?)),
        })
    }
}

/// One validated `[sources.NAME]` table.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The table name: label value, state key, event `source`.
    pub name: String,
    /// Which call log.
    pub kind: LogKind,
    /// Entra tenant (GUID or domain).
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Secret or certificate.
    pub credential: Credential,
    /// Entra authority, e.g. `https://login.microsoftonline.com`.
    pub authority_url: Url,
    /// Graph base, e.g. `https://graph.microsoft.com`.
    pub graph_url: Url,
    /// `v1.0` or `beta` (the default, and the only choice, for beta-only kinds).
    pub api_version: ApiVersion,
    /// How often the log is read.
    pub poll_interval: Duration,
    /// Where the very first run starts.
    pub lookback: Duration,
    /// How late a row may appear and still be caught, once.
    pub late_window: Duration,
    /// The longest a row that appears within the late window may wait after it became
    /// visible (plus a poll interval); `None` keeps the default sweep ladder.
    pub max_delay: Option<Duration>,
    /// The source's pace of call-log requests, per minute (`requests_per_minute`, or
    /// `requests_per_second` × 60); default Graph's published 50 per collection.
    pub requests_per_minute: f64,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// How long `--once` keeps retrying one failing request (Entra or Graph down,
    /// unreachable) before the source gives up and the run exits 1.
    pub retry_max_duration: Duration,
    /// A CA (PEM) to trust for Entra and Graph besides the system roots (a private
    /// CA or a TLS-inspecting proxy).
    pub ca_file: Option<PathBuf>,
    /// `[sources.NAME.directory]`: the user's directory attributes beside each row.
    pub directory: Option<super::DirectoryConfig>,
}

/// `retry_max_duration` when not set: a cron job learns within about a minute that
/// the tenant cannot be reached.
pub const DEFAULT_ONCE_RETRY_MAX_DURATION: Duration = Duration::from_secs(60);

/// The public Entra authority.
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";
/// The public Graph endpoint.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

pub(super) fn read(
    name: &str,
    mut fields: Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<SourceConfig> {
    let before = problems.0.len();
    let kind = fields.required_string("type", problems).and_then(|text| {
        let kind = LogKind::from_source_type(&text);
        if kind.is_none() {
            problems.add(
                &fields.key("type"),
                format!(
                    "{text:?} is not a source type (use \"pstn_calls\", \"direct_routing_calls\", \"sms_log\", \"pstn_blocked_users\" or \"pstn_dialout_report\")"
                ),
            );
        }
        kind
    });
    let tenant_id = fields
        .required_string("tenant_id", problems)
        .filter(|tenant| check_tenant(&fields.key("tenant_id"), tenant, problems));
    let client_id = fields.required_string("client_id", problems).filter(|id| {
        let ok = is_guid(id);
        if !ok {
            problems.add(&fields.key("client_id"), "expected the application (client) id, a GUID like 11111111-1111-1111-1111-111111111111");
        }
        ok
    });
    let credential = read_credential(&mut fields, base, problems);
    let authority_url = read_url(
        &mut fields,
        "authority_url",
        DEFAULT_AUTHORITY_URL,
        problems,
    );
    let graph_url = read_url(&mut fields, "graph_url", DEFAULT_GRAPH_URL, problems)
        .filter(|url| check_graph_base(&fields.key("graph_url"), url, problems));
    let beta_only = kind.filter(|kind| kind.beta_only());
    let api_version = match fields.string("api_version", problems) {
        // Graph has the SMS and blocked-users logs only under beta.
        None if beta_only.is_some() => Some(ApiVersion::Beta),
        None => Some(ApiVersion::V1),
        Some(text) => match (ApiVersion::parse(&text), beta_only) {
            (None, _) => {
                problems.add(
                    &fields.key("api_version"),
                    format!("{text:?} is not an API version (use \"v1.0\" or \"beta\")"),
                );
                None
            }
            (Some(ApiVersion::V1), Some(kind)) => {
                problems.add(
                    &fields.key("api_version"),
                    format!(
                        "Graph's {} is in the beta API only: use \"beta\" for type {:?}, or leave api_version out",
                        kind.function(),
                        kind.source_type()
                    ),
                );
                None
            }
            (version, _) => version,
        },
    };
    let poll_interval = fields
        .duration("poll_interval", Duration::from_secs(300), problems)
        .filter(|interval| {
            let ok = !interval.is_zero();
            if !ok {
                problems.add(&fields.key("poll_interval"), "must be longer than zero");
            }
            ok
        });
    let lookback = fields.duration("lookback", Duration::from_secs(7 * 86_400), problems);
    let late_window = fields.duration("late_window", Duration::from_secs(72 * 3600), problems);
    let max_delay = read_max_delay(&mut fields, late_window, problems);
    let requests_per_minute = read_pace(&mut fields, problems);
    let request_timeout = fields
        .duration("request_timeout", Duration::from_secs(60), problems)
        .filter(|timeout| {
            let ok = !timeout.is_zero();
            if !ok {
                problems.add(&fields.key("request_timeout"), "must be longer than zero");
            }
            ok
        });
    let retry_max_duration = fields.duration(
        "retry_max_duration",
        DEFAULT_ONCE_RETRY_MAX_DURATION,
        problems,
    );
    let ca_file = fields
        .string("ca_file", problems)
        .map(|path| resolve(base, &path))
        .filter(|path| {
            let readable =
                std::fs::read(path).is_ok_and(|pem| reqwest::Certificate::from_pem(&pem).is_ok());
            if !readable {
                problems.add(
                    &fields.key("ca_file"),
                    format!("{}: no readable PEM certificate", path.display()),
                );
            }
            readable
        });
    let directory = super::directory::read(&mut fields, problems);
    // A report reads one request per day inside late_window each poll, not the sweep
    // ladder: each has its own budget against the pace.
    if let Some(kind) = kind.filter(|kind| kind.is_report()) {
        let has_max_delay = max_delay.flatten().is_some();
        let has_directory = directory.as_ref().is_some_and(Option::is_some);
        refuse_for_report(kind, &fields, has_max_delay, has_directory, problems);
        if let (Some(poll_interval), Some(late_window), Some(pace)) =
            (poll_interval, late_window, requests_per_minute)
        {
            super::budget::check_report(&fields, poll_interval, late_window, pace, problems);
        }
    } else if let (Some(poll_interval), Some(late_window), Some(max_delay), Some(pace)) =
        (poll_interval, late_window, max_delay, requests_per_minute)
    {
        super::budget::check(&fields, poll_interval, late_window, max_delay, pace, problems);
    }
    fields.finish(problems);
    if problems.0.len() != before {
        return None;
    }
    Some(SourceConfig {
        name: name.to_owned(),
        kind: kind?,
        tenant_id: tenant_id?,
        client_id: client_id?,
        credential: credential?,
        authority_url: authority_url?,
        graph_url: graph_url?,
        api_version: api_version?,
        poll_interval: poll_interval?,
        lookback: lookback?,
        late_window: late_window?,
        max_delay: max_delay?,
        requests_per_minute: requests_per_minute?,
        request_timeout: request_timeout?,
        retry_max_duration: retry_max_duration?,
        ca_file,
        directory: directory?,
    })
}

/// A report is read whole, per UTC day, every poll: the sweep ladder's `max_delay` and
/// a directory (not offered for report rows) do not apply, and are refused rather than
/// silently ignored.
fn refuse_for_report(
    kind: LogKind,
    fields: &Fields<'_>,
    max_delay: bool,
    directory: bool,
    problems: &mut Problems,
) {
    if max_delay {
        problems.add(
            &fields.key("max_delay"),
            format!(
                "does not apply to type {:?}: it reads today and every day inside late_window each poll",
                kind.source_type()
            ),
        );
    }
    if directory {
        problems.add(
            &fields.key("directory"),
            format!("is not offered for type {:?}", kind.source_type()),
        );
    }
}

/// `requests_per_minute`, or `requests_per_second` (the same pace × 60), not both;
/// default Graph's published limit per collection.
fn read_pace(fields: &mut Fields<'_>, problems: &mut Problems) -> Option<f64> {
    let default = f64::from(crate::model::graph_limits::COLLECTION_PER_MINUTE);
    match (fields.has("requests_per_minute"), fields.has("requests_per_second")) {
        (true, true) => {
            let _ = fields.positive_number("requests_per_minute", default, problems);
            let _ = fields.positive_number("requests_per_second", default, problems);
            problems.add(
                &fields.key("requests_per_second"),
                "give requests_per_minute or requests_per_second, not both (they set the same pace)",
            );
            None
        }
        (false, true) => fields
            .positive_number("requests_per_second", default / 60.0, problems)
            .map(|per_second| per_second * 60.0),
        _ => fields.positive_number("requests_per_minute", default, problems),
    }
}

impl SourceConfig {
    /// How many windows the source fetches at once: enough to keep its pace when Graph
    /// is slow (two at least, so one slow answer does not stall it), at most 8 (each
    /// holds about one page in memory).
    pub fn fetch_concurrency(&self) -> usize {
        fetch_concurrency(self.requests_per_minute)
    }
}

/// [`SourceConfig::fetch_concurrency`] of a pace.
pub(super) fn fetch_concurrency(requests_per_minute: f64) -> usize {
    ((requests_per_minute / 60.0).ceil() as usize).clamp(2, 8)
}

/// `max_delay`: absent (`Some(None)`), or longer than zero and at most `late_window`.
fn read_max_delay(
    fields: &mut Fields<'_>,
    late_window: Option<Duration>,
    problems: &mut Problems,
) -> Option<Option<Duration>> {
    if !fields.has("max_delay") {
        return Some(None);
    }
    let max_delay = fields.duration("max_delay", Duration::ZERO, problems)?;
    let problem = if max_delay.is_zero() {
        Some("must be longer than zero".to_owned())
    } else {
        late_window
            .filter(|late_window| max_delay > *late_window)
            .map(|late_window| {
                format!(
                    "must be at most late_window ({}): rows later than that are not caught at all",
                    super::format_duration(late_window)
                )
            })
    };
    match problem {
        Some(problem) => {
            problems.add(&fields.key("max_delay"), problem);
            None
        }
        None => Some(Some(max_delay)),
    }
}

/// `client_secret`, or `client_certificate` + `client_private_key`: the Entra
/// credential of a source, and of a sink that gets its own tokens.
pub(super) fn read_credential(
    fields: &mut Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<Credential> {
    let secret = fields.string("client_secret", problems);
    let certificate = fields.string("client_certificate", problems);
    let private_key = fields.string("client_private_key", problems);
    match (secret, certificate, private_key) {
        (Some(secret), None, None) if super::interpolate::bare_reference(&secret).is_some() => {
            let name = super::interpolate::bare_reference(&secret).unwrap_or_default();
            problems.add(
                &fields.key("client_secret"),
                format!("${name} is taken literally, not from the environment: write \"${{{name}}}\""),
            );
            None
        }
        (Some(secret), None, None) if !secret.is_empty() => {
            Some(Credential::Secret(Secret::new(secret)))
        }
        (Some(_), None, None) => {
            problems.add(&fields.key("client_secret"), "is empty");
            None
        }
        (None, Some(certificate), Some(private_key)) => {
            let certificate = resolve(base, &certificate);
            let private_key = resolve(base, &private_key);
            let mut ok = true;
            if let Err(message) = crate::entra::check_certificate_file(&certificate) {
                problems.add(&fields.key("client_certificate"), message);
                ok = false;
            }
            if let Err(message) = crate::entra::check_private_key_file(&private_key) {
                problems.add(&fields.key("client_private_key"), message);
                ok = false;
            }
            ok.then_some(Credential::Certificate {
                certificate,
                private_key,
            })
        }
        (None, Some(_), None) => {
            problems.add(
                &fields.key("client_private_key"),
                "missing: client_certificate needs client_private_key beside it",
            );
            None
        }
        (None, None, Some(_)) => {
            problems.add(
                &fields.key("client_certificate"),
                "missing: client_private_key needs client_certificate beside it",
            );
            None
        }
        (None, None, None) => {
            if !problems
                .0
                .iter()
                .any(|p| p.starts_with(&fields.key("client_secret")))
            {
                problems.add(
                    &fields.key("client_secret"),
                    "missing: give client_secret, or client_certificate and client_private_key",
                );
            }
            None
        }
        (Some(_), _, _) => {
            problems.add(
                &fields.key("client_secret"),
                "give either client_secret or client_certificate/client_private_key, not both",
            );
            None
        }
    }
}

/// An https base URL (plain http only for loopback), `default` when the key is absent.
pub(super) fn read_url(
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

/// Tenant names client credentials cannot use: they name no one tenant.
const MULTI_TENANT_NAMES: [&str; 3] = ["common", "organizations", "consumers"];

/// A tenant id Entra can issue an application token for: a GUID or a domain, not a
/// multi-tenant alias and not a GUID cut short. The value is quoted: it is no secret.
pub(super) fn check_tenant(key: &str, tenant: &str, problems: &mut Problems) -> bool {
    let problem = if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        Some("expected a tenant GUID or domain (letters, digits, '-', '.')".to_owned())
    } else if MULTI_TENANT_NAMES.contains(&tenant.to_ascii_lowercase().as_str()) {
        Some("names no one tenant, and an application's own token (client credentials) needs one: give the directory (tenant) id GUID or a domain like contoso.onmicrosoft.com".to_owned())
    } else if !is_guid(tenant)
        && tenant.contains('-')
        && tenant.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    {
        Some("looks like a GUID cut short: a tenant GUID has 8-4-4-4-12 hex digits".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => {
            problems.add(key, format!("{tenant:?} {problem}"));
            false
        }
        None => true,
    }
}

/// `graph_url` is Graph's base: the version comes from `api_version`, so a base that
/// already ends in `/v1.0` or `/beta` (the usual copy-paste) would ask `/v1.0/v1.0/...`.
fn check_graph_base(key: &str, url: &Url, problems: &mut Problems) -> bool {
    let path = url.path().trim_end_matches('/');
    let Some(version) = ["v1.0", "beta"]
        .into_iter()
        .find(|version| path.rsplit('/').next() == Some(*version))
    else {
        return true;
    };
    let mut base = url.clone();
    base.set_path(path.strip_suffix(version).unwrap_or(path));
    problems.add(
        key,
        format!(
            "ends in the API version \"/{version}\": drop it (graph_url = \"{}\"); api_version selects v1.0 or beta",
            base.as_str().trim_end_matches('/')
        ),
    );
    false
}

/// Whether `text` is a GUID (8-4-4-4-12 hex digits).
pub fn is_guid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}
