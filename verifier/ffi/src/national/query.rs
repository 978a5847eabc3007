//! `ec.query` (a scanned code checked offline and queued, answered in the national field
//! names) and `ec.result` (the settlement reference once the visit was handed off).

use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use yibao_verifier::yibao_shared::{BusinessType, Gender, InsuranceType, TokenId, TokenKind};
use yibao_verifier::{Accepted, Outcome};

use super::reply::{self, CODE_OK, Reply};
use crate::handle::{Handle, VisitRequest, error_info};

/// What `ec.query`'s `data` carries: the national request's fields, and the scanned code.
/// Fields the national interface has and yibao does not need are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryData {
    #[serde(default)]
    org_id: Option<String>,
    business_type: String,
    operator_id: String,
    #[serde(default)]
    operator_name: Option<String>,
    #[serde(default)]
    office_id: Option<String>,
    #[serde(default)]
    office_name: Option<String>,
    #[serde(default)]
    device_type: Option<String>,
    /// The code as the scanner read it.
    ec_qr_code: String,
}

/// The national interface sends `""` for a field it has no value for.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// The provisional `ecToken` of a visit queued at this terminal: `ybp`, the token id, the
/// queue position. Settlement's reference (`yb…`) replaces it once the visit is handed off.
fn provisional_token(token_id: TokenId, queued: u64) -> String {
    format!("ybp{token_id}{queued}")
}

/// The queue position and token id a provisional `ecToken` names.
fn parse_provisional(ec_token: &str) -> Option<(TokenId, u64)> {
    let rest = ec_token.strip_prefix("ybp")?;
    let (token, queued) = (rest.get(..16)?, rest.get(16..)?);
    Some((TokenId::parse(token)?, queued.parse().ok()?))
}

/// `ec.query`: the code checked offline and queued durably before the answer says so.
pub fn query(handle: &Handle, org_id: Option<&str>, data: Option<&RawValue>) -> Reply {
    let data: QueryData = match super::data(data) {
        Ok(d) => d,
        Err(answer) => return answer,
    };
    let institution = match (org_id, data.org_id.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return reply::error(&error_info(
                "invalid-request",
                "orgId differs between the request and its data",
            ));
        }
        (Some(a), _) | (None, Some(a)) => a.to_owned(),
        (None, None) => handle.institution().to_owned(),
    };
    let visit = VisitRequest {
        code: &data.ec_qr_code,
        institution: &institution,
        operator: &data.operator_id,
        business_type: &data.business_type,
        context: yibao_verifier::yibao_shared::VisitContext {
            operator_name: given(data.operator_name),
            office_id: given(data.office_id),
            office_name: given(data.office_name),
            device_type: given(data.device_type),
        },
    };
    match handle.check(visit) {
        Ok((accepted, business_type)) => (
            crate::json_calls::YIBAO_OK,
            accepted_answer(&accepted, &institution, &data.operator_id, business_type),
        ),
        Err(failure) => reply::failure(&failure),
    }
}

/// The answer of an accepted `ec.query`, serialised from borrowed fields (on every scan's
/// path).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswer<'a> {
    code: &'static str,
    reason: &'static str,
    message: &'static str,
    message_en: &'static str,
    data: QueryAnswerData<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswerData<'a> {
    /// Provisional until settlement's reference replaces it (`ec.result`).
    ec_token: String,
    /// Verified here, without the platform.
    offline: bool,
    settled: bool,
    /// The voucher id (the national index number's place).
    ec_index_no: String,
    /// Masked, as the code carries it.
    user_name: &'a str,
    /// GB/T 2261.1: 0 unknown, 1 male, 2 female.
    gender: &'static str,
    gender_name: &'static str,
    /// The birth year: the code carries no more.
    birthday: String,
    /// The insured region (参保地).
    insu_org: String,
    /// 310 employee basic, 390 resident basic.
    insutype: &'static str,
    insutype_name: &'static str,
    /// A 离线码 (shown from the phone's device key) rather than an issuer code.
    offline_code: bool,
    /// 代家人出示: the code was shown by a family member for this person.
    family_proxy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    binder_ec_index_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relation_name: Option<&'static str>,
    org_id: &'a str,
    operator_id: &'a str,
    business_type: &'static str,
    business_type_name: &'static str,
    /// The visit's place in this terminal's outbox.
    queued: u64,
    verified_at: u64,
    expires_at: u64,
}

