//! Entra ID client credentials: a cached access token for one scope (Graph's, Azure
//! Monitor's), refreshed before it expires.

use super::assertion::AssertionSigner;
use super::sign_in::{self, SignInRefusal};
use super::{TokenEvents, error_chain};
use crate::http_client::{Answer, ErrorBody, ReadError, clip};
use crate::model::Secret;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

/// One token request, answer included, must be done within this: Entra answers in
/// well under a second; a stalled endpoint or proxy must not hang the source.
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A token answer is a few kilobytes; anything far larger is not one.
pub const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

/// How much of Entra's error text is kept (it reaches logs and `--once` output).
const MAX_PEER_TEXT_CHARS: usize = 300;

/// What the token source proves itself with.
#[derive(Debug)]
pub enum CredentialMaterial {
    /// A client secret.
    Secret(Secret),
    /// A certificate-signed assertion.
    Assertion(Box<AssertionSigner>),
}

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Entra refused the sign-in (no consent in the tenant, a bad or expired secret, an
    /// unknown tenant, ...): retrying cannot help. Boxed: errors travel by value.
    #[error(transparent)]
    SignInRefused(Box<SignInRefusal>),
    /// The token endpoint could not be reached or failed: worth retrying.
    #[error("Entra ID token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The client assertion could not be built.
    #[error("cannot build the client assertion: {0}")]
    Assertion(String),
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<Secret>,
    refresh_after: Instant,
    generation: u64,
}

impl AccessToken {
    /// The `Authorization` header value.
    pub fn header_value(&self) -> String {
        format!("Bearer {}", self.value.expose())
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[redacted]")
            .field("generation", &self.generation)
            .finish()
    }
}

struct Cached {
    token: Option<AccessToken>,
    issued: u64,
}

