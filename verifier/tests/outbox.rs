//! The terminal's outbox: an accepted code is queued and remembered in one commit, the
//! replay memory survives a restart, answers move presentations to the history, and the
//! held bundle's sequence survives too.

use yibao_shared::*;
use yibao_verifier::outbox::{CLOCK_TOLERANCE_SECS, FILE_NAME};
use yibao_verifier::{
    CheckError, Outbox, OutboxError, Outcome, Policy, Rejection, Verifier, Visit,
};

mod common;

use common::{NOW, at, bundle, code, root};

fn verifier() -> Verifier {
    let mut v = Verifier::new(root().public_key(), Policy::default());
    v.install_bundle(&bundle(3, NOW + 3_600, KeyStatus::Active), at(NOW))
        .expect("installs");
    v
}

fn visit() -> Visit {
    Visit {
        institution: "P44030500001".into(),
        operator: "cashier-7".into(),
        business_type: BusinessType::parse("02121").expect("listed"),
        // Kept with the visit and read back whole.
        context: VisitContext {
            operator_name: Some("测试收银员".into()),
            office_id: Some("A03".into()),
            office_name: None,
            device_type: Some("scanner".into()),
        },
    }
}

#[test]
fn an_accepted_code_is_queued_and_refused_again_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let verifier = verifier();
    let visit = visit();
    {
        let outbox = Outbox::create(dir.path()).expect("creates");
        let mut recorder = outbox.recorder(&visit, true);
        let token = verifier
            .check_once(&code(1, NOW), at(NOW + 5), &mut recorder)
            .expect("accepted");
        let seq = recorder.recorded().expect("queued");
        let queued = outbox.queued(10).expect("reads");
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].seq, seq);
        assert_eq!(queued[0].code, code(1, NOW));
        assert_eq!(queued[0].token_id, token.token_id());
        assert_eq!(queued[0].visit, visit);
        assert_eq!(queued[0].verified_at, at(NOW + 5));
        assert!(queued[0].offline);
    }
    // A new process: the same code is a replay, another code is accepted.
    let outbox = Outbox::open(dir.path()).expect("reopens");
    let mut recorder = outbox.recorder(&visit, true);
    let replay = verifier.check_once(&code(1, NOW), at(NOW + 9), &mut recorder);
    assert!(
        matches!(
            replay,
            Err(CheckError::Rejected(Rejection::Replayed { .. }))
        ),
        "{replay:?}"
    );
    assert_eq!(recorder.recorded(), None);
    verifier
        .check_once(&code(2, NOW), at(NOW + 9), &mut recorder)
        .expect("a new code is accepted");
    assert_eq!(outbox.status().expect("status").queued, 2);
}

#[test]
fn answers_move_presentations_to_the_history_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::create(dir.path()).expect("creates");
    let verifier = verifier();
    let visit = visit();
    for byte in 1..=3 {
        verifier
            .check_once(
                &code(byte, NOW),
                at(NOW),
                &mut outbox.recorder(&visit, true),
            )
            .expect("accepted");
    }
    let queued = outbox.queued(2).expect("reads");
    assert_eq!(queued.len(), 2, "the limit is respected");
    let settled = Outcome::Settled {
        reference: "ref-1".into(),
        at: at(NOW + 60),
    };
    let refused = Outcome::Refused {
        code: "double-use".into(),
        message: "settled at another terminal".into(),
        at: at(NOW + 60),
    };
    let answers = vec![(queued[0].seq, settled.clone()), (queued[1].seq, refused)];
    outbox
        .record_outcomes(answers.clone(), at(NOW + 60))
        .expect("records");
    // A second forwarder's late answers for the same presentations change nothing.
    outbox
        .record_outcomes(answers, at(NOW + 61))
        .expect("records");

    let status = outbox.status().expect("status");
    assert_eq!((status.queued, status.settled, status.refused), (1, 1, 1));
    let remaining = outbox.queued(10).expect("reads");
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].token_id, TokenId([3; 8]));
    let first = outbox
        .presentation(queued[0].seq)
        .expect("reads")
        .expect("kept in the history");
    assert_eq!(first.outcome, Some(settled));
}

