use proptest::prelude::*;

use super::tests::qr_version;
use super::*;
use crate::claims::{
    CertificateId, Claims, FamilyProxy, Gender, InsuranceType, MaskedName, RegionCode, Relation,
    VoucherId,
};
use crate::key::SecretKey;
use crate::time::UnixTime;
use crate::token::device::{DeviceCertificate, DeviceSecretKey, Presentation, present};

const NOW: u64 = 1_767_225_600;

fn issuer() -> SecretKey {
    SecretKey::from_seed(&[5; 32])
}

fn phone() -> DeviceSecretKey {
    DeviceSecretKey::from_bytes(&[0x42; 32]).expect("a valid scalar")
}

fn certificate(proxy: bool) -> DeviceCertificate {
    DeviceCertificate {
        key_id: KeyId(1),
        certificate_id: CertificateId([0x44; 8]),
        issued_at: UnixTime::from_secs(NOW),
        validity_hours: 72,
        claims: Claims {
            voucher_id: VoucherId([0x22; 8]),
            region: RegionCode::parse("110105").expect("valid region"),
            insurance: InsuranceType::Resident,
            masked_name: MaskedName::mask("测试甲").expect("maskable"),
            gender: Gender::Male,
            birth_year: 1948,
            proxy: proxy.then_some(FamilyProxy {
                binder: VoucherId([0x33; 8]),
                relation: Relation::Child,
            }),
        },
        device_key: phone().public_key(),
    }
}

fn presentation(nonce: u16) -> Presentation {
    Presentation {
        presented_at: UnixTime::from_secs(NOW + 3_600),
        lifetime_secs: 60,
        nonce,
    }
}

fn code(proxy: bool, nonce: u16) -> String {
    let cert = certificate(proxy).sign(&issuer()).expect("encodable");
    present(&cert, &presentation(nonce), &phone()).expect("encodable")
}

#[test]
fn a_device_code_parses_to_its_certificate_and_presentation() {
    for proxy in [false, true] {
        let token = UntrustedToken::parse(&code(proxy, 7)).expect("parses");
        assert_eq!(token.kind(), TokenKind::DeviceBound);
        let parts = token.device().expect("device parts");
        assert_eq!(parts.certificate(), &certificate(proxy));
        assert_eq!(parts.presentation(), &presentation(7));
        let body = token.unverified_body();
        assert_eq!(body.claims, certificate(proxy).claims);
        assert_eq!(body.issued_at, presentation(7).presented_at);
        assert_eq!(token.verify_signature(&issuer().public_key()), Ok(()));
        assert_eq!(token.verify_device_signature(), Ok(()));
    }
}

#[test]
fn each_presentation_has_its_own_token_id() {
    let a = UntrustedToken::parse(&code(false, 1)).expect("parses");
    let b = UntrustedToken::parse(&code(false, 2)).expect("parses");
    assert_ne!(a.unverified_body().token_id, b.unverified_body().token_id);
    let again = UntrustedToken::parse(&code(false, 1)).expect("parses");
    assert_eq!(
        a.unverified_body().token_id,
        again.unverified_body().token_id
    );
}

#[test]
fn another_phone_cannot_present_a_certificate() {
    let cert = certificate(false).sign(&issuer()).expect("encodable");
    let thief = DeviceSecretKey::from_bytes(&[0x43; 32]).expect("valid");
    let text = present(&cert, &presentation(1), &thief).expect("encodable");
    let token = UntrustedToken::parse(&text).expect("parses");
    assert_eq!(token.verify_signature(&issuer().public_key()), Ok(()));
    assert!(token.verify_device_signature().is_err());
}

#[test]
fn a_kind_1_code_has_no_device_signature() {
    let token = UntrustedToken::parse(&super::tests::body(false).sign(&issuer()).expect("ok"))
        .expect("parses");
    assert!(token.device().is_none());
    assert!(token.verify_device_signature().is_err());
}

#[test]
fn device_code_fits_qr_version_10_and_proxy_version_11_at_level_m() {
    let normal = code(false, 1);
    assert!(
        qr_version(&normal) <= 10,
        "device code needs QR v{}",
        qr_version(&normal)
    );
    let proxy = code(true, 1);
    assert!(
        qr_version(&proxy) <= 11,
        "proxy device code needs QR v{}",
        qr_version(&proxy)
    );
}

#[test]
fn the_longest_device_code_stays_under_the_text_limit() {
    let mut cert = certificate(true);
    cert.claims.masked_name = MaskedName::parse("Abcdefghijklmn*z").expect("16 bytes");
    let signed = cert.sign(&issuer()).expect("encodable");
    let text = present(&signed, &presentation(1), &phone()).expect("encodable");
    assert!(text.len() <= MAX_TEXT_LEN, "{} characters", text.len());
    assert!(UntrustedToken::parse(&text).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn any_byte_change_of_a_device_code_is_never_accepted(
        proxy in any::<bool>(),
        index in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let text = code(proxy, 9);
        let mut bytes = crate::codec::decode_digits(&text[2..]).expect("digits");
        let at = index.index(bytes.len());
        bytes[at] ^= xor;
        if let Ok(token) = UntrustedToken::from_bytes(&bytes) {
            let issuer_ok = token.verify_signature(&issuer().public_key()).is_ok();
            let device_ok = token.verify_device_signature().is_ok();
            // The key id selects the key; a changed key id fails the lookup in a verifier.
            prop_assert!(!(issuer_ok && device_ok && token.key_id() == KeyId(1)));
        }
    }
}
