//! The terminal's outbox when its file, disk or clock misbehaves, with the real
//! `yibao-verify` and a real issuer: an emptied or missing file, damaged pages, a full disk.
//! Every command answers 0, 1 or 2 with a message; nothing accepted is lost or accepted twice.
//! See: issue 15.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use super::platform::{PHARMACY, Platform, TerminalDir, settled_tokens, token_id_of};

const OUTBOX: &str = "outbox.redb";

fn assert_documented_exit(what: &str, code: i32, out: &str) {
    assert!(
        (0..=2).contains(&code),
        "{what}: exit {code} (documented: 0, 1, 2)\n{out}"
    );
    assert!(!out.contains("panicked"), "{what}: a panic escaped\n{out}");
}

#[test]
fn an_emptied_or_missing_outbox_is_reported_and_never_recreated() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (holder, _) = platform.holder(0);
    let code = platform.code(&holder);
    let (exit, out) = terminal.run(&["check", &code]);
    assert_eq!(exit, 0, "{out}");

    std::fs::write(terminal.dir.join(OUTBOX), b"").expect("truncate");
    for args in [
        vec!["status"],
        vec!["check", code.as_str()],
        vec!["flush"],
        vec!["sync"],
    ] {
        let (exit, out) = terminal.run(&args);
        assert_eq!(exit, 2, "{args:?} on an empty outbox\n{out}");
        assert!(
            out.contains("empty (0 bytes)") && out.contains("--reset-outbox"),
            "{args:?}: says what happened and what to do\n{out}"
        );
    }
    assert_eq!(
        std::fs::metadata(terminal.dir.join(OUTBOX))
            .expect("there")
            .len(),
        0,
        "still empty: nothing re-created it"
    );
    // Running init again does not bless an emptied outbox either.
    let (exit, out) = reinit(&platform, &terminal, &[]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("--reset-outbox"), "{out}");
    std::fs::remove_file(terminal.dir.join(OUTBOX)).expect("remove");
    let (exit, out) = terminal.run(&["status"]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("is missing"), "{out}");
    let (exit, out) = reinit(&platform, &terminal, &[]);
    assert_eq!(
        exit, 2,
        "re-running init does not replace a vanished outbox\n{out}"
    );
    assert!(out.contains("is missing"), "{out}");

    // Re-initialising knowingly: a new outbox, then sync, then codes again.
    let (exit, out) = reinit(&platform, &terminal, &["--reset-outbox"]);
    assert_eq!(exit, 0, "{out}");
    let (exit, out) = terminal.run(&["sync"]);
    assert_eq!(exit, 0, "{out}");
    let (exit, out) = terminal.run(&["check", &platform.code(&holder)]);
    assert_eq!(exit, 0, "{out}");
}

#[test]
fn damaged_pages_give_an_error_never_a_panic() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-1");
    let (holder, _) = platform.holder(1);
    for _ in 0..20 {
        let (exit, out) = terminal.run(&["check", &platform.code(&holder)]);
        assert_eq!(exit, 0, "{out}");
    }
    let fresh = platform.code(&holder);
    let path = terminal.dir.join(OUTBOX);
    let original = std::fs::read(&path).expect("read");
    let pages = original.len() / 4096;
    let mut errors = 0;
    // The first pages hold the header and the trees' roots: where redb used to panic.
    for page in (0..pages.min(48)).chain((48..pages).step_by(16)) {
        let mut damaged = original.clone();
        damaged[page * 4096..(page + 1) * 4096].fill(0);
        std::fs::write(&path, &damaged).expect("write");
        for args in [
            vec!["status"],
            vec!["check", fresh.as_str()],
            vec!["flush", "--timeout", "1"],
        ] {
            let (exit, out) = terminal.run(&args);
            assert_documented_exit(&format!("page {page}: {args:?}"), exit, &out);
            if exit == 2 {
                errors += 1;
                assert!(out.contains("outbox"), "page {page}: {args:?}\n{out}");
            }
        }
    }
    assert!(errors > 0, "zeroed pages were noticed somewhere");
    std::fs::write(&path, &original).expect("restore");
}

