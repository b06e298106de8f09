//! The simulator's HTTP routes: Entra's token endpoint, Graph's call-log functions and
//! Azure Monitor's Logs Ingestion API.
//! Routing is here; each route, the request parsing and the answers have their own file.

mod call;
mod directory;
mod graph;
mod ingestion;
mod page;
mod respond;
mod token;

use super::SimulatorOptions;
use super::assertion::RegisteredCertificate;
use super::directory::Directory;
use super::faults::{Faults, Stats};
use super::generator::Generator;
use super::ingestion::Ingestion;
use crate::http_server::Body;
use crate::time::SharedClock;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use respond::graph_error;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// One simulated tenant: its options, calls, faults, counters and issued tokens.
pub(super) struct Simulator {
    options: SimulatorOptions,
    certificate: Option<RegisteredCertificate>,
    public_url: String,
    generator: Arc<Generator>,
    faults: Arc<Faults>,
    stats: Arc<Stats>,
    ingestion: Arc<Ingestion>,
    clock: SharedClock,
    directory: Arc<Directory>,
    tokens: Mutex<HashMap<String, token::IssuedToken>>,
    issued: AtomicU64,
    limits: super::limits::GraphLimits,
}

impl Simulator {
    /// The routes' shared state; `start` builds it once per server.
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
            directory: Arc::new(Directory::new(
                options.directory_users,
                options.directory_page_size,
                options.directory_forbidden,
            )),
            options,
            certificate,
            public_url,
            generator,
            faults,
            stats,
            ingestion: Arc::new(Ingestion::default()),
            clock,
            tokens: Mutex::new(HashMap::new()),
            issued: AtomicU64::new(0),
            limits: super::limits::GraphLimits::default(),
        }
    }

    /// The directory, for the handle.
    pub(super) fn directory_handle(&self) -> Arc<Directory> {
        self.directory.clone()
    }

    /// The Logs Ingestion stand-in's knobs and records, for the handle.
    pub(super) fn ingestion(&self) -> Arc<Ingestion> {
        self.ingestion.clone()
    }

    /// Routes one request: the token endpoint, the call-log functions, Logs Ingestion,
    /// or 404 (noting a token sent where it does not belong).
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
        if request.method() == hyper::Method::POST && path.starts_with("/dataCollectionRules/") {
            let header = |name| {
                request
                    .headers()
                    .get(name)
                    .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let authorization = header(hyper::header::AUTHORIZATION);
            let gzip = header(hyper::header::CONTENT_ENCODING).is_some_and(|e| e == "gzip");
            let query = request.uri().query().map(str::to_owned);
            let body = request
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            return self.ingest(
                &path,
                query.as_deref(),
                authorization.as_deref(),
                gzip,
                &body,
            );
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
        if request.method() == hyper::Method::GET
            && (path.starts_with("/v1.0/users") || path.starts_with("/beta/users"))
        {
            let authorization = request
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            return self
                .directory(&path, request.uri().query(), authorization)
                .await;
        }
        if request.headers().contains_key(hyper::header::AUTHORIZATION) {
            self.stats.note_foreign_request_with_token();
        }
        graph_error(StatusCode::NOT_FOUND, "UnknownError", "Resource not found.")
    }
}
