//! The status list a terminal holds: revoked device certificates merged from the issuer's
//! signed complete lists and deltas, with the time the issuer last vouched for it.

use std::collections::HashMap;

use yibao_shared::status_list::ENTRY_LEN;
use yibao_shared::{CertificateId, KeyId, RevokedCertificate, StatusList, UnixTime};

use crate::error::Rejection;
use crate::policy::Policy;

/// What a verifier knows about device certificates' revocation. A terminal holds a
/// [`HeldStatus`]; the issuer, which knows revocations first-hand, answers from its store.
pub trait CertificateStatus {
    /// `Ok` when the certificate may be used at `now`; otherwise why not
    /// ([`Rejection::NoStatusList`], [`Rejection::StaleStatusList`],
    /// [`Rejection::CertificateRevoked`]).
    ///
    /// # Errors
    ///
    /// The rejection.
    fn check(
        &self,
        certificate: CertificateId,
        now: UnixTime,
        policy: &Policy,
    ) -> Result<(), Rejection>;
}

/// No status list held: every device-bound code is refused (`no-status-list`).
impl CertificateStatus for Option<HeldStatus> {
    fn check(
        &self,
        certificate: CertificateId,
        now: UnixTime,
        policy: &Policy,
    ) -> Result<(), Rejection> {
        self.as_ref()
            .ok_or(Rejection::NoStatusList)?
            .check(certificate, now, policy)
    }
}

/// The status list held by a terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldStatus {
    key_id: KeyId,
    sequence: u64,
    issued_at: UnixTime,
    revoked: HashMap<CertificateId, RevokedCertificate>,
}

/// What installing a status list document did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The sequence now held.
    pub sequence: u64,
    /// Entries the document added.
    pub added: usize,
    /// Revoked certificates held after the merge (expired ones dropped).
    pub held: usize,
}

impl HeldStatus {
    /// The issuer's revocation sequence this terminal holds.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When the issuer signed the newest document merged in.
    pub fn issued_at(&self) -> UnixTime {
        self.issued_at
    }

    /// How many unexpired revoked certificates are held.
    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    /// Whether no certificate is revoked.
    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// Whether `certificate` is listed as revoked.
    pub fn revoked(&self, certificate: CertificateId) -> Option<&RevokedCertificate> {
        self.revoked.get(&certificate)
    }

    /// Merges a verified document into `held` (a complete list replaces it, a delta must
    /// follow the held sequence) and drops entries whose certificate expired more than the
    /// leeway ago.
    ///
    /// # Errors
    ///
    /// [`Rejection::StatusListOutOfOrder`] for a delta that does not follow the held
    /// sequence or a document older than the held one, [`Rejection::StatusListRollback`] for
    /// a complete list behind the held sequence (or at it with other entries); the held list
    /// is unchanged.
    pub fn merge(
        held: Option<&Self>,
        list: StatusList,
        now: UnixTime,
        policy: &Policy,
    ) -> Result<(Self, StatusUpdate), Rejection> {
        let out_of_order = |held_sequence| Rejection::StatusListOutOfOrder {
            held: held_sequence,
            since: list.since,
            sequence: list.sequence,
        };
        if let Some(current) = held {
            if list.issued_at < current.issued_at {
                return Err(out_of_order(current.sequence));
            }
            if !list.is_complete() && list.since != current.sequence {
                return Err(out_of_order(current.sequence));
            }
        } else if !list.is_complete() {
            return Err(out_of_order(0));
        }
        let added = list.revoked.len();
        let next = match held {
            Some(current) if !list.is_complete() => {
                let mut next = current.clone();
                next.key_id = list.key_id;
                next.sequence = list.sequence;
                next.issued_at = list.issued_at;
                for entry in list.revoked {
                    next.revoked.insert(entry.certificate_id, entry);
                }
                next.drop_expired(now, policy);
                next
            }
            _ => {
                let mut next = Self::empty(&list);
                next.revoked = list
                    .revoked
                    .into_iter()
                    .map(|e| (e.certificate_id, e))
                    .collect();
                next.drop_expired(now, policy);
                if let Some(current) = held {
                    current.refuse_rollback(&next, now, policy)?;
                }
                next
            }
        };
        let update = StatusUpdate {
            sequence: next.sequence,
            added,
            held: next.revoked.len(),
        };
        Ok((next, update))
    }

    /// A complete list replacing the held one must not go back in history: a lower
    /// sequence, or the held sequence with other entries (two lists claiming one place), would
    /// undo revocations. The held sequence with the same entries is the issuer re-signing its
    /// current list (a refresh), and is taken for its newer time.
    fn refuse_rollback(
        &self,
        complete: &Self,
        now: UnixTime,
        policy: &Policy,
    ) -> Result<(), Rejection> {
        let rollback = Rejection::StatusListRollback {
            held: self.sequence,
            offered: complete.sequence,
        };
        if complete.sequence < self.sequence {
            return Err(rollback);
        }
        if complete.sequence == self.sequence {
            let cutoff = now.saturating_sub(policy.leeway_secs);
            let mut unexpired = 0;
            for (id, entry) in &self.revoked {
                if entry.expires_at > cutoff {
                    unexpired += 1;
                    if !complete.revoked.contains_key(id) {
                        return Err(rollback);
                    }
                }
            }
            if unexpired != complete.revoked.len() {
                return Err(rollback);
            }
        }
        Ok(())
    }

    fn drop_expired(&mut self, now: UnixTime, policy: &Policy) {
        let cutoff = now.saturating_sub(policy.leeway_secs);
        self.revoked.retain(|_, e| e.expires_at > cutoff);
    }

