//! Keyed hashes for lookups of ID numbers and names, and random credentials stored hashed.
//!
//! ID numbers and names are never stored: the registry keeps `HMAC-SHA256(index secret,
//! value)`. Without the index secret (kept outside the store) a stolen database cannot be
//! searched by ID number, and the 10^10-ish space of valid numbers cannot be brute-forced
//! offline. Credentials are 256-bit random strings shown once; the store keeps their SHA-256
//! (a slow password hash buys nothing for values with that much entropy).

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::id_number::IdNumber;

macro_rules! digest_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Lower-case hex.
            pub fn to_hex(&self) -> String {
                // A table lookup per nibble: this runs three times per imported row.
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let mut out = String::with_capacity(64);
                for b in self.0 {
                    out.push(char::from(DIGITS[usize::from(b >> 4)]));
                    out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
                }
                out
            }

            /// Parses lower-case hex.
            pub fn from_hex(text: &str) -> Option<Self> {
                if text.len() != 64 {
                    return None;
                }
                let mut out = [0u8; 32];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
                }
                Some(Self(out))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({}…)", stringify!($name), &self.to_hex()[..12])
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
            }
        }
    };
}

digest_id!(
    /// Keyed hash of an ID number: the registry's and the voucher's key for a person.
    IdKey
);
digest_id!(
    /// Keyed hash of a full name, compared at activation.
    NameKey
);
digest_id!(
    /// SHA-256 of a credential (holder, channel API key, terminal).
    CredentialHash
);

/// The secret behind [`IdKey`] and [`NameKey`]. Wiped on drop, never printed.
#[derive(Clone)]
pub struct IndexKey(Zeroizing<Vec<u8>>);

impl IndexKey {
    /// Wraps secret bytes (at least 32).
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= 32).then(|| Self(Zeroizing::new(bytes)))
    }

    fn mac(&self, domain: &[u8], value: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(domain);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// A 256-bit key of its own for `purpose` (the identity seal), derived so that it lives
    /// wherever this secret lives and can never equal a lookup key.
    pub fn derive(&self, purpose: &[u8]) -> [u8; 32] {
        self.mac(b"yibao.derive.v1\0", purpose)
    }

    /// The lookup key of an ID number.
    pub fn id_key(&self, id: &IdNumber) -> IdKey {
        IdKey(self.mac(b"yibao.id.v1\0", id.as_str().as_bytes()))
    }

    /// The comparison key of a full name (surrounding whitespace ignored).
    pub fn name_key(&self, name: &str) -> NameKey {
        NameKey(self.mac(b"yibao.name.v1\0", name.trim().as_bytes()))
    }

    /// The MAC of a device-login `kind` (a challenge, a session) over `value`: issued by one
    /// issuer node, checked by any other, nothing stored. Its own domain, so it can never be
    /// mistaken for an ID-number or name key.
    pub fn session_mac(&self, kind: &[u8], value: &[u8]) -> [u8; 32] {
        self.session_hmac(kind, value)
            .finalize()
            .into_bytes()
            .into()
    }

    /// Whether `mac` is [`Self::session_mac`] of `value`, compared in constant time.
    pub fn session_mac_matches(&self, kind: &[u8], value: &[u8], mac: &[u8]) -> bool {
        self.session_hmac(kind, value).verify_slice(mac).is_ok()
    }

    fn session_hmac(&self, kind: &[u8], value: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(b"yibao.device-login.v1\0");
        mac.update(kind);
        mac.update(b"\0");
        mac.update(value);
        mac
    }
}

impl fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndexKey(<redacted>)")
    }
}

/// A credential as shown once to its owner: `<prefix>_<43 base64url characters>`.
pub struct NewCredential {
    /// The text to hand over (wiped on drop).
    pub secret: Zeroizing<String>,
    /// What the store keeps.
    pub hash: CredentialHash,
}

impl fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewCredential({:?})", self.hash)
    }
}

/// Draws a new credential with a kind prefix (`ybh` holder, `ybc` channel, `ybt` terminal).
///
/// # Errors
///
/// If the operating system's random source fails.
pub fn new_credential(prefix: &str) -> Result<NewCredential, getrandom::Error> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut())?;
    let secret = Zeroizing::new(format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(raw.as_ref())));
    let hash = hash_credential(&secret);
    Ok(NewCredential { secret, hash })
}

/// The stored hash of a presented credential.
pub fn hash_credential(secret: &str) -> CredentialHash {
    CredentialHash(Sha256::digest(secret.as_bytes()).into())
}

/// `N` random bytes.
///
/// # Errors
///
/// If the operating system's random source fails.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

/// `N` random bytes for an identifier that is not a secret (a token's id): drawn from a
/// ChaCha12 generator per thread, seeded from the operating system, rather than a system
/// call per token (a token request is otherwise about 45 µs of CPU; the call was 1 µs of it).
/// Secrets, keys and nonces keep [`random_bytes`].
///
/// # Errors
///
/// If the operating system's random source fails when a thread first draws.
pub fn random_id<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    use rand::{RngCore, SeedableRng, rngs::StdRng};
    thread_local! {
        static IDS: std::cell::RefCell<Option<StdRng>> = const { std::cell::RefCell::new(None) };
    }
    IDS.with_borrow_mut(|ids| {
        let rng = match ids {
            Some(rng) => rng,
            None => ids.insert(StdRng::try_from_os_rng()?),
        };
        let mut out = [0u8; N];
        rng.fill_bytes(&mut out);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_depend_on_the_secret_and_the_domain() {
        let id = IdNumber::parse("11010519491231002X").expect("valid");
        let a = IndexKey::new(vec![1; 32]).expect("long enough");
        let b = IndexKey::new(vec![2; 32]).expect("long enough");
        assert_ne!(a.id_key(&id), b.id_key(&id));
        assert_eq!(a.id_key(&id), a.id_key(&id));
        assert_ne!(a.id_key(&id).0, a.name_key("11010519491231002X").0);
        assert!(IndexKey::new(vec![0; 16]).is_none());
    }

    #[test]
    fn credentials_are_random_prefixed_and_hash_back() {
        let one = new_credential("ybh").expect("random");
        let two = new_credential("ybh").expect("random");
        assert!(one.secret.starts_with("ybh_"));
        assert_eq!(one.secret.len(), 4 + 43);
        assert_ne!(one.hash, two.hash);
        assert_eq!(hash_credential(&one.secret), one.hash);
        assert!(!format!("{one:?}").contains(&one.secret[4..]));
    }

    #[test]
    fn ids_never_repeat_within_or_across_threads() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(random_id::<8>().expect("seeded")));
        }
        // Each thread seeds its own generator: another thread's ids are not this one's.
        let other: Vec<[u8; 8]> = std::thread::spawn(|| {
            (0..10_000)
                .map(|_| random_id::<8>().expect("seeded"))
                .collect()
        })
        .join()
        .expect("thread");
        assert!(other.into_iter().all(|id| seen.insert(id)));
    }
}
