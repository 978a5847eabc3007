//! How a verdict is shown: text for a person (Chinese first), JSON for a program.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use yibao_verifier::{Rejection, VerifiedToken};

pub(crate) fn text(verdict: &Result<VerifiedToken, Rejection>, queued: Option<u64>) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = match verdict {
        Ok(token) => accepted_text(&mut out, token).and_then(|()| match queued {
            Some(seq) => writeln!(out, "  已入队 queued for settlement as #{seq}"),
            None => Ok(()),
        }),
        Err(rejection) => writeln!(
            out,
            "✘ 拒绝 REJECTED  {} / {}  [{}]\n  detail: {rejection}",
            rejection.reason_zh(),
            rejection.reason_en(),
            rejection.code()
        ),
    };
    out
}

fn accepted_text(out: &mut String, token: &VerifiedToken) -> std::fmt::Result {
    let c = token.claims();
    writeln!(out, "✔ 通过 ACCEPTED")?;
    if let Some(certificate) = token.certificate() {
        writeln!(
            out,
            "  离线码 offline device code (certificate {}, valid to {})",
            certificate.certificate_id,
            rfc3339(certificate.expires_at().as_secs())
        )?;
    }
    writeln!(out, "  姓名 name        {}", c.masked_name)?;
    writeln!(
        out,
        "  性别 gender      {} {:?}",
        c.gender.label_zh(),
        c.gender
    )?;
    writeln!(out, "  出生年 born      {}", c.birth_year)?;
    writeln!(
        out,
        "  参保地 region    {}  {} {:?}",
        c.region,
        c.insurance.label_zh(),
        c.insurance
    )?;
    if let Some(proxy) = &c.proxy {
        writeln!(
            out,
            "  代家人出示 shown by a family member: binder {} ({} {:?})",
            proxy.binder,
            proxy.relation.label_zh(),
            proxy.relation
        )?;
    }
    writeln!(out, "  凭证 voucher     {}", c.voucher_id)?;
    writeln!(
        out,
        "  有效至 valid to  {}  (key {}, token {})",
        rfc3339(token.expires_at().as_secs()),
        token.key_id(),
        token.token_id()
    )
}

pub(crate) fn json(verdict: &Result<VerifiedToken, Rejection>, queued: Option<u64>) -> Value {
    match verdict {
        Ok(token) => json!({
            "accepted": true,
            "queued": queued,
            "key_id": token.key_id(),
            "key_status": token.key_status(),
            "kind": token.kind(),
            "certificate_id": token.certificate_id(),
            "certificate_expires_at": token.certificate().map(|c| c.expires_at()),
            "token_id": token.token_id(),
            "issued_at": token.issued_at(),
            "expires_at": token.expires_at(),
            "verified_at": token.verified_at(),
            "claims": token.claims(),
        }),
        Err(rejection) => json!({
            "accepted": false,
            "code": rejection.code(),
            "reason_zh": rejection.reason_zh(),
            "reason_en": rejection.reason_en(),
            "detail": rejection.to_string(),
        }),
    }
}

pub(crate) fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}
