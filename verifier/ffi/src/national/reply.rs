//! The answers of the national-shaped call: `{"code", "reason", "message", "messageEn",
//! "data"}`, `code` `"0000"` on success and a four-digit class otherwise, `reason` yibao's
//! stable code, `message` Chinese for the cashier and `messageEn` beside it.

use serde_json::{Value, json};
use yibao_verifier::Rejection;

use crate::handle::{ErrorInfo, Failure};
use crate::json_calls::{YIBAO_ERROR, YIBAO_OK, YIBAO_REJECTED};

/// Success.
pub const CODE_OK: &str = "0000";
/// The code was refused (a verdict), or settlement refused the visit.
pub const CODE_REFUSED: &str = "1001";
/// The request is wrong (fields, charset, JSON, transaction type).
pub const CODE_BAD_REQUEST: &str = "2001";
/// The terminal is not set up, or its outbox cannot record.
pub const CODE_TERMINAL: &str = "2002";
/// The issuer could not be reached or refused the terminal.
pub const CODE_NETWORK: &str = "2003";
/// No such record.
pub const CODE_NOT_FOUND: &str = "2004";
/// The output buffer is too small.
pub const CODE_BUFFER: &str = "2005";
/// An internal error (logged).
pub const CODE_INTERNAL: &str = "2999";

/// A status code and the answer's JSON text.
pub type Reply = (i32, String);

/// A success carrying `data`.
pub fn ok(data: &Value) -> Reply {
    (
        YIBAO_OK,
        json!({"code": CODE_OK, "reason": "ok", "message": "成功", "messageEn": "ok", "data": data})
            .to_string(),
    )
}

/// A verdict refusing the code.
pub fn refused(rejection: &Rejection) -> Reply {
    (
        YIBAO_REJECTED,
        json!({
            "code": CODE_REFUSED,
            "reason": rejection.code(),
            "message": rejection.reason_zh(),
            "messageEn": rejection.reason_en(),
            "detail": rejection.to_string(),
        })
        .to_string(),
    )
}

/// A failure, worded.
pub fn failure(f: &Failure) -> Reply {
    match f {
        Failure::Rejected(r) => refused(r),
        Failure::Error(e) => error(e),
    }
}

/// An error, with Chinese words for the cashier.
pub fn error(e: &ErrorInfo) -> Reply {
    let mut answer = json!({
        "code": class(e.code),
        "reason": e.code,
        "message": e.advice_zh.unwrap_or_else(|| message_zh(e.code)),
        "messageEn": e.message,
    });
    if let Some(field) = e.field {
        answer["field"] = json!(field);
    }
    (YIBAO_ERROR, answer.to_string())
}

/// The class of an error code.
fn class(code: &str) -> &'static str {
    match code {
        "null-pointer"
        | "invalid-utf8"
        | "invalid-charset"
        | "malformed-json"
        | "invalid-request"
        | "unknown-trans-type"
        | "invalid-field"
        | "invalid-business-type"
        | "institution-mismatch"
        | "invalid-setting"
        | "invalid-ec-token" => CODE_BAD_REQUEST,
        "sync-failed" | "issuer-unreachable" | "flush-failed" => CODE_NETWORK,
        "not-found" => CODE_NOT_FOUND,
        "buffer-too-small" => CODE_BUFFER,
        "panic" => CODE_INTERNAL,
        // The terminal's own: not set up, configuration, outbox.
        _ => CODE_TERMINAL,
    }
}

/// What the cashier reads for an error code.
fn message_zh(code: &str) -> &'static str {
    match code {
        "null-pointer" => "调用参数为空（接口调用错误，请联系软件厂商）",
        "invalid-utf8" | "invalid-charset" => "输入文字的编码不正确，请检查字符集设置",
        "malformed-json" => "请求格式错误（JSON 无法解析）",
        "invalid-request" => "请求内容不完整或字段类型有误",
        "unknown-trans-type" => "不支持的交易类型",
        "invalid-field" => "就诊信息不符合要求（操作员、科室或设备字段有误）",
        "invalid-business-type" => "业务类型代码不正确",
        "institution-mismatch" => "机构编码与本终端不符",
        "invalid-setting" => "初始化参数有误，请检查后重试",
        "invalid-ec-token" => "ecToken 格式不正确",
        "terminal-not-set-up" => "终端尚未初始化，请先执行初始化",
        "terminal-config-invalid" => "终端配置文件有误，请重新初始化",
        "terminal-dir-unwritable" => "终端目录无法写入，请检查磁盘空间和权限",
        "sync-failed" => "无法更新信任列表，请检查网络后重试；已有的列表继续使用",
        "issuer-unreachable" => "暂时无法连接医保平台；就诊记录已保存，网络恢复后再上传",
        "flush-failed" => "上传就诊记录被医保平台拒绝，请联系管理员检查终端配置",
        "not-found" => "未找到该记录",
        "buffer-too-small" => "输出缓冲区太小，请按 needed 给出的大小重新分配",
        "panic" => "内部错误，已写入日志；已保存的就诊记录不受影响",
        _ => "终端出错，请联系管理员",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::error_info;

    #[test]
    fn every_error_has_chinese_words_and_a_class() {
        for code in [
            "null-pointer",
            "invalid-utf8",
            "invalid-charset",
            "malformed-json",
            "invalid-request",
            "unknown-trans-type",
            "invalid-field",
            "invalid-business-type",
            "institution-mismatch",
            "invalid-setting",
            "invalid-ec-token",
            "terminal-not-set-up",
            "terminal-config-invalid",
            "terminal-dir-unwritable",
            "sync-failed",
            "issuer-unreachable",
            "flush-failed",
            "not-found",
            "buffer-too-small",
            "panic",
        ] {
            let (status, text) = error(&error_info(code, "english"));
            assert_eq!(status, YIBAO_ERROR);
            let answer: Value = serde_json::from_str(&text).expect("json");
            assert_ne!(answer["message"], "终端出错，请联系管理员", "{code}");
            assert_eq!(answer["reason"], code);
            assert_eq!(answer["messageEn"], "english");
            assert_eq!(answer["code"].as_str().map(str::len), Some(4), "{code}");
        }
    }
}
