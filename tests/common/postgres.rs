//! A throw-away PostgreSQL cluster for the tests of state shared by replicas: Debian's
//! `postgresql` (installed by `tools/install-test-tools`), initdb in a temp dir, a free
//! loopback port, run as the `postgres` user when the tests run as root (initdb refuses
//! root). No mock: the agent talks to a real server. Without PostgreSQL a test says
//! SKIPPED (a failure in CI).

use super::tools::{free_port, skipped};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One cluster of its own, stopped (immediately) and deleted when dropped.
pub struct Postgres {
    /// Holds the data directory and the socket directory; removed on drop.
    dir: tempfile::TempDir,
    /// `/usr/lib/postgresql/<version>/bin`, the newest installed.
    bin: PathBuf,
    port: u16,
    /// Run the server's programs through `runuser -u postgres --` (we are root).
    as_postgres: bool,
}

/// The newest `/usr/lib/postgresql/*/bin` holding `initdb` (Debian keeps the server's
/// programs there, off `PATH`).
fn server_programs() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

impl Postgres {
    /// Starts a new cluster with a database `pstn` owned by the user `pstn`; `None`
    /// (said as SKIPPED) when PostgreSQL is not installed.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = server_programs() else {
            skipped("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)");
            return None;
        };
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = tempfile::tempdir().unwrap();
        let cluster = Postgres {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        std::fs::create_dir(cluster.socket_dir()).unwrap();
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(cluster.dir.path())
                .output()
                .unwrap();
            assert!(chown.status.success(), "chown: {}", text(&chown));
        }
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_dir().display().to_string(),
                "-U",
                "pstn",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start_server();
        cluster.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.port.to_string(),
                "-U",
                "pstn",
                "pstn",
            ],
        );
        Some(cluster)
    }

    /// The URL of its database `pstn`, as `[state] postgres_url` takes it.
    pub fn url(&self) -> String {
        format!("postgres://pstn@127.0.0.1:{}/pstn", self.port)
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`, as a crash would).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }

    /// Starts the server again on the same port and data, after [`Postgres::stop`].
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.socket_dir().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", &log, "-o", &options]);
    }

    /// Stops the server at once and starts it again: what a database failover or a
    /// restart looks like to the agent.
    pub fn restart(&self) {
        self.stop();
        self.start_server();
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    fn pg_ctl(&self, arguments: &[&str]) {
        let data = self.data_dir().display().to_string();
        let mut all = vec!["-D", &data];
        all.extend_from_slice(arguments);
        self.run("pg_ctl", &all);
    }

    /// Runs one of the server's programs (as `postgres` when root), panicking with its
    /// output when it fails.
    fn run(&self, program: &str, arguments: &[&str]) {
        let output = self
            .command(&self.bin.join(program), arguments)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} {arguments:?}: {}",
            text(&output)
        );
    }

    fn command(&self, program: &Path, arguments: &[&str]) -> Command {
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(arguments).current_dir(self.dir.path());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir().display().to_string();
        let _ = self
            .command(
                &self.bin.join("pg_ctl"),
                &["-D", &data, "stop", "-m", "immediate", "-w"],
            )
            .output();
    }
}

/// A program's stdout and stderr, for a failure's message.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
