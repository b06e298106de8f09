//! Entra ID's token endpoint: client credentials in, bearer tokens out, each one
//! remembered with its expiry and audience (from the requested scope) for the Graph
//! and Logs Ingestion routes to check.

use super::Simulator;
use super::respond::{entra_error, json};
use crate::http_server::Body;
use crate::simulate::faults::Countdown;
use hyper::{Response, StatusCode};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Simulator {
    /// `POST {authority}/{tenant}/oauth2/v2.0/token`: client credentials, with a secret
    /// or a certificate assertion.
    pub(super) fn token(&self, body: &[u8], path: &str) -> Response<Body> {
        self.stats.note_token_request();
        if self.faults.take(Countdown::TokenFailure) {
            return entra_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "AADSTS90033: A transient error has occurred. Please try again.",
            );
        }
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return entra_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            );
        }
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        if let Some(code) = self.options.sign_in_refusal {
            return sign_in_refusal(code, &client_id, path);
        }
        let tenant = path.trim_start_matches('/').split('/').next();
        if tenant.is_some_and(|tenant| {
            self.options
                .unconsented_tenants
                .iter()
                .any(|refused| refused.eq_ignore_ascii_case(tenant))
        }) {
            return sign_in_refusal(700_016, &client_id, path);
        }
        if self
            .options
            .client_id
            .as_ref()
            .is_some_and(|expected| *expected != client_id)
        {
            return entra_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                &format!(
                    "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
                ),
            );
        }
        let audience = format!("{}{path}", self.public_url);
        if let Err(description) = self.check_credential(&form, &client_id, &audience) {
            return entra_error(StatusCode::UNAUTHORIZED, "invalid_client", &description);
        }
        let serial = self.issued.fetch_add(1, Ordering::SeqCst);
        let nonce =
            crate::simulate::random::CallRandom::new(self.options.seed, 7, serial).next_u64();
        let token = format!("sim.{serial}.{nonce:016x}");
        self.stats.note_token_issued(&token);
        let audience = audience_of(form.get("scope").map(String::as_str).unwrap_or_default());
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                token.clone(),
                IssuedToken {
                    expiry: Instant::now() + self.options.token_ttl,
                    audience,
                    tenant: path
                        .trim_start_matches('/')
                        .split('/')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    client_id,
                },
            );
        json(StatusCode::OK, serde_json::json!({"token_type": "Bearer", "expires_in": self.options.token_ttl.as_secs(), "ext_expires_in": self.options.token_ttl.as_secs(), "access_token": token}).to_string())
    }

    /// A secret must match `--client-secret` (when given); an assertion must be a JWT,
    /// and with `--client-certificate` one signed by that certificate's key.
    fn check_credential(
        &self,
        form: &HashMap<String, String>,
        client_id: &str,
        audience: &str,
    ) -> Result<(), String> {
        const BAD_SECRET: &str = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.";
        match (form.get("client_secret"), form.get("client_assertion")) {
            (Some(secret), None) => match &self.options.client_secret {
                Some(expected) if expected != secret => Err(BAD_SECRET.into()),
                _ => Ok(()),
            },
            (None, Some(assertion)) => {
                if form.get("client_assertion_type").is_none_or(|t| t != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
                    return Err("AADSTS700025: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.".into());
                }
                match &self.certificate {
                    Some(certificate) => certificate.check(assertion, client_id, audience),
                    None if assertion.split('.').count() == 3 => Ok(()),
                    None => Err("AADSTS50027: JWT token is invalid or malformed.".into()),
                }
            }
            _ => Err("AADSTS900144: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into()),
        }
    }

    /// Whether a `Bearer` header carries a token this simulator issued that has not
    /// expired, for Graph (any audience but Azure Monitor's, as Graph's own URL is the
    /// simulator's).
    pub(super) fn token_valid(&self, authorization: Option<&str>) -> bool {
        self.token_audience(authorization)
            .is_some_and(|audience| !is_monitor(&audience))
    }

    /// The tenant and client id of a valid, unexpired token this simulator issued.
    pub(super) fn token_owner(&self, authorization: Option<&str>) -> Option<(String, String)> {
        let token = authorization.and_then(|value| value.strip_prefix("Bearer "))?;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .filter(|issued| Instant::now() < issued.expiry)
            .map(|issued| (issued.tenant.clone(), issued.client_id.clone()))
    }

    /// The audience of a valid, unexpired token this simulator issued.
    pub(super) fn token_audience(&self, authorization: Option<&str>) -> Option<String> {
        let token = authorization.and_then(|value| value.strip_prefix("Bearer "))?;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .filter(|issued| Instant::now() < issued.expiry)
            .map(|issued| issued.audience.clone())
    }
}

/// A token the simulator issued: until when, for which resource, and to whom (the
/// tenant and application Graph's limits are counted for).
pub(super) struct IssuedToken {
    expiry: Instant,
    audience: String,
    tenant: String,
    client_id: String,
}

/// Entra ID's refusal with AADSTS `code`, in its words for the codes an operator meets
/// setting up an application.
fn sign_in_refusal(code: u32, client_id: &str, path: &str) -> Response<Body> {
    let tenant = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let (status, error, words) = match code {
        700_016 => (
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        ),
        65_001 => (
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            format!(
                "The user or administrator has not consented to use the application with ID '{client_id}'."
            ),
        ),
        7_000_215 => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client secret provided.".to_owned(),
        ),
        7_000_222 => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            format!("The provided client secret keys for app '{client_id}' are expired."),
        ),
        90_002 => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("Tenant '{tenant}' not found."),
        ),
        700_027 => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client assertion failed signature validation.".to_owned(),
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The simulator refuses this sign-in.".to_owned(),
        ),
    };
    entra_error(
        status,
        error,
        &format!("AADSTS{code}: {words}\nTrace ID: 00000000-0000-0000-0000-000000000000"),
    )
}

/// The resource of a `.default` scope: `https://monitor.azure.com//.default` →
/// `https://monitor.azure.com`.
fn audience_of(scope: &str) -> String {
    scope
        .trim_end_matches("/.default")
        .trim_end_matches('/')
        .to_owned()
}

/// Whether an audience is Azure Monitor's (any cloud).
pub(super) fn is_monitor(audience: &str) -> bool {
    audience.starts_with("https://monitor.azure.")
}
