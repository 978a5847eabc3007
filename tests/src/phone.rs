//! A test phone: holds a P-256 device key the way the app page does (there in WebCrypto),
//! registers it with the issuer, keeps the certificates and signs device-bound codes offline.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use yibao_issuer::domain::devices::proof_message;
use yibao_issuer::domain::devices::session::{SESSION_DOMAIN, SIGN_OUT_DOMAIN};
use yibao_shared::{DeviceSecretKey, Presentation, UnixTime, VoucherId, present};

/// One certificate the phone holds.
#[derive(Clone, Debug)]
pub struct HeldCertificate {
    /// Whose voucher.
    pub voucher_id: String,
    /// Signed certificate bytes.
    pub certificate: Vec<u8>,
    /// When it expires.
    pub expires_at: u64,
    /// Set for a family member's certificate.
    pub relation: Option<String>,
}

/// A phone with a device key.
#[derive(Debug)]
pub struct TestPhone {
    key: DeviceSecretKey,
    /// The issuer's id for it, once registered.
    pub device_id: Option<String>,
    /// The certificates it was last given.
    pub certificates: Vec<HeldCertificate>,
    nonce: u16,
}

impl TestPhone {
    /// A phone whose key is the scalar `[seed; 32]` (synthetic, deterministic).
    ///
    /// # Panics
    ///
    /// For seed 0 (not a valid scalar).
    pub fn new(seed: u8) -> Self {
        Self {
            key: DeviceSecretKey::from_bytes(&[seed; 32]).expect("a valid scalar"),
            device_id: None,
            certificates: Vec::new(),
            nonce: 0,
        }
    }

    /// The body of `POST /v1/devices` for `holder` at `now`.
    ///
    /// # Panics
    ///
    /// If `holder` is not a voucher id.
    pub fn registration(&self, holder: &str, now: u64) -> Value {
        let public = self.key.public_key();
        json!({
            "public_key": URL_SAFE_NO_PAD.encode(public.to_compressed()),
            "signed_at": now,
            "proof": self.proof(holder, now),
            "label": "test phone",
        })
    }

    /// The body of `POST /v1/devices/{id}/renew` for `holder` at `now`.
    pub fn renewal(&self, holder: &str, now: u64) -> Value {
        json!({ "signed_at": now, "proof": self.proof(holder, now) })
    }

    fn proof(&self, holder: &str, now: u64) -> String {
        let holder = VoucherId::parse(holder).expect("voucher id");
        let message = proof_message(holder, now, &self.key.public_key());
        URL_SAFE_NO_PAD.encode(self.key.sign(&message))
    }

    /// The body of `POST /v1/device-sessions`: `challenge` (as the issuer sent it) signed
    /// with this phone's key for `holder`.
    ///
    /// # Panics
    ///
    /// If the phone is not registered, or `holder` or `challenge` are malformed.
    pub fn session_request(&self, holder: &str, challenge: &str) -> Value {
        let device = self.device_id.as_deref().expect("registered");
        let mut message = SESSION_DOMAIN.to_vec();
        message.extend_from_slice(&VoucherId::parse(holder).expect("voucher id").0);
        message.extend_from_slice(&device_bytes(device));
        message.extend_from_slice(&URL_SAFE_NO_PAD.decode(challenge).expect("base64url"));
        json!({
            "voucher_id": holder,
            "device_id": device,
            "challenge": challenge,
            "signature": URL_SAFE_NO_PAD.encode(self.key.sign(&message)),
        })
    }

    /// The body of `POST /v1/devices/{id}/sign-out` for `holder`: the statement the page
    /// signs before it deletes its key.
    ///
    /// # Panics
    ///
    /// If the phone is not registered or `holder` is malformed.
    pub fn sign_out(&self, holder: &str) -> Value {
        let device = self.device_id.as_deref().expect("registered");
        let mut message = SIGN_OUT_DOMAIN.to_vec();
        message.extend_from_slice(&VoucherId::parse(holder).expect("voucher id").0);
        message.extend_from_slice(&device_bytes(device));
        json!({
            "voucher_id": holder,
            "signature": URL_SAFE_NO_PAD.encode(self.key.sign(&message)),
        })
    }

    /// Keeps the device id and certificates of a registration or renewal answer.
    ///
    /// # Panics
    ///
    /// If the answer does not have the documented shape.
    pub fn keep(&mut self, answer: &Value) {
        self.device_id = answer["device_id"].as_str().map(str::to_owned);
        self.certificates = answer["certificates"]
            .as_array()
            .expect("certificates")
            .iter()
            .map(|c| HeldCertificate {
                voucher_id: c["voucher_id"].as_str().expect("voucher").to_owned(),
                certificate: URL_SAFE_NO_PAD
                    .decode(c["certificate"].as_str().expect("certificate"))
                    .expect("base64url"),
                expires_at: c["expires_at"].as_u64().expect("expires_at"),
                relation: c["relation"].as_str().map(str::to_owned),
            })
            .collect();
    }

    /// A fresh device-bound code for `voucher` signed at `at`, 60 s lifetime: what the phone
    /// shows with no network.
    ///
    /// # Panics
    ///
    /// If the phone holds no certificate for `voucher`.
    pub fn code(&mut self, voucher: &str, at: u64) -> String {
        let held = self
            .certificates
            .iter()
            .find(|c| c.voucher_id == voucher)
            .expect("a certificate for this voucher");
        self.nonce = self.nonce.wrapping_add(1);
        present(
            &held.certificate,
            &Presentation {
                presented_at: UnixTime::from_secs(at),
                lifetime_secs: 60,
                nonce: self.nonce,
            },
            &self.key,
        )
        .expect("encodable")
    }
}

fn device_bytes(id: &str) -> Vec<u8> {
    (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16).expect("hex device id"))
        .collect()
}
