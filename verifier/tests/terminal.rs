//! A terminal across restarts: the bundle it holds comes back whatever its sequence, and the
//! documented recovery from a mistaken bundle (sign the next one above it) survives a
//! restart; a visit settlement would refuse is never recorded. See: issue 20.

use proptest::prelude::*;
use yibao_shared::*;
use yibao_verifier::{CheckError, Policy, Terminal, TerminalConfig};

mod common;

use common::{NOW, at, bundle, code, root};

fn config(dir: &std::path::Path) -> TerminalConfig {
    TerminalConfig {
        issuer_url: "http://127.0.0.1:9".into(),
        credential: "ybt_test".into(),
        institution: "P44030500001".into(),
        root_key: root().public_key(),
        data_dir: dir.to_path_buf(),
        policy: Policy::default(),
        timeout: std::time::Duration::from_secs(1),
    }
}

fn held_sequence(config: &TerminalConfig) -> Option<u64> {
    let terminal = Terminal::open(config).expect("opens");
    assert!(
        terminal.restore_problem().is_none(),
        "{:?}",
        terminal.restore_problem()
    );
    terminal.verifier().bundle().map(|b| b.sequence)
}

#[test]
fn a_bundle_above_two_to_the_twentieth_is_held_across_a_restart_and_can_be_recovered_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    Terminal::create_outbox(&config, false, at(NOW)).expect("outbox");
    {
        let terminal = Terminal::open(&config).expect("opens");
        for sequence in [1_000_000, 2_000_000] {
            terminal
                .install_bundle(&bundle(sequence, NOW + 3_600, KeyStatus::Active), at(NOW))
                .expect("a step below 2^20 installs");
        }
    }
    assert_eq!(
        held_sequence(&config),
        Some(2_000_000),
        "restored after a restart"
    );
    // The documented recovery: the operator signs the next bundle above the mistaken one.
    {
        let terminal = Terminal::open(&config).expect("opens");
        terminal
            .install_bundle(&bundle(2_000_001, NOW + 3_600, KeyStatus::Active), at(NOW))
            .expect("the next one installs");
        let older =
            terminal.install_bundle(&bundle(1_999_999, NOW + 3_600, KeyStatus::Active), at(NOW));
        assert!(older.is_err(), "rollback still refused");
    }
    assert_eq!(held_sequence(&config), Some(2_000_001));
    let terminal = Terminal::open(&config).expect("opens");
    let business = BusinessType::parse("02121").expect("listed");
    terminal
        .check(&code(1, NOW), "cashier", business, at(NOW + 1))
        .expect("codes verify with the restored bundle");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every visit the terminal records is one settlement intake accepts: the terminal
    /// checks with the same function intake calls, before anything is written.
    #[test]
    fn every_recorded_visit_is_one_settlement_accepts(
        operator in prop_oneof![
            "\\PC{0,70}",
            "[a-z]{0,3}[\\t\\n\\r\\x00\\x7f][a-z]{0,3}",
            "测{60,70}",
        ],
        token in 1u8..=250,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        Terminal::create_outbox(&config, false, at(NOW)).expect("outbox");
        let terminal = Terminal::open(&config).expect("opens");
        terminal
            .install_bundle(&bundle(1, NOW + 3_600, KeyStatus::Active), at(NOW))
            .expect("bundle");
        let business = BusinessType::parse("02121").expect("listed");
        match terminal.check(&code(token, NOW), &operator, business, at(NOW + 1)) {
            Ok(accepted) => {
                let recorded = terminal
                    .outbox()
                    .presentation(accepted.seq)
                    .expect("reads")
                    .expect("recorded");
                let intake = VisitFields::check(
                    &recorded.visit.institution,
                    &recorded.visit.operator,
                    recorded.visit.business_type.code(),
                );
                prop_assert!(intake.is_ok(), "recorded {:?}, intake says {:?}", recorded.visit, intake);
            }
            Err(CheckError::InvalidVisit(_)) => {
                prop_assert_eq!(terminal.status().expect("status").queued, 0);
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