#[test]
fn a_full_disk_refuses_new_visits_and_still_forwards_the_queue() {
    let platform = Platform::new();
    let mount = tempfile::tempdir().expect("tempdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=80m", "tmpfs"])
        .arg(mount.path())
        .status()
        .expect("mount runs");
    assert!(
        mounted.success(),
        "this test mounts a small tmpfs to fill it: run the suite as root"
    );
    let _unmount = Unmount(mount.path().to_path_buf());
    let terminal = platform.terminal_in(PHARMACY, "p-disk", &mount.path().join("terminal"));
    let reserve = terminal.dir.join("outbox.reserve");
    assert!(reserve.exists(), "init writes the emergency reserve");
    let (holder, voucher) = platform.holder(2);
    let mut accepted = Vec::new();
    for _ in 0..3 {
        let (exit, out) = terminal.run(&["check", "--json", &platform.code(&holder)]);
        assert_eq!(exit, 0, "{out}");
        accepted.push(token_id_of(&out).expect("token id"));
    }
    fill(mount.path());

    // Warned, and no new visit is taken as accepted.
    let (exit, out) = terminal.run(&["status"]);
    assert_eq!(exit, 1, "attention needed\n{out}");
    assert!(out.contains("low disk space"), "{out}");
    let (exit, out) = terminal.run(&["check", &platform.code(&holder)]);
    assert_eq!(exit, 2, "{out}");
    assert!(
        out.contains("cannot be recorded durably") && !out.contains("ACCEPTED"),
        "{out}"
    );
    // Forwarding still works (the reserve makes room), and frees the queue.
    let (exit, out) = terminal.run(&["flush", "--timeout", "20"]);
    assert_eq!(exit, 0, "{out}");
    assert!(!reserve.exists(), "the reserve was released for forwarding");
    let mut settled = settled_tokens(&platform.audit(&voucher));
    settled.sort();
    accepted.sort();
    assert_eq!(settled, accepted, "every accepted visit settled, once");
    let (_, out) = terminal.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(status["queued"], 0, "{status}");

    // Space back: codes are accepted again.
    std::fs::remove_file(mount.path().join("filler")).expect("remove filler");
    let (exit, out) = terminal.run(&["check", &platform.code(&holder)]);
    assert_eq!(exit, 0, "{out}");

    // A long-lived terminal (the C ABI's, the cashier page's) whose write fails on a full
    // disk recovers by itself once space is back: the file is reopened at the next call.
    let long_lived = yibao_verifier::Terminal::open(&yibao_verifier::TerminalConfig {
        issuer_url: platform.url(""),
        credential: terminal.credential.clone(),
        institution: PHARMACY.into(),
        root_key: root_key(&platform),
        data_dir: terminal.dir.clone(),
        policy: yibao_verifier::Policy::default(),
        timeout: std::time::Duration::from_secs(10),
    })
    .expect("opens");
    fill(mount.path());
    let big = "x".repeat(1 << 20);
    let failed = long_lived
        .outbox()
        .record_forward(&yibao_verifier::ForwardAttempt {
            at: yibao_verifier::yibao_shared::UnixTime::from_secs(1),
            answered: 0,
            error: Some(big),
        });
    assert!(failed.is_err(), "a write on a full disk fails");
    std::fs::remove_file(mount.path().join("filler")).expect("remove filler");
    let now = || yibao_verifier::Clock::now(&yibao_verifier::SystemClock);
    let business = yibao_shared::BusinessType::parse("02121").expect("listed");
    let accepted = long_lived.check(&platform.code(&holder), "cashier", business, now());
    assert!(
        accepted.is_ok(),
        "the same handle accepts again: {accepted:?}"
    );
    assert_eq!(long_lived.health(), yibao_verifier::OutboxHealth::Healthy);
}

fn root_key(platform: &Platform) -> yibao_shared::PublicKey {
    let text = std::fs::read_to_string(platform.root_key_path()).expect("root key file");
    yibao_shared::key_file::PublicKeyFile::parse(&text, yibao_shared::key_file::KeyRole::Root)
        .expect("root key")
        .public_key
}

#[test]
fn a_salvaged_outbox_forwards_every_readable_visit_once_whichever_page_was_lost() {
    let platform = Platform::new();
    let terminal = platform.terminal(PHARMACY, "p-salvage");
    let (holder, voucher) = platform.holder(3);
    let mut accepted = Vec::new();
    for _ in 0..12 {
        let (exit, out) = terminal.run(&["check", "--json", &platform.code(&holder)]);
        assert_eq!(exit, 0, "{out}");
        accepted.push(token_id_of(&out).expect("token id"));
    }
    let path = terminal.dir.join(OUTBOX);
    let original = std::fs::read(&path).expect("read");
    let (mut damaged, mut forwarded) = (0, 0);
    for page in 1..original.len() / 4096 {
        let mut bytes = original.clone();
        bytes[page * 4096..(page + 1) * 4096].fill(0);
        std::fs::write(&path, &bytes).expect("write");
        let (status_exit, status_out) = terminal.run(&["status"]);
        let (check_exit, check_out) = terminal.run(&["check", &platform.code(&holder)]);
        // One verdict: a damaged outbox refuses status and check alike, a healthy one
        // takes the code.
        if status_exit == 2 {
            assert_eq!(
                check_exit, 2,
                "page {page}: status damaged, check {check_out}"
            );
            assert!(
                status_out.contains("salvage"),
                "page {page}: says what to do\n{status_out}"
            );
            damaged += 1;
            let (exit, out) = terminal.run(&["salvage"]);
            assert!(exit == 0 || exit == 1, "page {page}: salvage\n{out}");
            let (exit, out) = terminal.run(&["flush", "--timeout", "20"]);
            assert_eq!(exit, 0, "page {page}: salvaged visits forward\n{out}");
            forwarded += 1;
        } else {
            assert_eq!(
                check_exit, 0,
                "page {page}: status healthy, check {check_out}"
            );
        }
        std::fs::write(&path, &original).expect("restore");
    }
    assert!(damaged > 0 && forwarded > 0, "damage was met and salvaged");
    // Each accepted visit settled exactly once, however often salvage handed it on.
    let mut settled = settled_tokens(&platform.audit(&voucher));
    settled.sort();
    let before = settled.len();
    settled.dedup();
    assert_eq!(settled.len(), before, "no token settled twice");
    for token in &accepted {
        assert!(settled.contains(token), "accepted visit {token} settled");
    }
}

/// Writes a file until the file system is full.
fn fill(dir: &Path) {
    let mut file = std::fs::File::create(dir.join("filler")).expect("create");
    let chunk = vec![0xa5u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
}

fn reinit(platform: &Platform, terminal: &TerminalDir, extra: &[&str]) -> (i32, String) {
    let mut cmd = terminal.command(&["init"]);
    cmd.args(["--issuer", &platform.url(""), "--institution", PHARMACY])
        .arg("--root-key")
        .arg(platform.root_key_path())
        .args(extra)
        .env("YIBAO_TERMINAL_CREDENTIAL", &terminal.credential);
    let out = cmd.output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
