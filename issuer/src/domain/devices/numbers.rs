//! Certificate ids are numbers the store hands out, so the complete status list can list
//! revoked certificates as a near-optimal sorted set (`docs/token-format.md` §10). Each node
//! reserves a block at a time (one durable store write per block, not per certificate) and
//! hands its numbers out in a random order, so an id says little about when, or right after
//! whom, a certificate was issued. Numbers a node reserved but did not use before it stopped
//! are never used: a gap in the sequence costs the list nothing.

use tokio::sync::Mutex;
use yibao_shared::CertificateId;
use yibao_shared::status_list::NUMBERED_LIMIT;

use crate::domain::error::DomainError;
use crate::secrets::random_bytes;
use crate::store::Store;

/// Numbers reserved per store write.
const BLOCK: u64 = 256;

/// A node's reserved, unused certificate numbers.
#[derive(Debug, Default)]
pub struct CertificateNumbers {
    unused: Mutex<Vec<u64>>,
}

impl CertificateNumbers {
    /// The next certificate id, reserving a new block from `store` when none is left.
    ///
    /// # Errors
    ///
    /// Store failures; [`DomainError::Internal`] when the random source fails or the
    /// numbers would reach the list's numbered range's end.
    pub async fn next(&self, store: &dyn Store) -> Result<CertificateId, DomainError> {
        let mut unused = self.unused.lock().await;
        if unused.is_empty() {
            let first = store.reserve_certificate_numbers(BLOCK).await?;
            if first.saturating_add(BLOCK) > NUMBERED_LIMIT {
                return Err(DomainError::Internal(
                    "certificate numbers exhausted".into(),
                ));
            }
            let mut block: Vec<u64> = (first..first + BLOCK).collect();
            shuffle(&mut block)?;
            *unused = block;
        }
        let number = unused
            .pop()
            .ok_or_else(|| DomainError::Internal("no certificate number".into()))?;
        Ok(CertificateId(number.to_be_bytes()))
    }
}

/// Fisher–Yates with the operating system's random source.
fn shuffle(block: &mut [u64]) -> Result<(), DomainError> {
    for i in (1..block.len()).rev() {
        let random =
            u64::from_be_bytes(random_bytes().map_err(|e| DomainError::Internal(e.to_string()))?);
        // Modulo bias over 2^64 for at most 256 choices is below 2^-56: immaterial here.
        let j = (random % (i as u64 + 1)) as usize;
        block.swap(i, j);
    }
    Ok(())
}
