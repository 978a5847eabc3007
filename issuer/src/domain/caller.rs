//! Who is asking, as the domain sees it: an authenticated holder (their credential, voucher
//! and registry entry) or an authenticated terminal and its institution. The HTTP shell
//! builds them from credentials (its `auth` module); the domain only reads them.

use crate::domain::error::DomainError;
use crate::model::{HolderCredential, Institution, Person, Terminal, Voucher, VoucherStatus};

/// An authenticated holder with a live credential, its voucher and the voucher owner's
/// registry entry (rate-limited per credential). A suspended voucher still authenticates, so
/// the holder can be told why.
#[derive(Debug)]
pub struct Holder {
    /// The credential used.
    pub credential: HolderCredential,
    /// Its voucher.
    pub voucher: Voucher,
    /// The voucher owner in the registry.
    pub person: Person,
    /// The registered device whose key opened this session, when the caller signed in with
    /// its device key (the phone's login) rather than a holder credential.
    pub device: Option<String>,
}

impl Holder {
    /// The voucher, if it may be used.
    ///
    /// # Errors
    ///
    /// [`DomainError::VoucherSuspended`].
    pub fn active_voucher(&self) -> Result<&Voucher, DomainError> {
        match self.voucher.status {
            VoucherStatus::Active => Ok(&self.voucher),
            VoucherStatus::Suspended => Err(DomainError::VoucherSuspended),
        }
    }
}

/// An authenticated terminal and its institution.
#[derive(Clone, Debug)]
pub struct TerminalCaller {
    /// The terminal.
    pub terminal: Terminal,
    /// The institution it belongs to.
    pub institution: Institution,
}
