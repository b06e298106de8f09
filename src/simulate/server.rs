//! The simulator's HTTP routes: Entra's token endpoint and Graph's two functions.

use super::SimulatorOptions;
use super::assertion::RegisteredCertificate;
use super::faults::{Faults, Stats};
use super::generator::Generator;
use crate::http_server::{Body, full};
use crate::model::{ApiVersion, LogKind};
use crate::time::{SharedClock, Timestamp};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(super) struct Simulator {
    options: SimulatorOptions,
    certificate: Option<RegisteredCertificate>,
    public_url: String,
    generator: Arc<Generator>,
    faults: Arc<Faults>,
    stats: Arc<Stats>,
    clock: SharedClock,
    tokens: Mutex<HashMap<String, Instant>>,
    issued: AtomicU64,
}

fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(status, serde_json::json!({"error": {"code": code, "message": message, "innerError": {"date": "2024-05-01T09:00:00"}}}).to_string())
}

fn entra_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json(status, serde_json::json!({"error": error, "error_description": description, "error_codes": [], "trace_id": "00000000-0000-0000-0000-000000000000"}).to_string())
}

/// What a half-sent body does after its first half.
#[derive(Clone, Copy)]
enum AfterHalf {
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

/// A response announcing the whole body's length but sending only half of it.
fn half_response(body: String, then: AfterHalf) -> Response<Body> {
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

/// The parsed function call of a Graph request.
struct Call {
    version: ApiVersion,
    kind: LogKind,
    from_text: String,
    to_text: String,
    skip: usize,
}

fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim_matches('\'');
    Timestamp::parse(text)
        .ok()
        .or_else(|| Timestamp::parse(&format!("{text}T00:00:00Z")).ok())
}

// The error is the HTTP answer itself; this runs once per simulated request.
#[allow(clippy::result_large_err)]
fn parse_call(path: &str, query: Option<&str>) -> Result<Call, Response<Body>> {
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

impl Simulator {
    pub(super) fn new(
        options: SimulatorOptions,
        certificate: Option<RegisteredCertificate>,
        public_url: String,
        generator: Arc<Generator>,
        faults: Arc<Faults>,
        stats: Arc<Stats>,
        clock: SharedClock,
    ) -> Self {
        Simulator {
            options,
            certificate,
            public_url,
            generator,
            faults,
            stats,
            clock,
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
        }
    }

    pub(super) async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        if request.method() == hyper::Method::POST && path.ends_with("/oauth2/v2.0/token") {
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            return self.token(&body, &path);
        }
        if request.method() == hyper::Method::GET && path.contains("/communications/callRecords/") {
            let authorization = request
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return self
                .graph(&path, request.uri().query(), authorization.as_deref())
                .await;
        }
        if request.headers().contains_key(hyper::header::AUTHORIZATION) {
            self.stats
                .foreign_requests_with_token
                .fetch_add(1, Ordering::SeqCst);
        }
        graph_error(StatusCode::NOT_FOUND, "UnknownError", "Resource not found.")
    }

    fn token(&self, body: &[u8], path: &str) -> Response<Body> {
        self.stats.token_requests.fetch_add(1, Ordering::SeqCst);
        if Faults::take(&self.faults.token_fail_next) {
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
        self.stats
            .issued_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(token.clone());
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), Instant::now() + self.options.token_ttl);
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

    fn token_valid(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization.and_then(|value| value.strip_prefix("Bearer ")) else {
            return false;
        };
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }

    async fn graph(
        &self,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
    ) -> Response<Body> {
        self.stats.graph_requests.fetch_add(1, Ordering::SeqCst);
        self.stats
            .arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Instant::now());
        let latency = self.faults.latency_ms.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        if !self.token_valid(authorization) || Faults::take(&self.faults.revoke_next) {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            );
        }
        if Faults::take(&self.faults.forbid_next) {
            return graph_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Insufficient privileges to complete the operation.",
            );
        }
        if let Some(wait) = self.faults.throttle() {
            self.stats.throttled.fetch_add(1, Ordering::SeqCst);
            self.stats
                .throttles
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((Instant::now(), wait));
            let mut response = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests.",
            );
            response
                .headers_mut()
                .insert(hyper::header::RETRY_AFTER, wait.as_secs().max(1).into());
            return response;
        }
        if Faults::take(&self.faults.fail_next) {
            let status =
                StatusCode::from_u16(self.faults.fail_status.load(Ordering::SeqCst) as u16)
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return graph_error(
                status,
                "ServiceNotAvailable",
                "The service is temporarily unavailable.",
            );
        }
        let per_mille = self.faults.error_per_mille.load(Ordering::SeqCst);
        if per_mille > 0 {
            let draw = crate::simulate::random::CallRandom::new(
                self.options.seed,
                11,
                self.stats.graph_requests.load(Ordering::SeqCst),
            )
            .next_u64();
            if draw % 1000 < per_mille {
                let status = if draw % 2 == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                return graph_error(status, "UnknownError", "Simulated server error.");
            }
        }
        let call = match parse_call(path, query) {
            Ok(call) => call,
            Err(response) => return response,
        };
        let (Some(from), Some(to)) = (parse_time(&call.from_text), parse_time(&call.to_text))
        else {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid DateTimeOffset argument.",
            );
        };
        if to < from {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "toDateTime must not be before fromDateTime.",
            );
        }
        if to.duration_since(from) > Duration::from_secs(90 * 86_400) {
            return graph_error(
                StatusCode::NOT_ACCEPTABLE,
                "NotAcceptable",
                "The date range cannot exceed 90 days.",
            );
        }
        self.page(&call, from, to)
    }

    fn page(&self, call: &Call, from: Timestamp, to: Timestamp) -> Response<Body> {
        let now = self.clock.now();
        let page_size = self.options.page_size.max(1);
        let mut calls = self
            .generator
            .visible_calls(call.kind, from, to, call.kind.to_is_inclusive(), now)
            .skip(call.skip);
        let page: Vec<_> = calls.by_ref().take(page_size).collect();
        let more = calls.next().is_some();
        let mut body = String::with_capacity(page.len() * 900 + 512);
        let row_type = match call.kind {
            LogKind::Pstn => "pstnCallLogRow",
            LogKind::DirectRouting => "directRoutingLogRow",
        };
        body.push_str(&format!(
            "{{\"@odata.context\":\"{}/{}/$metadata#Collection(microsoft.graph.callRecords.{row_type})\",\"@odata.count\":{}",
            self.public_url,
            call.version.as_str(),
            page.len()
        ));
        if more {
            body.push_str(&format!(
                ",\"@odata.nextLink\":\"{}/{}/communications/callRecords/{}(from={},to={})?$skip={}\"",
                self.public_url,
                call.version.as_str(),
                call.kind.function(),
                call.from_text,
                call.to_text,
                call.skip + page.len()
            ));
        }
        body.push_str(",\"value\":[");
        for (index, row) in page.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            self.generator
                .write_row(call.kind, call.version, row, &mut body);
        }
        body.push_str("]}");
        self.stats.pages.fetch_add(1, Ordering::SeqCst);
        self.stats
            .rows
            .fetch_add(page.len() as u64, Ordering::SeqCst);
        if Faults::take(&self.faults.stall_next) {
            return half_response(body, AfterHalf::Stall);
        }
        if Faults::take(&self.faults.truncate_next) {
            return half_response(body, AfterHalf::Reset);
        }
        json(StatusCode::OK, body)
    }
}
