//! The status list a terminal holds: revoked device certificates merged from the issuer's
//! signed complete lists and deltas, with the time the issuer last vouched for it.

use std::collections::HashMap;
use std::sync::Arc;

use yibao_shared::status_list::{CompactSet, ENTRY_LEN, Member, NUMBERED_LIMIT};
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

/// The status list held by a terminal: the numbered certificates of the last complete list
/// (compact, as received), and the entries of the deltas since (each with its times). When
/// the deltas grow past an eighth of the compact part, they are folded into it, so memory
/// stays near the size of the list itself however long the terminal only takes deltas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldStatus {
    key_id: KeyId,
    sequence: u64,
    issued_at: UnixTime,
    base: Arc<CompactSet>,
    /// When the newest document folded into `base` was signed: its entries were revoked by
    /// then (the compact part keeps no revocation times).
    base_listed_at: UnixTime,
    extra: HashMap<CertificateId, RevokedCertificate>,
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

/// Deltas folded into the compact part once they hold this many numbered entries, or an
/// eighth of the compact part if that is more.
const FOLD_AT: usize = 1_024;

impl HeldStatus {
    /// The issuer's revocation sequence this terminal holds.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// When the issuer signed the newest document merged in.
    pub fn issued_at(&self) -> UnixTime {
        self.issued_at
    }

    /// How many revoked certificates are held (a compact block whose certificates have all
    /// expired counts until the next fold or complete list).
    pub fn len(&self) -> usize {
        self.base.len() + self.extra.len()
    }

    /// Whether no certificate is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the held entries take (the compact part, and the delta entries at
    /// their map's capacity).
    pub fn heap_bytes(&self) -> usize {
        self.base.heap_bytes()
            + self.extra.capacity()
                * (size_of::<CertificateId>() + size_of::<RevokedCertificate>() + 1)
    }

    /// Whether `certificate` is listed as revoked, and from when (for a compact entry: the
    /// latest expiry of its block, and when the list that carried it was signed).
    pub fn revoked(&self, certificate: CertificateId) -> Option<RevokedCertificate> {
        if let Some(entry) = self.extra.get(&certificate) {
            return Some(*entry);
        }
        self.base.get(certificate).map(|block| RevokedCertificate {
            certificate_id: certificate,
            expires_at: UnixTime::from_secs(u64::from(block.latest)),
            revoked_at: self.base_listed_at,
        })
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
        let added = list.len();
        let cutoff = now.saturating_sub(policy.leeway_secs);
        let next = match held {
            Some(current) if !list.is_complete() => {
                let mut next = current.clone();
                next.key_id = list.key_id;
                next.sequence = list.sequence;
                next.issued_at = list.issued_at;
                next.absorb(list);
                next.extra.retain(|_, e| e.expires_at > cutoff);
                if next.numbered_extra() > FOLD_AT.max(next.base.len() / 8) {
                    next.fold(cutoff);
                }
                next
            }
            _ => {
                let mut next = Self {
                    key_id: list.key_id,
                    sequence: list.sequence,
                    issued_at: list.issued_at,
                    base: Arc::new(CompactSet::default()),
                    base_listed_at: list.issued_at,
                    extra: HashMap::new(),
                };
                next.absorb(list);
                next.extra.retain(|_, e| e.expires_at > cutoff);
                if let Some(current) = held {
                    current.refuse_rollback(&next, cutoff)?;
                }
                next
            }
        };
        let update = StatusUpdate {
            sequence: next.sequence,
            added,
            held: next.len(),
        };
        Ok((next, update))
    }

    /// Takes a document's entries: a complete list's compact part becomes the base; a
    /// compact part in a delta (the issuer sends none) joins the plain entries.
    fn absorb(&mut self, list: StatusList) {
        if list.is_complete() {
            self.base = Arc::new(list.compact);
        } else {
            for member in list.compact.members() {
                let id = CertificateId(member.id.to_be_bytes());
                self.extra.insert(
                    id,
                    RevokedCertificate {
                        certificate_id: id,
                        expires_at: UnixTime::from_secs(u64::from(member.latest)),
                        revoked_at: list.issued_at,
                    },
                );
            }
        }
        for entry in list.revoked {
            self.extra.insert(entry.certificate_id, entry);
        }
    }

    fn numbered_extra(&self) -> usize {
        self.extra.keys().filter(|id| numbered(**id)).count()
    }

