//! The status list at national scale (`docs/offline-codes.md`): size against the
//! information-theoretic bound, the delta a terminal takes each minute, the membership check
//! against a kind-2 verification, a terminal's memory against the list's size, and the
//! issuer's build time. Run at 1/100 scale and at full scale (the encoding's cost depends on
//! the revoked count and the id span only, so full scale fits this machine).
//!
//! ```text
//! cargo bench -p yibao-tests --bench status_list
//! ```

use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use yibao_shared::{CertificateId, KeyId, RevokedCertificate, StatusList};
use yibao_tests::paired::paired;
use yibao_tests::sample;
use yibao_verifier::{Policy, Verifier};

/// Counts the bytes allocated, to measure what a held list takes.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Certificates a day revoked at the national rate the docs assume.
const PER_DAY: u64 = 1_000_000;

fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --benches` only check it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!(
        "| figure | 1/100 scale (n = 3×10^7, r = 3×10^4) | national (n = 3×10^9, r = 3×10^6) | goal |"
    );
    println!("|---|---|---|---|");
    let small = measure(30_000_000, 30_000);
    let full = measure(3_000_000_000, 3_000_000);
    let row = |name: &str, a: String, b: String, goal: &str| {
        println!("| {name} | {a} | {b} | {goal} |");
    };
    row(
        "log2 C(n, r), the bound",
        format!(
            "{:.0} bytes ({:.2} bits each)",
            small.bound_bytes, small.bound_bits
        ),
        format!(
            "{:.0} bytes ({:.2} bits each)",
            full.bound_bytes, full.bound_bits
        ),
        "",
    );
    row(
        "complete list (signed document)",
        format!("{} bytes", small.document),
        format!("{} bytes", full.document),
        "",
    );
    row(
        "complete list / bound",
        format!("{:.3}", small.document as f64 / small.bound_bytes),
        format!("{:.3}", full.document as f64 / full.bound_bytes),
        "≤ 1.25",
    );
    row(
        "delta per minute (694 revocations)",
        format!("{} bytes", small.delta),
        format!("{} bytes", full.delta),
        "≤ 15 KB",
    );
    row(
        "terminal memory after install / list size",
        format!("{:.3}", small.held as f64 / small.document as f64),
        format!("{:.3}", full.held as f64 / full.document as f64),
        "≤ 2",
    );
    row(
        "issuer: build and sign the complete list, one core",
        format!("{:.1} ms", small.build_ms),
        format!("{:.0} ms", full.build_ms),
        "≤ 10 min",
    );
    row(
        "terminal: check, decode and install the complete list",
        format!("{:.1} ms", small.install_ms),
        format!("{:.0} ms", full.install_ms),
        "",
    );
    println!();
    println!("| candidate / baseline | median ratio | interquartile range |");
    println!("|---|---|---|");
    membership(&full.verifier, full.span);
}

struct Figures {
    bound_bits: f64,
    bound_bytes: f64,
    document: usize,
    delta: usize,
    held: usize,
    build_ms: f64,
    install_ms: f64,
    span: u64,
    verifier: Verifier,
}

/// `r` of `n` numbered certificates revoked at random (a fixed seed), as the issuer would
/// list them: each expires within three days.
fn measure(n: u64, r: u64) -> Figures {
    let mut random = XorShift(0x2545_f491_4f6c_dd1d ^ n);
    let mut ids = std::collections::BTreeSet::new();
    while (ids.len() as u64) < r {
        ids.insert(random.next() % n);
    }
    let entries: Vec<_> = ids
        .iter()
        .map(|id| RevokedCertificate {
            certificate_id: CertificateId(id.to_be_bytes()),
            expires_at: sample::NOW.saturating_add(random.next() % (72 * 3_600)),
            revoked_at: sample::NOW,
        })
        .collect();
    let key = sample::issuer_key();
    let started = Instant::now();
    let document = StatusList::complete(KeyId(1), r, sample::NOW, entries.clone()).sign(&key);
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let per_minute = PER_DAY / (24 * 60);
    let delta = StatusList::delta(
        KeyId(1),
        r,
        r + per_minute,
        sample::NOW.saturating_add(60),
        entries[..per_minute as usize].to_vec(),
    )
    .sign(&key);
    let mut verifier = Verifier::new(sample::root_key().public_key(), Policy::default());
    verifier
        .install_bundle(&sample::bundle_document(), sample::NOW)
        .expect("bundle");
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    verifier
        .install_status(&document, sample::NOW)
        .expect("installs");
    let install_ms = started.elapsed().as_secs_f64() * 1e3;
    let change = region.change();
    // What stays allocated: the held list (the document's decoding is freed again).
    let held = (change.bytes_allocated + change.bytes_reallocated.max(0) as usize)
        .saturating_sub(change.bytes_deallocated);
    let bound_bits = log2_binomial(n, r);
    Figures {
        bound_bits: bound_bits / r as f64,
        bound_bytes: bound_bits / 8.0,
        document: document.len(),
        delta: delta.len(),
        held,
        build_ms,
        install_ms,
        span: n,
        verifier,
    }
}

/// A status check of a certificate id (half revoked, half not) against a whole kind-2
/// verification by the same terminal.
fn membership(verifier: &Verifier, span: u64) {
    let code = sample::device_code(false);
    let at = sample::NOW.saturating_add(60);
    let held = verifier.status().expect("held").clone();
    let mut random = XorShift(7);
    paired(
        "status check of one certificate / kind-2 verification",
        || {
            black_box(verifier.verify_text(black_box(&code), at).ok());
        },
        || {
            let id = CertificateId((random.next() % span).to_be_bytes());
            black_box(held.revoked(black_box(id)));
        },
    );
}

/// log2 of n choose r, by the log-gamma sum (exact enough at these sizes).
fn log2_binomial(n: u64, r: u64) -> f64 {
    // Σ_{i<r} log2((n - i) / (r - i)), summed directly: r is at most a few million.
    (0..r)
        .map(|i| ((n - i) as f64 / (r - i) as f64).log2())
        .sum()
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
