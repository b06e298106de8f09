//! Which tenants a `[sources.NAME]` table reads: `tenant_id` (one), `tenants` (a list)
//! or `tenants_file` (one per line, re-read on SIGHUP). Exactly one of the three;
//! each tenant checked as `tenant_id` is, duplicates and an empty list refused.

use crate::settings::{Fields, Problems, check_tenant, resolve};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where a source's tenants come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenancy {
    /// `tenant_id`: one tenant, the source as it always was.
    Single,
    /// `tenants = [...]`.
    Listed,
    /// `tenants_file = "PATH"` (resolved against the config file's folder).
    File(PathBuf),
}

impl Tenancy {
    /// Whether the source reads several tenants (`tenants` or `tenants_file`): its
    /// state is then keyed by tenant and `/readyz` names the tenant.
    pub fn is_multi(&self) -> bool {
        !matches!(self, Tenancy::Single)
    }
}

/// The three keys a source names its tenants with.
const KEYS: [&str; 3] = ["tenant_id", "tenants", "tenants_file"];

/// Reads the table's tenants: where they come from and the list, or `None` with each
/// problem recorded under its key.
pub(super) fn read(
    fields: &mut Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<(Tenancy, Vec<String>)> {
    let present: Vec<&str> = KEYS.into_iter().filter(|key| fields.has(key)).collect();
    match present.as_slice() {
        [] => {
            problems.add(
                &fields.key("tenant_id"),
                "missing (required): give tenant_id, or tenants = [...] or tenants_file for several tenants",
            );
            None
        }
        ["tenant_id"] => {
            let key = fields.key("tenant_id");
            let tenant = fields
                .required_string("tenant_id", problems)
                .filter(|tenant| check_tenant(&key, tenant, problems))?;
            Some((Tenancy::Single, vec![tenant]))
        }
        ["tenants"] => {
            let key = fields.key("tenants");
            let listed = fields.string_list("tenants", problems)?;
            let items = listed
                .into_iter()
                .enumerate()
                .map(|(index, tenant)| (format!("{key}[{index}]"), tenant));
            let tenants = check_all(&key, items, problems)?;
            Some((Tenancy::Listed, tenants))
        }
        ["tenants_file"] => {
            let key = fields.key("tenants_file");
            let path = resolve(base, &fields.string("tenants_file", problems)?);
            let tenants = read_file(&key, &path, problems)?;
            Some((Tenancy::File(path), tenants))
        }
        several => {
            let first = several[0];
            problems.add(
                &fields.key(several[1]),
                format!(
                    "give only one of tenant_id, tenants and tenants_file ({first} is given too)"
                ),
            );
            None
        }
    }
}

/// Reads `tenants_file` (at start, by `validate`, and on SIGHUP): one tenant per line,
/// `#` comments and blank lines ignored; each bad line named by its number.
pub fn read_file(key: &str, path: &Path, problems: &mut Problems) -> Option<Vec<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            problems.add(key, format!("{}: cannot read it: {error}", path.display()));
            return None;
        }
    };
    let items = text.lines().enumerate().filter_map(|(index, line)| {
        let tenant = line.split('#').next().unwrap_or_default().trim();
        (!tenant.is_empty()).then(|| (format!("{key} line {}", index + 1), tenant.to_owned()))
    });
    check_all(key, items, problems)
}

/// [`read_file`] for SIGHUP: the tenants, or one line per problem.
pub fn reread_file(key: &str, path: &Path) -> Result<Vec<String>, Vec<String>> {
    let mut problems = Problems::default();
    read_file(key, path, &mut problems).ok_or_else(|| problems.lines())
}

