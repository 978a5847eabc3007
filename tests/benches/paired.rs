//! Paired ratios (`yibao_tests::paired`): tokens against raw Ed25519 and the peers, kind 2
//! against raw Ed25519 + P-256, and the status list's sync cost.
//!
//! ```text
//! cargo bench -p yibao-tests --bench paired
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::Signer;
use yibao_shared::{CertificateId, DeviceCertificate, KeyId, RevokedCertificate, StatusList};
use yibao_tests::fixture::Fixture;
use yibao_tests::paired::paired;
use yibao_tests::sample;
use yibao_verifier::{Policy, Verifier};

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
    device_bound(&f);
    status_list();
}

/// Kind 2: the whole offline check of a device code against the two raw signature checks it
/// contains (Ed25519 `verify_strict` over the certificate, P-256 over the presentation), and
/// certificate issuance against kind-1 signing.
fn device_bound(f: &Fixture) {
    use p256::ecdsa::signature::Verifier as _;

    let code = sample::device_code(false);
    let at = sample::NOW.saturating_add(60);
    let mut verifier = f.verifier.clone();
    let status = StatusList {
        key_id: KeyId(1),
        since: 0,
        sequence: 1,
        issued_at: sample::NOW,
        revoked: revocations(100_000),
    }
    .sign(&sample::issuer_key());
    verifier.install_status(&status, at).expect("status list");

    let bytes = yibao_shared::codec::decode_digits(&code[2..]).expect("digits");
    let certificate = sample::device_certificate(false);
    let (cert_body, cert_sig) = certificate.split_at(certificate.len() - 64);
    let mut cert_message = b"yibao.devcert.v1".to_vec();
    cert_message.extend_from_slice(cert_body);
    let cert_sig = ed25519_dalek::Signature::from_slice(cert_sig).expect("64 bytes");
    let (signed, device_sig) = bytes.split_at(bytes.len() - 64);
    let mut device_message = b"yibao.present.v1".to_vec();
    device_message.extend_from_slice(signed);
    let device_sig = p256::ecdsa::Signature::from_slice(device_sig).expect("64 bytes");
    let device_key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
        &sample::device_key().public_key().to_compressed(),
    )
    .expect("point");
    paired(
        "yibao kind-2 verify / raw verify_strict + raw p256 verify",
        || {
            f.raw_public
                .verify_strict(black_box(&cert_message), &cert_sig)
                .expect("certificate verifies");
            device_key
                .verify(black_box(&device_message), &device_sig)
                .expect("presentation verifies");
        },
        || {
            black_box(verifier.verify_text(black_box(&code), at).expect("ok"));
        },
    );
    let claims = sample::body(false).claims;
    let device = sample::device_key().public_key();
    paired(
        "device certificate issuance / yibao kind-1 sign",
        || {
            black_box(black_box(&f.body).sign(&f.key).expect("signs"));
        },
        || {
            black_box(
                DeviceCertificate {
                    key_id: KeyId(1),
                    certificate_id: CertificateId([1; 8]),
                    issued_at: sample::NOW,
                    validity_hours: 72,
                    claims: claims.clone(),
                    device_key: device,
                }
                .sign(&f.key)
                .expect("signs"),
            );
        },
    );
}

fn revocations(n: u32) -> Vec<RevokedCertificate> {
    (0..n)
        .map(|i| {
            let mut id = [0u8; 8];
            id[..4].copy_from_slice(&i.to_be_bytes());
            RevokedCertificate {
                certificate_id: CertificateId(id),
                expires_at: sample::NOW.saturating_add(86_400),
                revoked_at: sample::NOW,
            }
        })
        .collect()
}

/// A terminal's first sync with 100,000 revocations: document size, and the time to check
/// and merge it against the time to check the signature of the same bytes alone.
fn status_list() {
    let entries = revocations(100_000);
    let started = Instant::now();
    let document = StatusList {
        key_id: KeyId(1),
        since: 0,
        sequence: 100_000,
        issued_at: sample::NOW,
        revoked: entries,
    }
    .sign(&sample::issuer_key());
    let signing = started.elapsed();
    let root = sample::root_key().public_key();
    let mut verifier = Verifier::new(root, Policy::default());
    verifier
        .install_bundle(&sample::bundle_document(), sample::NOW)
        .expect("bundle");
    let public = sample::issuer_key().public_key();
    let envelope: serde_json::Value = serde_json::from_str(&document).expect("json");
    let b64 = |field: &str| {
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            envelope[field].as_str().expect("field"),
        )
        .expect("base64url")
    };
    let payload = envelope["payload"]
        .as_str()
        .expect("payload")
        .as_bytes()
        .to_vec();
    let signature = b64("signature");
    let signature: [u8; 64] = signature.try_into().expect("64 bytes");
    let mut install = Duration::ZERO;
    let mut raw = Duration::ZERO;
    const RUNS: u32 = 9;
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut fresh = verifier.clone();
        black_box(
            fresh
                .install_status(&document, sample::NOW)
                .expect("installs"),
        );
        install += t.elapsed();
        let t = Instant::now();
        black_box(public.verify(b"yibao.status.v1", &payload, &signature)).expect("verifies");
        raw += t.elapsed();
    }
    println!();
    println!("| status list, 100,000 revocations | value |");
    println!("|---|---|");
    println!(
        "| document size | {} bytes ({:.1} bytes an entry) |",
        document.len(),
        document.len() as f64 / 100_000.0
    );
    println!(
        "| issuer: sign the complete list | {:.1} ms |",
        signing.as_secs_f64() * 1e3
    );
    println!(
        "| terminal: check and merge (mean of {RUNS}) | {:.1} ms |",
        install.as_secs_f64() * 1e3 / f64::from(RUNS)
    );
    println!(
        "| baseline: Ed25519 check of the same payload bytes | {:.1} ms |",
        raw.as_secs_f64() * 1e3 / f64::from(RUNS)
    );
    println!(
        "| ratio check-and-merge / signature alone | {:.2} |",
        install.as_secs_f64() / raw.as_secs_f64()
    );
}
