//! Trust-bundle installation and replay refusal, beyond the stateless vectors.

use yibao_shared::*;
use yibao_verifier::{
    BundleUpdate, CheckError, MAX_SEQUENCE_STEP, MemoryReplayGuard, Policy, Rejection, Verifier,
};

mod common;

use common::{NOW, at, bundle, code, root};

fn verifier_with(sequence: u64) -> Verifier {
    let mut v = Verifier::new(root().public_key(), Policy::default());
    v.install_bundle(&bundle(sequence, NOW + 3_600, KeyStatus::Active), at(NOW))
        .expect("installs");
    v
}

#[test]
fn no_bundle_means_no_verdict_but_a_clear_reason() {
    let v = Verifier::new(root().public_key(), Policy::default());
    assert_eq!(
        v.verify_text(&code(1, NOW), at(NOW)),
        Err(Rejection::NoBundle)
    );
}

#[test]
fn an_older_bundle_is_refused_and_the_newer_one_kept() {
    let mut v = verifier_with(5);
    let older = bundle(4, NOW + 7_200, KeyStatus::Revoked);
    assert_eq!(
        v.install_bundle(&older, at(NOW)),
        Err(Rejection::BundleRollback {
            held: 5,
            offered: 4
        })
    );
    assert_eq!(v.bundle().map(|b| b.sequence), Some(5));
    assert!(v.verify_text(&code(1, NOW), at(NOW)).is_ok());
}

/// See: issue 10, item 9 (a bundle with sequence 2^64 - 1 froze every terminal).
#[test]
fn a_sequence_jump_beyond_the_bound_is_refused_and_recovery_stays_possible() {
    let mut v = verifier_with(5);
    let frozen = bundle(u64::MAX, NOW + 7_200, KeyStatus::Active);
    assert_eq!(
        v.install_bundle(&frozen, at(NOW)),
        Err(Rejection::BundleSequenceJump {
            held: 5,
            offered: u64::MAX
        })
    );
    let too_far = bundle(5 + MAX_SEQUENCE_STEP + 1, NOW + 7_200, KeyStatus::Active);
    assert!(matches!(
        v.install_bundle(&too_far, at(NOW)),
        Err(Rejection::BundleSequenceJump { .. })
    ));
    // The largest allowed step installs, and the operator's next bundle follows it.
    let furthest = bundle(5 + MAX_SEQUENCE_STEP, NOW + 7_200, KeyStatus::Active);
    assert!(v.install_bundle(&furthest, at(NOW)).is_ok());
    let next = bundle(6 + MAX_SEQUENCE_STEP, NOW + 7_200, KeyStatus::Revoked);
    assert!(v.install_bundle(&next, at(NOW)).is_ok());
}

#[test]
fn the_same_sequence_with_other_content_is_refused() {
    let mut v = verifier_with(5);
    let twin = bundle(5, NOW + 7_200, KeyStatus::Active);
    assert_eq!(
        v.install_bundle(&twin, at(NOW)),
        Err(Rejection::BundleRollback {
            held: 5,
            offered: 5
        })
    );
    let same = bundle(5, NOW + 3_600, KeyStatus::Active);
    assert_eq!(
        v.install_bundle(&same, at(NOW)),
        Ok(BundleUpdate::Unchanged)
    );
}

#[test]
fn rollback_is_refused_across_a_restart_via_the_persisted_sequence() {
    let mut v = Verifier::new(root().public_key(), Policy::default()).with_min_sequence(9);
    assert_eq!(
        v.install_bundle(&bundle(8, NOW + 3_600, KeyStatus::Active), at(NOW)),
        Err(Rejection::BundleRollback {
            held: 9,
            offered: 8
        })
    );
    assert_eq!(
        v.install_bundle(&bundle(9, NOW + 3_600, KeyStatus::Active), at(NOW)),
        Ok(BundleUpdate::Installed { sequence: 9 })
    );
}

#[test]
fn a_revocation_in_a_newer_bundle_takes_effect_at_once() {
    let mut v = verifier_with(5);
    let c = code(1, NOW);
    assert!(v.verify_text(&c, at(NOW)).is_ok());
    v.install_bundle(&bundle(6, NOW + 3_600, KeyStatus::Revoked), at(NOW))
        .expect("installs");
    assert_eq!(
        v.verify_text(&c, at(NOW)),
        Err(Rejection::KeyRevoked { key_id: KeyId(1) })
    );
}

#[test]
fn a_bundle_going_stale_stops_all_acceptance_with_a_clear_reason() {
    let v = verifier_with(5);
    let later = NOW + 3_600;
    assert_eq!(
        v.verify_text(&code(1, later), at(later)),
        Err(Rejection::StaleBundle {
            now: at(later),
            expired_at: at(later)
        })
    );
    let mut fresh = Verifier::new(root().public_key(), Policy::default());
    assert!(matches!(
        fresh.install_bundle(&bundle(5, NOW, KeyStatus::Active), at(NOW)),
        Err(Rejection::StaleBundle { .. })
    ));
}

#[test]
fn leeway_boundaries_are_exact() {
    let v = verifier_with(1);
    // Lifetime 60 + leeway 30: valid while now < issued_at + 90.
    assert!(v.verify_text(&code(1, NOW - 89), at(NOW)).is_ok());
    assert!(matches!(
        v.verify_text(&code(1, NOW - 90), at(NOW)),
        Err(Rejection::Expired { .. })
    ));
    // Up to 30 s in the future is clock skew; 31 s is not.
    assert!(v.verify_text(&code(1, NOW + 30), at(NOW)).is_ok());
    assert!(matches!(
        v.verify_text(&code(1, NOW + 31), at(NOW)),
        Err(Rejection::NotYetValid { .. })
    ));
}

#[test]
fn the_same_code_is_accepted_once() {
    let v = verifier_with(1);
    let mut guard = MemoryReplayGuard::new();
    let c = code(7, NOW);
    assert!(v.check_once(&c, at(NOW), &mut guard).is_ok());
    assert_eq!(
        v.check_once(&c, at(NOW + 5), &mut guard),
        Err(CheckError::Rejected(Rejection::Replayed {
            token_id: TokenId([7; 8])
        }))
    );
    // Another token of the same person is fine.
    assert!(v.check_once(&code(8, NOW), at(NOW + 5), &mut guard).is_ok());
}

#[test]
fn replay_memory_is_bounded_by_token_expiry() {
    let v = verifier_with(1);
    let mut guard = MemoryReplayGuard::new();
    for i in 0..50u8 {
        v.check_once(&code(i, NOW), at(NOW), &mut guard)
            .expect("accepted");
    }
    assert_eq!(guard.len(), 50);
    // Two minutes later every one of them has expired (60 s + 30 s leeway) and is forgotten.
    let later = NOW + 120;
    v.check_once(&code(200, later), at(later), &mut guard)
        .expect("accepted");
    assert_eq!(guard.len(), 1);
    // A forgotten token is still refused, as expired.
    assert!(matches!(
        v.check_once(&code(3, NOW), at(later), &mut guard),
        Err(CheckError::Rejected(Rejection::Expired { .. }))
    ));
}

#[test]
fn a_verified_token_carries_its_canonical_code() {
    let v = verifier_with(1);
    let c = code(1, NOW);
    let token = v.verify_text(&format!("{c}\n"), at(NOW)).expect("accepted");
    assert_eq!(token.code(), c);
    assert_eq!(token.claims().masked_name.as_str(), "测*丙");
}