#[test]
fn the_held_bundle_and_its_sequence_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let outbox = Outbox::create(dir.path()).expect("creates");
        assert_eq!(outbox.bundle().expect("reads"), (None, 0));
        outbox
            .save_bundle(&bundle(3, NOW + 3_600, KeyStatus::Active), 3)
            .expect("saves");
    }
    let outbox = Outbox::open(dir.path()).expect("reopens");
    assert_eq!(
        outbox.bundle().expect("reads"),
        (Some(bundle(3, NOW + 3_600, KeyStatus::Active)), 3)
    );
    // Restored into a verifier, the sequence refuses an older bundle.
    let mut v = Verifier::new(root().public_key(), Policy::default()).with_min_sequence(3);
    let rollback = v.install_bundle(&bundle(2, NOW + 3_600, KeyStatus::Active), at(NOW));
    assert!(
        matches!(rollback, Err(Rejection::BundleRollback { .. })),
        "{rollback:?}"
    );
}

#[test]
fn a_long_expired_code_is_refused_as_expired_not_as_a_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::create(dir.path()).expect("creates");
    let verifier = verifier();
    let visit = visit();
    verifier
        .check_once(&code(1, NOW), at(NOW), &mut outbox.recorder(&visit, true))
        .expect("accepted");
    // Long after expiry the verdict is "expired": the replay memory may forget the token
    // then (it is pruned past expiry plus leeway) without ever letting it through.
    let late = verifier.check_once(
        &code(1, NOW),
        at(NOW + 3_000),
        &mut outbox.recorder(&visit, true),
    );
    assert!(
        matches!(late, Err(CheckError::Rejected(Rejection::Expired { .. }))),
        "{late:?}"
    );
}

#[test]
fn history_older_than_a_quarter_is_pruned_and_the_counts_follow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::create(dir.path()).expect("creates");
    let verifier = verifier();
    let visit = visit();
    let mut recorder = outbox.recorder(&visit, true);
    verifier
        .check_once(&code(1, NOW), at(NOW), &mut recorder)
        .expect("accepted");
    let seq = recorder.recorded().expect("queued");
    // Settlement answers 91 days later (a terminal kept offline that long): the answer is
    // recorded and, being older than the kept quarter, pruned in the same step.
    let late = at(NOW + 91 * 86_400);
    let settled = Outcome::Settled {
        reference: "ref".into(),
        at: late,
    };
    outbox
        .record_outcomes(vec![(seq, settled)], late)
        .expect("records");
    let status = outbox.status().expect("status");
    assert_eq!((status.queued, status.settled, status.refused), (0, 0, 0));
    assert_eq!(outbox.presentation(seq).expect("reads"), None);
}

/// See: issue 15, item 1 (an emptied outbox was silently re-created, and a code accepted
/// before was accepted again).
#[test]
fn a_missing_or_empty_outbox_is_reported_never_recreated() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Outbox::open(dir.path()),
        Err(OutboxError::Missing(_))
    ));
    assert!(!dir.path().join(FILE_NAME).exists(), "open never creates");
    drop(Outbox::create(dir.path()).expect("creates"));
    std::fs::write(dir.path().join(FILE_NAME), b"").expect("truncate");
    let empty = Outbox::open(dir.path()).expect_err("refused");
    assert!(matches!(empty, OutboxError::Empty(_)), "{empty}");
    assert!(empty.to_string().contains("--reset-outbox"), "{empty}");
    assert!(matches!(
        Outbox::create(dir.path()),
        Err(OutboxError::Exists(_))
    ));
    // Knowingly starting over keeps the old file aside.
    let (outbox, aside) = Outbox::reset(dir.path(), at(NOW)).expect("resets");
    assert!(aside.expect("kept aside").exists());
    assert_eq!(outbox.status().expect("status").queued, 0);
}

