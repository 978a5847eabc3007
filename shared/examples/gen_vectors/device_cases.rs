//! Device-bound (kind 2) cases and the status lists they are checked with
//! (`docs/token-format.md` §8, §10). Expected verdicts follow from how each case is built.

use serde_json::{Value, json};
use yibao_shared::*;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{DAY, NOW, hex, seed, text_of, to_bytes};

/// The phone's P-256 scalar in every case (synthetic).
const DEVICE_SCALAR: u8 = 0x66;
/// The revoked certificate the default status list names: numbered (below 2^40), so it is
/// in the list's compact part.
const REVOKED: CertificateId = CertificateId([0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9a]);
/// A revoked certificate from before numbering: a plain entry of the default list.
const REVOKED_UNNUMBERED: CertificateId = CertificateId([0xde, 0xad, 0, 0, 0, 0, 0, 0x01]);
const HOUR: u64 = 3_600;

fn device() -> DeviceSecretKey {
    DeviceSecretKey::from_bytes(&[DEVICE_SCALAR; 32]).expect("valid scalar")
}

fn certificate(key_id: u16, issued_at: u64, proxy: bool) -> DeviceCertificate {
    let mut claims = super::body(1, NOW, proxy).claims;
    claims.region = RegionCode::parse("110105").expect("valid");
    DeviceCertificate {
        key_id: KeyId(key_id),
        certificate_id: CertificateId([0xce, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]),
        issued_at: UnixTime::from_secs(issued_at),
        validity_hours: 72,
        claims,
        device_key: device().public_key(),
    }
}

fn presentation(at: u64) -> Presentation {
    Presentation {
        presented_at: UnixTime::from_secs(at),
        lifetime_secs: 60,
        nonce: 0x0102,
    }
}

/// A device code: the certificate signed by `issuer_seed`, the presentation by `phone`.
fn code_with(
    cert: &DeviceCertificate,
    issuer_seed: u8,
    p: &Presentation,
    phone: &DeviceSecretKey,
) -> String {
    let signed = cert
        .sign(&SecretKey::from_seed(&seed(issuer_seed)))
        .expect("encodable");
    present(&signed, p, phone).expect("encodable")
}

fn case(name: &str, code: String, expect: &str) -> Value {
    json!({ "name": name, "code": code, "expect": expect })
}

/// The default status list: complete, signed by key 1 ten minutes ago, naming [`REVOKED`].
/// Documents are binary: vectors carry them as base64url.
pub(crate) fn status_list(issued_at: u64, signer_seed: u8) -> String {
    let revoked = |certificate_id| RevokedCertificate {
        certificate_id,
        expires_at: UnixTime::from_secs(NOW + 2 * DAY),
        revoked_at: UnixTime::from_secs(NOW - HOUR),
    };
    // Numbered neighbours around REVOKED, so the compact part has gaps to decode.
    let mut entries: Vec<_> = (1..=300u64)
        .map(|i| revoked(CertificateId((0x12_3456_0000u64 + i * 977).to_be_bytes())))
        .collect();
    entries.extend([revoked(REVOKED), revoked(REVOKED_UNNUMBERED)]);
    let list = StatusList::complete(KeyId(1), 3, UnixTime::from_secs(issued_at), entries);
    URL_SAFE_NO_PAD.encode(list.sign(&SecretKey::from_seed(&seed(signer_seed))))
}

pub(crate) fn default_status_list() -> String {
    status_list(NOW - 600, 0x11)
}

pub(crate) fn device_scalar_hex() -> String {
    hex(&[DEVICE_SCALAR; 32])
}

