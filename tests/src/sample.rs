//! The reference token: synthetic person, fixed keys and time.

use yibao_shared::{
    Claims, FamilyProxy, Gender, InsuranceType, IssuerKey, KeyId, KeyStatus, MaskedName,
    RegionCode, Relation, SecretKey, TokenBody, TokenId, TokenKind, TrustBundle, UnixTime,
    VoucherId,
};

/// 2026-01-01T00:00:00Z.
pub const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);

/// The issuer key of the samples (id 1).
pub fn issuer_key() -> SecretKey {
    SecretKey::from_seed(&[0x11; 32])
}

/// The root key of the samples.
pub fn root_key() -> SecretKey {
    SecretKey::from_seed(&[0x52; 32])
}

/// A normal token body, or one shown by a family member.
pub fn body(proxy: bool) -> TokenBody {
    TokenBody {
        kind: TokenKind::IssuerSigned,
        key_id: KeyId(1),
        token_id: TokenId([0x7a, 1, 2, 3, 4, 5, 6, 7]),
        issued_at: NOW,
        lifetime_secs: 60,
        claims: Claims {
            voucher_id: VoucherId([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7]),
            region: RegionCode::from_number(110_105).unwrap_or_else(|| unreachable!()),
            insurance: InsuranceType::Resident,
            masked_name: MaskedName::parse("测*甲").unwrap_or_else(|| unreachable!()),
            gender: Gender::Male,
            birth_year: 1948,
            proxy: proxy.then_some(FamilyProxy {
                binder: VoucherId([0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]),
                relation: Relation::Child,
            }),
        },
    }
}

/// The bundle document trusting [`issuer_key`] as key 1, signed by [`root_key`].
pub fn bundle_document() -> String {
    TrustBundle {
        sequence: 1,
        issued_at: NOW,
        expires_at: NOW.saturating_add(7 * 86_400),
        keys: vec![IssuerKey {
            key_id: KeyId(1),
            public_key: issuer_key().public_key(),
            regions: vec![],
            not_before: NOW.saturating_sub(86_400),
            not_after: NOW.saturating_add(86_400),
            status: KeyStatus::Active,
        }],
    }
    .sign(&root_key())
}

/// The reference device key (P-256 scalar `[0x66; 32]`, synthetic).
pub fn device_key() -> yibao_shared::DeviceSecretKey {
    yibao_shared::DeviceSecretKey::from_bytes(&[0x66; 32]).unwrap_or_else(|_| unreachable!())
}

/// The reference device certificate (72 hours from [`NOW`]) for [`body`]'s claims, signed.
pub fn device_certificate(proxy: bool) -> Vec<u8> {
    yibao_shared::DeviceCertificate {
        key_id: KeyId(1),
        certificate_id: yibao_shared::CertificateId([0xce, 1, 2, 3, 4, 5, 6, 7]),
        issued_at: NOW,
        validity_hours: 72,
        claims: body(proxy).claims,
        device_key: device_key().public_key(),
    }
    .sign(&issuer_key())
    .unwrap_or_else(|_| unreachable!())
}

/// The reference device-bound code (kind 2) presented at `NOW + 60`.
pub fn device_code(proxy: bool) -> String {
    yibao_shared::present(
        &device_certificate(proxy),
        &yibao_shared::Presentation {
            presented_at: NOW.saturating_add(60),
            lifetime_secs: 60,
            nonce: 1,
        },
        &device_key(),
    )
    .unwrap_or_else(|_| unreachable!())
}
