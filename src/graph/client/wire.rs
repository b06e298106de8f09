//! One Graph request on the wire: sent with the token, counted, its answer read within
//! the body cap (the kit in `http_client`), and an answer past the exchange's own rules
//! (401, 429) judged: a page, a refusal explained for what was read, or Graph's side.

use super::{GraphClient, Resource};
use crate::entra::AccessToken;
use crate::graph::{FailureReason, GraphError, GraphEvent, PageError};
use crate::http_client::{Answer, BufferPool, ErrorBody, ReadError, clip};
use tokio::time::Instant;
use url::Url;

/// Graph's error code and message, for an error's text.
pub(super) fn error_message(body: &[u8]) -> String {
    let (code, message) = ErrorBody::service(body);
    match (code.unwrap_or_default(), message.unwrap_or_default()) {
        (code, message) if code.is_empty() && message.is_empty() => "no error details".to_owned(),
        (code, message) => clip(&format!("{code}: {message}"), 300),
    }
}

impl GraphClient {
    /// What an answer the exchange left to the client means: the parsed body of a 200,
    /// or the error its status says.
    pub(super) fn read<T>(
        &self,
        url: &Url,
        resource: Resource,
        answer: Answer,
        parse: fn(bytes::Bytes) -> Result<T, PageError>,
    ) -> Result<T, GraphError> {
        match answer.status {
            200 => parse(answer.body).map_err(|error| {
                self.emit(GraphEvent::Failed(FailureReason::UnreadableBody));
                error.into()
            }),
            403 => {
                let tenant = self.endpoint.tenant_id.clone();
                Err(match resource {
                    Resource::CallLog => GraphError::Forbidden {
                        function: self.endpoint.kind.function(),
                        tenant,
                    },
                    Resource::Directory | Resource::DirectoryUser => {
                        GraphError::DirectoryForbidden { tenant }
                    }
                })
            }
            status @ (500 | 502 | 503 | 504) => {
                if let Some(wait) = answer.retry_after {
                    self.pause_for(resource, wait.min(self.options.retry.max_delay));
                }
                Err(GraphError::Unavailable {
                    status,
                    message: error_message(&answer.body),
                })
            }
            status => {
                let mut asked = url.clone();
                asked.set_query(None);
                Err(GraphError::Refused {
                    status,
                    url: asked.to_string(),
                    message: error_message(&answer.body),
                })
            }
        }
    }

    /// Sends one request and counts it with its outcome.
    pub(super) async fn send_counted(
        &self,
        url: &Url,
        token: &AccessToken,
        resource: Resource,
    ) -> Result<Answer, GraphError> {
        let started = Instant::now();
        // Only a call-log page gives its body back (see `get_page`).
        let bodies = self
            .bodies
            .as_ref()
            .filter(|_| resource == Resource::CallLog);
        let sent = self.send(url, token, bodies).await;
        let failure = match &sent {
            Err(error) => Some(error.reason()),
            Ok(answer) if answer.status == 200 => None,
            Ok(answer) if answer.status == 404 && resource == Resource::DirectoryUser => None,
            Ok(answer) => Some(FailureReason::of_status(answer.status)),
        };
        let took = started.elapsed();
        self.emit(GraphEvent::RequestFinished { took, failure });
        match &sent {
            Ok(answer) => {
                tracing::debug!(method = "GET", %url, status = answer.status, took_ms = took.as_millis() as u64, bytes = answer.body.len(), "Graph answered")
            }
            Err(error) => {
                tracing::debug!(method = "GET", %url, took_ms = took.as_millis() as u64, %error, "Graph request failed")
            }
        }
        sent
    }

    async fn send(
        &self,
        url: &Url,
        token: &AccessToken,
        bodies: Option<&BufferPool>,
    ) -> Result<Answer, GraphError> {
        let network = |error: reqwest::Error| {
            GraphError::Network(crate::http_client::network_message(url, &error))
        };
        // Marked sensitive: kept out of debug output and HTTP/2 header compression tables.
        let mut authorization = reqwest::header::HeaderValue::from_str(&token.header_value())
            .map_err(|_| {
                GraphError::Network("the access token is not a valid header value".into())
            })?;
        authorization.set_sensitive(true);
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.options.request_timeout)
            .send()
            .await
            .map_err(network)?;
        Answer::read_pooled(response, self.options.max_body_bytes, bodies)
            .await
            .map_err(|error| match error {
                ReadError::TooLarge(limit) => GraphError::BodyTooLarge(limit),
                ReadError::Transfer(error) => network(error),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::error_message;

    #[test]
    fn graphs_error_details_read_as_code_and_message_cut_short() {
        let body = br#"{"error":{"code":"BadRequest","message":"Invalid filter clause"}}"#;
        assert_eq!(error_message(body), "BadRequest: Invalid filter clause");
        assert_eq!(
            error_message(br#"{"error":{"message":"only this"}}"#),
            ": only this"
        );
        assert_eq!(
            error_message(b"<html>Bad Gateway</html>"),
            "no error details"
        );
        let long = format!(
            r#"{{"error":{{"code":"X","message":"{}"}}}}"#,
            "m".repeat(1000)
        );
        assert_eq!(error_message(long.as_bytes()).chars().count(), 300);
    }
}
