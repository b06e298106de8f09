//! `[sources.NAME]`: one Graph log (calls, SMS, blocked users) of one tenant, or of
//! several (`tenants`, `tenants_file`: one application consented in each).

mod budget;
mod plan;
mod tenants;

pub use tenants::{Tenancy, reread_file as reread_tenants_file};

use super::DirectoryConfig;
use crate::model::{ApiVersion, LogKind};
use crate::settings::{
    Credential, DEFAULT_AUTHORITY_URL, Fields, Problems, is_guid, read_credential, read_url,
    resolve,
};
use plan::{Plan, read_max_delay, read_pace};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// One validated `[sources.NAME]` table.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The table name: label value, state key, event `source`.
    pub name: String,
    /// Which call log.
    pub kind: LogKind,
    /// The Entra tenant (GUID or domain) this source reads: `tenant_id`, or one of
    /// `tenants` once [`SourceConfig::per_tenant`] made it a source of its own (until
    /// then, the first).
    pub tenant_id: String,
    /// Where its tenants come from (`tenant_id`, `tenants`, `tenants_file`).
    pub tenancy: Tenancy,
    /// Every tenant of the table, as written (`[tenant_id]` for one), kept whole in
    /// each tenant's copy of the table (its length sizes each tenant's SQLite page
    /// cache); shared, so that each copy costs no copy of the list.
    pub tenants: std::sync::Arc<[String]>,
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
    pub directory: Option<DirectoryConfig>,
}

/// `retry_max_duration` when not set: a cron job learns within about a minute that
/// the tenant cannot be reached.
pub const DEFAULT_ONCE_RETRY_MAX_DURATION: Duration = Duration::from_secs(60);

