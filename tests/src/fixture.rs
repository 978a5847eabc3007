//! Everything the token benchmarks compare, set up once: the same claims as a yibao code, a
//! JWT and a PASETO token, plus the raw Ed25519 baseline over the same signed bytes.

use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use yibao_shared::{SecretKey, TOKEN_DOMAIN, TokenBody};
use yibao_verifier::{Policy, Verifier};

use crate::peers::{JsonClaims, Jwt, Paseto};
use crate::sample;

/// The benchmark inputs.
#[allow(missing_debug_implementations)]
pub struct Fixture {
    /// The reference token body.
    pub body: TokenBody,
    /// Its issuer key.
    pub key: SecretKey,
    /// Its signed code.
    pub code: String,
    /// `TOKEN_DOMAIN || body`: what is signed.
    pub message: Vec<u8>,
    /// The same issuer key as a bare `ed25519-dalek` key.
    pub raw_key: SigningKey,
    /// Its verifying key.
    pub raw_public: VerifyingKey,
    /// `raw_key`'s signature over `message`.
    pub raw_signature: Signature,
    /// A verifier holding the sample bundle (use at [`sample::NOW`]).
    pub verifier: Verifier,
    /// The claims as JSON for the peers, valid for an hour from the real clock (the peers
    /// read the system clock themselves).
    pub claims: JsonClaims,
    /// JWT signer/verifier and a token of `claims`.
    pub jwt: Jwt,
    /// A JWT of `claims`.
    pub jwt_token: String,
    /// PASETO signer/verifier.
    pub paseto: Paseto,
    /// A PASETO token of `claims`.
    pub paseto_token: String,
}

impl Fixture {
    /// Builds the fixture.
    ///
    /// # Panics
    ///
    /// If a peer library fails to sign its own token (a broken benchmark, not a result).
    pub fn new() -> Self {
        let body = sample::body(false);
        let key = sample::issuer_key();
        let code = body.sign(&key).expect("signs");
        let mut message = TOKEN_DOMAIN.to_vec();
        body.encode(&mut message).expect("encodes");
        let raw_key = SigningKey::from_bytes(&key.seed());
        let raw_signature = raw_key.sign(&message);
        let mut verifier = Verifier::new(sample::root_key().public_key(), Policy::default());
        verifier
            .install_bundle(&sample::bundle_document(), sample::NOW)
            .expect("bundle");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = JsonClaims::of(&body, now, now + 3_600);
        let jwt = Jwt::new(&key.seed());
        let jwt_token = jwt.sign(&claims).expect("jwt");
        let paseto = Paseto::new().expect("paseto keys");
        let paseto_token = paseto.sign(&claims).expect("paseto");
        Self {
            raw_public: raw_key.verifying_key(),
            body,
            key,
            code,
            message,
            raw_key,
            raw_signature,
            verifier,
            claims,
            jwt,
            jwt_token,
            paseto,
            paseto_token,
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
