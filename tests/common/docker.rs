//! A private Docker engine for tests (tests/docker/engine.sh): Debian's docker.io with
//! all its state under a directory of its own, nothing on the host's network or default
//! paths, stopped by its own PID when dropped, however the test ends.

use super::{output, Output};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether Docker's engine is here (by hand it may not be: the test says so and skips).
pub fn skip_without_docker() -> bool {
    super::skip_unless(
        Path::new("/usr/sbin/dockerd").exists(),
        "Docker's engine, /usr/sbin/dockerd (apt-get install docker.io; tests/run.sh does)",
    )
}

/// The private engine; stopped when dropped.
pub struct Engine {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Engine {
    pub fn start() -> Engine {
        // Short: the engine's unix socket path must fit in 108 bytes.
        let dir = PathBuf::from(format!("/tmp/qing-docker-{}", std::process::id()));
        let mut engine = Engine {
            dir,
            env: Vec::new(),
        };
        let out = engine.script(
            "tests/docker/engine.sh",
            &["start", &engine.dir.display().to_string()],
        );
        assert_eq!(out.code, 0, "the Docker engine did not start: {out:?}");
        engine.env = out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(
            engine.env.iter().any(|(k, _)| k == "DOCKER_HOST"),
            "{out:?}"
        );
        engine
    }

    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn script(&self, script: &str, args: &[&str]) -> Output {
        let mut c = self.command(&repo().join(script));
        c.args(args);
        output(c)
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        let mut c = self.command(Path::new("docker"));
        c.args(args);
        output(c)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let out = self.script(
            "tests/docker/engine.sh",
            &["stop", &self.dir.display().to_string()],
        );
        assert_eq!(out.code, 0, "stopping the Docker engine failed: {out:?}");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
