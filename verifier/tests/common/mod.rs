//! Fixtures shared by the verifier's integration tests: fixed root and issuer keys, a
//! bundle, codes of one synthetic person.

#![allow(dead_code)]

use yibao_shared::*;

pub const NOW: u64 = 1_767_225_600;

pub fn root() -> SecretKey {
    SecretKey::from_seed(&[0x52; 32])
}

pub fn issuer() -> SecretKey {
    SecretKey::from_seed(&[0x11; 32])
}

pub fn bundle(sequence: u64, expires_at: u64, status: KeyStatus) -> String {
    TrustBundle {
        sequence,
        issued_at: UnixTime::from_secs(NOW - 60),
        expires_at: UnixTime::from_secs(expires_at),
        keys: vec![IssuerKey {
            key_id: KeyId(1),
            public_key: issuer().public_key(),
            regions: vec![],
            not_before: UnixTime::from_secs(NOW - 86_400),
            not_after: UnixTime::from_secs(NOW + 86_400),
            status,
        }],
    }
    .sign(&root())
}

pub fn code(token_byte: u8, issued_at: u64) -> String {
    TokenBody {
        kind: TokenKind::IssuerSigned,
        key_id: KeyId(1),
        token_id: TokenId([token_byte; 8]),
        issued_at: UnixTime::from_secs(issued_at),
        lifetime_secs: 60,
        claims: Claims {
            voucher_id: VoucherId([1; 8]),
            region: RegionCode::parse("440305").expect("valid"),
            insurance: InsuranceType::Employee,
            masked_name: MaskedName::mask("测试丙").expect("valid"),
            gender: Gender::Female,
            birth_year: 1985,
            proxy: None,
        },
    }
    .sign(&issuer())
    .expect("encodable")
}

pub fn at(secs: u64) -> UnixTime {
    UnixTime::from_secs(secs)
}
