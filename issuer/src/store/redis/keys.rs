//! Key names (the layout is in the module docs of [`super`]).

use yibao_shared::VoucherId;

use crate::secrets::{CredentialHash, IdKey};

pub(super) fn person_key(k: &IdKey) -> String {
    format!("yb:p:{{{}}}", k.to_hex())
}
pub(super) fn person_voucher_key(k: &IdKey) -> String {
    format!("yb:p:{{{}}}:v", k.to_hex())
}
pub(super) fn voucher_key(v: VoucherId) -> String {
    format!("yb:v:{{{v}}}")
}
pub(super) fn voucher_status_key(v: VoucherId) -> String {
    format!("yb:v:{{{v}}}:status")
}
pub(super) fn voucher_creds_key(v: VoucherId) -> String {
    format!("yb:v:{{{v}}}:creds")
}
pub(super) fn credential_key(h: &CredentialHash) -> String {
    format!("yb:c:{{{}}}", h.to_hex())
}
pub(super) fn credential_revoked_key(h: &CredentialHash) -> String {
    format!("yb:c:{{{}}}:revoked", h.to_hex())
}
pub(super) const INSTITUTIONS: &str = "yb:inst";
pub(super) fn voucher_generation_key(v: VoucherId) -> String {
    format!("yb:v:{{{v}}}:gen")
}
