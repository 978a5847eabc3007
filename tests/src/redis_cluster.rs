//! A real Redis Cluster for tests: six `redis-server --cluster-enabled yes` processes on free
//! loopback ports (three primaries, three replicas, made one cluster by `redis-cli --cluster
//! create`), each in its own temporary directory with AOF on. Nodes can be killed (`SIGKILL`)
//! and restarted with their data and identity (`nodes.conf`), as a supervisor would. All are
//! killed on drop. A missing binary is a failure that says how to install it.
//!
//! `cluster-node-timeout` is one second so a failover takes seconds, not the production
//! default's 15+ (docs/SCALE.md gives the production settings).

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::redis_server::{Flavour, free_ports, server_command, start_server};

const NODES: usize = 6;
/// Milliseconds without an answer before a primary is judged failed.
pub const NODE_TIMEOUT_MS: u64 = 1_000;

/// One node (its process behind a lock, so a test can kill and restart nodes while other
/// threads drive load through the network).
#[derive(Debug)]
struct Node {
    child: Mutex<Option<Child>>,
    port: u16,
    bus_port: u16,
    dir: tempfile::TempDir,
}

/// A running six-node cluster.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    flavour: Flavour,
}

impl RedisCluster {
    /// Starts six nodes, joins them (`--cluster-replicas 1`) and waits until every slot is
    /// served and every replica is in sync.
    ///
    /// # Panics
    ///
    /// If `redis-server`/`redis-cli` are missing (with the command to install them), or the
    /// cluster does not form within 30 seconds.
    pub fn start() -> Self {
        Self::start_flavour(Flavour::Redis)
    }

    /// [`Self::start`] with `flavour`'s servers (`redis-cli` forms the cluster either way).
    ///
    /// # Panics
    ///
    /// As [`Self::start`].
    pub fn start_flavour(flavour: Flavour) -> Self {
        // Client and bus ports of all six nodes, distinct.
        let ports = free_ports(2 * NODES);
        let mut nodes: Vec<Node> = ports
            .chunks(2)
            .map(|pair| {
                let dir = tempfile::tempdir().expect("tempdir for a cluster node");
                Node {
                    child: Mutex::new(None),
                    port: pair[0],
                    bus_port: pair[1],
                    dir,
                }
            })
            .collect();
        for node in &mut nodes {
            *node.child.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(spawn(flavour, node));
        }
        let cluster = Self { nodes, flavour };
        for i in 0..NODES {
            cluster.wait_for_port(i);
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): {INSTALL}"));
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.wait_healthy(Duration::from_secs(30));
        cluster
    }

    /// `redis://127.0.0.1:<port>` of every node (a client needs only one that answers).
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// The node serving `slot` as primary, by index.
    ///
    /// # Panics
    ///
    /// If no live node answers `CLUSTER NODES` or none serves the slot.
    pub fn primary_of(&self, slot: u16) -> usize {
        self.serving(slot).unwrap_or_else(|| {
            panic!(
                "no primary serves slot {slot}:\n{}",
                self.any_node_says(&["CLUSTER", "NODES"])
            )
        })
    }

    /// The replica of primary `primary`, by index.
    ///
    /// # Panics
    ///
    /// If it has none.
    pub fn replica_of(&self, primary: usize) -> usize {
        let port = self.nodes[primary].port;
        let nodes = self.any_node_says(&["CLUSTER", "NODES"]);
        let rows: Vec<Vec<&str>> = nodes
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let port_of =
            |address: &str| -> Option<u16> { address.split(['@', ':']).nth(1)?.parse().ok() };
        let id = rows
            .iter()
            .find(|r| r.len() > 1 && port_of(r[1]) == Some(port))
            .map(|r| r[0])
            .expect("the primary is listed");
        rows.iter()
            .filter(|r| r.len() > 3 && r[3] == id)
            .find_map(|r| {
                let port = port_of(r[1])?;
                self.nodes.iter().position(|n| n.port == port)
            })
            .unwrap_or_else(|| panic!("node {primary} has no replica:\n{nodes}"))
    }

