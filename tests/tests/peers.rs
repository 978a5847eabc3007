//! The peer formats really sign and verify the same claims (so the size table and the
//! benchmarks compare working tokens), and our encoding is the smallest of the candidates.

use std::time::{SystemTime, UNIX_EPOCH};

use yibao_shared::codec;
use yibao_tests::peers::{JsonClaims, Jwt, Paseto};
use yibao_tests::qr::{candidates, version_at_m};
use yibao_tests::sample;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn jwt_and_paseto_round_trip_and_refuse_tampering() {
    let claims = JsonClaims::of(&sample::body(true), now(), now() + 60);
    let jwt = Jwt::new(&[0x11; 32]);
    let token = jwt.sign(&claims).expect("signs");
    assert_eq!(jwt.verify(&token).expect("verifies").nm, "测*甲");
    // Change one signature character that carries only data bits (the last ones also carry
    // padding) to a different one, so the forgery always differs from the original.
    let at = token.len() - 10;
    let replacement = if &token[at..=at] == "A" { "B" } else { "A" };
    let mut forged = token.clone();
    forged.replace_range(at..=at, replacement);
    assert_ne!(forged, token);
    assert!(jwt.verify(&forged).is_err());

    let paseto = Paseto::new().expect("keys");
    let token = paseto.sign(&claims).expect("signs");
    assert!(paseto.verify(&token).is_ok());
    assert!(
        paseto
            .verify(&token.replace("v4.public.", "v4.public.A"))
            .is_err()
    );
}

#[test]
fn the_digit_encoding_gives_the_smallest_qr_of_all_candidates() {
    for proxy in [false, true] {
        let body = sample::body(proxy);
        let code = body.sign(&sample::issuer_key()).expect("signs");
        let bytes = codec::decode_digits(&code[codec::PREFIX.len()..]).expect("digits");
        let claims = JsonClaims::of(&body, now(), now() + 60);
        let jwt = Jwt::new(&[0x11; 32]).sign(&claims).expect("jwt");
        let paseto = Paseto::new().expect("keys").sign(&claims).expect("paseto");
        let all = candidates(&bytes, jwt, paseto);
        let ours = version_at_m(&all[0].text).expect("fits");
        assert!(ours <= if proxy { 7 } else { 6 }, "ours needs v{ours}");
        for other in &all[1..] {
            let theirs = version_at_m(&other.text).unwrap_or(41);
            assert!(
                ours <= theirs,
                "{} (v{theirs}) beats ours (v{ours})",
                other.name
            );
        }
        let jwt_version = version_at_m(&all[4].text).unwrap_or(41);
        assert!(jwt_version >= ours + 5, "JWT only needs v{jwt_version}");
    }
}