    /// Rebuilds the compact part with the numbered delta entries in it, leaving out blocks
    /// whose certificates have all expired.
    fn fold(&mut self, cutoff: UnixTime) {
        let cutoff = secs32(cutoff);
        let mut members: Vec<Member> = self
            .base
            .members()
            .into_iter()
            .filter(|m| m.latest > cutoff)
            .collect();
        self.extra.retain(|id, entry| {
            if !numbered(*id) {
                return true;
            }
            members.push(Member::exact(*id, entry.expires_at));
            false
        });
        self.base = Arc::new(CompactSet::build(members));
        self.base_listed_at = self.issued_at;
    }

    /// A complete list replacing the held one must not go back in history: a lower
    /// sequence, or the held sequence with other entries (two lists claiming one place), would
    /// undo revocations. The held sequence with the same entries is the issuer re-signing its
    /// current list (a refresh), and is taken for its newer time. "The same" is judged on
    /// entries surely unexpired on either side (a compact block's earliest expiry, a plain
    /// entry's own), since either side may already have dropped expired ones.
    fn refuse_rollback(&self, complete: &Self, cutoff: UnixTime) -> Result<(), Rejection> {
        let rollback = Rejection::StatusListRollback {
            held: self.sequence,
            offered: complete.sequence,
        };
        if complete.sequence < self.sequence {
            return Err(rollback);
        }
        if complete.sequence == self.sequence
            && !(self.surely_live_within(complete, cutoff)
                && complete.surely_live_within(self, cutoff))
        {
            return Err(rollback);
        }
        Ok(())
    }

    /// Whether every entry of `self` surely unexpired at `cutoff` is listed in `other`.
    fn surely_live_within(&self, other: &Self, cutoff: UnixTime) -> bool {
        let cut = secs32(cutoff);
        let extra_ok = self
            .extra
            .values()
            .filter(|e| e.expires_at > cutoff)
            .all(|e| other.revoked(e.certificate_id).is_some());
        extra_ok
            && self
                .base
                .members()
                .iter()
                .filter(|m| m.earliest > cut)
                .all(|m| other.revoked(CertificateId(m.id.to_be_bytes())).is_some())
    }

    /// The form a terminal keeps on disk: when the compact part was listed (8 bytes), then
    /// the held list as an unsigned document (`docs/token-format.md` §10).
    pub fn to_bytes(&self) -> Vec<u8> {
        let as_list = StatusList {
            key_id: self.key_id,
            since: 0,
            sequence: self.sequence,
            issued_at: self.issued_at,
            compact: (*self.base).clone(),
            revoked: self.extra.values().copied().collect(),
        };
        let mut out = self.base_listed_at.as_secs().to_be_bytes().to_vec();
        out.extend_from_slice(&as_list.unsigned_bytes());
        out
    }

    /// Reads [`Self::to_bytes`], or the plain-entry form terminals kept before the compact
    /// list (so an upgraded terminal keeps refusing rollback); `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if let Some((listed, rest)) = bytes.split_first_chunk::<8>()
            && rest.starts_with(yibao_shared::status_list::STATUS_MAGIC)
        {
            let list = StatusList::from_unsigned(rest).ok()?;
            return Some(Self {
                key_id: list.key_id,
                sequence: list.sequence,
                issued_at: list.issued_at,
                base: Arc::new(list.compact),
                base_listed_at: UnixTime::from_secs(u64::from_be_bytes(*listed)),
                extra: list
                    .revoked
                    .into_iter()
                    .map(|e| (e.certificate_id, e))
                    .collect(),
            });
        }
        Self::from_plain_entries(bytes)
    }

    /// Key id (2), sequence (8), issued-at (8), then 16-byte entries.
    fn from_plain_entries(bytes: &[u8]) -> Option<Self> {
        let (head, entries) = bytes.split_at_checked(18)?;
        if entries.len() % ENTRY_LEN != 0 {
            return None;
        }
        let key_id = KeyId(u16::from_be_bytes(head[..2].try_into().ok()?));
        let sequence = u64::from_be_bytes(head[2..10].try_into().ok()?);
        let issued_at = UnixTime::from_secs(u64::from_be_bytes(head[10..18].try_into().ok()?));
        let mut extra = HashMap::with_capacity(entries.len() / ENTRY_LEN);
        for e in entries.chunks_exact(ENTRY_LEN) {
            let certificate_id = CertificateId(e[..8].try_into().ok()?);
            let time = |at: usize| -> Option<UnixTime> {
                Some(UnixTime::from_secs(u64::from(u32::from_be_bytes(
                    e[at..at + 4].try_into().ok()?,
                ))))
            };
            extra.insert(
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
            base: Arc::new(CompactSet::default()),
            base_listed_at: issued_at,
            extra,
        })
    }
}

