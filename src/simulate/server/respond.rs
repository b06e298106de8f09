//! The simulator's answers: JSON in Graph's and Entra's error shapes, and bodies that
//! break off half way (for the agent's handling of cut transfers).

use crate::http_server::{Body, full};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A JSON answer, as both services send.
pub(super) fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// An error in Graph's shape (`error.code`, `error.message`).
pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(status, serde_json::json!({"error": {"code": code, "message": message, "innerError": {"date": "2024-05-01T09:00:00"}}}).to_string())
}

/// An error in Entra ID's shape (`error`, `error_description` with its AADSTS code).
pub(super) fn entra_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json(status, serde_json::json!({"error": error, "error_description": description, "error_codes": [], "trace_id": "00000000-0000-0000-0000-000000000000"}).to_string())
}

/// What a half-sent body does after its first half.
#[derive(Clone, Copy)]
pub(super) enum AfterHalf {
    /// Breaks off: a connection reset mid-body.
    Reset,
    /// Goes silent with the connection open, until the client gives up.
    Stall,
}

/// A body that sends its first half, then resets or stalls.
struct HalfBody {
    first: Option<Bytes>,
    then: AfterHalf,
}

impl hyper::body::Body for HalfBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match (self.first.take(), self.then) {
            (Some(first), _) => Poll::Ready(Some(Ok(Frame::data(first)))),
            (None, AfterHalf::Reset) => Poll::Ready(Some(Err(std::io::Error::other(
                "simulated connection reset",
            )))),
            (None, AfterHalf::Stall) => Poll::Pending,
        }
    }
}

/// A connection cut before any answer: the body fails at once, so the server drops
/// the connection with the status line unsent or unfinished (the client sees a network
/// error, not a status).
pub(super) fn cut_response() -> Response<Body> {
    let mut response = Response::new(BodyExt::boxed(HalfBody {
        first: None,
        then: AfterHalf::Reset,
    }));
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_LENGTH, 100.into());
    response
}

/// A response announcing the whole body's length but sending only half of it.
pub(super) fn half_response(body: String, then: AfterHalf) -> Response<Body> {
    let bytes = Bytes::from(body);
    let length = bytes.len();
    let mut response = Response::new(BodyExt::boxed(HalfBody {
        first: Some(bytes.slice(..length / 2)),
        then,
    }));
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_LENGTH, length.into());
    response
}
