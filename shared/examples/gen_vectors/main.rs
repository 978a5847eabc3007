//! Regenerates `shared/testdata/vectors.json`: fixed keys, a fixed `now`, valid tokens and
//! expect-fail cases. Ed25519 is deterministic, so the output is byte-identical on every run;
//! review the diff before committing a change to it.
//!
//! ```text
//! cargo run -p yibao-shared --example gen_vectors > shared/testdata/vectors.json
//! ```
//!
//! Expected verdicts are written here from how each case is built, never by running a
//! verifier, so the vector test checks the verifier against an independent statement.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use yibao_shared::codec::{PREFIX, decode_digits, encode_digits};
use yibao_shared::trust_list::{BUNDLE_DOMAIN, envelope_json};
use yibao_shared::*;

mod device_cases;

/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
const DAY: u64 = 86_400;

fn seed(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn body(key_id: u16, issued_at: u64, proxy: bool) -> TokenBody {
    TokenBody {
        kind: TokenKind::IssuerSigned,
        key_id: KeyId(key_id),
        token_id: TokenId([0x7a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]),
        issued_at: UnixTime::from_secs(issued_at),
        lifetime_secs: 60,
        claims: Claims {
            voucher_id: VoucherId([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7]),
            region: RegionCode::parse("110105").expect("valid"),
            insurance: InsuranceType::Resident,
            // Synthetic: 测试甲 is "test person A".
            masked_name: MaskedName::mask("测试甲").expect("valid"),
            gender: Gender::Male,
            birth_year: 1948,
            proxy: proxy.then_some(FamilyProxy {
                binder: VoucherId([0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]),
                relation: Relation::Child,
            }),
        },
    }
}

fn issuer_key(
    id: u16,
    seed_byte: u8,
    regions: &[&str],
    from: u64,
    to: u64,
    status: KeyStatus,
) -> IssuerKey {
    IssuerKey {
        key_id: KeyId(id),
        public_key: SecretKey::from_seed(&seed(seed_byte)).public_key(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        not_before: UnixTime::from_secs(from),
        not_after: UnixTime::from_secs(to),
        status,
    }
}

fn bundle(expires_at: u64) -> TrustBundle {
    TrustBundle {
        sequence: 7,
        issued_at: UnixTime::from_secs(NOW - 3_600),
        expires_at: UnixTime::from_secs(expires_at),
        keys: vec![
            issuer_key(
                1,
                0x11,
                &[],
                NOW - 30 * DAY,
                NOW + 60 * DAY,
                KeyStatus::Active,
            ),
            issuer_key(
                2,
                0x22,
                &["31"],
                NOW - 30 * DAY,
                NOW + 60 * DAY,
                KeyStatus::Active,
            ),
            issuer_key(
                3,
                0x33,
                &[],
                NOW - 30 * DAY,
                NOW + 60 * DAY,
                KeyStatus::Revoked,
            ),
            issuer_key(
                4,
                0x44,
                &[],
                NOW - 90 * DAY,
                NOW + 5 * DAY,
                KeyStatus::Retired,
            ),
            issuer_key(5, 0x55, &[], NOW - 90 * DAY, NOW - DAY, KeyStatus::Active),
        ],
    }
}

fn to_bytes(code: &str) -> Vec<u8> {
    decode_digits(&code[PREFIX.len()..]).expect("own encoding")
}

fn text_of(bytes: &[u8]) -> String {
    let mut text = PREFIX.to_owned();
    encode_digits(bytes, &mut text);
    text
}

/// A properly signed case: carries the token and the signer so encoding can be re-checked.
fn signed(name: &str, b: &TokenBody, seed_byte: u8, expect: &str) -> Value {
    let code = b
        .sign(&SecretKey::from_seed(&seed(seed_byte)))
        .expect("encodable");
    json!({
        "name": name,
        "code": code,
        "expect": expect,
        "token": b,
        "signer_seed": hex(&seed(seed_byte)),
    })
}

fn raw(name: &str, code: String, expect: &str) -> Value {
    json!({ "name": name, "code": code, "expect": expect })
}

/// Adds the group order ℓ to the signature's S (little-endian): the same signature under
/// lax verification, refused by `verify_strict`.
fn malleate(signature: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let s = &mut signature[32..64];
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
}

/// `bundle` with one more active key (id 9, raw bytes `key`), re-signed by the root.
fn bundle_with_extra_key(bundle: &TrustBundle, root: &SecretKey, key: &[u8; 32]) -> String {
    let payload = bundle.payload_json().replacen(
        "\"keys\":[",
        &format!(
            "\"keys\":[{{\"key_id\":9,\"public_key\":\"{}\",\"regions\":[],\"not_before\":0,\"not_after\":4000000000,\"status\":\"active\"}},",
            URL_SAFE_NO_PAD.encode(key)
        ),
        1,
    );
    envelope_json(
        payload.as_bytes(),
        &root.sign(BUNDLE_DOMAIN, payload.as_bytes()),
    )
}

/// The smallest y (2..=18) that is the y of a curve point not of small order, written as
/// y + p: a curve point in a non-canonical encoding. (None of these y is in the prime-order
/// subgroup; the format checks the encoding first, so the verdict is the encoding's.)
fn noncanonical_key() -> [u8; 32] {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    for y in 2u8..=18 {
        let mut canonical = [0u8; 32];
        canonical[0] = y;
        let Some(point) = CompressedEdwardsY(canonical).decompress() else {
            continue;
        };
        if point.is_small_order() {
            continue;
        }
        // p = 2^255 - 19 little-endian is ed ff .. ff 7f; y + p for y <= 18 has no carry.
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xed + y;
        bytes[31] = 0x7f;
        return bytes;
    }
    unreachable!("some y in 2..=18 is on the curve")
}

/// The root's public point plus a point of order 8: on the curve, not small order, but with
/// a torsion component.
fn torsion_key(root: &SecretKey) -> [u8; 32] {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let point = CompressedEdwardsY(root.public_key().to_bytes())
        .decompress()
        .expect("a valid key");
    (point + EIGHT_TORSION[1]).compress().to_bytes()
}

#[allow(clippy::vec_init_then_push)] // grouped pushes read as the list of cases
fn main() {
    let root = SecretKey::from_seed(&seed(0x52));
    let good_bundle = bundle(NOW + 7 * DAY);
    let mut cases = Vec::new();

    // Accepted.
    cases.push(signed(
        "valid-normal",
        &body(1, NOW - 10, false),
        0x11,
        "accept",
    ));
    cases.push(signed(
        "valid-family-proxy",
        &body(1, NOW - 10, true),
        0x11,
        "accept",
    ));
    cases.push(signed(
        "valid-retired-key",
        &body(4, NOW - 10, false),
        0x44,
        "accept",
    ));
    cases.push(signed(
        "valid-expired-within-leeway",
        &body(1, NOW - 80, false),
        0x11,
        "accept",
    ));
    cases.push(signed(
        "valid-future-within-leeway",
        &body(1, NOW + 25, false),
        0x11,
        "accept",
    ));
    let mut scoped = body(2, NOW - 10, false);
    scoped.claims.region = RegionCode::parse("310101").expect("valid");
    cases.push(signed("valid-region-scoped-key", &scoped, 0x22, "accept"));

    // Refused by policy, though properly signed.
    cases.push(signed(
        "expired",
        &body(1, NOW - 200, false),
        0x11,
        "expired",
    ));
    cases.push(signed(
        "expired-at-leeway-boundary",
        &body(1, NOW - 90, false),
        0x11,
        "expired",
    ));
    cases.push(signed(
        "not-yet-valid",
        &body(1, NOW + 120, false),
        0x11,
        "not-yet-valid",
    ));
    cases.push(signed(
        "revoked-key",
        &body(3, NOW - 10, false),
        0x33,
        "key-revoked",
    ));
    cases.push(signed(
        "key-validity-ended",
        &body(5, NOW - 10, false),
        0x55,
        "key-not-valid",
    ));
    cases.push(signed(
        "key-out-of-region-scope",
        &body(2, NOW - 10, false),
        0x22,
        "key-out-of-scope",
    ));
    let mut long = body(1, NOW - 10, false);
    long.lifetime_secs = 240;
    cases.push(signed(
        "lifetime-too-long",
        &long,
        0x11,
        "lifetime-too-long",
    ));
    cases.push(signed(
        "unknown-key-id",
        &body(77, NOW - 10, false),
        0x11,
        "unknown-key",
    ));
    cases.push(signed(
        "wrong-key",
        &body(1, NOW - 10, false),
        0x99,
        "bad-signature",
    ));

    // Byte-level forgeries of the valid tokens: one flipped bit at the start of each field.
    let normal = to_bytes(
        &body(1, NOW - 10, false)
            .sign(&SecretKey::from_seed(&seed(0x11)))
            .expect("ok"),
    );
    let proxy = to_bytes(
        &body(1, NOW - 10, true)
            .sign(&SecretKey::from_seed(&seed(0x11)))
            .expect("ok"),
    );
    let name_len = normal[29] as usize;
    let sig_at = normal.len() - SIGNATURE_LEN;
    let flips: [(&str, &[u8], usize, &str); 16] = [
        ("version", &normal, 0, "unsupported-version"),
        ("kind", &normal, 1, "unsupported-kind"),
        ("key-id", &normal, 2, "unknown-key"),
        ("voucher-id", &normal, 4, "bad-signature"),
        ("token-id", &normal, 12, "bad-signature"),
        ("issued-at", &normal, 20, "bad-signature"),
        ("lifetime", &normal, 24, "bad-signature"),
        ("region", &normal, 25, "bad-signature"),
        ("gender-and-insurance", &normal, 27, "bad-signature"),
        ("birth-year", &normal, 28, "bad-signature"),
        ("name-length", &normal, 29, "malformed"),
        ("masked-name", &normal, 30, "bad-signature"),
        ("proxy-binder", &proxy, 30 + name_len, "bad-signature"),
        ("proxy-relation", &proxy, 38 + name_len, "bad-signature"),
        ("signature-r", &normal, sig_at, "bad-signature"),
        ("signature-s", &normal, sig_at + 32, "bad-signature"),
    ];
    for (field, bytes, at, expect) in flips {
        let mut changed = bytes.to_vec();
        changed[at] ^= 0x01;
        cases.push(raw(&format!("flipped-{field}"), text_of(&changed), expect));
    }

    let mut malleated = normal.clone();
    malleate(&mut malleated[sig_at..]);
    cases.push(raw(
        "signature-s-plus-l",
        text_of(&malleated),
        "bad-signature",
    ));

    cases.push(raw(
        "truncated-last-byte",
        text_of(&normal[..normal.len() - 1]),
        "malformed",
    ));
    let text = text_of(&normal);
    cases.push(raw(
        "truncated-last-digit",
        text[..text.len() - 1].to_owned(),
        "malformed",
    ));
    let mut trailing = normal.clone();
    trailing.push(0);
    cases.push(raw("trailing-byte", text_of(&trailing), "malformed"));
    cases.push(raw("trailing-digit", format!("{text}0"), "malformed"));
    cases.push(raw(
        "wrong-prefix",
        format!("97{}", &text[2..]),
        "wrong-prefix",
    ));
    cases.push(raw(
        "national-28-digit-code",
        "4240000000000000000011000000".into(),
        "wrong-prefix",
    ));
    cases.push(raw(
        "wechat-payment-code",
        "134567890123456789".into(),
        "wrong-prefix",
    ));
    cases.push(raw("empty", String::new(), "wrong-prefix"));

    // A kind no version-1 verifier knows (3), properly signed over a kind-1 layout.
    let mut unknown = Vec::new();
    body(1, NOW - 10, false).encode(&mut unknown).expect("ok");
    unknown[1] = 3;
    let sig = SecretKey::from_seed(&seed(0x11)).sign(TOKEN_DOMAIN, &unknown);
    unknown.extend_from_slice(&sig);
    cases.push(raw("unknown-kind-3", text_of(&unknown), "unsupported-kind"));

    // A small-order (identity) public key in an otherwise valid root-signed bundle, and a
    // token "signed" under it (R = identity, S = 0 verifies under lax rules for any message).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let payload = good_bundle
        .payload_json()
        .replacen(
            "\"keys\":[",
            &format!(
                "\"keys\":[{{\"key_id\":9,\"public_key\":\"{}\",\"regions\":[],\"not_before\":0,\"not_after\":4000000000,\"status\":\"active\"}},",
                URL_SAFE_NO_PAD.encode(identity)
            ),
            1,
        );
    let weak_bundle = envelope_json(
        payload.as_bytes(),
        &root.sign(BUNDLE_DOMAIN, payload.as_bytes()),
    );
    let mut weak = Vec::new();
    body(9, NOW - 10, false).encode(&mut weak).expect("ok");
    weak.extend_from_slice(&identity);
    weak.extend_from_slice(&[0u8; 32]);
    let mut case = raw(
        "small-order-key-in-bundle",
        text_of(&weak),
        "bundle-weak-key",
    );
    case["bundle"] = json!(weak_bundle);
    cases.push(case);

    // A key encoded non-canonically (y + p in place of y: RFC 8032 §5.1.3 says invalid;
    // decoders that reduce y mod p accept it as another key's twin).
    let (noncanonical, torsion) = (noncanonical_key(), torsion_key(&root));
    for (name, key, expect) in [
        (
            "noncanonical-key-in-bundle",
            noncanonical,
            "bundle-noncanonical-key",
        ),
        ("torsion-key-in-bundle", torsion, "bundle-weak-key"),
    ] {
        let mut case = signed(name, &body(1, NOW - 10, false), 0x11, expect);
        case["bundle"] = json!(bundle_with_extra_key(&good_bundle, &root, &key));
        cases.push(case);
    }

    // A root-signed bundle whose sequence is 2^64 - 1: installing it would make every later
    // bundle a rollback, so a verifier refuses a step of more than 2^20 up from what it holds.
    let mut frozen = good_bundle.clone();
    frozen.sequence = u64::MAX;
    let mut case = signed(
        "sequence-jump-bundle",
        &body(1, NOW - 10, false),
        0x11,
        "bundle-sequence-jump",
    );
    case["bundle"] = json!(frozen.sign(&root));
    cases.push(case);

    // A masked name carrying a right-to-left override (U+202E), properly signed: the format
    // refuses Unicode format characters, so it is malformed whatever the signature says.
    let mut bidi = Vec::new();
    body(1, NOW - 10, false).encode(&mut bidi).expect("ok");
    let clean = "测*甲".as_bytes();
    let at = bidi
        .windows(clean.len())
        .position(|w| w == clean)
        .expect("masked name in the body");
    bidi[at..at + clean.len()].copy_from_slice("测\u{202E}*".as_bytes());
    let sig = SecretKey::from_seed(&seed(0x11)).sign(TOKEN_DOMAIN, &bidi);
    bidi.extend_from_slice(&sig);
    cases.push(raw(
        "bidi-override-in-masked-name",
        text_of(&bidi),
        "malformed",
    ));

    let mut case = signed(
        "stale-bundle",
        &body(1, NOW - 10, false),
        0x11,
        "stale-bundle",
    );
    case["bundle"] = json!(bundle(NOW - 1).sign(&root));
    cases.push(case);

    let mut case = signed(
        "bundle-from-another-root",
        &body(1, NOW - 10, false),
        0x11,
        "bundle-bad-signature",
    );
    case["bundle"] = json!(good_bundle.sign(&SecretKey::from_seed(&seed(0x53))));
    cases.push(case);

    cases.extend(device_cases::cases());

    let doc = json!({
        "description": "yibao token format v1 test vectors; see docs/token-format.md §9. Regenerate with `cargo run -p yibao-shared --example gen_vectors > shared/testdata/vectors.json`.",
        "now": NOW,
        "policy": {
            "leeway_secs": 30,
            "max_lifetime_secs": 180,
            "max_certificate_hours": 168,
            "max_status_age_secs": 259_200,
        },
        "device_scalar": device_cases::device_scalar_hex(),
        "status_list": device_cases::default_status_list(),
        "root_seed": hex(&seed(0x52)),
        "root_public_key": root.public_key().to_base64(),
        "bundle": good_bundle.sign(&root),
        "cases": cases,
        "status_list_sequences": device_cases::status_list_sequences(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("serialisable")
    );
}
