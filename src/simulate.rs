//! A stand-in for Entra ID, Graph's call-log functions and directory, and Azure Monitor's Logs
//! Ingestion API, for tests, demos and load:
//! the same HTTP as the real services, deterministic calls from a seed, rows that
//! appear late, and faults on demand.

mod assertion;
mod call_core;
mod directory;
mod faults;
mod fields;
mod generator;
mod ingestion;
mod lateness;
mod limits;
mod numbers;
mod operator_connect;
pub(crate) mod random;
mod rows;
mod rows_dialout;
mod rows_logs;
mod server;
mod tls;

pub use call_core::CallCore;
pub use directory::{
    DEFAULT_DIRECTORY_PAGE_SIZE, DEFAULT_DIRECTORY_USERS, DEPARTMENTS, Directory, ROW_USER_POOL,
    user_id,
};
pub use faults::{Countdown, FaultSettings, Faults, Stats};
pub use generator::Generator;
pub use ingestion::{INGESTION_MAX_BYTES, IngestedRecord, Ingestion};
pub use lateness::Lateness;

use crate::time::SharedClock;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How the simulated tenant behaves.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// Seed of every call.
    pub seed: u64,
    /// Average calls per day, for each of the two logs.
    pub calls_per_day: f64,
    /// Rows per page (Graph: 1000).
    pub page_size: usize,
    /// How late rows appear.
    pub lateness: Lateness,
    /// Lifetime of issued tokens (real time).
    pub token_ttl: Duration,
    /// Only this client id is accepted, when set.
    pub client_id: Option<String>,
    /// Only this client secret is accepted, when set.
    pub client_secret: Option<String>,
    /// Base URL written into `@odata.nextLink` (default: the address served).
    pub public_url: Option<String>,
    /// When set, certificate assertions must be signed by this certificate's key
    /// (thumbprint, claims and signature checked); otherwise only their shape is.
    pub client_certificate: Option<std::path::PathBuf>,
    /// Serve over TLS with this certificate chain and key (PEM), as `https://localhost`.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Faults on from the start; [`SimulatorHandle::faults`] changes them while it runs.
    pub faults: FaultSettings,
    /// Users in the directory (`/users/delta`, `/users/{id}`).
    pub directory_users: usize,
    /// Users per `/users/delta` page.
    pub directory_page_size: usize,
    /// Answer 403 to every directory request (the application lacks User.Read.All).
    pub directory_forbidden: bool,
    /// Enforce Graph's published limits on the call-log functions (on by default):
    /// 50 requests per 60 s per function and tenant, 200 per application in a tenant,
    /// 1,000 per tenant, 429 with Retry-After beyond them.
    pub graph_limits: bool,
    /// Refuse every sign-in with this AADSTS code, in Entra ID's words for it (700016,
    /// 65001, 7000215, 7000222, 90002, 700027; any other number gets a generic line).
    pub sign_in_refusal: Option<u32>,
    /// Refuse sign-in to these tenants only, with AADSTS700016 (the application is not
    /// consented there); the others sign in.
    pub unconsented_tenants: Vec<String>,
    /// Each tenant its own calls ([`Generator::for_tenant`]); off: every tenant sees
    /// the seed's calls (what `generator` gives).
    pub calls_per_tenant: bool,
}

impl SimulatorOptions {
    /// Without Graph's published limits: for load tests and tests that need speed
    /// (their agent then says so too, with a fast `requests_per_minute`).
    pub fn without_graph_limits(mut self) -> Self {
        self.graph_limits = false;
        self
    }
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        SimulatorOptions {
            seed: 1,
            calls_per_day: 2000.0,
            page_size: 1000,
            lateness: Lateness::Default,
            token_ttl: Duration::from_secs(3600),
            client_id: None,
            client_secret: None,
            public_url: None,
            client_certificate: None,
            tls: None,
            faults: FaultSettings::default(),
            directory_users: DEFAULT_DIRECTORY_USERS,
            directory_page_size: DEFAULT_DIRECTORY_PAGE_SIZE,
            sign_in_refusal: None,
            unconsented_tenants: Vec::new(),
            calls_per_tenant: false,
            directory_forbidden: false,
            graph_limits: true,
        }
    }
}

/// A running simulator.
#[derive(Debug, Clone)]
pub struct SimulatorHandle {
    /// Where it listens.
    pub address: SocketAddr,
    /// Faults, changeable while it runs.
    pub faults: Arc<Faults>,
    /// What it served.
    pub stats: Arc<Stats>,
    /// `http`, or `https` when serving TLS.
    pub scheme: &'static str,
    /// Its calls, to compute what an agent should have received.
    pub generator: Arc<Generator>,
    /// The Logs Ingestion stand-in: its faults and the records it accepted.
    pub ingestion: Arc<Ingestion>,
    /// The directory: change users, switch the 403 mode, see the requests it got.
    pub directory: Arc<Directory>,
}

impl SimulatorHandle {
    /// `http://ADDRESS` (or `https://localhost:PORT` over TLS): both the authority and
    /// the Graph URL.
    pub fn url(&self) -> String {
        match self.scheme {
            "https" => format!("https://localhost:{}", self.address.port()),
            _ => format!("http://{}", self.address),
        }
    }
}

/// Starts the simulator on `address` (port 0 picks a free one) in the background.
pub async fn start(
    address: SocketAddr,
    options: SimulatorOptions,
    clock: SharedClock,
) -> std::io::Result<SimulatorHandle> {
    let certificate = match &options.client_certificate {
        Some(path) => {
            Some(assertion::RegisteredCertificate::load(path).map_err(std::io::Error::other)?)
        }
        None => None,
    };
    let tls = match &options.tls {
        Some((certificate, key)) => Some(tls::acceptor(certificate, key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    let generator = Arc::new(Generator::new(
        options.seed,
        options.calls_per_day,
        options.lateness,
    ));
    let faults = Arc::new(Faults::new(&options.faults));
    let stats = Arc::new(Stats::default());
    let public_url = options.public_url.clone().unwrap_or_else(|| match scheme {
        "https" => format!("https://localhost:{}", address.port()),
        _ => format!("http://{address}"),
    });
    let state = Arc::new(server::Simulator::new(
        options,
        certificate,
        public_url,
        generator.clone(),
        faults.clone(),
        stats.clone(),
        clock,
    ));
    let ingestion = state.ingestion();
    let directory = state.directory_handle();
    let handler = Arc::new(move |request| {
        let state = state.clone();
        async move { state.handle(request).await }
    });
    match tls {
        Some(acceptor) => tokio::spawn(tls::serve(listener, acceptor, handler)),
        None => tokio::spawn(crate::http_server::serve(listener, handler)),
    };
    Ok(SimulatorHandle {
        address,
        faults,
        stats,
        generator,
        scheme,
        ingestion,
        directory,
    })
}
