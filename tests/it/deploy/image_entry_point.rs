//! The container walkthrough as far as this machine allows (no container engine): the
//! image's own `ENTRYPOINT`, `CMD` and `HEALTHCHECK` from the Dockerfile, run with the
//! built binary and the shipped `deploy/docker/pstn-agent.toml`, the volume and the
//! published port standing in as a temporary directory and a free loopback port.

use super::{deploy, succeeds};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The JSON array of the final stage's `instruction` (`ENTRYPOINT [...]`, or the `CMD`
/// after `HEALTHCHECK ...`), continuation lines joined.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let final_stage = joined.rsplit("\nFROM ").next().unwrap_or_default();
    let line = final_stage
        .lines()
        .rfind(|line| line.starts_with(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("no {instruction} in the final stage"));
    let array = &line[line.find('[').unwrap()..=line.rfind(']').unwrap()];
    serde_json::from_str(array).unwrap_or_else(|error| panic!("{line}: {error}"))
}

/// The image's paths and port as this machine has them.
struct Image<'a> {
    config: &'a Path,
}

impl Image<'_> {
    fn command(&self, words: &[String]) -> Command {
        let words: Vec<String> = words
            .iter()
            .map(|word| match word.as_str() {
                "/usr/local/bin/pstn-agent" => env!("CARGO_BIN_EXE_pstn-agent").to_owned(),
                "/etc/pstn-agent/pstn-agent.toml" => self.config.display().to_string(),
                other => other.to_owned(),
            })
            .collect();
        let mut command = Command::new(&words[0]);
        command
            .args(&words[1..])
            .env("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
            .env("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
            .env("GRAPH_CLIENT_SECRET", "not-a-real-secret");
        command
    }
}

#[test]
fn the_image_entry_point_validates_starts_answers_its_healthcheck_and_stops_on_sigterm() {
    let dockerfile = std::fs::read_to_string(deploy("docker/Dockerfile")).unwrap();
    let (entry, cmd) = (
        exec_form(&dockerfile, "ENTRYPOINT"),
        exec_form(&dockerfile, "CMD"),
    );
    let healthcheck = exec_form(&dockerfile, "HEALTHCHECK");
    assert_eq!(entry, ["/usr/local/bin/pstn-agent"]);
    // The shipped config, with the volume and the published port of `docker run -v -p`.
    let dir = tempfile::tempdir().unwrap();
    let port = super::common::tools::free_port();
    let shipped = std::fs::read_to_string(deploy("docker/pstn-agent.toml")).unwrap();
    assert!(
        shipped.contains("data_dir = \"/var/lib/pstn-agent\"")
            && shipped.contains("\"0.0.0.0:9464\"")
    );
    let config = dir.path().join("pstn-agent.toml");
    std::fs::write(
        &config,
        shipped
            .replace(
                "/var/lib/pstn-agent",
                &dir.path().join("volume").display().to_string(),
            )
            .replace("0.0.0.0:9464", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let image = Image { config: &config };
    // `docker run IMAGE validate --config /etc/pstn-agent/pstn-agent.toml`, with this
    // machine's checks (the volume writable).
    let validate: Vec<String> = entry
        .iter()
        .cloned()
        .chain([
            "validate".into(),
            "--config".into(),
            "/etc/pstn-agent/pstn-agent.toml".into(),
        ])
        .collect();
    succeeds(&mut image.command(&validate));
    // `docker run IMAGE`: ENTRYPOINT + CMD; healthy once its HEALTHCHECK exits 0.
    let run: Vec<String> = entry.iter().chain(&cmd).cloned().collect();
    let mut agent = super::common::tools::Running(
        image
            .command(&run)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !image
        .command(&healthcheck)
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the HEALTHCHECK never passed");
        assert!(agent.0.try_wait().unwrap().is_none(), "the agent exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    // `docker stop`: SIGTERM, and exit 0 well within its 10 s.
    succeeds(Command::new("kill").args(["-TERM", &agent.0.id().to_string()]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = agent.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
