//! Why a code is refused, precisely, with stable codes and words for a cashier.

use thiserror::Error;
use yibao_shared::{
    BundleError, CertificateId, DecodeError, KeyError, KeyId, RegionCode, StatusListError, TokenId,
    UnixTime,
};

/// Why a code (or the trust bundle needed to check it) was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The text is not a well-formed yibao code (including: not ours at all, a version or
    /// kind this verifier does not know).
    #[error("malformed code: {0}")]
    Malformed(#[from] DecodeError),
    /// No trust bundle has been installed.
    #[error("no trust bundle installed")]
    NoBundle,
    /// The trust bundle is past its expiry: sync before accepting codes.
    #[error("trust bundle expired at {expired_at} (now {now}): sync the bundle")]
    StaleBundle {
        /// The verifier's time.
        now: UnixTime,
        /// When the bundle expired.
        expired_at: UnixTime,
    },
    /// A bundle older than the one held was offered, or one with the held sequence but other
    /// content.
    #[error("trust bundle sequence {offered} does not follow the held sequence {held}")]
    BundleRollback {
        /// Sequence held.
        held: u64,
        /// Sequence offered.
        offered: u64,
    },
    /// The offered bundle's sequence is more than [`crate::MAX_SEQUENCE_STEP`] above the
    /// held one: refused, so a mistaken or hostile sequence near `u64::MAX` can never freeze
    /// a terminal (every later bundle would be a rollback).
    #[error("trust bundle sequence {offered} jumps too far ahead of the held sequence {held}")]
    BundleSequenceJump {
        /// Sequence held.
        held: u64,
        /// Sequence offered.
        offered: u64,
    },
    /// The offered trust bundle is invalid.
    #[error("trust bundle refused: {0}")]
    BundleInvalid(#[from] BundleError),
    /// The terminal's clock is behind the latest time it accepted a code at (by more than
    /// the outbox's tolerance): it was set back, and is not trusted until it is right.
    #[error("terminal clock {now} is behind the latest accepted time {high_water}: fix the clock")]
    ClockBehind {
        /// The terminal's time.
        now: UnixTime,
        /// The latest time a code was accepted at.
        high_water: UnixTime,
    },
    /// The key id is not in the trust bundle.
    #[error("unknown key id {key_id}")]
    UnknownKey {
        /// Key id from the code.
        key_id: KeyId,
    },
    /// The key was revoked.
    #[error("key {key_id} is revoked")]
    KeyRevoked {
        /// Key id from the code.
        key_id: KeyId,
    },
    /// The signature does not verify under the named key: forged or altered.
    #[error("bad signature under key {key_id}")]
    BadSignature {
        /// Key id from the code.
        key_id: KeyId,
    },
    /// The token was issued outside the key's validity window.
    #[error("key {key_id} is not valid at {issued_at} (valid {not_before}..={not_after})")]
    KeyNotValid {
        /// Key id from the code.
        key_id: KeyId,
        /// Issued-at from the code.
        issued_at: UnixTime,
        /// Key valid from.
        not_before: UnixTime,
        /// Key valid until.
        not_after: UnixTime,
    },
    /// The key may not sign for the code's insured region.
    #[error("key {key_id} may not sign for region {region}")]
    KeyOutOfScope {
        /// Key id from the code.
        key_id: KeyId,
        /// Insured region from the code.
        region: RegionCode,
    },
    /// The code claims a longer life than the policy accepts.
    #[error("lifetime {lifetime_secs}s exceeds the accepted {max_secs}s")]
    LifetimeTooLong {
        /// Claimed lifetime.
        lifetime_secs: u64,
        /// Policy maximum.
        max_secs: u64,
    },
    /// Issued in the future, beyond the clock-skew leeway.
    #[error("not valid until {issued_at} (now {now})")]
    NotYetValid {
        /// The verifier's time.
        now: UnixTime,
        /// Issued-at from the code.
        issued_at: UnixTime,
    },
    /// Expired, beyond the clock-skew leeway.
    #[error("expired at {expired_at} (now {now})")]
    Expired {
        /// The verifier's time.
        now: UnixTime,
        /// Issued-at plus lifetime.
        expired_at: UnixTime,
    },
    /// The issuer signature over a device certificate does not verify: forged or altered.
    #[error("bad device certificate signature under key {key_id}")]
    BadCertificateSignature {
        /// Key id from the certificate.
        key_id: KeyId,
    },
    /// The device signature does not verify under the certified device key: the code was
    /// not signed by the phone the certificate names (or was altered).
    #[error("bad device signature")]
    BadDeviceSignature,
    /// The certificate claims a longer validity than the policy accepts.
    #[error("certificate validity {hours} h exceeds the accepted {max_hours} h")]
    CertificateValidityTooLong {
        /// Claimed validity.
        hours: u64,
        /// Policy maximum.
        max_hours: u64,
    },
    /// The device certificate is not valid yet, beyond the leeway.
    #[error("device certificate not valid until {issued_at} (now {now})")]
    CertificateNotYetValid {
        /// The verifier's time.
        now: UnixTime,
        /// Certificate issued-at.
        issued_at: UnixTime,
    },
    /// The device certificate expired, beyond the leeway: the phone must go online once.
    #[error("device certificate expired at {expired_at} (now {now})")]
    CertificateExpired {
        /// The verifier's time.
        now: UnixTime,
        /// Certificate expiry.
        expired_at: UnixTime,
    },
    /// The phone dated the presentation outside its certificate's validity.
    #[error("presentation time {presented_at} lies outside the certificate's validity")]
    PresentationOutsideCertificate {
        /// Presentation time from the code.
        presented_at: UnixTime,
    },
    /// No status list is held: device-bound codes cannot be checked for revocation.
    #[error("no status list installed: sync when online")]
    NoStatusList,
    /// The held status list is older than the policy allows for device-bound codes.
    #[error("status list issued at {issued_at} is too old (now {now}): sync when online")]
    StaleStatusList {
        /// The verifier's time.
        now: UnixTime,
        /// When the issuer signed the held list.
        issued_at: UnixTime,
    },
    /// The device certificate was revoked (lost phone, suspended voucher, unbound family
    /// link, removed device).
    #[error("device certificate {certificate_id} revoked (listed by {revoked_at})")]
    CertificateRevoked {
        /// The certificate.
        certificate_id: CertificateId,
        /// When the issuer revoked it; for an entry of a complete list's compact part, which
        /// keeps no times, when that list was signed (it was revoked by then).
        revoked_at: UnixTime,
    },
    /// A status list document was refused (signature, key, shape).
    #[error("status list refused: {0}")]
    StatusListInvalid(#[from] StatusListError),
    /// A status list delta does not follow the held sequence, or is older than the held list.
    #[error("status list {since}..{sequence} does not follow the held sequence {held}")]
    StatusListOutOfOrder {
        /// Sequence held.
        held: u64,
        /// The delta's base.
        since: u64,
        /// The delta's sequence.
        sequence: u64,
    },
    /// A complete status list older than the one held, or one with the held sequence whose
    /// entries differ: replaying it would undo revocations (a lost phone's codes accepted
    /// again).
    #[error("status list {offered} refused: sequence {held} is held")]
    StatusListRollback {
        /// Sequence held.
        held: u64,
        /// Sequence offered.
        offered: u64,
    },
    /// This terminal already accepted this code.
    #[error("code {token_id} was already used at this terminal")]
    Replayed {
        /// Token id from the code.
        token_id: TokenId,
    },
}

impl Rejection {
    /// Stable kebab-case code for logs, JSON and tests. Never changes meaning.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(DecodeError::WrongPrefix) => "wrong-prefix",
            Self::Malformed(DecodeError::UnsupportedVersion(_)) => "unsupported-version",
            Self::Malformed(DecodeError::UnsupportedKind(_)) => "unsupported-kind",
            Self::Malformed(_) => "malformed",
            Self::NoBundle => "no-bundle",
            Self::StaleBundle { .. } => "stale-bundle",
            Self::BundleRollback { .. } => "bundle-rollback",
            Self::BundleSequenceJump { .. } => "bundle-sequence-jump",
            Self::BundleInvalid(BundleError::BadSignature) => "bundle-bad-signature",
            Self::BundleInvalid(BundleError::BadKey {
                reason: KeyError::Weak,
                ..
            }) => "bundle-weak-key",
            Self::BundleInvalid(BundleError::BadKey {
                reason: KeyError::NonCanonical,
                ..
            }) => "bundle-noncanonical-key",
            Self::BundleInvalid(_) => "bundle-invalid",
            Self::UnknownKey { .. } => "unknown-key",
            Self::KeyRevoked { .. } => "key-revoked",
            Self::BadSignature { .. } => "bad-signature",
            Self::KeyNotValid { .. } => "key-not-valid",
            Self::KeyOutOfScope { .. } => "key-out-of-scope",
            Self::LifetimeTooLong { .. } => "lifetime-too-long",
            Self::NotYetValid { .. } => "not-yet-valid",
            Self::Expired { .. } => "expired",
            Self::Replayed { .. } => "replayed",
            Self::ClockBehind { .. } => "clock-behind",
            Self::BadCertificateSignature { .. } => "bad-certificate-signature",
            Self::BadDeviceSignature => "bad-device-signature",
            Self::CertificateValidityTooLong { .. } => "certificate-validity-too-long",
            Self::CertificateNotYetValid { .. } => "certificate-not-yet-valid",
            Self::CertificateExpired { .. } => "certificate-expired",
            Self::PresentationOutsideCertificate { .. } => "presentation-outside-certificate",
            Self::NoStatusList => "no-status-list",
            Self::StaleStatusList { .. } => "status-list-stale",
            Self::CertificateRevoked { .. } => "certificate-revoked",
            Self::StatusListInvalid(StatusListError::BadSignature) => "status-list-bad-signature",
            Self::StatusListInvalid(_) => "status-list-invalid",
            Self::StatusListOutOfOrder { .. } => "status-list-out-of-order",
            Self::StatusListRollback { .. } => "status-list-rollback",
        }
    }

    /// What the cashier reads, in Chinese.
    pub fn reason_zh(&self) -> &'static str {
        match self {
            Self::Malformed(DecodeError::WrongPrefix) => "不是医保码（可能是支付码）",
            Self::Malformed(
                DecodeError::UnsupportedVersion(_) | DecodeError::UnsupportedKind(_),
            ) => "医保码版本不受支持，请升级终端",
            Self::Malformed(_) => "医保码无法识别，请重新扫码",
            Self::NoBundle => "终端未安装信任列表，请联网同步",
            Self::StaleBundle { .. } => "信任列表已过期，请联网同步",
            Self::BundleRollback { .. } => "信任列表版本回退，已拒绝",
            Self::BundleSequenceJump { .. } => "信任列表版本号跳跃过大，已拒绝",
            Self::BundleInvalid(_) => "信任列表无效，已拒绝",
            Self::UnknownKey { .. } => "签发密钥未知，请同步信任列表",
            Self::KeyRevoked { .. } => "签发密钥已吊销",
            Self::BadSignature { .. } => "签名无效，疑似伪造",
            Self::KeyNotValid { .. } => "签发密钥不在有效期内",
            Self::KeyOutOfScope { .. } => "签发密钥无权签发该参保地",
            Self::LifetimeTooLong { .. } => "医保码有效期过长，已拒绝",
            Self::NotYetValid { .. } => "医保码尚未生效，请检查终端时间",
            Self::Expired { .. } => "医保码已过期，请刷新后重新出示",
            Self::Replayed { .. } => "医保码已使用",
            Self::ClockBehind { .. } => "终端时间被调回，请校正时间后再扫码",
            Self::BadCertificateSignature { .. } => "离线码证书签名无效，疑似伪造",
            Self::BadDeviceSignature => "离线码签名无效，疑似伪造或非本机出示",
            Self::CertificateValidityTooLong { .. } => "离线码证书有效期过长，已拒绝",
            Self::CertificateNotYetValid { .. } => "离线码证书尚未生效，请检查终端时间",
            Self::CertificateExpired { .. } => "离线码证书已过期，请手机联网一次后再出示",
            Self::PresentationOutsideCertificate { .. } => {
                "离线码时间不在证书有效期内，请检查手机时间"
            }
            Self::NoStatusList => "终端未同步吊销列表，暂不能受理离线码，请联网同步",
            Self::StaleStatusList { .. } => "吊销列表已过期，暂不能受理离线码，请联网同步",
            Self::CertificateRevoked { .. } => "该手机的离线码已被吊销（挂失、停用或解绑）",
            Self::StatusListInvalid(_) => "吊销列表无效，已拒绝",
            Self::StatusListOutOfOrder { .. } => "吊销列表版本不连续，已拒绝",
            Self::StatusListRollback { .. } => "吊销列表版本回退，已拒绝",
        }
    }

    /// What the cashier reads, in English.
    pub fn reason_en(&self) -> &'static str {
        match self {
            Self::Malformed(DecodeError::WrongPrefix) => {
                "not a medical-insurance code (a payment code?)"
            }
            Self::Malformed(
                DecodeError::UnsupportedVersion(_) | DecodeError::UnsupportedKind(_),
            ) => "code version not supported: update the terminal",
            Self::Malformed(_) => "unreadable code: scan again",
            Self::NoBundle => "no trust bundle: sync when online",
            Self::StaleBundle { .. } => "trust bundle expired: sync when online",
            Self::BundleRollback { .. } => "trust bundle rollback refused",
            Self::BundleSequenceJump { .. } => "trust bundle sequence jumps too far: refused",
            Self::BundleInvalid(_) => "trust bundle invalid",
            Self::UnknownKey { .. } => "unknown issuer key: sync the trust bundle",
            Self::KeyRevoked { .. } => "issuer key revoked",
            Self::BadSignature { .. } => "invalid signature: possibly forged",
            Self::KeyNotValid { .. } => "issuer key not valid at issue time",
            Self::KeyOutOfScope { .. } => "issuer key not allowed for this region",
            Self::LifetimeTooLong { .. } => "code lifetime too long",
            Self::NotYetValid { .. } => "code not yet valid: check the terminal clock",
            Self::Expired { .. } => "code expired: refresh and show again",
            Self::Replayed { .. } => "code already used",
            Self::ClockBehind { .. } => "terminal clock was set back: fix the clock, then scan",
            Self::BadCertificateSignature { .. } => {
                "invalid device certificate signature: possibly forged"
            }
            Self::BadDeviceSignature => {
                "invalid device signature: forged or not the certified phone"
            }
            Self::CertificateValidityTooLong { .. } => "device certificate validity too long",
            Self::CertificateNotYetValid { .. } => {
                "device certificate not yet valid: check the terminal clock"
            }
            Self::CertificateExpired { .. } => {
                "device certificate expired: the phone must go online once"
            }
            Self::PresentationOutsideCertificate { .. } => {
                "code dated outside its certificate: check the phone clock"
            }
            Self::NoStatusList => "no status list: offline codes refused until synced",
            Self::StaleStatusList { .. } => {
                "status list too old: offline codes refused until synced"
            }
            Self::CertificateRevoked { .. } => {
                "this phone's offline codes were revoked (lost, suspended or unbound)"
            }
            Self::StatusListInvalid(_) => "status list invalid",
            Self::StatusListOutOfOrder { .. } => "status list out of order: refused",
            Self::StatusListRollback { .. } => "status list rollback refused",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_code_gets_its_own_code_and_words() {
        let r = Rejection::Malformed(DecodeError::WrongPrefix);
        assert_eq!(r.code(), "wrong-prefix");
        assert!(r.reason_zh().contains("支付码"));
    }
}