/// See: issue 15, item 2 (one unreadable record blocked forwarding of the whole queue).
#[test]
fn an_unreadable_record_is_quarantined_and_the_others_still_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let verifier = verifier();
    let visit = visit();
    let mut seqs = Vec::new();
    {
        let outbox = Outbox::create(dir.path()).expect("creates");
        for byte in 1..=3 {
            let mut recorder = outbox.recorder(&visit, true);
            verifier
                .check_once(&code(byte, NOW), at(NOW), &mut recorder)
                .expect("accepted");
            seqs.push(recorder.recorded().expect("queued"));
        }
    }
    // The middle record's bytes are damaged on disk.
    {
        let db = redb::Database::open(dir.path().join(FILE_NAME)).expect("opens");
        let txn = db.begin_write().expect("txn");
        {
            let table: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new("queue");
            let mut queue = txn.open_table(table).expect("queue");
            queue
                .insert(seqs[1], b"{\"seq\": garbage".as_slice())
                .expect("damage");
        }
        txn.commit().expect("commit");
    }
    let outbox = Outbox::open(dir.path()).expect("opens");
    let healthy = outbox.queued(10).expect("the healthy ones are read");
    let got: Vec<u64> = healthy.iter().map(|p| p.seq).collect();
    assert_eq!(got, vec![seqs[0], seqs[2]]);
    let status = outbox.status().expect("status");
    assert_eq!((status.queued, status.quarantined), (2, 1));
    // They are answered and leave the queue; new codes are still accepted.
    let settled = Outcome::Settled {
        reference: "r".into(),
        at: at(NOW + 10),
    };
    outbox
        .record_outcomes(
            healthy.iter().map(|p| (p.seq, settled.clone())).collect(),
            at(NOW + 10),
        )
        .expect("records");
    verifier
        .check_once(
            &code(4, NOW),
            at(NOW + 11),
            &mut outbox.recorder(&visit, true),
        )
        .expect("still accepting");
    let status = outbox.status().expect("status");
    assert_eq!(
        (status.queued, status.settled, status.quarantined),
        (1, 2, 1)
    );
}

/// See: issue 15, item 5 (after a later accept pruned a code from the replay memory,
/// setting the clock back 88 s let the same code be accepted again).
#[test]
fn a_clock_set_back_never_accepts_a_code_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = Outbox::create(dir.path()).expect("creates");
    let verifier = verifier();
    let visit = visit();
    verifier
        .check_once(
            &code(1, NOW),
            at(NOW + 5),
            &mut outbox.recorder(&visit, true),
        )
        .expect("accepted");
    // Business goes on for ten minutes: every accept advances the high-water mark and prunes.
    let mut latest = NOW + 5;
    for (i, t) in (NOW + 30..NOW + 600).step_by(29).enumerate() {
        let byte = 10 + u8::try_from(i).expect("few");
        verifier
            .check_once(&code(byte, t), at(t), &mut outbox.recorder(&visit, true))
            .expect("accepted");
        latest = t;
        // Whatever the clock is set back to, the first code never goes through again.
        for back in [88, 200, 299, 301, 590] {
            let again = verifier.check_once(
                &code(1, NOW),
                at(t.saturating_sub(back)),
                &mut outbox.recorder(&visit, true),
            );
            assert!(
                matches!(again, Err(CheckError::Rejected(_))),
                "at {t} set back {back} s: accepted twice"
            );
        }
    }
    // Far behind the mark, a fresh code is refused too (the clock is reported, not trusted),
    // and status says so.
    let behind = at(latest - CLOCK_TOLERANCE_SECS - 1);
    let fresh = verifier.check_once(
        &code(200, latest - CLOCK_TOLERANCE_SECS - 5),
        behind,
        &mut outbox.recorder(&visit, true),
    );
    assert!(
        matches!(
            fresh,
            Err(CheckError::Rejected(Rejection::ClockBehind { .. }))
        ),
        "{fresh:?}"
    );
    assert!(outbox.status().expect("status").clock_behind(behind));
}
