//! Reading a status list document's bytes (`docs/token-format.md` §10). Every length is
//! checked against what is left before anything is allocated.

use super::compact::{BlockExpiry, CompactSet};
use super::{ENTRY_LEN, RevokedCertificate, STATUS_MAGIC, StatusList, StatusListError};
use crate::claims::CertificateId;
use crate::key::KeyId;
use crate::time::UnixTime;

/// The signing key named in a document's header, read before the signature is checked.
pub(super) fn header_key(bytes: &[u8]) -> Result<KeyId, StatusListError> {
    let mut reader = Reader { rest: bytes };
    reader.magic()?;
    Ok(KeyId(reader.u16()?))
}

pub(super) fn parse(bytes: &[u8]) -> Result<StatusList, StatusListError> {
    let mut r = Reader { rest: bytes };
    r.magic()?;
    let key_id = KeyId(r.u16()?);
    let since = r.u64()?;
    let sequence = r.u64()?;
    let issued_at = UnixTime::from_secs(r.u64()?);
    if sequence < since {
        return Err(malformed("sequence is below since"));
    }
    let count = r.u32()?;
    let compact = if count == 0 {
        CompactSet::default()
    } else {
        let first = r.u64()?;
        let k = r.u8()?;
        let blocks = (count as usize).div_ceil(super::BLOCK);
        let mut expiry = Vec::with_capacity(blocks.min(r.rest.len() / 8));
        for _ in 0..blocks {
            expiry.push(BlockExpiry {
                earliest: r.u32()?,
                latest: r.u32()?,
            });
        }
        let len = r.u32()? as usize;
        let bits = r.take(len)?.to_vec();
        CompactSet::decode(count, first, k, bits, expiry).map_err(|e| malformed(e.0))?
    };
    let plain = r.u32()? as usize;
    if r.rest.len() != plain.saturating_mul(ENTRY_LEN) {
        return Err(malformed("the plain entries do not fill the rest"));
    }
    let revoked = r
        .rest
        .chunks_exact(ENTRY_LEN)
        .map(|e| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&e[..8]);
            let time = |at: usize| {
                UnixTime::from_secs(u64::from(u32::from_be_bytes([
                    e[at],
                    e[at + 1],
                    e[at + 2],
                    e[at + 3],
                ])))
            };
            RevokedCertificate {
                certificate_id: CertificateId(id),
                expires_at: time(8),
                revoked_at: time(12),
            }
        })
        .collect();
    Ok(StatusList {
        key_id,
        since,
        sequence,
        issued_at,
        compact,
        revoked,
    })
}

fn malformed(what: &str) -> StatusListError {
    StatusListError::Malformed(what.to_owned())
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], StatusListError> {
        let (head, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or_else(|| malformed("the document ends early"))?;
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StatusListError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn magic(&mut self) -> Result<(), StatusListError> {
        if self.take(STATUS_MAGIC.len())? != STATUS_MAGIC {
            return Err(malformed("not a yibao status list, version 2"));
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, StatusListError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, StatusListError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, StatusListError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, StatusListError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}
