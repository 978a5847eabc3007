//! Every store operation timed and its failures counted, for `/metrics`:
//! `yibao_store_seconds{op}` (histogram) and `yibao_store_errors_total{op,kind}`, where
//! `kind` is `unavailable` (503: Redis down, failover, a write no replica confirmed),
//! `corrupt` or `backend`. On a cluster these show which operations a failover touched and
//! what `WAIT` costs each write.

use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use yibao_shared::{CertificateId, RevokedCertificate, TokenId, UnixTime, VoucherId};

use super::{Activation, Grant, HolderRecords, LinkSave, Quota, Store, StoreError, StoreHealth};
use crate::model::device::Device;
use crate::model::settlement::{DoubleUse, Settlement};
use crate::model::{
    Channel, FamilyLink, HolderCredential, Institution, LinkKind, Person, Terminal, Voucher,
    VoucherStatus,
};
use crate::secrets::{CredentialHash, IdKey};

/// A store whose operations are measured.
pub struct Metered {
    inner: Box<dyn Store>,
}

impl std::fmt::Debug for Metered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metered")
    }
}

impl Metered {
    /// Measures `inner`.
    pub fn new(inner: Box<dyn Store>) -> Self {
        Self { inner }
    }
}

async fn observe<T>(
    op: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    metrics::histogram!("yibao_store_seconds", "op" => op).record(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        let kind = match e {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Backend(_) | StoreError::Unsupported => "backend",
        };
        metrics::counter!("yibao_store_errors_total", "op" => op, "kind" => kind).increment(1);
    }
    result
}

/// Forwards each listed operation to the inner store through [`observe`], named after itself.
macro_rules! metered {
    ($( fn $op:ident(&self $(, $arg:ident : $ty:ty)* ) -> $ret:ty; )*) => {
        #[async_trait]
        impl Store for Metered {
            fn answer_deadline(&self) -> Option<Duration> {
                self.inner.answer_deadline()
            }
            $(
                async fn $op(&self $(, $arg: $ty)*) -> Result<$ret, StoreError> {
                    observe(stringify!($op), self.inner.$op($($arg),*)).await
                }
            )*
        }
    };
}

metered! {
    fn ping(&self) -> ();
    fn health(&self) -> StoreHealth;
    fn take_quota(&self, caller: &str, quota: Quota, want: u32, unused: u32) -> Grant;
    fn upsert_persons(&self, persons: Vec<Person>) -> ();
    fn person(&self, id_key: &IdKey) -> Option<Person>;
    fn put_channel(&self, channel: &Channel) -> ();
    fn channel_by_key(&self, key: &CredentialHash) -> Option<Channel>;
    fn channel(&self, id: &str) -> Option<Channel>;
    fn channels(&self) -> Vec<Channel>;
    fn put_institutions(&self, institutions: &[Institution]) -> ();
    fn institution(&self, code: &str) -> Option<Institution>;
    fn institutions(&self) -> Vec<Institution>;
    fn put_terminal(&self, terminal: &Terminal) -> ();
    fn terminal_by_key(&self, key: &CredentialHash) -> Option<Terminal>;
    fn terminal(&self, id: &str) -> Option<Terminal>;
    fn terminals_of(&self, code: &str) -> Vec<Terminal>;
    fn activate(&self, candidate: &Voucher, credential: &HolderCredential) -> Activation;
    fn voucher_of(&self, id_key: &IdKey) -> Option<Voucher>;
    fn voucher(&self, id: VoucherId) -> Option<Voucher>;
    fn set_voucher_status(&self, id: VoucherId, status: VoucherStatus) -> bool;
    fn credential(&self, hash: &CredentialHash) -> Option<HolderCredential>;
    fn holder_records(&self, hash: &CredentialHash) -> Option<HolderRecords>;
    fn revoke_credential(&self, hash: &CredentialHash) -> bool;
    fn revoke_credentials_of(&self, voucher: VoucherId) -> usize;
    fn ensure_voucher(&self, candidate: &Voucher) -> Activation;
    fn discard_unused_voucher(&self, voucher: &Voucher, binder: VoucherId) -> bool;
    fn save_link(&self, link: &FamilyLink, expected_version: u64, limit: Option<usize>) -> LinkSave;
    fn link(&self, kind: LinkKind, binder: VoucherId, member: VoucherId) -> Option<FamilyLink>;
    fn links_of_binder(&self, kind: LinkKind, binder: VoucherId) -> Vec<FamilyLink>;
    fn links_of_member(&self, kind: LinkKind, member: VoucherId) -> Vec<FamilyLink>;
    fn insert_settlement(&self, settlement: &Settlement) -> Option<Settlement>;
    fn insert_settlements(&self, batch: &[Settlement]) -> Vec<Option<Settlement>>;
    fn replace_settlement(&self, current: &Settlement, new: &Settlement) -> bool;
    fn settlement(&self, voucher: VoucherId, token: TokenId) -> Option<Settlement>;
    fn settlements_of(&self, voucher: VoucherId) -> Vec<Settlement>;
    fn record_double_use(&self, double_use: &DoubleUse) -> ();
    fn double_uses_of(&self, voucher: VoucherId) -> Vec<DoubleUse>;
    fn put_device(&self, device: &Device) -> ();
    fn device(&self, holder: VoucherId, device_id: &str) -> Option<Device>;
    fn devices_of(&self, holder: VoucherId) -> Vec<Device>;
    fn delete_device(&self, device: &Device) -> bool;
    fn reserve_certificate_numbers(&self, count: u64) -> u64;
    fn append_revocations(&self, revoked: &[RevokedCertificate]) -> u64;
    fn revocations_since(&self, since: u64) -> (u64, Vec<RevokedCertificate>);
    fn revocation(&self, certificate: CertificateId) -> Option<RevokedCertificate>;
    fn prune_revocations(&self, before: UnixTime) -> usize;
}
