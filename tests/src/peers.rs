//! The same claims as a JWT (EdDSA, `jsonwebtoken`) and a PASETO v4.public token
//! (`pasetors`): what our format is measured against for size and speed.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pasetors::claims::{Claims as PasetoClaims, ClaimsValidationRules};
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::token::UntrustedToken as PasetoUntrusted;
use pasetors::version4::V4;
use pasetors::{Public, public};
use serde::{Deserialize, Serialize};
use yibao_shared::TokenBody;

/// The token's claims with the short JSON names a careful JWT designer would choose.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JsonClaims {
    /// Voucher id.
    pub vid: String,
    /// Token id.
    pub jti: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
    /// Region.
    pub rgn: String,
    /// Insurance type.
    pub ins: String,
    /// Masked name.
    pub nm: String,
    /// Gender.
    pub g: String,
    /// Birth year.
    pub by: u16,
    /// Binder's voucher id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bvid: Option<String>,
    /// Relation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
}

impl JsonClaims {
    /// The claims of `body`, valid from `iat` for `exp - iat` seconds.
    pub fn of(body: &TokenBody, iat: u64, exp: u64) -> Self {
        let c = &body.claims;
        let text = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        Self {
            vid: c.voucher_id.to_string(),
            jti: body.token_id.to_string(),
            iat,
            exp,
            rgn: c.region.to_string(),
            ins: text(serde_json::json!(c.insurance)),
            nm: c.masked_name.to_string(),
            g: text(serde_json::json!(c.gender)),
            by: c.birth_year,
            bvid: c.proxy.map(|p| p.binder.to_string()),
            rel: c.proxy.map(|p| text(serde_json::json!(p.relation))),
        }
    }
}

/// PKCS#8 v1 DER of an Ed25519 seed (RFC 8410), the form `jsonwebtoken` takes.
fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

/// A JWT signer/verifier pair over one Ed25519 key.
#[allow(missing_debug_implementations)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Jwt {
    /// Keys from a seed.
    pub fn new(seed: &[u8; 32]) -> Self {
        let public = yibao_shared::SecretKey::from_seed(seed)
            .public_key()
            .to_bytes();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_ed_der(&pkcs8(seed)),
            decoding: DecodingKey::from_ed_der(&public),
            validation,
        }
    }

    /// Signs claims.
    ///
    /// # Errors
    ///
    /// As `jsonwebtoken::encode`.
    pub fn sign(&self, claims: &JsonClaims) -> jsonwebtoken::errors::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("1".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    /// Verifies and decodes (checks `exp` against the system clock, as the library does).
    ///
    /// # Errors
    ///
    /// As `jsonwebtoken::decode`.
    pub fn verify(&self, token: &str) -> jsonwebtoken::errors::Result<JsonClaims> {
        jsonwebtoken::decode::<JsonClaims>(token, &self.decoding, &self.validation)
            .map(|t| t.claims)
    }
}

/// A PASETO v4.public signer/verifier pair.
#[allow(missing_debug_implementations)]
pub struct Paseto {
    secret: AsymmetricSecretKey<V4>,
    public: AsymmetricPublicKey<V4>,
    rules: ClaimsValidationRules,
}

impl Paseto {
    /// A fresh key pair.
    ///
    /// # Errors
    ///
    /// If key generation fails.
    pub fn new() -> Result<Self, pasetors::errors::Error> {
        let pair = AsymmetricKeyPair::<V4>::generate()?;
        Ok(Self {
            secret: pair.secret,
            public: pair.public,
            rules: ClaimsValidationRules::new(),
        })
    }

    /// Signs the same claims (PASETO's own `iat`/`nbf`/`exp` from its clock, the rest as
    /// additional claims).
    ///
    /// # Errors
    ///
    /// As `pasetors::public::sign`.
    pub fn sign(&self, claims: &JsonClaims) -> Result<String, pasetors::errors::Error> {
        let mut c = PasetoClaims::new_expires_in(&core::time::Duration::from_secs(60))?;
        c.token_identifier(&claims.jti)?;
        for (name, value) in [
            ("vid", &claims.vid),
            ("rgn", &claims.rgn),
            ("ins", &claims.ins),
            ("nm", &claims.nm),
            ("g", &claims.g),
        ] {
            c.add_additional(name, value.as_str())?;
        }
        c.add_additional("by", claims.by)?;
        if let (Some(b), Some(r)) = (&claims.bvid, &claims.rel) {
            c.add_additional("bvid", b.as_str())?;
            c.add_additional("rel", r.as_str())?;
        }
        public::sign(&self.secret, &c, None, None)
    }

    /// Verifies a token and validates its registered claims.
    ///
    /// # Errors
    ///
    /// As `pasetors::public::verify`.
    pub fn verify(&self, token: &str) -> Result<(), pasetors::errors::Error> {
        let untrusted = PasetoUntrusted::<Public, V4>::try_from(token)?;
        public::verify(&self.public, &untrusted, &self.rules, None, None).map(|_| ())
    }
}
