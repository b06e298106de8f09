//! The Entra application a source, or a sink that gets its own tokens, signs in as:
//! its tenant, its credential (a secret, or a certificate and its key) and the
//! authority; read alike wherever a table names one.

use super::fields::Fields;
use super::interpolate::bare_reference;
use super::problems::Problems;
use super::resolve;
use crate::model::Secret;
use std::path::{Path, PathBuf};

/// The public Entra authority.
pub const DEFAULT_AUTHORITY_URL: &str = "https://login.microsoftonline.com";

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

/// `client_secret`, or `client_certificate` + `client_private_key`: the Entra
/// credential of a source, and of a sink that gets its own tokens.
pub fn read_credential(
    fields: &mut Fields<'_>,
    base: &Path,
    problems: &mut Problems,
) -> Option<Credential> {
    let secret = fields.string("client_secret", problems);
    let certificate = fields.string("client_certificate", problems);
    let private_key = fields.string("client_private_key", problems);
    match (secret, certificate, private_key) {
        (Some(secret), None, None) if bare_reference(&secret).is_some() => {
            let name = bare_reference(&secret).unwrap_or_default();
            problems.add(
                &fields.key("client_secret"),
                format!(
                    "${name} is taken literally, not from the environment: write \"${{{name}}}\""
                ),
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
            if !problems.any_under(&fields.key("client_secret")) {
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

/// Tenant names client credentials cannot use: they name no one tenant.
const MULTI_TENANT_NAMES: [&str; 3] = ["common", "organizations", "consumers"];

/// A tenant id Entra can issue an application token for: a GUID or a domain, not a
/// multi-tenant alias and not a GUID cut short. The value is quoted: it is no secret.
pub fn check_tenant(key: &str, tenant: &str, problems: &mut Problems) -> bool {
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

/// Whether `text` is a GUID (8-4-4-4-12 hex digits).
pub fn is_guid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}
