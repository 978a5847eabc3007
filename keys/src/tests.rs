use std::os::unix::fs::PermissionsExt;

use yibao_shared::{KeyId, KeyStatus, TrustBundle, UnixTime};

use super::*;

const NOW: u64 = 1_767_225_600;

fn spec(regions: &[&str]) -> NewIssuerKey {
    NewIssuerKey {
        key_id: None,
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        not_before: UnixTime::from_secs(NOW),
        not_after: UnixTime::from_secs(NOW + 86_400),
    }
}

#[test]
fn secret_files_are_0600_and_never_overwritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = KeyDir::new(tmp.path().join("k"));
    keys.create_root().expect("root");
    let mode = std::fs::metadata(keys.root_secret_path())
        .expect("exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(keys.path())
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert!(matches!(keys.create_root(), Err(KeysError::Exists(_))));
}

#[test]
fn bundles_carry_every_key_with_status_and_increasing_sequence() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = KeyDir::new(tmp.path());
    let root = keys.create_root().expect("root");
    let first = keys.create_issuer_key(&spec(&["11"])).expect("key");
    let second = keys.create_issuer_key(&spec(&[])).expect("key");
    assert_eq!((first.key_id, second.key_id), (KeyId(1), KeyId(2)));
    keys.set_status(KeyId(1), KeyStatus::Revoked)
        .expect("revoke");

    let (b1, _) = keys
        .sign_bundle(UnixTime::from_secs(NOW), 3_600)
        .expect("sign");
    let (b2, doc2) = keys
        .sign_bundle(UnixTime::from_secs(NOW), 3_600)
        .expect("sign");
    assert_eq!((b1.sequence, b2.sequence), (1, 2));
    let opened = TrustBundle::open(&doc2, &root).expect("root-signed");
    assert_eq!(opened, b2);
    assert_eq!(
        opened.key(KeyId(1)).map(|k| k.status),
        Some(KeyStatus::Revoked)
    );
    assert_eq!(
        opened.key(KeyId(1)).map(|k| k.regions.clone()),
        Some(vec!["11".to_owned()])
    );
    assert_eq!(
        opened.key(KeyId(2)).map(|k| k.status),
        Some(KeyStatus::Active)
    );
}

#[test]
fn revocation_is_final() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = KeyDir::new(tmp.path());
    keys.create_issuer_key(&spec(&[])).expect("key");
    keys.set_status(KeyId(1), KeyStatus::Revoked)
        .expect("revoke");
    assert!(matches!(
        keys.set_status(KeyId(1), KeyStatus::Active),
        Err(KeysError::AlreadyRevoked(KeyId(1)))
    ));
}

#[test]
fn bad_regions_validity_and_duplicate_ids_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = KeyDir::new(tmp.path());
    assert!(matches!(
        keys.create_issuer_key(&spec(&["1"])),
        Err(KeysError::InvalidRegion(_))
    ));
    let mut backwards = spec(&[]);
    backwards.not_after = backwards.not_before;
    assert!(matches!(
        keys.create_issuer_key(&backwards),
        Err(KeysError::InvalidValidity(_))
    ));
    let mut fixed = spec(&[]);
    fixed.key_id = Some(KeyId(40));
    keys.create_issuer_key(&fixed).expect("key");
    assert!(matches!(
        keys.create_issuer_key(&fixed),
        Err(KeysError::DuplicateKeyId(KeyId(40)))
    ));
}

#[test]
fn a_secret_key_file_given_as_the_root_public_key_is_refused_by_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = KeyDir::new(tmp.path());
    keys.create_root().expect("root");
    let err = read_public_key(
        &keys.root_secret_path(),
        yibao_shared::key_file::KeyRole::Root,
    )
    .expect_err("a secret file is not a public key");
    let shown = err.to_string();
    assert!(
        shown.contains("secret key file, expected a public"),
        "{shown}"
    );
    let secret = read_secret_key(
        &keys.root_secret_path(),
        yibao_shared::key_file::KeyRole::Root,
    )
    .expect("reads");
    assert!(format!("{secret:?}").contains("SecretKey(<redacted>)"));
}
