//! Graph's call-log route: counts the request, applies latency, checks the token,
//! injects the faults asked for (403, 429 with Retry-After, 5xx), holds to Graph's
//! published limits (429 with Retry-After), then pages.

use super::Simulator;
use super::call::parse_call;
use super::respond::graph_error;
use crate::http_server::Body;
use crate::simulate::faults::Countdown;
use crate::simulate::random::CallRandom;
use hyper::{Response, StatusCode};
use std::time::Duration;

impl Simulator {
    /// `GET {graph}/{version}/communications/callRecords/{function}(..)`.
    pub(super) async fn graph(
        &self,
        path: &str,
        query: Option<&str>,
        authorization: Option<&str>,
    ) -> Response<Body> {
        self.stats.note_graph_request();
        let latency = self.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if !self.token_valid(authorization) || self.faults.take(Countdown::Revocation) {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            );
        }
        if let Some(failure) = self.injected_failure() {
            return failure;
        }
        let call = match parse_call(path, query) {
            Ok(call) => call,
            Err(response) => return response,
        };
        if self.options.graph_limits
            && let Some((tenant, client_id)) = self.token_owner(authorization)
            && let Err(wait) = self.limits.admit(&tenant, &client_id, call.kind.function())
        {
            return self.throttled(wait);
        }
        let tenant_calls = self
            .options
            .calls_per_tenant
            .then(|| self.token_owner(authorization))
            .flatten()
            .map(|(tenant, _)| self.generator.for_tenant(&tenant));
        let generator = tenant_calls.as_ref().unwrap_or(&self.generator);
        match call.range() {
            Ok((from, to)) => self.page(generator, &call, from, to),
            Err(response) => response,
        }
    }

    /// A 429 asking to wait `wait` (whole seconds, rounded up), counted in the stats.
    fn throttled(&self, wait: Duration) -> Response<Body> {
        self.stats.note_throttled(wait);
        let mut response = graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests.",
        );
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, seconds.max(1).into());
        response
    }

    /// The fault asked for, in order: a missing role (403), throttling (429 with
    /// Retry-After), the next failures, then random 500/503 per mille.
    fn injected_failure(&self) -> Option<Response<Body>> {
        if self.faults.take(Countdown::Forbidden) {
            return Some(graph_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Insufficient privileges to complete the operation.",
            ));
        }
        if let Some(wait) = self.faults.over_budget() {
            return Some(self.throttled(wait));
        }
        if self.faults.take(Countdown::Failure) {
            let status = u16::try_from(self.faults.failure_status())
                .ok()
                .and_then(|status| StatusCode::from_u16(status).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(graph_error(
                status,
                "ServiceNotAvailable",
                "The service is temporarily unavailable.",
            ));
        }
        let per_mille = self.faults.error_per_mille();
        if per_mille > 0 {
            let draw =
                CallRandom::new(self.options.seed, 11, self.stats.graph_requests()).next_u64();
            if draw % 1000 < per_mille {
                let status = if draw.is_multiple_of(2) {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                return Some(graph_error(
                    status,
                    "UnknownError",
                    "Simulated server error.",
                ));
            }
        }
        None
    }
}
