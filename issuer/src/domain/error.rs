//! Every way a domain operation can refuse or fail, each with a stable code. No HTTP here:
//! the HTTP shell's `error` module maps each to a status.

use crate::id_number::IdNumberError;
use crate::store::StoreError;

/// Every way a domain operation can refuse or fail.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The ID number is malformed.
    #[error("{0}")]
    InvalidIdNumber(IdNumberError),
    /// Another field is out of range.
    #[error("invalid {0}")]
    InvalidField(&'static str),
    /// The channel's attestation lacks real-name or real-person verification.
    #[error("the channel must attest real-name and real-person verification")]
    AttestationIncomplete,
    /// No such person in the registry.
    #[error("no insured person with this ID number in the registry")]
    NotInRegistry,
    /// The name does not match the registry.
    #[error("name does not match the registry")]
    NameMismatch,
    /// The person is not currently insured.
    #[error("the person is not currently insured")]
    NotInsured,
    /// The channel may not serve the person's region.
    #[error("this channel may not serve the person's insured region")]
    RegionNotAllowed,
    /// The voucher is suspended.
    #[error("the voucher is suspended")]
    VoucherSuspended,
    /// The person has no voucher.
    #[error("no activated voucher")]
    NoVoucher,
    /// Missing or wrong credential.
    #[error("missing or invalid credential")]
    Unauthorized,
    /// The holder credential was revoked.
    #[error("credential revoked")]
    CredentialRevoked,
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The binder already has the maximum number of family members.
    #[error("at most 5 family members: unbind one first")]
    FamilyLimitReached,
    /// The owner's personal account already pays for the most members allowed.
    #[error("a personal account may pay for at most 8 members: end one first")]
    AccountShareLimitReached,
    /// Only an employee-insured person has a personal account to share.
    #[error("only employee medical insurance (职工医保) has a personal account to share")]
    AccountShareNeedsEmployee,
    /// A mutual-aid part names a payer who had not authorised the member when the code was
    /// verified.
    #[error("no 家庭共济 authorisation from this payer was active when the code was verified")]
    MutualAidNotAuthorised,
    /// The person information window of this settlement has passed.
    #[error("person information is answered within 24 hours of the handoff")]
    PersonInfoWindowClosed,
    /// The settling institution has read this visit's identity the most times allowed.
    #[error("this visit's person information was read 20 times already")]
    IdentityReadsExhausted,
    /// The registry holds no sealed identity for this person (imported before it did).
    #[error("the registry holds no identity for this person yet: the operator re-imports it")]
    IdentityNotOnRecord,
    /// The person is already a member (active or pending).
    #[error("already bound or awaiting consent")]
    AlreadyBound,
    /// The caller may not act for this voucher.
    #[error("not bound to this person")]
    NotBound,
    /// A person cannot bind themselves.
    #[error("cannot add yourself as a family member")]
    CannotBindSelf,
    /// An attestation was sent without the attesting channel's own key.
    #[error("attestations count only when the channel signs in with X-Channel-Key")]
    AttestationNotAuthenticated,
    /// A member under 16 cannot approve; a registered guardian must.
    #[error("a member under 16 cannot approve: a registered guardian must")]
    GuardianApprovalRequired,
    /// The request is no longer pending (approved, rejected, expired or unbound).
    #[error("no pending request to decide")]
    NotPending,
    /// The terminal's institution does not (or no longer) accept the voucher.
    #[error("this institution is not designated to accept the voucher")]
    InstitutionNotDesignated,
    /// A handoff or decode names another institution than the terminal's.
    #[error("the institution does not match the terminal's")]
    InstitutionMismatch,
    /// Not one of the national business-type codes.
    #[error("unknown business type: expected a national 5-digit code such as 01301 or 02121")]
    InvalidBusinessType,
    /// No settlement with this reference at the caller's institution.
    #[error("no settlement with this reference at this institution")]
    SettlementNotFound,
    /// The settlement was already completed with other amounts.
    #[error("the settlement is already completed with other amounts")]
    SettlementCompleted,
    /// Fund, account and cash do not add up to the total (or the total is implausible).
    #[error("fund_fen + account_fen + cash_fen must equal total_fen")]
    AmountsInconsistent,
    /// The holder already registered the most devices allowed.
    #[error("at most 5 devices: remove one first")]
    DeviceLimitReached,
    /// The device public key is not a P-256 point (SEC1, 33 or 65 bytes, base64url).
    #[error("device public_key is not a P-256 point (SEC1 compressed or uncompressed, base64url)")]
    InvalidDeviceKey,
    /// The proof of possession does not verify, or is not recent.
    #[error(
        "device proof does not verify with the device key, or signed_at is not within 5 minutes of now"
    )]
    DeviceProofInvalid,
    /// A concurrent change won; retry.
    #[error("changed concurrently, retry")]
    Conflict,
    /// Too many requests for this caller; retry after this many seconds.
    #[error("rate limit exceeded, retry later")]
    RateLimited(u64),
    /// A dependency (the store) is unreachable.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// Anything else: a bug or a fault. The cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    /// The stable kebab-case code (what an HTTP answer and a handoff result carry).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidIdNumber(IdNumberError::CheckDigit) => "id-number-check-digit",
            Self::InvalidIdNumber(_) => "invalid-id-number",
            Self::InvalidField(_) => "invalid-field",
            Self::AttestationIncomplete => "attestation-incomplete",
            Self::NotInRegistry => "not-in-registry",
            Self::NameMismatch => "name-mismatch",
            Self::NotInsured => "not-insured",
            Self::RegionNotAllowed => "region-not-allowed",
            Self::VoucherSuspended => "voucher-suspended",
            Self::NoVoucher => "no-voucher",
            Self::Unauthorized => "unauthorized",
            Self::CredentialRevoked => "credential-revoked",
            Self::NotFound => "not-found",
            Self::FamilyLimitReached => "family-limit-reached",
            Self::AccountShareLimitReached => "account-share-limit-reached",
            Self::AccountShareNeedsEmployee => "account-share-needs-employee",
            Self::MutualAidNotAuthorised => "mutual-aid-not-authorised",
            Self::PersonInfoWindowClosed => "person-info-window-closed",
            Self::IdentityNotOnRecord => "identity-not-on-record",
            Self::IdentityReadsExhausted => "identity-reads-exhausted",
            Self::AlreadyBound => "already-bound",
            Self::NotBound => "not-bound",
            Self::CannotBindSelf => "cannot-bind-self",
            Self::AttestationNotAuthenticated => "attestation-not-authenticated",
            Self::GuardianApprovalRequired => "guardian-approval-required",
            Self::NotPending => "not-pending",
            Self::InstitutionNotDesignated => "institution-not-designated",
            Self::InstitutionMismatch => "institution-mismatch",
            Self::InvalidBusinessType => "invalid-business-type",
            Self::SettlementNotFound => "settlement-not-found",
            Self::SettlementCompleted => "settlement-completed",
            Self::AmountsInconsistent => "amounts-inconsistent",
            Self::DeviceLimitReached => "device-limit-reached",
            Self::InvalidDeviceKey => "invalid-device-key",
            Self::DeviceProofInvalid => "device-proof-invalid",
            Self::Conflict => "conflict",
            Self::RateLimited(_) => "rate-limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}
