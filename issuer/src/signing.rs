//! The key material the service signs with and publishes: the active issuer key and the
//! signed trust bundle, read from a `yibao-keys` directory. `POST /v1/admin/keys/reload`
//! re-reads it without a restart (rotate: `yibao-keys issuer new`, `bundle sign`, reload).

use std::path::Path;

use yibao_keys::{KeyDir, KeysError};
use yibao_shared::{
    CertificateId, Claims, DeviceCertificate, DevicePublicKey, KeyId, KeyStatus,
    RevokedCertificate, SecretKey, StatusList, TokenBody, TokenId, TokenKind, TrustBundle,
    UnixTime,
};
use yibao_verifier::{Policy, Verifier};

/// An issuer key ready to sign, and the bundle to serve.
#[derive(Debug)]
pub struct KeyMaterial {
    key_id: KeyId,
    secret: SecretKey,
    bundle_document: String,
    bundle: TrustBundle,
    verifier: Verifier,
}

/// Why key material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyMaterialError {
    /// Reading the key directory failed.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// No active issuer key is valid now.
    #[error("no active issuer key valid now in {0}: create one with `yibao-keys issuer new`")]
    NoActiveKey(String),
    /// The bundle file is missing or does not verify against the root key.
    #[error("trust bundle {0}: {1}")]
    Bundle(String, String),
    /// The newest active key is not in the signed bundle, so terminals could not verify it.
    #[error("issuer key {0} is not in the signed bundle: run `yibao-keys bundle sign`")]
    KeyNotPublished(KeyId),
}

impl KeyMaterial {
    /// Loads the newest active issuer key valid at `now` and the signed bundle, checking that
    /// the bundle verifies against the root public key and lists the key.
    ///
    /// # Errors
    ///
    /// A [`KeyMaterialError`] saying what to run to fix it.
    pub fn load(dir: &Path, now: UnixTime) -> Result<Self, KeyMaterialError> {
        let keys = KeyDir::new(dir);
        let key = keys
            .issuer_keys()?
            .into_iter()
            .filter(|k| k.status == KeyStatus::Active && k.not_before <= now && now <= k.not_after)
            .max_by_key(|k| k.key_id)
            .ok_or_else(|| KeyMaterialError::NoActiveKey(dir.display().to_string()))?;
        let secret = keys.issuer_secret(key.key_id)?.secret;
        let root = keys.root_public()?;
        let path = keys.bundle_path();
        let bundle_document = std::fs::read_to_string(&path)
            .map_err(|e| KeyMaterialError::Bundle(path.display().to_string(), e.to_string()))?;
        let bundle = TrustBundle::open(&bundle_document, &root)
            .map_err(|e| KeyMaterialError::Bundle(path.display().to_string(), e.to_string()))?;
        if bundle
            .key(key.key_id)
            .is_none_or(|k| k.public_key != secret.public_key())
        {
            return Err(KeyMaterialError::KeyNotPublished(key.key_id));
        }
        // Settlement re-verifies handed-off codes with the very library terminals embed, on
        // the bundle terminals hold, so both give the same verdict.
        let mut verifier = Verifier::new(root, Policy::default());
        verifier
            .install_bundle(&bundle_document, now)
            .map_err(|e| KeyMaterialError::Bundle(path.display().to_string(), e.to_string()))?;
        Ok(Self {
            key_id: key.key_id,
            secret,
            bundle_document,
            bundle,
            verifier,
        })
    }

    /// The signing key's id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signed bundle as served.
    pub fn bundle_document(&self) -> &str {
        &self.bundle_document
    }

    /// The bundle, decoded.
    pub fn bundle(&self) -> &TrustBundle {
        &self.bundle
    }

    /// A verifier holding the served bundle, with the default terminal policy.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Signs a token for `claims`.
    ///
    /// # Errors
    ///
    /// Claims out of the format's range.
    pub fn sign(
        &self,
        claims: Claims,
        token_id: TokenId,
        now: UnixTime,
        lifetime_secs: u8,
    ) -> Result<String, yibao_shared::EncodeError> {
        TokenBody {
            kind: TokenKind::IssuerSigned,
            key_id: self.key_id,
            token_id,
            issued_at: now,
            lifetime_secs,
            claims,
        }
        .sign(&self.secret)
    }

    /// Certifies a phone's key for `claims` (a device certificate, kind 2): body then
    /// signature, as the phone stores it.
    ///
    /// # Errors
    ///
    /// Claims out of the format's range.
    pub fn certify(
        &self,
        certificate_id: CertificateId,
        issued_at: UnixTime,
        validity_hours: u8,
        claims: Claims,
        device_key: DevicePublicKey,
    ) -> Result<Vec<u8>, yibao_shared::EncodeError> {
        DeviceCertificate {
            key_id: self.key_id,
            certificate_id,
            issued_at,
            validity_hours,
            claims,
            device_key,
        }
        .sign(&self.secret)
    }

    /// Signs a status list document (complete when `since` is 0, else the delta after it).
    pub fn sign_status_list(
        &self,
        since: u64,
        sequence: u64,
        issued_at: UnixTime,
        revoked: Vec<RevokedCertificate>,
    ) -> Vec<u8> {
        let list = if since == 0 {
            StatusList::complete(self.key_id, sequence, issued_at, revoked)
        } else {
            StatusList::delta(self.key_id, since, sequence, issued_at, revoked)
        };
        list.sign(&self.secret)
    }
}
