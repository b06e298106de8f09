//! Azure Monitor's Logs Ingestion API, as documented: `POST /dataCollectionRules/{id}/
//! streams/{stream}?api-version=2023-01-01` with a bearer token for Azure Monitor, a JSON
//! array (gzip or not), 204 when accepted. 401 for a missing, expired or foreign token
//! (a Graph token is refused), 403 in forbid mode, 429/503 with Retry-After on demand,
//! 413 over the size limit, 400 for a stream the DCR does not declare, a record that is
//! not an object, lacks a valid `TimeGenerated` or has a reserved column name (or is
//! the one refused on demand).

use super::Simulator;
use super::respond::{cut_response, json};
use super::token::is_monitor;
use crate::http_server::Body;
use crate::time::Timestamp;
use hyper::{Response, StatusCode};
use std::io::Read;

/// Column names the API refuses (compared ignoring case), besides names starting with `_`.
const RESERVED: &[&str] = &["id", "TenantId", "Type", "UniqueId", "Title", "_ResourceId"];

/// An error in Azure Monitor's shape.
fn monitor_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        serde_json::json!({"error": {"code": code, "message": message}}).to_string(),
    )
}

/// The problem with one record, if any.
fn record_problem(record: &serde_json::Value) -> Option<String> {
    let Some(object) = record.as_object() else {
        return Some("every record must be a JSON object".into());
    };
    for name in object.keys() {
        if name.starts_with('_') || RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Some(format!(
                "column name '{name}' is reserved and cannot be ingested"
            ));
        }
    }
    match object.get("TimeGenerated").and_then(|t| t.as_str()) {
        Some(text) if Timestamp::parse(text).is_ok() => None,
        _ => Some("TimeGenerated is missing or not a datetime".into()),
    }
}

impl Simulator {
    /// `POST /dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`.
    pub(super) fn ingest(
        &self,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
        gzip: bool,
        body: &[u8],
    ) -> Response<Body> {
        let ingestion = &self.ingestion;
        let number = ingestion.next_request();
        if ingestion.cuts(number) {
            ingestion.note_status(0);
            return cut_response();
        }
        let response = if ingestion.fails(number) {
            monitor_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
            )
        } else {
            self.ingest_answer(path, query, authorization, gzip, body)
        };
        ingestion.note_status(response.status().as_u16());
        response
    }

    fn ingest_answer(
        &self,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
        gzip: bool,
        body: &[u8],
    ) -> Response<Body> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let ["dataCollectionRules", dcr, "streams", stream] = parts.as_slice() else {
            return monitor_error(StatusCode::NOT_FOUND, "NotFound", "No such route.");
        };
        if let Some(refusal) = self.request_refusal(dcr, query, authorization) {
            return refusal;
        }
        let records = match records_of(body, gzip, self.ingestion.limit()) {
            Ok(records) => records,
            Err((status, code, message)) => return monitor_error(status, code, &message),
        };
        if let Some(refusal) = self.content_refusal(stream, &records) {
            return refusal;
        }
        tracing::info!(records = records.len(), stream = %stream, dcr = %dcr, "Logs Ingestion stand-in: accepted (204)");
        self.ingestion.accept(dcr, stream, records, gzip);
        let mut response = Response::new(crate::http_server::full(""));
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    }

    /// What refuses the request before its body is read: the API version, the token
    /// and its audience, the role, and the faults switched on.
    fn request_refusal(
        &self,
        dcr: &str,
        query: Option<&str>,
        authorization: Option<&str>,
    ) -> Option<Response<Body>> {
        let ingestion = &self.ingestion;
        if !query.is_some_and(|q| q.split('&').any(|pair| pair == "api-version=2023-01-01")) {
            return Some(monitor_error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersion",
                "The api-version query parameter is missing or not supported.",
            ));
        }
        let audience = self.token_audience(authorization);
        if audience.is_none() || ingestion.take_revocation() {
            return Some(monitor_error(
                StatusCode::UNAUTHORIZED,
                "InvalidToken",
                "The access token is missing, expired or invalid.",
            ));
        }
        if !audience.as_deref().is_some_and(is_monitor) {
            return Some(monitor_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAudience",
                "The access token's audience is not https://monitor.azure.com.",
            ));
        }
        if ingestion.forbidden() {
            return Some(monitor_error(
                StatusCode::FORBIDDEN,
                "OperationFailed",
                &format!(
                    "The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '{dcr}'."
                ),
            ));
        }
        if let Some((status, code)) = ingestion.refusal() {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return Some(monitor_error(
                status,
                &code,
                &format!("Refused on purpose ({code})."),
            ));
        }
        let (status, wait) = ingestion.take_throttle()?;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let mut response = monitor_error(
            status,
            "TooManyRequests",
            "Rate limit exceeded; retry later.",
        );
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, wait.into());
        Some(response)
    }

    /// What refuses records the body held: a stream the rule does not declare, a
    /// record the API cannot take, or one refused on demand.
    fn content_refusal(
        &self,
        stream: &str,
        records: &[serde_json::Value],
    ) -> Option<Response<Body>> {
        if !self.ingestion.declares(stream) {
            return Some(monitor_error(
                StatusCode::BAD_REQUEST,
                "InvalidStream",
                &format!("Stream '{stream}' is not declared in the data collection rule."),
            ));
        }
        if let Some(problem) = records.iter().find_map(record_problem) {
            return Some(monitor_error(
                StatusCode::BAD_REQUEST,
                "InvalidContent",
                &problem,
            ));
        }
        let refused = records
            .iter()
            .filter_map(|r| r["rowId"].as_str())
            .find(|id| self.ingestion.refuses_row(id))?;
        Some(monitor_error(
            StatusCode::BAD_REQUEST,
            "InvalidContent",
            &format!("A record could not be ingested (rowId {refused})."),
        ))
    }
}

/// The body's records (gunzipped when `gzip`), or why it is refused (status, Azure
/// error code, message): over `limit` bytes (compressed or not), not gzip, or not a
/// JSON array.
fn records_of(
    body: &[u8],
    gzip: bool,
    limit: u64,
) -> Result<Vec<serde_json::Value>, (StatusCode, &'static str, String)> {
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "ContentLengthLimitExceeded",
            format!("The request body is over the limit of {limit} bytes."),
        )
    };
    let invalid = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            "InvalidContent",
            message.to_owned(),
        )
    };
    if body.len() as u64 > limit {
        return Err(too_large());
    }
    let mut plain = Vec::new();
    let text = if gzip {
        let decoder = flate2::read::GzDecoder::new(body);
        if decoder.take(limit + 1).read_to_end(&mut plain).is_err() {
            return Err(invalid("The body is not valid gzip."));
        }
        &plain[..]
    } else {
        body
    };
    if text.len() as u64 > limit {
        return Err(too_large());
    }
    match serde_json::from_slice(text) {
        Ok(serde_json::Value::Array(records)) => Ok(records),
        _ => Err(invalid("The body must be a JSON array of records.")),
    }
}
