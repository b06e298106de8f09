//! What a service says went wrong, from the two error bodies the agent's peers send:
//! Graph's and Azure's `{"error": {"code", "message"}}`, and OAuth's (Entra ID's)
//! `{"error", "error_description", "error_codes"}`.

/// An error body, in the shape its service used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// Graph's and Azure's: `{"error": {"code": ..., "message": ...}}`.
    Service {
        /// `error.code` (`InvalidStream`, `TooManyRequests`, ...).
        code: Option<String>,
        /// `error.message`.
        message: Option<String>,
    },
    /// OAuth's, as Entra ID answers a token request.
    OAuth {
        /// `error` (`invalid_client`, `unauthorized_client`, ...).
        error: String,
        /// `error_description`, starting with its AADSTS code; empty when absent.
        description: String,
        /// `error_codes`: the AADSTS numbers.
        codes: Vec<u32>,
    },
}

impl ErrorBody {
    /// The error a body carries, when it is JSON in one of the two shapes.
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
        match value.get("error")? {
            serde_json::Value::String(error) => Some(ErrorBody::OAuth {
                error: error.clone(),
                description: text(&value["error_description"]).unwrap_or_default(),
                codes: value["error_codes"]
                    .as_array()
                    .map(|codes| {
                        codes
                            .iter()
                            .filter_map(|code| code.as_u64()?.try_into().ok())
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            error => Some(ErrorBody::Service {
                code: text(&error["code"]),
                message: text(&error["message"]),
            }),
        }
    }

    /// Graph's and Azure's code and message (nothing from another shape or no JSON).
    pub fn service(body: &[u8]) -> (Option<String>, Option<String>) {
        match ErrorBody::parse(body) {
            Some(ErrorBody::Service { code, message }) => (code, message),
            _ => (None, None),
        }
    }
}

/// At most `chars` characters of a peer's text (it reaches logs and errors).
pub fn clip(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_graphs_and_azures_shape() {
        let body =
            br#"{"error":{"code":"InvalidStream","message":"no such stream","innerError":{}}}"#;
        assert_eq!(
            ErrorBody::service(body),
            (Some("InvalidStream".into()), Some("no such stream".into()))
        );
        assert_eq!(ErrorBody::service(br#"{"error":{"code":7}}"#), (None, None));
        assert_eq!(ErrorBody::service(b"<html>gateway</html>"), (None, None));
    }

    #[test]
    fn reads_entras_shape_with_its_aadsts_numbers() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret.","error_codes":[7000215]}"#;
        assert_eq!(
            ErrorBody::parse(body),
            Some(ErrorBody::OAuth {
                error: "invalid_client".into(),
                description: "AADSTS7000215: Invalid client secret.".into(),
                codes: vec![7_000_215],
            })
        );
        // OAuth's shape is not Graph's: no code or message read from it as Graph's.
        assert_eq!(ErrorBody::service(body), (None, None));
        assert_eq!(ErrorBody::parse(br#"{"value":[]}"#), None);
    }
}
