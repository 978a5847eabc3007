//! Paired ratios (`yibao_tests::paired`): tokens against raw Ed25519 and the peers, kind 2
//! against raw Ed25519 + P-256 (the status list has its own bench, `status_list`).
//!
//! ```text
//! cargo bench -p yibao-tests --bench paired
//! ```

use std::hint::black_box;

use ed25519_dalek::Signer;
use yibao_shared::{CertificateId, DeviceCertificate, KeyId, RevokedCertificate, StatusList};
use yibao_tests::fixture::Fixture;
use yibao_tests::paired::paired;
use yibao_tests::sample;

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
}

/// Kind 2: the whole offline check of a device code against the two raw signature checks it
/// contains (Ed25519 `verify_strict` over the certificate, P-256 over the presentation), and
/// certificate issuance against kind-1 signing.
fn device_bound(f: &Fixture) {
    use p256::ecdsa::signature::Verifier as _;

    let code = sample::device_code(false);
    let at = sample::NOW.saturating_add(60);
    let mut verifier = f.verifier.clone();
    let status = StatusList::complete(KeyId(1), 1, sample::NOW, revocations(100_000))
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

/// `n` numbered certificates revoked, one in a thousand issued.
fn revocations(n: u64) -> Vec<RevokedCertificate> {
    (0..n)
        .map(|i| RevokedCertificate {
            certificate_id: CertificateId((i * 1_000).to_be_bytes()),
            expires_at: sample::NOW.saturating_add(86_400),
            revoked_at: sample::NOW,
        })
        .collect()
}
