//! Paired ratios: on a shared, noisy machine two benchmarks measured a minute apart can drift
//! by ±10 %, more than the differences we care about. Here each round times a short burst of
//! the baseline and of the candidate back to back (alternating which goes first), and the
//! median of the per-round ratios is reported with its interquartile range.
//!
//! ```text
//! cargo bench -p yibao-tests --bench paired
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::Signer;
use yibao_tests::fixture::Fixture;
use yibao_tests::sample;

const ROUNDS: usize = 41;
const BURST: Duration = Duration::from_millis(20);

/// Median and quartiles of candidate/baseline time ratios over interleaved rounds.
fn paired(name: &str, mut baseline: impl FnMut(), mut candidate: impl FnMut()) {
    // Calibrate a burst length in iterations from the baseline.
    let start = Instant::now();
    let mut calibration = 0u32;
    while start.elapsed() < BURST {
        baseline();
        calibration += 1;
    }
    let iterations = calibration.max(10);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..iterations {
            f();
        }
        t.elapsed().as_secs_f64()
    };
    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (b, c) = if round % 2 == 0 {
            let b = time(&mut baseline);
            (b, time(&mut candidate))
        } else {
            let c = time(&mut candidate);
            (time(&mut baseline), c)
        };
        ratios.push(c / b);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "| {name} | {:.3} | {:.3} – {:.3} |",
        ratios[ROUNDS / 2],
        ratios[ROUNDS / 4],
        ratios[3 * ROUNDS / 4]
    );
}

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --benches` only check it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let f = Fixture::new();

    println!("| candidate / baseline | median ratio | interquartile range |");
    println!("|---|---|---|");
    paired(
        "yibao sign / ed25519-dalek raw sign",
        || {
            black_box(f.raw_key.sign(black_box(&f.message)));
        },
        || {
            black_box(black_box(&f.body).sign(&f.key).expect("signs"));
        },
    );
    paired(
        "yibao verify / ed25519-dalek raw verify_strict",
        || {
            f.raw_public
                .verify_strict(black_box(&f.message), &f.raw_signature)
                .expect("verifies");
        },
        || {
            black_box(
                f.verifier
                    .verify_text(black_box(&f.code), sample::NOW)
                    .expect("ok"),
            );
        },
    );
    paired(
        "pasetors v4.public verify / yibao verify",
        || {
            black_box(
                f.verifier
                    .verify_text(black_box(&f.code), sample::NOW)
                    .expect("ok"),
            );
        },
        || {
            f.paseto
                .verify(black_box(&f.paseto_token))
                .expect("verifies")
        },
    );
    paired(
        "jsonwebtoken EdDSA verify / yibao verify",
        || {
            black_box(
                f.verifier
                    .verify_text(black_box(&f.code), sample::NOW)
                    .expect("ok"),
            );
        },
        || {
            black_box(f.jwt.verify(black_box(&f.jwt_token)).expect("verifies"));
        },
    );
    paired(
        "pasetors v4.public sign / yibao sign",
        || {
            black_box(black_box(&f.body).sign(&f.key).expect("signs"));
        },
        || {
            black_box(f.paseto.sign(black_box(&f.claims)).expect("signs"));
        },
    );
}
