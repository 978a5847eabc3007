//! `yibao-keys` as an operator runs it, checked with the verifier library a terminal embeds:
//! keys → bundle → code → accepted; revoke → new bundle → refused; the old bundle cannot be
//! brought back.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use yibao_shared::key_file::{KeyRole, PublicKeyFile};
use yibao_shared::{KeyId, UnixTime};
use yibao_verifier::{Policy, Rejection, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_yibao-keys");
const NOW: &str = "1767225600";

fn keys(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("yibao-keys runs")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).expect("readable")
}

#[test]
fn operator_walkthrough_from_keys_to_a_refused_revoked_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("keys");
    let now = UnixTime::from_secs(NOW.parse().expect("number"));

    ok(keys(&dir, &["root", "init"]));
    ok(keys(
        &dir,
        &["issuer", "new", "--regions", "11,31", "--not-before", NOW],
    ));
    ok(keys(
        &dir,
        &["bundle", "sign", "--now", NOW, "--valid-for", "7days"],
    ));
    let shown = ok(keys(
        &dir,
        &[
            "bundle",
            "show",
            "--root-key",
            dir.join("root.public.json").to_str().expect("utf-8 path"),
            dir.join("bundle.json").to_str().expect("utf-8 path"),
            "--now",
            NOW,
        ],
    ));
    assert!(shown.contains("sequence   1"), "{shown}");
    assert!(shown.contains("11,31"), "{shown}");

    let mode = std::fs::metadata(dir.join("issuer-1.secret.json"))
        .expect("secret file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let code = ok(keys(
        &dir,
        &[
            "dev-mint",
            "--key-id",
            "1",
            "--name",
            "测试丁",
            "--now",
            NOW,
        ],
    ));
    let root = PublicKeyFile::parse(&read(dir.join("root.public.json")), KeyRole::Root)
        .expect("root key")
        .public_key;
    let first_bundle = read(dir.join("bundle.json"));
    let mut terminal = Verifier::new(root, Policy::default());
    terminal
        .install_bundle(&first_bundle, now)
        .expect("bundle 1");
    let token = terminal.verify_text(code.trim(), now).expect("accepted");
    assert_eq!(token.claims().masked_name.as_str(), "测*丁");

    ok(keys(&dir, &["issuer", "revoke", "1"]));
    ok(keys(&dir, &["bundle", "sign", "--now", NOW]));
    terminal
        .install_bundle(&read(dir.join("bundle.json")), now)
        .expect("bundle 2");
    assert_eq!(
        terminal.verify_text(code.trim(), now),
        Err(Rejection::KeyRevoked { key_id: KeyId(1) })
    );
    assert_eq!(
        terminal.install_bundle(&first_bundle, now),
        Err(Rejection::BundleRollback {
            held: 2,
            offered: 1
        })
    );
}

#[test]
fn a_region_the_key_does_not_cover_is_refused_by_the_terminal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let now = UnixTime::from_secs(NOW.parse().expect("number"));
    ok(keys(dir, &["root", "init"]));
    ok(keys(
        dir,
        &["issuer", "new", "--regions", "31", "--not-before", NOW],
    ));
    ok(keys(dir, &["bundle", "sign", "--now", NOW]));
    let code = ok(keys(
        dir,
        &[
            "dev-mint", "--key-id", "1", "--region", "440305", "--now", NOW,
        ],
    ));
    let root = PublicKeyFile::parse(&read(dir.join("root.public.json")), KeyRole::Root)
        .expect("root key")
        .public_key;
    let mut terminal = Verifier::new(root, Policy::default());
    terminal
        .install_bundle(&read(dir.join("bundle.json")), now)
        .expect("bundle");
    assert!(matches!(
        terminal.verify_text(code.trim(), now),
        Err(Rejection::KeyOutOfScope { .. })
    ));
}

#[test]
fn mistakes_fail_with_exit_2_and_a_clear_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    ok(keys(dir, &["root", "init"]));

    let again = keys(dir, &["root", "init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let no_key = keys(dir, &["dev-mint", "--key-id", "9"]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("issuer-9.secret.json"));

    let bad_region = keys(dir, &["issuer", "new", "--regions", "1"]);
    assert_eq!(bad_region.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_region.stderr).contains("region scope"));

    let revoke_unknown = keys(dir, &["issuer", "revoke", "5"]);
    assert_eq!(revoke_unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&revoke_unknown.stderr).contains("no issuer key with id 5"));

    let secret_as_root = keys(
        dir,
        &[
            "bundle",
            "show",
            "--root-key",
            dir.join("root.secret.json").to_str().expect("utf-8 path"),
            "missing.json",
        ],
    );
    assert_eq!(secret_as_root.status.code(), Some(2));
    let err = String::from_utf8_lossy(&secret_as_root.stderr);
    assert!(err.contains("expected a public key file"), "{err}");
    // The secret never appears in an error.
    let secret_text = read(dir.join("root.secret.json"));
    let seed_line = secret_text
        .lines()
        .find(|l| l.contains("secret_seed"))
        .expect("seed line");
    let seed = seed_line.split('"').nth(3).expect("seed value");
    assert!(!err.contains(seed));
}