/// The public Graph endpoint.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// Reads one `[sources.NAME]` table: the source, or `None` with every problem of the
/// table recorded, each naming its key.
pub fn read(
    name: &str,
    mut fields: Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<SourceConfig> {
    let before = problems.len();
    let kind = read_kind(&mut fields, problems);
    let tenants = tenants::read(&mut fields, base, problems);
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
    let api_version = read_api_version(&mut fields, kind, problems);
    let poll_interval = read_longer_than_zero(&mut fields, "poll_interval", 300, problems);
    let lookback = fields.duration("lookback", Duration::from_secs(7 * 86_400), problems);
    let late_window = fields.duration("late_window", Duration::from_secs(72 * 3600), problems);
    let max_delay = read_max_delay(&mut fields, late_window, problems);
    let requests_per_minute = read_pace(&mut fields, problems);
    let request_timeout = read_longer_than_zero(&mut fields, "request_timeout", 60, problems);
    let retry_max_duration = fields.duration(
        "retry_max_duration",
        DEFAULT_ONCE_RETRY_MAX_DURATION,
        problems,
    );
    let ca_file = read_ca_file(&mut fields, base, problems);
    let directory = super::directory::read_config(&mut fields, problems);
    let plan = Plan {
        kind,
        poll_interval,
        late_window,
        max_delay,
        requests_per_minute,
        directory: directory.as_ref().is_some_and(Option::is_some),
    };
    plan.check(&fields, problems);
    fields.finish(problems);
    if problems.len() != before {
        return None;
    }
    Some(SourceConfig {
        name: name.to_owned(),
        kind: kind?,
        tenant_id: tenants.as_ref()?.1.first()?.clone(),
        tenancy: tenants.as_ref()?.0.clone(),
        tenants: tenants?.1.into(),
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

/// `type`: which Graph log.
fn read_kind(fields: &mut Fields<'_>, problems: &mut Problems) -> Option<LogKind> {
    let text = fields.required_string("type", problems)?;
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
}

/// `api_version`: `v1.0` by default; `beta` (the default, and the only choice) for the
/// kinds Graph has only under beta.
fn read_api_version(
    fields: &mut Fields<'_>,
    kind: Option<LogKind>,
    problems: &mut Problems,
) -> Option<ApiVersion> {
    let beta_only = kind.filter(|kind| kind.beta_only());
    let Some(text) = fields.string("api_version", problems) else {
        // Graph has the SMS and blocked-users logs only under beta.
        return Some(if beta_only.is_some() {
            ApiVersion::Beta
        } else {
            ApiVersion::V1
        });
    };
    match (ApiVersion::parse(&text), beta_only) {
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
    }
}

/// A duration that must be longer than zero, `default_seconds` when absent.
fn read_longer_than_zero(
    fields: &mut Fields<'_>,
    key: &str,
    default_seconds: u64,
    problems: &mut Problems,
) -> Option<Duration> {
    let duration = fields.duration(key, Duration::from_secs(default_seconds), problems)?;
    if duration.is_zero() {
        problems.add(&fields.key(key), "must be longer than zero");
        return None;
    }
    Some(duration)
}

/// `ca_file`: a CA (PEM) to trust besides the system roots, which must be readable.
fn read_ca_file(fields: &mut Fields<'_>, base: &Path, problems: &mut Problems) -> Option<PathBuf> {
    let path = resolve(base, &fields.string("ca_file", problems)?);
    let readable =
        std::fs::read(&path).is_ok_and(|pem| reqwest::Certificate::from_pem(&pem).is_ok());
    if !readable {
        problems.add(
            &fields.key("ca_file"),
            format!("{}: no readable PEM certificate", path.display()),
        );
        return None;
    }
    Some(path)
}

impl SourceConfig {
    /// The source of each tenant: each read as if it were a source of its own (its
    /// token, state, pace and windows), under this table's name. One for `tenant_id`.
    pub fn per_tenant(&self) -> impl Iterator<Item = SourceConfig> + '_ {
        let tenants = self.tenants.clone();
        (0..tenants.len()).map(move |index| self.for_tenant(&tenants[index]))
    }

    /// The `source` and `tenant` labels of this source's series, and how `/readyz`
    /// names it.
    pub fn metrics_id(&self) -> crate::metrics::SourceId<'_> {
        crate::metrics::SourceId {
            name: &self.name,
            tenant: &self.tenant_id,
            one_of_many: self.tenancy.is_multi(),
        }
    }

    /// This table's source for `tenant` (one of its tenants, or one a SIGHUP added).
    pub fn for_tenant(&self, tenant: &str) -> SourceConfig {
        SourceConfig {
            tenant_id: tenant.to_owned(),
            ..self.clone()
        }
    }

    /// How many windows the source fetches at once: enough to keep its pace when Graph
    /// is slow (two at least, so one slow answer does not stall it), at most 8
    /// (sharing a budget of two pages read ahead of the source).
    pub fn fetch_concurrency(&self) -> usize {
        fetch_concurrency(self.requests_per_minute)
    }
}

/// [`SourceConfig::fetch_concurrency`] of a pace.
fn fetch_concurrency(requests_per_minute: f64) -> usize {
    ((requests_per_minute / 60.0).ceil() as usize).clamp(2, 8)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Environment;

    fn read_source(text: &str) -> (Option<SourceConfig>, Vec<String>) {
        let table: toml::Table = text.parse().expect("the test's table is TOML");
        let environment = Environment::fixed([]);
        let mut problems = Problems::default();
        let fields = Fields::new("sources.s", &table, &environment);
        let source = read("s", fields, Path::new("/etc"), &mut problems);
        (source, problems.lines())
    }

    const APPLICATION: &str = "tenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n";

    #[test]
    fn a_source_table_is_read_beside_the_source_with_its_defaults_and_keyed_problems() {
        let (source, problems) = read_source(&format!("type = \"sms_log\"\n{APPLICATION}"));
        assert_eq!(problems, Vec::<String>::new());
        let source = source.expect("a valid source table");
        assert_eq!(source.api_version, ApiVersion::Beta, "SMS is beta only");
        assert_eq!(source.poll_interval, Duration::from_secs(300));
        assert_eq!(source.requests_per_minute, 50.0);
        let (source, problems) = read_source(&format!(
            "type = \"pstn_calls\"\n{APPLICATION}poll_interval = \"0s\"\nrequest_timeout = \"0s\"\npoll_intervall = \"5m\""
        ));
        assert!(source.is_none());
        assert_eq!(
            problems,
            [
                "sources.s.poll_interval: must be longer than zero",
                "sources.s.request_timeout: must be longer than zero",
                "sources.s.poll_intervall: unknown key; did you mean \"poll_interval\"?",
            ]
        );
    }
}