#[allow(clippy::vec_init_then_push)] // grouped pushes read as the list of cases
pub(crate) fn cases() -> Vec<Value> {
    let phone = device();
    let good = |c: &DeviceCertificate, at: u64| code_with(c, 0x11, &presentation(at), &phone);
    let mut cases = Vec::new();

    let valid = certificate(1, NOW - DAY, false);
    cases.push(case(
        "device-valid-normal",
        good(&valid, NOW - 10),
        "accept",
    ));
    cases.push(case(
        "device-valid-family-proxy",
        good(&certificate(1, NOW - DAY, true), NOW - 10),
        "accept",
    ));
    cases.push(case(
        "device-valid-certificate-expired-within-leeway",
        good(&certificate(1, NOW - 72 * HOUR - 20, false), NOW - 30),
        "accept",
    ));

    // Refused by policy, though properly signed.
    cases.push(case(
        "device-certificate-expired",
        good(&certificate(1, NOW - 80 * HOUR, false), NOW - 10),
        "certificate-expired",
    ));
    cases.push(case(
        "device-certificate-not-yet-valid",
        good(&certificate(1, NOW + HOUR, false), NOW + HOUR),
        "certificate-not-yet-valid",
    ));
    let mut long = certificate(1, NOW - DAY, false);
    long.validity_hours = 200;
    cases.push(case(
        "device-certificate-validity-too-long",
        good(&long, NOW - 10),
        "certificate-validity-too-long",
    ));
    // The leeway applies at the certificate's start: a phone a few seconds behind the
    // issuer's clock stamps its first codes just before the certificate it was given.
    cases.push(case(
        "device-presentation-seconds-before-certificate",
        good(&certificate(1, NOW - 10, false), NOW - 14),
        "accept",
    ));
    cases.push(case(
        "device-presentation-before-certificate",
        good(&certificate(1, NOW - 10, false), NOW - 50),
        "presentation-outside-certificate",
    ));
    cases.push(case(
        "device-presentation-expired",
        good(&valid, NOW - 200),
        "expired",
    ));
    cases.push(case(
        "device-presentation-not-yet-valid",
        good(&valid, NOW + 120),
        "not-yet-valid",
    ));
    let mut long_lived = presentation(NOW - 10);
    long_lived.lifetime_secs = 240;
    cases.push(case(
        "device-presentation-lifetime-too-long",
        code_with(&valid, 0x11, &long_lived, &phone),
        "lifetime-too-long",
    ));
    cases.push(case(
        "device-revoked-key",
        code_with(
            &certificate(3, NOW - DAY, false),
            0x33,
            &presentation(NOW - 10),
            &phone,
        ),
        "key-revoked",
    ));
    cases.push(case(
        "device-key-out-of-region-scope",
        code_with(
            &certificate(2, NOW - DAY, false),
            0x22,
            &presentation(NOW - 10),
            &phone,
        ),
        "key-out-of-scope",
    ));
    cases.push(case(
        "device-key-validity-ended",
        code_with(
            &certificate(5, NOW - 12 * HOUR, false),
            0x55,
            &presentation(NOW - 10),
            &phone,
        ),
        "key-not-valid",
    ));
    let mut revoked = certificate(1, NOW - DAY, false);
    revoked.certificate_id = REVOKED;
    cases.push(case(
        "device-certificate-revoked",
        good(&revoked, NOW - 10),
        "certificate-revoked",
    ));
    revoked.certificate_id = REVOKED_UNNUMBERED;
    cases.push(case(
        "device-certificate-revoked-before-numbering",
        good(&revoked, NOW - 10),
        "certificate-revoked",
    ));
    revoked.certificate_id = CertificateId([0, 0, 0, 0x12, 0x34, 0x56, 0x78, 0x9b]);
    cases.push(case(
        "device-certificate-next-to-a-revoked-one",
        good(&revoked, NOW - 10),
        "accept",
    ));

    // Forgeries.
    cases.push(case(
        "device-certificate-wrong-issuer-key",
        code_with(&valid, 0x99, &presentation(NOW - 10), &phone),
        "bad-certificate-signature",
    ));
    let thief = DeviceSecretKey::from_bytes(&[0x67; 32]).expect("valid scalar");
    cases.push(case(
        "device-signed-by-another-phone",
        code_with(&valid, 0x11, &presentation(NOW - 10), &thief),
        "bad-device-signature",
    ));
    let bytes = to_bytes(&good(&valid, NOW - 10));
    let name_len = usize::from(bytes[29]);
    let key_at = 30 + name_len;
    let presentation_at = key_at + 33 + 64;
    let flips: [(&str, usize, &str); 9] = [
        ("certificate-id", 12, "bad-certificate-signature"),
        ("certificate-issued-at", 20, "bad-certificate-signature"),
        ("validity", 24, "bad-certificate-signature"),
        // 02 <-> 03 names the other point with the same x: a valid key, not the certified one.
        ("device-key-parity", key_at, "bad-certificate-signature"),
        ("issuer-signature", key_at + 33, "bad-certificate-signature"),
        ("presented-at", presentation_at, "bad-device-signature"),
        ("nonce", presentation_at + 5, "bad-device-signature"),
        (
            "device-signature-r",
            presentation_at + 7,
            "bad-device-signature",
        ),
        (
            "device-signature-s",
            presentation_at + 7 + 32,
            "bad-device-signature",
        ),
    ];
    for (field, at, expect) in flips {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        cases.push(case(
            &format!("device-flipped-{field}"),
            text_of(&changed),
            expect,
        ));
    }
    cases.push(case(
        "device-truncated-last-byte",
        text_of(&bytes[..bytes.len() - 1]),
        "malformed",
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    cases.push(case(
        "device-trailing-byte",
        text_of(&trailing),
        "malformed",
    ));
    // SEC1 tag 05 (the "compact" form some decoders take) on the device key: §8.1 allows
    // 02 and 03 only.
    let compressed = device().public_key().to_compressed();
    let at = bytes
        .windows(compressed.len())
        .position(|w| w == compressed)
        .expect("device key in the certificate");
    let mut compact = bytes.clone();
    compact[at] = 0x05;
    cases.push(case(
        "device-key-sec1-tag-05",
        text_of(&compact),
        "malformed",
    ));
    let mut zero_validity = bytes.clone();
    zero_validity[24] = 0;
    cases.push(case(
        "device-zero-validity",
        text_of(&zero_validity),
        "malformed",
    ));

    // The status list: none held, too old, forged.
    let mut none = case(
        "device-no-status-list",
        good(&valid, NOW - 10),
        "no-status-list",
    );
    none["status_list"] = Value::Null;
    cases.push(none);
    let mut stale = case(
        "device-stale-status-list",
        good(&valid, NOW - 10),
        "status-list-stale",
    );
    stale["status_list"] = json!(status_list(NOW - 73 * HOUR, 0x11));
    cases.push(stale);
    let mut forged = case(
        "device-forged-status-list",
        good(&revoked, NOW - 10),
        "status-list-bad-signature",
    );
    forged["status_list"] = json!(status_list(NOW - 600, 0x99));
    cases.push(forged);
    // A stale status list does not touch kind 1.
    let mut kind1 = super::signed(
        "valid-normal-with-stale-status-list",
        &super::body(1, NOW - 10, false),
        0x11,
        "accept",
    );
    kind1["status_list"] = json!(status_list(NOW - 73 * HOUR, 0x11));
    cases.push(kind1);
    cases
}

/// A complete status list of `sequence` naming `revoked` (last bytes of the ids).
fn complete_list(sequence: u64, issued_at: u64, revoked: &[u8]) -> String {
    let entries = revoked
        .iter()
        .map(|last| RevokedCertificate {
            certificate_id: CertificateId([0, 0, 0, 0, 0, 0, 0x01, *last]),
            expires_at: UnixTime::from_secs(NOW + 2 * DAY),
            revoked_at: UnixTime::from_secs(NOW - HOUR),
        })
        .collect();
    let list = StatusList::complete(KeyId(1), sequence, UnixTime::from_secs(issued_at), entries);
    URL_SAFE_NO_PAD.encode(list.sign(&SecretKey::from_seed(&seed(0x11))))
}

/// A held status list, then one offered after it: what a verifier must do with the second
/// (`docs/token-format.md` §10). Replaying an older complete list would undo revocations.
pub(crate) fn status_list_sequences() -> Vec<Value> {
    let held = complete_list(5, NOW - 600, &[1, 2]);
    let sequence = |name: &str, offered: String, expect: &str| json!({ "name": name, "held": held, "offered": offered, "expect": expect });
    vec![
        sequence(
            "status-list-newer-complete",
            complete_list(6, NOW - 300, &[1, 2, 3]),
            "accept",
        ),
        sequence(
            "status-list-same-list-re-signed",
            complete_list(5, NOW - 300, &[2, 1]),
            "accept",
        ),
        sequence(
            "status-list-older-complete",
            complete_list(4, NOW - 300, &[1]),
            "status-list-rollback",
        ),
        sequence(
            "status-list-same-sequence-other-entries",
            complete_list(5, NOW - 300, &[1]),
            "status-list-rollback",
        ),
        sequence(
            "status-list-issued-before-held",
            complete_list(6, NOW - 900, &[1, 2]),
            "status-list-out-of-order",
        ),
    ]
}