    /// The live, not failing primary serving `slot`, as a live node sees it.
    pub fn serving(&self, slot: u16) -> Option<usize> {
        let nodes = self.any_node_says(&["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let mut ends = range.split('-').filter_map(|p| p.parse::<u16>().ok());
                match (ends.next(), ends.next()) {
                    (Some(a), Some(b)) => (a..=b).contains(&slot),
                    (Some(a), None) => a == slot,
                    _ => false,
                }
            });
            if serves {
                let port: u16 = fields[1]
                    .split(['@', ':'])
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .expect("node address");
                return self
                    .nodes
                    .iter()
                    .position(|n| n.port == port)
                    .filter(|&i| self.is_live(i));
            }
        }
        None
    }

    /// Kills node `i` with `SIGKILL` (no shutdown, no save).
    pub fn kill(&self, i: usize) {
        if let Some(mut child) = self.child(i).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops node `i` with `SIGSTOP`: alive to the kernel (its connections stay open) but
    /// answering nothing, as a node stalled by its disk or a long pause is.
    pub fn freeze(&self, i: usize) {
        self.signal(i, "-STOP");
    }

    /// Lets a frozen node `i` go on (`SIGCONT`).
    pub fn thaw(&self, i: usize) {
        self.signal(i, "-CONT");
    }

    fn signal(&self, i: usize, signal: &str) {
        let pid = self.child(i).as_ref().map(Child::id);
        if let Some(pid) = pid {
            let sent = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(sent, "kill {signal} {pid} failed");
        }
    }

    /// Starts node `i` again with its data and cluster identity; it rejoins (as a replica
    /// if it lost its slots meanwhile).
    pub fn restart(&self, i: usize) {
        self.kill(i);
        *self.child(i) = Some(spawn(self.flavour, &self.nodes[i]));
        self.wait_for_port(i);
    }

    fn child(&self, i: usize) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.nodes[i]
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn is_live(&self, i: usize) -> bool {
        self.child(i).is_some()
    }

    /// `redis-cli -p <port of node i> args…`, its output.
    pub fn cli(&self, i: usize, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.nodes[i].port.to_string()])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run redis-cli ({e}): {INSTALL}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until every live node reports `cluster_state:ok` and every primary has a
    /// replica in sync.
    ///
    /// # Panics
    ///
    /// If that does not happen within `limit`.
    pub fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.is_healthy() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Redis Cluster did not become healthy within {limit:?}:\n{}",
                self.any_node_says(&["CLUSTER", "NODES"])
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn is_healthy(&self) -> bool {
        let live: Vec<usize> = (0..NODES).filter(|&i| self.is_live(i)).collect();
        let states_ok = live.iter().all(|&i| {
            self.cli(i, &["CLUSTER", "INFO"])
                .contains("cluster_state:ok")
        });
        let replicas_in_sync = live
            .iter()
            .map(|&i| self.cli(i, &["INFO", "replication"]))
            .filter(|info| info.contains("role:master"))
            .all(|info| {
                info.lines()
                    .any(|l| l.starts_with("slave0:") && l.contains("state=online"))
            });
        let primaries = live
            .iter()
            .filter(|&&i| {
                self.cli(i, &["INFO", "replication"])
                    .contains("role:master")
            })
            .count();
        states_ok && replicas_in_sync && primaries == 3
    }

    fn any_node_says(&self, args: &[&str]) -> String {
        (0..NODES)
            .filter(|&i| self.is_live(i))
            .map(|i| self.cli(i, args))
            .find(|out| !out.trim().is_empty())
            .unwrap_or_default()
    }

    fn wait_for_port(&self, i: usize) {
        let port = self.nodes[i].port;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cluster node did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const INSTALL: &str = "install Redis with 'apt-get install -y redis-server' \
                       (scripts/test.sh does this)";

/// A cluster node persisting as `docs/SCALE.md` recommends: AOF with `everysec` (the
/// replica acknowledgement, not the local fsync, is what keeps an acknowledged write through
/// a primary's crash).
fn spawn(flavour: Flavour, node: &Node) -> Child {
    let mut cmd = server_command(flavour, node.port, node.dir.path(), "everysec");
    cmd.args(["--cluster-enabled", "yes"])
        .args(["--cluster-port", &node.bus_port.to_string()])
        .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
        .args(["--cluster-config-file", "nodes.conf"]);
    start_server(cmd)
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for i in 0..NODES {
            self.kill(i);
        }
    }
}