/// Each tenant checked as `tenant_id` is (under its own key or line), no tenant twice
/// (the case of a domain does not make it another), and at least one.
fn check_all(
    key: &str,
    items: impl Iterator<Item = (String, String)>,
    problems: &mut Problems,
) -> Option<Vec<String>> {
    let before = problems.len();
    let mut seen = HashSet::new();
    let mut tenants = Vec::new();
    for (item_key, tenant) in items {
        if !check_tenant(&item_key, &tenant, problems) {
            continue;
        }
        if !seen.insert(tenant.to_ascii_lowercase()) {
            problems.add(&item_key, format!("{tenant:?} is listed twice"));
            continue;
        }
        tenants.push(tenant);
    }
    if tenants.is_empty() && problems.len() == before {
        problems.add(key, "names no tenant (give at least one)");
    }
    (problems.len() == before).then_some(tenants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Environment;

    fn read_tenants(text: &str, base: &Path) -> (Option<(Tenancy, Vec<String>)>, Vec<String>) {
        let table: toml::Table = text.parse().expect("the test's table is TOML");
        let environment = Environment::fixed([]);
        let mut problems = Problems::default();
        let mut fields = Fields::new("sources.s", &table, &environment);
        let read = read(&mut fields, base, &mut problems);
        (read, problems.lines())
    }

    const GUID: &str = "22222222-2222-2222-2222-222222222222";

    #[test]
    fn a_list_of_tenants_is_read_and_each_bad_one_named_by_its_index() {
        let (read, problems) = read_tenants(
            &format!("tenants = [\"contoso.onmicrosoft.com\", \"{GUID}\"]"),
            Path::new("/etc"),
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            read,
            Some((
                Tenancy::Listed,
                vec!["contoso.onmicrosoft.com".to_owned(), GUID.to_owned()]
            ))
        );
        let (read, problems) = read_tenants(
            "tenants = [\"a.example\", \"bad tenant\", \"A.example\", \"common\"]",
            Path::new("/etc"),
        );
        assert_eq!(read, None);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("sources.s.tenants[1]: \"bad tenant\" expected"));
        assert_eq!(
            problems[1],
            "sources.s.tenants[2]: \"A.example\" is listed twice"
        );
        assert!(problems[2].starts_with("sources.s.tenants[3]: \"common\" names no one tenant"));
        let (_, problems) = read_tenants("tenants = []", Path::new("/etc"));
        assert_eq!(
            problems,
            ["sources.s.tenants: names no tenant (give at least one)"]
        );
    }

    #[test]
    fn exactly_one_of_the_three_keys_is_asked_for() {
        let (_, problems) = read_tenants("", Path::new("/etc"));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("sources.s.tenant_id: missing (required)"));
        let (_, problems) = read_tenants(
            "tenant_id = \"a.example\"\ntenants = [\"b.example\"]",
            Path::new("/etc"),
        );
        assert_eq!(
            problems,
            [
                "sources.s.tenants: give only one of tenant_id, tenants and tenants_file (tenant_id is given too)"
            ]
        );
    }

    #[test]
    fn a_tenants_file_is_read_beside_the_config_with_comments_and_numbered_bad_lines() {
        let folder = tempfile::tempdir().expect("a temp dir");
        let path = folder.path().join("tenants.txt");
        std::fs::write(
            &path,
            format!("# customers\ncontoso.onmicrosoft.com\n\n{GUID}  # fabrikam\n"),
        )
        .unwrap();
        let (read, problems) = read_tenants("tenants_file = \"tenants.txt\"", folder.path());
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            read,
            Some((
                Tenancy::File(path.clone()),
                vec!["contoso.onmicrosoft.com".to_owned(), GUID.to_owned()]
            ))
        );
        std::fs::write(&path, "ok.example\n2222-22\nok.example\n").unwrap();
        let (read, problems) = read_tenants("tenants_file = \"tenants.txt\"", folder.path());
        assert_eq!(read, None);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "sources.s.tenants_file line 2: \"2222-22\" looks like a GUID cut short"
            )
        );
        assert_eq!(
            problems[1],
            "sources.s.tenants_file line 3: \"ok.example\" is listed twice"
        );
        std::fs::write(&path, "# nobody yet\n").unwrap();
        let (_, problems) = read_tenants("tenants_file = \"tenants.txt\"", folder.path());
        assert_eq!(
            problems,
            ["sources.s.tenants_file: names no tenant (give at least one)"]
        );
        let (_, problems) = read_tenants("tenants_file = \"missing.txt\"", folder.path());
        assert!(
            problems[0].starts_with("sources.s.tenants_file: "),
            "{problems:?}"
        );
        assert!(problems[0].contains("cannot read it"), "{problems:?}");
    }
}
