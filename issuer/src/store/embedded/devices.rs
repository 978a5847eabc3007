//! Devices and the status list in the embedded store. The revocation log is keyed by its
//! zero-padded sequence, so "after sequence n" is one range read; each append runs in one
//! write transaction, so sequences become visible in order.

use redb::{ReadableDatabase, ReadableTable};
use yibao_shared::{CertificateId, RevokedCertificate, UnixTime, VoucherId};

use super::{
    DEVICES, EmbeddedStore, HOLDER_DEVICES, REVOCATION_LOG, REVOKED, STATUS_META, backend, get_in,
    put,
};
use crate::model::device::Device;
use crate::store::{StoreError, decode, encode};

const SEQUENCE: &str = "sequence";
/// The last certificate number reserved.
const CERTIFICATE_NUMBER: &str = "certificate_number";

fn log_key(sequence: u64) -> String {
    format!("{sequence:020}")
}

impl EmbeddedStore {
    pub(super) async fn put_device_in_redb(&self, device: &Device) -> Result<(), StoreError> {
        let index = format!("{}/{}", device.holder, device.device_id);
        let (id, record) = (device.device_id.clone(), encode(device));
        self.write(move |txn| {
            put(txn, DEVICES, &id, &record)?;
            put(txn, HOLDER_DEVICES, &index, &[])
        })
        .await
    }

    pub(super) async fn device_in_redb(&self, id: &str) -> Result<Option<Device>, StoreError> {
        self.get_record(DEVICES, id)
    }

    pub(super) async fn devices_of_in_redb(
        &self,
        holder: VoucherId,
    ) -> Result<Vec<Device>, StoreError> {
        let prefix = format!("{holder}/");
        let ids: Vec<String> = {
            let txn = self.db.begin_read().map_err(backend)?;
            let table = txn.open_table(HOLDER_DEVICES).map_err(backend)?;
            table
                .range(prefix.as_str()..)
                .map_err(backend)?
                .map_while(|entry| {
                    let key = entry.ok()?.0.value().to_owned();
                    key.strip_prefix(&prefix).map(str::to_owned)
                })
                .collect()
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            // An index entry whose record is gone (deleted between the reads) is skipped.
            if let Some(device) = self.device_in_redb(&id).await? {
                out.push(device);
            }
        }
        Ok(out)
    }

    pub(super) async fn delete_device_in_redb(&self, device: &Device) -> Result<bool, StoreError> {
        let index = format!("{}/{}", device.holder, device.device_id);
        let id = device.device_id.clone();
        self.write(move |txn| {
            let existed = txn
                .open_table(DEVICES)
                .map_err(backend)?
                .remove(id.as_str())
                .map_err(backend)?
                .is_some();
            txn.open_table(HOLDER_DEVICES)
                .map_err(backend)?
                .remove(index.as_str())
                .map_err(backend)?;
            Ok(existed)
        })
        .await
    }

    pub(super) async fn reserve_certificate_numbers_in_redb(
        &self,
        count: u64,
    ) -> Result<u64, StoreError> {
        self.write(move |txn| {
            let last: u64 = get_in(txn, STATUS_META, CERTIFICATE_NUMBER)?.unwrap_or(0);
            let next = last
                .checked_add(count)
                .ok_or_else(|| StoreError::Backend("certificate numbers exhausted".into()))?;
            put(txn, STATUS_META, CERTIFICATE_NUMBER, &encode(&next))?;
            Ok(last + 1)
        })
        .await
    }

    pub(super) async fn append_revocations_in_redb(
        &self,
        revoked: &[RevokedCertificate],
    ) -> Result<u64, StoreError> {
        let revoked = revoked.to_vec();
        self.write(move |txn| {
            let mut sequence: u64 = get_in(txn, STATUS_META, SEQUENCE)?.unwrap_or(0);
            for entry in &revoked {
                sequence += 1;
                put(txn, REVOCATION_LOG, &log_key(sequence), &encode(entry))?;
                let cert = entry.certificate_id.to_string();
                // A certificate revoked twice keeps its first revocation time.
                if get_in::<RevokedCertificate>(txn, REVOKED, &cert)?.is_none() {
                    put(txn, REVOKED, &cert, &encode(entry))?;
                }
            }
            put(txn, STATUS_META, SEQUENCE, &encode(&sequence))?;
            Ok(sequence)
        })
        .await
    }

    pub(super) async fn revocations_since_in_redb(
        &self,
        since: u64,
    ) -> Result<(u64, Vec<RevokedCertificate>), StoreError> {
        // One read transaction: the sequence and the entries agree.
        let txn = self.db.begin_read().map_err(backend)?;
        let meta = txn.open_table(STATUS_META).map_err(backend)?;
        let sequence: u64 = match meta.get(SEQUENCE).map_err(backend)? {
            Some(v) => decode(v.value())?,
            None => 0,
        };
        let log = txn.open_table(REVOCATION_LOG).map_err(backend)?;
        let start = log_key(since.saturating_add(1));
        let mut out = Vec::new();
        for entry in log.range(start.as_str()..).map_err(backend)? {
            let (_, value) = entry.map_err(backend)?;
            out.push(decode(value.value())?);
        }
        Ok((sequence, out))
    }

    pub(super) async fn revocation_in_redb(
        &self,
        certificate: CertificateId,
    ) -> Result<Option<RevokedCertificate>, StoreError> {
        self.get_record(REVOKED, &certificate.to_string())
    }

    pub(super) async fn prune_revocations_in_redb(
        &self,
        before: UnixTime,
    ) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut log = txn.open_table(REVOCATION_LOG).map_err(backend)?;
            let mut expired = Vec::new();
            for entry in log.iter().map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                let revoked: RevokedCertificate = decode(value.value())?;
                if revoked.expires_at < before {
                    expired.push((key.value().to_owned(), revoked.certificate_id));
                }
            }
            let mut index = txn.open_table(REVOKED).map_err(backend)?;
            for (key, certificate) in &expired {
                log.remove(key.as_str()).map_err(backend)?;
                index
                    .remove(certificate.to_string().as_str())
                    .map_err(backend)?;
            }
            Ok(expired.len())
        })
        .await
    }
}