fn accepted_answer(
    accepted: &Accepted,
    org_id: &str,
    operator_id: &str,
    business_type: BusinessType,
) -> String {
    let token = &accepted.token;
    let c = token.claims();
    let answer = QueryAnswer {
        code: CODE_OK,
        reason: "ok",
        message: "成功",
        message_en: "accepted",
        data: QueryAnswerData {
            ec_token: provisional_token(token.token_id(), accepted.seq),
            offline: true,
            settled: false,
            ec_index_no: c.voucher_id.to_string(),
            user_name: c.masked_name.as_str(),
            gender: match c.gender {
                Gender::Male => "1",
                Gender::Female => "2",
                Gender::Unknown => "0",
            },
            gender_name: c.gender.label_zh(),
            birthday: c.birth_year.to_string(),
            insu_org: c.region.to_string(),
            insutype: match c.insurance {
                InsuranceType::Employee => "310",
                InsuranceType::Resident => "390",
            },
            insutype_name: c.insurance.label_zh(),
            offline_code: token.kind() == TokenKind::DeviceBound,
            family_proxy: c.proxy.is_some(),
            binder_ec_index_no: c.proxy.as_ref().map(|p| p.binder.to_string()),
            relation_name: c.proxy.as_ref().map(|p| p.relation.label_zh()),
            org_id,
            operator_id,
            business_type: business_type.code(),
            business_type_name: business_type.label_zh(),
            queued: accepted.seq,
            verified_at: token.verified_at().as_secs(),
            expires_at: token.expires_at().as_secs(),
        },
    };
    // Plain fields: serialising cannot fail.
    serde_json::to_string(&answer).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultData {
    ec_token: String,
}

/// `ec.result`: what became of a visit `ec.query` queued, by its provisional `ecToken`.
/// Settled: settlement's reference as `ecToken`. Refused by settlement: a refusal with the
/// platform's code. Not yet handed off: the provisional `ecToken` and `settled: false`.
pub fn result(handle: &Handle, data: Option<&RawValue>) -> Reply {
    let data: ResultData = match super::data(data) {
        Ok(d) => d,
        Err(answer) => return answer,
    };
    let Some((token_id, queued)) = parse_provisional(&data.ec_token) else {
        return reply::error(&error_info(
            "invalid-ec-token",
            "expected the provisional ecToken ec.query answered (ybp…)",
        ));
    };
    let presentation = match handle.presentation(queued) {
        // Another terminal's token, or one made up: not found, as a wrong number is.
        Ok(p) if p.token_id == token_id => p,
        Ok(_) => return reply::error(&error_info("not-found", "no visit with this ecToken")),
        Err(e) => return reply::error(&e),
    };
    match presentation.outcome {
        None => reply::ok(&json!({
            "ecToken": data.ec_token,
            "settled": false,
            "offline": true,
            "ecIndexNo": presentation.voucher_id.to_string(),
        })),
        Some(Outcome::Settled { reference, at }) => reply::ok(&json!({
            "ecToken": reference,
            "settled": true,
            "offline": true,
            "ecIndexNo": presentation.voucher_id.to_string(),
            "settledAt": at.as_secs(),
        })),
        Some(Outcome::Refused { code, message, at }) => (
            crate::json_calls::YIBAO_REJECTED,
            json!({
                "code": reply::CODE_REFUSED,
                "reason": code,
                "message": "医保平台拒绝了此次就诊记录，请按自费处理或联系医保窗口",
                "messageEn": message,
                "refusedAt": at.as_secs(),
            })
            .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisional_token_names_its_queue_place_and_token() {
        let token = TokenId([0xab; 8]);
        let text = provisional_token(token, 42);
        assert_eq!(text, "ybpabababababababab42");
        assert_eq!(parse_provisional(&text), Some((token, 42)));
        for bad in [
            "",
            "ybp",
            "yb0123",
            "ybpabababababababab",
            "ybpzzzzzzzzzzzzzzzz1",
            "ybpabababababababab-1",
        ] {
            assert_eq!(parse_provisional(bad), None, "{bad}");
        }
    }
}