    fn empty(list: &StatusList) -> Self {
        Self {
            key_id: list.key_id,
            sequence: list.sequence,
            issued_at: list.issued_at,
            revoked: HashMap::new(),
        }
    }

    /// The compact form a terminal keeps on disk: key id (2), sequence (8), issued-at (8),
    /// then 16-byte entries as on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(18 + self.revoked.len() * ENTRY_LEN);
        out.extend_from_slice(&self.key_id.0.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.issued_at.as_secs().to_be_bytes());
        for e in self.revoked.values() {
            out.extend_from_slice(&e.certificate_id.0);
            out.extend_from_slice(&secs32(e.expires_at).to_be_bytes());
            out.extend_from_slice(&secs32(e.revoked_at).to_be_bytes());
        }
        out
    }

    /// Reads [`Self::to_bytes`]; `None` when the bytes are not that form.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (head, entries) = bytes.split_at_checked(18)?;
        if entries.len() % ENTRY_LEN != 0 {
            return None;
        }
        let key_id = KeyId(u16::from_be_bytes(head[..2].try_into().ok()?));
        let sequence = u64::from_be_bytes(head[2..10].try_into().ok()?);
        let issued_at = UnixTime::from_secs(u64::from_be_bytes(head[10..18].try_into().ok()?));
        let mut revoked = HashMap::with_capacity(entries.len() / ENTRY_LEN);
        for e in entries.chunks_exact(ENTRY_LEN) {
            let certificate_id = CertificateId(e[..8].try_into().ok()?);
            let time = |at: usize| -> Option<UnixTime> {
                Some(UnixTime::from_secs(u64::from(u32::from_be_bytes(
                    e[at..at + 4].try_into().ok()?,
                ))))
            };
            revoked.insert(
                certificate_id,
                RevokedCertificate {
                    certificate_id,
                    expires_at: time(8)?,
                    revoked_at: time(12)?,
                },
            );
        }
        Some(Self {
            key_id,
            sequence,
            issued_at,
            revoked,
        })
    }
}

fn secs32(at: UnixTime) -> u32 {
    u32::try_from(at.as_secs()).unwrap_or(u32::MAX)
}

impl CertificateStatus for HeldStatus {
    fn check(
        &self,
        certificate: CertificateId,
        now: UnixTime,
        policy: &Policy,
    ) -> Result<(), Rejection> {
        let stale_at = self.issued_at.saturating_add(policy.max_status_age_secs);
        if now >= stale_at {
            return Err(Rejection::StaleStatusList {
                now,
                issued_at: self.issued_at,
            });
        }
        if let Some(entry) = self.revoked.get(&certificate) {
            return Err(Rejection::CertificateRevoked {
                certificate_id: certificate,
                revoked_at: entry.revoked_at,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u8, expires: u64) -> RevokedCertificate {
        RevokedCertificate {
            certificate_id: CertificateId([id; 8]),
            expires_at: UnixTime::from_secs(expires),
            revoked_at: UnixTime::from_secs(100),
        }
    }

    fn list(
        since: u64,
        sequence: u64,
        issued_at: u64,
        revoked: Vec<RevokedCertificate>,
    ) -> StatusList {
        StatusList {
            key_id: KeyId(1),
            since,
            sequence,
            issued_at: UnixTime::from_secs(issued_at),
            revoked,
        }
    }

    #[test]
    fn deltas_follow_the_held_sequence_and_expired_entries_leave() {
        let policy = Policy::default();
        let now = UnixTime::from_secs(1_000);
        let (held, _) =
            HeldStatus::merge(None, list(0, 5, 900, vec![entry(1, 5_000)]), now, &policy)
                .expect("complete list");
        let gap = HeldStatus::merge(Some(&held), list(6, 8, 950, vec![]), now, &policy);
        assert!(matches!(gap, Err(Rejection::StatusListOutOfOrder { .. })));
        let later = UnixTime::from_secs(6_000);
        let (held, update) = HeldStatus::merge(
            Some(&held),
            list(5, 7, 5_900, vec![entry(2, 9_000)]),
            later,
            &policy,
        )
        .expect("delta");
        assert_eq!(
            update,
            StatusUpdate {
                sequence: 7,
                added: 1,
                held: 1
            }
        );
        assert!(held.revoked(CertificateId([1; 8])).is_none());
        assert!(held.revoked(CertificateId([2; 8])).is_some());
        assert_eq!(HeldStatus::from_bytes(&held.to_bytes()), Some(held));
    }

    #[test]
    fn an_older_document_is_refused() {
        let policy = Policy::default();
        let now = UnixTime::from_secs(1_000);
        let (held, _) = HeldStatus::merge(None, list(0, 5, 900, vec![]), now, &policy).expect("ok");
        let older = HeldStatus::merge(Some(&held), list(0, 4, 800, vec![]), now, &policy);
        assert!(matches!(older, Err(Rejection::StatusListOutOfOrder { .. })));
    }

    #[test]
    fn a_stale_list_vouches_for_nothing() {
        let policy = Policy::default();
        let (held, _) = HeldStatus::merge(
            None,
            list(0, 1, 1_000, vec![]),
            UnixTime::from_secs(1_000),
            &policy,
        )
        .expect("ok");
        let fresh = UnixTime::from_secs(1_000 + policy.max_status_age_secs - 1);
        assert_eq!(held.check(CertificateId([7; 8]), fresh, &policy), Ok(()));
        let stale = UnixTime::from_secs(1_000 + policy.max_status_age_secs);
        assert!(matches!(
            held.check(CertificateId([7; 8]), stale, &policy),
            Err(Rejection::StaleStatusList { .. })
        ));
    }
}