fn numbered(id: CertificateId) -> bool {
    u64::from_be_bytes(id.0) < NUMBERED_LIMIT
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
        if let Some(entry) = self.revoked(certificate) {
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
        let at = UnixTime::from_secs(issued_at);
        if since == 0 {
            StatusList::complete(KeyId(1), sequence, at, revoked)
        } else {
            StatusList::delta(KeyId(1), since, sequence, at, revoked)
        }
    }

    /// A numbered certificate (it goes into a complete list's compact part).
    fn numbered_entry(id: u64, expires: u64) -> RevokedCertificate {
        RevokedCertificate {
            certificate_id: CertificateId(id.to_be_bytes()),
            expires_at: UnixTime::from_secs(expires),
            revoked_at: UnixTime::from_secs(100),
        }
    }

    fn id(n: u64) -> CertificateId {
        CertificateId(n.to_be_bytes())
    }

    #[test]
    fn deltas_fold_into_the_compact_part_and_expired_blocks_leave() {
        let policy = Policy::default();
        let now = UnixTime::from_secs(1_000);
        let base: Vec<_> = (0..300).map(|i| numbered_entry(i * 10, 2_000)).collect();
        let (mut held, _) =
            HeldStatus::merge(None, list(0, 1, 900, base), now, &policy).expect("complete");
        assert_eq!(held.base.len(), 300);
        // 1,100 numbered entries by deltas of 100: the last ones fold (past FOLD_AT).
        for step in 0..11u64 {
            let entries = (0..100)
                .map(|i| numbered_entry(10_000 + step * 1_000 + i, 9_000))
                .collect();
            (held, _) = HeldStatus::merge(
                Some(&held),
                list(1 + step, 2 + step, 950, entries),
                now,
                &policy,
            )
            .expect("delta");
        }
        assert!(
            held.extra.len() < 100,
            "folded: {} plain left",
            held.extra.len()
        );
        assert_eq!(held.len(), 1_400);
        for probe in [0, 2_990, 10_000, 20_099] {
            assert!(held.revoked(id(probe)).is_some(), "{probe}");
        }
        assert!(held.revoked(id(5)).is_none());
        // Once the first 300 have expired, the next fold leaves them out.
        let later = UnixTime::from_secs(2_000 + policy.leeway_secs + 1);
        for (sequence, step) in (12..).zip(0..11u64) {
            let entries = (0..100)
                .map(|i| numbered_entry(50_000 + step * 1_000 + i, 9_000))
                .collect();
            (held, _) = HeldStatus::merge(
                Some(&held),
                list(sequence, sequence + 1, 1_000, entries),
                later,
                &policy,
            )
            .expect("delta");
        }
        assert!(held.revoked(id(0)).is_none(), "expired block dropped");
        assert!(held.revoked(id(60_099)).is_some());
        assert_eq!(HeldStatus::from_bytes(&held.to_bytes()), Some(held));
    }

    #[test]
    fn a_re_signed_compact_list_is_a_refresh_and_other_entries_a_rollback() {
        let policy = Policy::default();
        let now = UnixTime::from_secs(1_000);
        let entries: Vec<_> = (0..600).map(|i| numbered_entry(i * 7, 5_000 + i)).collect();
        let (held, _) = HeldStatus::merge(None, list(0, 4, 900, entries.clone()), now, &policy)
            .expect("complete");
        let refreshed =
            HeldStatus::merge(Some(&held), list(0, 4, 950, entries.clone()), now, &policy);
        assert!(refreshed.is_ok(), "{refreshed:?}");
        let mut fewer = entries.clone();
        fewer.remove(300);
        let rollback = HeldStatus::merge(Some(&held), list(0, 4, 950, fewer), now, &policy);
        assert!(matches!(
            rollback,
            Err(Rejection::StatusListRollback { .. })
        ));
        let mut more = entries;
        more.push(numbered_entry(1, 5_000));
        let rollback = HeldStatus::merge(Some(&held), list(0, 4, 950, more), now, &policy);
        assert!(matches!(
            rollback,
            Err(Rejection::StatusListRollback { .. })
        ));
    }

    #[test]
    fn the_plain_form_terminals_kept_before_still_reads() {
        let mut old = Vec::new();
        old.extend_from_slice(&1u16.to_be_bytes());
        old.extend_from_slice(&9u64.to_be_bytes());
        old.extend_from_slice(&900u64.to_be_bytes());
        old.extend_from_slice(&[4; 8]);
        old.extend_from_slice(&5_000u32.to_be_bytes());
        old.extend_from_slice(&100u32.to_be_bytes());
        let held = HeldStatus::from_bytes(&old).expect("old form");
        assert_eq!(held.sequence(), 9);
        assert!(held.revoked(CertificateId([4; 8])).is_some());
        assert_eq!(HeldStatus::from_bytes(&old[..20]), None);
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