/// Gets tokens from `{authority}/{tenant}/oauth2/v2.0/token` and keeps the current one.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: Url,
    /// The authority's base URL and the tenant, for a refusal's message.
    authority: String,
    tenant: String,
    client_id: String,
    scope: String,
    credential: CredentialMaterial,
    cached: Mutex<Cached>,
    events: Arc<dyn TokenEvents>,
    timeout: Duration,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Secret,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source for one application in one tenant, for `scope` (Graph:
    /// `{graph_url}/.default`, Azure Monitor: `https://monitor.azure.com//.default`).
    pub fn new(
        http: reqwest::Client,
        authority_url: &Url,
        tenant_id: &str,
        client_id: &str,
        scope: &str,
        credential: CredentialMaterial,
        events: Arc<dyn TokenEvents>,
    ) -> Result<Self, AuthError> {
        let base = authority_url.as_str().trim_end_matches('/');
        let token_url = Url::parse(&format!("{base}/{tenant_id}/oauth2/v2.0/token"))
            .map_err(|error| AuthError::Unavailable(format!("bad token URL: {error}")))?;
        Ok(TokenSource {
            http,
            token_url,
            authority: base.to_owned(),
            tenant: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            credential,
            events,
            timeout: TOKEN_REQUEST_TIMEOUT,
            cached: Mutex::new(Cached {
                token: None,
                issued: 0,
            }),
        })
    }

    /// The same source with another deadline per token request (a source's
    /// `request_timeout`, a sink's `timeout`), at most [`TOKEN_REQUEST_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(TOKEN_REQUEST_TIMEOUT);
        self
    }

    /// The current token, fetching a new one when there is none or it is about to expire.
    pub async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = &cached.token
            && Instant::now() < token.refresh_after
        {
            return Ok(token.clone());
        }
        let requested = self.request().await;
        self.events.token_requested(requested.is_ok());
        let (value, lifetime) = requested?;
        cached.issued += 1;
        // Refresh well before expiry: a fifth of the lifetime early, at most five minutes.
        let margin = (lifetime / 5).min(Duration::from_secs(300));
        let token = AccessToken {
            value: Arc::new(value),
            refresh_after: Instant::now() + lifetime.saturating_sub(margin),
            generation: cached.issued,
        };
        cached.token = Some(token.clone());
        tracing::debug!(token_url = %self.token_url, scope = %self.scope, lifetime_s = lifetime.as_secs(), refresh_in_s = lifetime.saturating_sub(margin).as_secs(), "token issued");
        Ok(token)
    }

    /// Forgets `token` (the service answered 401 to it), unless a newer one already replaced it.
    pub async fn invalidate(&self, token: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached
            .token
            .as_ref()
            .is_some_and(|current| current.generation == token.generation)
        {
            cached.token = None;
        }
    }

    async fn request(&self) -> Result<(Secret, Duration), AuthError> {
        let body = self.form()?;
        let response = self
            .http
            .post(self.token_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|error| {
                AuthError::Unavailable(crate::http_client::network_message(
                    &self.token_url,
                    &error.without_url(),
                ))
            })?;
        // The deadline covers the body too: a proxy that stalls mid-answer must not
        // hold the token lock (and with it every request of the source) for ever.
        tokio::time::timeout(self.timeout, self.read_answer(response))
            .await
            .unwrap_or_else(|_| {
                Err(AuthError::Unavailable(format!(
                    "the token endpoint sent no whole answer within {}s",
                    self.timeout.as_secs()
                )))
            })
    }

    /// The form body of a token request (built before any await: the serializer is not Send).
    fn form(&self) -> Result<String, AuthError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        form.append_pair("client_id", &self.client_id);
        form.append_pair("scope", &self.scope);
        match &self.credential {
            CredentialMaterial::Secret(secret) => {
                form.append_pair("client_secret", secret.expose());
            }
            CredentialMaterial::Assertion(signer) => {
                let assertion = signer
                    .sign(&self.client_id, self.token_url.as_str())
                    .map_err(AuthError::Assertion)?;
                form.append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                );
                form.append_pair("client_assertion", &assertion);
            }
        }
        Ok(form.finish())
    }

    async fn read_answer(
        &self,
        response: reqwest::Response,
    ) -> Result<(Secret, Duration), AuthError> {
        let answer = Answer::read(response, MAX_TOKEN_ANSWER_BYTES)
            .await
            .map_err(|error| {
                AuthError::Unavailable(match error {
                    ReadError::TooLarge(limit) => {
                        format!("the token endpoint's answer is over {limit} bytes")
                    }
                    ReadError::Transfer(error) => error_chain(&error.without_url()),
                })
            })?;
        let status = answer.status;
        if (200..300).contains(&status) {
            return issued(&answer.body);
        }
        let transient = status >= 500 || status == 429;
        match ErrorBody::parse(&answer.body) {
            Some(ErrorBody::OAuth {
                error,
                description,
                codes,
            }) if !transient => {
                let first_line = description.lines().next().unwrap_or("").to_owned();
                Err(AuthError::SignInRefused(Box::new(SignInRefusal {
                    status,
                    tenant: self.tenant.clone(),
                    client_id: self.client_id.clone(),
                    authority: self.authority.clone(),
                    code: sign_in::aadsts_code(&codes, &first_line),
                    error: self.scrub(error),
                    description: self.scrub(first_line),
                })))
            }
            _ => Err(AuthError::Unavailable(format!(
                "token endpoint answered HTTP {status}"
            ))),
        }
    }

    /// Never let a secret echoed back by a server reach a log line.
    fn scrub(&self, text: String) -> String {
        let mut text = text;
        if let CredentialMaterial::Secret(secret) = &self.credential {
            let raw = secret.expose();
            if !raw.is_empty() {
                // As sent (form-encoded) and as a server may echo it back (raw, or
                // percent-encoded with %20 for spaces).
                let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
                let percent = form.replace('+', "%20");
                for echo in [raw, form.as_str(), percent.as_str()] {
                    text = text.replace(echo, "[redacted]");
                }
            }
        }
        // A peer chooses this text: keep it short.
        if text.chars().count() > MAX_PEER_TEXT_CHARS {
            text = clip(&text, MAX_PEER_TEXT_CHARS) + "...";
        }
        text
    }
}

/// The token and its lifetime from a successful answer.
fn issued(body: &[u8]) -> Result<(Secret, Duration), AuthError> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|_| AuthError::Unavailable("token answer is not the expected JSON".into()))?;
    let seconds = match answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or(3599);
    // A peer's number is clamped: no token lives longer than a day, and an absurd
    // lifetime must not overflow the clock.
    Ok((
        answer.access_token,
        Duration::from_secs(seconds.clamp(1, 86_400)),
    ))
}
