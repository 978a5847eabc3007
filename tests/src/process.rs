//! Real processes for end-to-end tests: the workspace's binaries, built once, and a running
//! `yibao-issuer` on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Path of a workspace binary, building all of them once per test process.
///
/// # Panics
///
/// If the build fails (the output says why).
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "yibao-issuer",
                "-p",
                "yibao-verifier",
                "-p",
                "yibao-keys",
                // The C ABI's shared library, for the C, Python and Java clients.
                "-p",
                "yibao-verifier-ffi",
            ])
            .current_dir(workspace_root())
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
        assert!(status.success(), "building the binaries failed");
        // Tests run from target/<profile>/deps/; the binaries sit one level up.
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| workspace_root().join("target/debug"))
    });
    dir.join(name)
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A running `yibao-issuer serve`, killed on drop.
#[derive(Debug)]
pub struct Issuer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
}

impl Issuer {
    /// Starts `yibao-issuer serve` with `env` (configuration by `YIBAO__…` variables) on a
    /// free port and waits for its "serving on" line. Its log (JSON lines) goes to `log`, so
    /// tests can check what it says; `TEST_LOG=1` also prints the path.
    ///
    /// # Panics
    ///
    /// If it exits or does not say it is serving within 20 seconds.
    pub fn start(env: &[(&str, String)], log: &Path) -> Self {
        Self::start_binary(&binary("yibao-issuer"), env, log)
    }

    /// [`Self::start`] with a given `yibao-issuer` binary (a release build for benchmarks).
    ///
    /// # Panics
    ///
    /// As [`Self::start`].
    pub fn start_binary(program: &Path, env: &[(&str, String)], log: &Path) -> Self {
        let log_file = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        if std::env::var_os("TEST_LOG").is_some() {
            eprintln!("yibao-issuer log: {}", log.display());
        }
        let mut cmd = Command::new(program);
        cmd.arg("serve")
            .env("YIBAO__LISTEN", "127.0.0.1:0")
            .env("YIBAO_LOG_FORMAT", "json")
            .env("RUST_LOG", "debug,hyper=info,h2=info,redis=info")
            .stdout(Stdio::piped())
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start yibao-issuer: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| unreachable!("piped"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("serving on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(100)) {
                return Self {
                    child,
                    base_url: url,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "yibao-issuer exited with {status} before serving (set TEST_LOG=1 to see why)"
                );
            }
            assert!(
                Instant::now() < deadline,
                "yibao-issuer did not start within 20 s"
            );
        }
    }

    /// Stops it (SIGKILL) and waits.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
