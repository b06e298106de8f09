//! `pstn-agent healthcheck`: asks a running agent's `/healthz` or `/readyz` over
//! loopback, so a container image without curl or a shell can still have a health
//! check (Docker's HEALTHCHECK runs a command inside the container).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Which question to ask the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `/healthz`: the process is serving.
    Alive,
    /// `/readyz`: every source progressing and no sink failing.
    Ready,
}

impl Probe {
    fn path(self) -> &'static str {
        match self {
            Probe::Alive => "/healthz",
            Probe::Ready => "/readyz",
        }
    }
}

/// Why the probe failed, in one line.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answered at the address in time.
    #[error("cannot reach the agent at {address}: {source}")]
    Unreachable {
        /// Where the probe connected.
        address: SocketAddr,
        /// What the connection or read said.
        source: std::io::Error,
    },
    /// The agent answered something other than 200.
    #[error("{path} answered {answer}")]
    Unhealthy {
        /// The endpoint asked.
        path: &'static str,
        /// The status line and body, trimmed.
        answer: String,
    },
}

/// Where to connect for an agent listening on `address`: a wildcard listen address
/// is reached over loopback of the same family.
pub fn loopback_for(address: SocketAddr) -> SocketAddr {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, address.port())
}

/// Asks the agent listening on `address`; `Ok` when it answered 200.
pub fn probe(address: SocketAddr, probe: Probe, timeout: Duration) -> Result<(), ProbeError> {
    let address = loopback_for(address);
    let unreachable = |source| ProbeError::Unreachable { address, source };
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(unreachable)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
        probe.path()
    );
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut answer = Vec::with_capacity(1024);
    stream
        .take(16 * 1024)
        .read_to_end(&mut answer)
        .map_err(unreachable)?;
    let answer = String::from_utf8_lossy(&answer);
    let status_line = answer.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        return Ok(());
    }
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
    Err(ProbeError::Unhealthy {
        path: probe.path(),
        answer: format!("{status_line} {body}").trim().to_owned(),
    })
}
