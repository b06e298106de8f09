//! One `pstn-agent` process of the replica tests: its configuration (the shared
//! PostgreSQL, six units of one simulated tenant, a file sink of its own), its start,
//! its signals and its end.

use crate::common::postgres::Postgres;
use crate::common::{self, Harness, NOW};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(super) const LOOKBACK_DAYS: u64 = 2;
pub(super) const UNITS: [&str; 6] = ["u0", "u1", "u2", "u3", "u4", "u5"];
pub(super) const LEASE_TTL: Duration = Duration::from_secs(3);
pub(super) const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// One replica: its name, directory (config, state lock, file sink, log) and process.
pub(super) struct Replica {
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) child: Option<Child>,
}

impl Replica {
    pub(super) fn new(harness: &Harness, url: &str, name: &str) -> Replica {
        let dir = harness.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let sim = harness.simulator.url();
        let mut text = format!(
            "data_dir = \"{}\"\n[api]\naddress = \"127.0.0.1:0\"\n[state]\npostgres_url = \"{url}\"\n\
             lease_ttl = \"{}s\"\nreplica_name = \"{name}\"\n",
            dir.join("state").display(),
            LEASE_TTL.as_secs()
        );
        for unit in UNITS {
            text.push_str(&format!(
                "[sources.{unit}]\ntype = \"pstn_calls\"\ntenant_id = \"contoso.onmicrosoft.com\"\n\
                 client_id = \"11111111-1111-1111-1111-111111111111\"\nclient_secret = \"s\"\n\
                 authority_url = \"{sim}\"\ngraph_url = \"{sim}\"\nlookback = \"{LOOKBACK_DAYS}d\"\n\
                 late_window = \"0s\"\npoll_interval = \"{}s\"\nrequests_per_second = 1000\n",
                POLL_INTERVAL.as_secs()
            ));
        }
        text.push_str(&format!(
            "[sinks.archive]\ntype = \"file\"\npath = \"{}\"\ninputs = {UNITS:?}\n",
            dir.join("calls.jsonl").display()
        ));
        std::fs::write(dir.join("agent.toml"), text).unwrap();
        Replica {
            name: name.to_owned(),
            dir,
            child: None,
        }
    }

    /// Starts the binary on a clock standing at NOW, its log appended to `agent.log`.
    pub(super) fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("agent.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pstn-agent"))
            .arg("--config")
            .arg(self.dir.join("agent.toml"))
            .args(["--clock-start", NOW, "--time-scale", "0"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub(super) fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
    }

    pub(super) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub(super) async fn terminate(&mut self) {
        if self.child.is_none() {
            return;
        }
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().unwrap();
        common::eventually(
            "a replica exiting on SIGTERM",
            Duration::from_secs(30),
            async || child.try_wait().unwrap().is_some(),
        )
        .await;
    }

    pub(super) fn output(&self) -> PathBuf {
        self.dir.join("calls.jsonl")
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Three replicas, started.
pub(super) fn replicas(harness: &Harness, cluster: &Postgres) -> Vec<Replica> {
    let mut replicas: Vec<Replica> = ["r0", "r1", "r2"]
        .iter()
        .map(|name| Replica::new(harness, &cluster.url(), name))
        .collect();
    for replica in &mut replicas {
        replica.start();
    }
    replicas
}
