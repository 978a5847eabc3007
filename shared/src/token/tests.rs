use proptest::prelude::*;
use qrcode::{EcLevel, QrCode, Version};

use super::*;
use crate::claims::{
    Claims, FamilyProxy, Gender, InsuranceType, MaskedName, RegionCode, Relation, TokenId,
    VoucherId,
};
use crate::error::EncodeError;
use crate::key::SecretKey;
use crate::time::UnixTime;

pub(super) fn body(proxy: bool) -> TokenBody {
    TokenBody {
        kind: TokenKind::IssuerSigned,
        key_id: KeyId(1),
        token_id: TokenId([0x11; 8]),
        issued_at: UnixTime::from_secs(1_767_225_600),
        lifetime_secs: 60,
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
    }
}

fn key() -> SecretKey {
    SecretKey::from_seed(&[5; 32])
}

pub(super) fn qr_version(text: &str) -> i16 {
    match QrCode::with_error_correction_level(text, EcLevel::M)
        .expect("fits in a QR code")
        .version()
    {
        Version::Normal(v) => v,
        Version::Micro(v) => v,
    }
}

#[test]
fn signed_token_parses_back_to_the_same_body() {
    for proxy in [false, true] {
        let code = body(proxy).sign(&key()).expect("encodable");
        let parsed = UntrustedToken::parse(&code).expect("parses");
        assert_eq!(parsed.unverified_body(), &body(proxy));
        assert_eq!(parsed.verify_signature(&key().public_key()), Ok(()));
    }
}

#[test]
fn scanner_line_endings_are_ignored() {
    let code = body(false).sign(&key()).expect("encodable");
    assert!(UntrustedToken::parse(&format!("{code}\r\n")).is_ok());
}

#[test]
fn normal_token_fits_qr_version_6_and_proxy_token_version_7_at_level_m() {
    let normal = body(false).sign(&key()).expect("encodable");
    assert!(
        qr_version(&normal) <= 6,
        "normal token needs QR v{}",
        qr_version(&normal)
    );
    let proxy = body(true).sign(&key()).expect("encodable");
    assert!(
        qr_version(&proxy) <= 7,
        "proxy token needs QR v{}",
        qr_version(&proxy)
    );
}

#[test]
fn a_compound_surname_still_fits_version_6() {
    let mut b = body(false);
    b.claims.masked_name = MaskedName::parse("欧阳*娜").expect("masked");
    let code = b.sign(&key()).expect("encodable");
    assert!(qr_version(&code) <= 6, "needs QR v{}", qr_version(&code));
}

#[test]
fn an_unknown_kind_is_refused() {
    let mut bytes = Vec::new();
    body(false).encode(&mut bytes).expect("encodable");
    bytes[1] = 3;
    bytes.extend_from_slice(&[0; 64]);
    assert_eq!(
        UntrustedToken::from_bytes(&bytes),
        Err(DecodeError::UnsupportedKind(3))
    );
}

#[test]
fn a_kind_1_body_marked_kind_2_is_malformed() {
    let mut bytes = Vec::new();
    body(false).encode(&mut bytes).expect("encodable");
    bytes[1] = 2;
    bytes.extend_from_slice(&[0; 64]);
    assert!(matches!(
        UntrustedToken::from_bytes(&bytes),
        Err(DecodeError::Truncated { .. } | DecodeError::InvalidField { .. })
    ));
}

#[test]
fn out_of_range_claims_are_refused_when_signing() {
    let mut b = body(false);
    b.claims.birth_year = 1899;
    assert_eq!(
        b.sign(&key()),
        Err(EncodeError::OutOfRange {
            field: "birth_year"
        })
    );
    let mut b = body(false);
    b.issued_at = UnixTime::from_secs(1 << 32);
    assert_eq!(
        b.sign(&key()),
        Err(EncodeError::OutOfRange { field: "issued_at" })
    );
}

#[test]
fn wrong_prefix_and_overlong_text_are_refused_early() {
    assert_eq!(
        UntrustedToken::parse("4240000000000000000000000000"),
        Err(DecodeError::WrongPrefix)
    );
    assert_eq!(
        UntrustedToken::parse(&"9".repeat(MAX_TEXT_LEN + 1)),
        Err(DecodeError::TooLong)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_text_never_panics_and_never_verifies(text in "96[0-9]{0,300}|\\PC{0,300}") {
        if let Ok(token) = UntrustedToken::parse(&text) {
            prop_assert!(token.verify_signature(&key().public_key()).is_err());
        }
    }

    #[test]
    fn random_bytes_never_panic_and_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(token) = UntrustedToken::from_bytes(&bytes) {
            prop_assert!(token.verify_signature(&key().public_key()).is_err());
        }
    }

    #[test]
    fn any_byte_change_of_a_valid_token_is_never_accepted(
        proxy in any::<bool>(),
        index in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let code = body(proxy).sign(&key()).expect("encodable");
        let mut bytes = codec::decode_digits(&code[codec::PREFIX.len()..]).expect("digits");
        let at = index.index(bytes.len());
        bytes[at] ^= xor;
        if let Ok(token) = UntrustedToken::from_bytes(&bytes) {
            prop_assert!(token.verify_signature(&key().public_key()).is_err());
        }
    }

    #[test]
    fn any_digit_edit_of_a_valid_code_is_never_accepted(
        index in any::<prop::sample::Index>(),
        digit in 0u8..10,
        insert in any::<bool>(),
    ) {
        let code = body(false).sign(&key()).expect("encodable");
        let mut chars: Vec<u8> = code.into_bytes();
        let at = index.index(chars.len());
        if insert {
            chars.insert(at, b'0' + digit);
        } else if chars[at] == b'0' + digit {
            chars.remove(at);
        } else {
            chars[at] = b'0' + digit;
        }
        let text = String::from_utf8(chars).expect("ascii");
        if let Ok(token) = UntrustedToken::parse(&text) {
            prop_assert!(token.verify_signature(&key().public_key()).is_err());
        }
    }
}
