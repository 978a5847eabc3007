//! Token sign/verify against the peers a user would pick instead, in one run:
//! raw `ed25519-dalek` (the crypto ceiling), `pasetors` v4.public and `jsonwebtoken` EdDSA on
//! the same claims; plus building the QR code and its SVG.
//!
//! ```text
//! cargo bench -p yibao-tests --bench tokens
//! python3 scripts/bench_report.py   # ratios for docs/PERFORMANCE.md
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use yibao_shared::UntrustedToken;
use yibao_tests::fixture::Fixture;
use yibao_tests::sample;

fn tokens(c: &mut Criterion) {
    let f = Fixture::new();

    let mut sign = c.benchmark_group("sign");
    sign.bench_function("ed25519-dalek raw sign", |b| {
        b.iter(|| f.raw_key.sign(black_box(&f.message)))
    });
    sign.bench_function("yibao sign (encode + sign + digits)", |b| {
        b.iter(|| black_box(&f.body).sign(&f.key).expect("signs"))
    });
    sign.bench_function("pasetors v4.public sign", |b| {
        b.iter(|| f.paseto.sign(black_box(&f.claims)).expect("signs"))
    });
    sign.bench_function("jsonwebtoken EdDSA sign", |b| {
        b.iter(|| f.jwt.sign(black_box(&f.claims)).expect("signs"))
    });
    sign.finish();

    let mut verify = c.benchmark_group("verify");
    verify.bench_function("ed25519-dalek raw verify_strict", |b| {
        b.iter(|| {
            f.raw_public
                .verify_strict(black_box(&f.message), &f.raw_signature)
                .expect("verifies")
        })
    });
    verify.bench_function("yibao verify (parse + signature + policy)", |b| {
        b.iter(|| {
            f.verifier
                .verify_text(black_box(&f.code), sample::NOW)
                .expect("verifies")
        })
    });
    verify.bench_function("pasetors v4.public verify", |b| {
        b.iter(|| {
            f.paseto
                .verify(black_box(&f.paseto_token))
                .expect("verifies")
        })
    });
    verify.bench_function("jsonwebtoken EdDSA verify", |b| {
        b.iter(|| f.jwt.verify(black_box(&f.jwt_token)).expect("verifies"))
    });
    verify.finish();

    let mut parse = c.benchmark_group("parse");
    parse.bench_function("yibao parse only (digits + layout)", |b| {
        b.iter(|| UntrustedToken::parse(black_box(&f.code)).expect("parses"))
    });
    let token_bytes = yibao_shared::codec::decode_digits(&f.code[2..]).expect("digits");
    parse.bench_function("yibao text encoding only (bytes to digits)", |b| {
        b.iter(|| yibao_shared::to_text(black_box(&token_bytes)))
    });
    parse.finish();

    let mut qr = c.benchmark_group("qr");
    qr.bench_function("QR build (level M) + SVG render", |b| {
        b.iter(|| {
            let symbol =
                QrCode::with_error_correction_level(black_box(f.code.as_bytes()), EcLevel::M)
                    .expect("fits");
            symbol
                .render::<svg::Color<'_>>()
                .min_dimensions(256, 256)
                .build()
        })
    });
    qr.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(4));
    targets = tokens
}
criterion_main!(benches);
