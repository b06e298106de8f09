//! Reading a Graph request: the function (`getPstnCalls(fromDateTime=..,toDateTime=..)`
//! and its kin), the API version, the page offset, and the range rules Graph enforces.

use super::respond::graph_error;
use crate::http_server::Body;
use crate::model::{ApiVersion, LogKind};
use crate::time::Timestamp;
use hyper::{Response, StatusCode};
use std::time::Duration;

/// The parsed function call of a Graph request.
pub(super) struct Call {
    /// `v1.0` or `beta`.
    pub(super) version: ApiVersion,
    /// Which log function was called.
    pub(super) kind: LogKind,
    /// `fromDateTime` as written (echoed into the next link).
    pub(super) from_text: String,
    /// `toDateTime` as written (echoed into the next link).
    pub(super) to_text: String,
    /// Rows already served by earlier pages (`$skip`).
    pub(super) skip: usize,
}

fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim_matches('\'');
    Timestamp::parse(text)
        .ok()
        .or_else(|| Timestamp::parse(&format!("{text}T00:00:00Z")).ok())
}

/// The function call of a Graph path and query; 404 or 400 as Graph answers them.
// The error is the HTTP answer itself; this runs once per simulated request.
#[allow(clippy::result_large_err)]
pub(super) fn parse_call(path: &str, query: Option<&str>) -> Result<Call, Response<Body>> {
    let not_found = || {
        graph_error(
            StatusCode::NOT_FOUND,
            "UnknownError",
            "Resource not found for the segment.",
        )
    };
    let path = percent_decode(path);
    let rest = path.strip_prefix('/').ok_or_else(not_found)?;
    let (version, rest) = rest.split_once('/').ok_or_else(not_found)?;
    let version = ApiVersion::parse(version).ok_or_else(not_found)?;
    let function = rest
        .strip_prefix("communications/callRecords/")
        .ok_or_else(not_found)?;
    let function = function
        .strip_prefix("microsoft.graph.callRecords.")
        .unwrap_or(function);
    let (name, arguments) = function.split_once('(').ok_or_else(not_found)?;
    let kind = LogKind::ALL
        .into_iter()
        .find(|kind| kind.function() == name)
        .ok_or_else(not_found)?;
    if kind.beta_only() && version == ApiVersion::V1 {
        // What Graph answers for a function v1.0 does not have.
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{name}'."),
        ));
    }
    let arguments = arguments.strip_suffix(')').ok_or_else(not_found)?;
    let mut from_text = None;
    let mut to_text = None;
    for pair in arguments.split(',') {
        match pair.split_once('=') {
            Some(("fromDateTime" | "from", value)) => from_text = Some(value.to_owned()),
            Some(("toDateTime" | "to", value)) => to_text = Some(value.to_owned()),
            _ => {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("Invalid function argument: {pair}"),
                ));
            }
        }
    }
    let (Some(from_text), Some(to_text)) = (from_text, to_text) else {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "fromDateTime and toDateTime are required.",
        ));
    };
    let skip = query
        .into_iter()
        .flat_map(|query| query.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| percent_decode(key) == "$skip")
        .map(|(_, value)| value.parse::<usize>())
        .transpose()
        .map_err(|_| graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid $skip."))?
        .unwrap_or(0);
    Ok(Call {
        version,
        kind,
        from_text,
        to_text,
        skip,
    })
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

impl Call {
    /// The call's time range: 400 when unreadable or reversed, 406 over 90 days.
    // The error is the HTTP answer itself; this runs once per simulated request.
    #[allow(clippy::result_large_err)]
    pub(super) fn range(&self) -> Result<(Timestamp, Timestamp), Response<Body>> {
        let (Some(from), Some(to)) = (parse_time(&self.from_text), parse_time(&self.to_text))
        else {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid DateTimeOffset argument.",
            ));
        };
        if to < from {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "toDateTime must not be before fromDateTime.",
            ));
        }
        if to.duration_since(from) > Duration::from_secs(90 * 86_400) {
            return Err(graph_error(
                StatusCode::NOT_ACCEPTABLE,
                "NotAcceptable",
                "The date range cannot exceed 90 days.",
            ));
        }
        Ok((from, to))
    }
}
