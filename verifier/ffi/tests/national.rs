//! The national-shaped buffer call as a HIS calls it: `ec.query` in the national field names
//! (accepted, replayed, forged, an operator name in GBK), the caller's buffer too small, the
//! visit context kept with the queued visit, `ec.result` before hand-off, set-up. One test:
//! the charset is one setting for the process.
#![allow(unsafe_code)]

mod common;

use std::ffi::{CString, c_char};

use proptest::strategy::Strategy;
use serde_json::{Value, json};
use yibao_tests::sample;
use yibao_verifier::yibao_shared::SecretKey;
use yibao_verifier::{Clock, SystemClock, terminal_dir};
use yibao_verifier_ffi::{
    YIBAO_BUFFER_TOO_SMALL, YIBAO_ERROR, YIBAO_NO_ANSWER, YIBAO_OK, YIBAO_REJECTED, yibao_ec_trans,
    yibao_set_charset, yibao_version,
};

/// One call with a buffer of `size` bytes: the status, the answer's bytes and `needed`.
fn trans_bytes(dir: &[u8], input: &[u8], size: usize) -> (i32, Vec<u8>, i32) {
    let (dir, input) = (
        CString::new(dir).expect("c"),
        CString::new(input).expect("c"),
    );
    let mut out = vec![0x55u8; size.max(1)];
    let mut needed = -1;
    // SAFETY: NUL-terminated strings, a buffer of `size` bytes, a valid `needed`.
    let status = unsafe {
        yibao_ec_trans(
            dir.as_ptr(),
            input.as_ptr(),
            out.as_mut_ptr().cast::<c_char>(),
            i32::try_from(size).expect("size"),
            &mut needed,
        )
    };
    let end = out.iter().position(|&b| b == 0).expect("NUL-terminated");
    out.truncate(end);
    (status, out, needed)
}

fn trans(dir: &std::path::Path, input: &Value) -> (i32, Value) {
    let dir = dir.display().to_string();
    let (status, out, needed) = trans_bytes(dir.as_bytes(), input.to_string().as_bytes(), 8192);
    assert_eq!(usize::try_from(needed).ok(), Some(out.len() + 1));
    (status, serde_json::from_slice(&out).expect("a JSON answer"))
}

fn code(issuer: &SecretKey, n: u32) -> String {
    let mut body = sample::body(n % 2 == 0);
    body.issued_at = SystemClock.now();
    body.token_id.0[..4].copy_from_slice(&n.to_be_bytes());
    body.sign(issuer).expect("signs")
}

fn query(code: &str, operator_name: &str) -> Value {
    json!({"transType": "ec.query", "orgId": common::INSTITUTION, "data": {
        "orgId": common::INSTITUTION, "businessType": "02121", "operatorId": "c-01",
        "operatorName": operator_name, "officeId": "A03", "officeName": "消化内科",
        "deviceType": "", "ecQrCode": code,
    }})
}

#[test]
fn the_national_call_checks_queues_and_answers_in_the_national_names() {
    let (root, issuer) = (sample::root_key(), sample::issuer_key());
    let dir = common::terminal_dir(&root, &issuer, SystemClock.now());
    let path = dir.path();

    // Accepted: the national names, a provisional ecToken, the visit context kept.
    let first = code(&issuer, 1);
    let (status, answer) = trans(path, &query(&first, "测试收银员"));
    assert_eq!(status, YIBAO_OK, "{answer}");
    assert_eq!(answer["code"], "0000");
    let data = &answer["data"];
    assert_eq!(data["userName"], "测*甲");
    assert_eq!(data["gender"], "1");
    assert_eq!(data["birthday"], "1948");
    assert_eq!(data["insuOrg"], "110105");
    assert_eq!(data["insutype"], "390");
    assert_eq!(data["offline"], true);
    assert_eq!(data["offlineCode"], false);
    assert_eq!(data["familyProxy"], false);
    assert_eq!(data["ecIndexNo"], "a0a1a2a3a4a5a6a7");
    let ec_token = data["ecToken"].as_str().expect("ecToken").to_owned();
    assert!(ec_token.starts_with("ybp"), "{ec_token}");

    // Replayed and forged: verdicts with Chinese words.
    let (status, answer) = trans(path, &query(&first, "测试收银员"));
    assert_eq!(status, YIBAO_REJECTED, "{answer}");
    assert_eq!(
        (answer["code"].clone(), answer["reason"].clone()),
        (json!("1001"), json!("replayed"))
    );
    assert!(
        answer["message"].as_str().is_some_and(|m| !m.is_ascii()),
        "{answer}"
    );
    let mut forged = code(&issuer, 3);
    forged.pop();
    forged.push('A');
    let (status, answer) = trans(path, &query(&forged, "x"));
    assert_eq!(status, YIBAO_REJECTED, "{answer}");

    // A family member's code: 代家人出示 and the relation.
    let (status, answer) = trans(path, &query(&code(&issuer, 4), "测试收银员"));
    assert_eq!(status, YIBAO_OK, "{answer}");
    assert_eq!(answer["data"]["familyProxy"], true);
    assert_eq!(answer["data"]["relationName"], "子女");

    // A field settlement would refuse: never queued, named.
    let (status, answer) = trans(path, &query(&code(&issuer, 5), &"名".repeat(65)));
    assert_eq!(status, YIBAO_ERROR, "{answer}");
    assert_eq!(answer["field"], "operator_name", "{answer}");
    assert_eq!(answer["code"], "2001");

    // ec.result before the hand-off: still provisional.
    let (status, answer) = trans(
        path,
        &json!({"transType": "ec.result", "data": {"ecToken": ec_token}}),
    );
    assert_eq!(status, YIBAO_OK, "{answer}");
    assert_eq!(answer["data"]["settled"], false);
    let (status, answer) = trans(
        path,
        &json!({"transType": "ec.result", "data": {"ecToken": "ybp00"}}),
    );
    assert_eq!(
        (status, answer["reason"].clone()),
        (YIBAO_ERROR, json!("invalid-ec-token"))
    );

    // Too small a buffer: ec.query does not run (nothing queued, no replay after); a read
    // says what it needs.
    let dir_text = path.display().to_string();
    let second = code(&issuer, 7);
    let input = query(&second, "测试收银员").to_string();
    let (status, _, needed) = trans_bytes(dir_text.as_bytes(), input.as_bytes(), 100);
    assert_eq!((status, needed), (YIBAO_BUFFER_TOO_SMALL, 4096));
    let (status, out, _) = trans_bytes(dir_text.as_bytes(), input.as_bytes(), 4096);
    assert_eq!(status, YIBAO_OK, "{}", String::from_utf8_lossy(&out));
    let status_request = json!({"transType": "yibao.status"}).to_string();
    let (status, _, needed) = trans_bytes(dir_text.as_bytes(), status_request.as_bytes(), 10);
    assert_eq!(status, YIBAO_BUFFER_TOO_SMALL);
    let (status, out, _) = trans_bytes(
        dir_text.as_bytes(),
        status_request.as_bytes(),
        usize::try_from(needed).expect("needed"),
    );
    assert_eq!(status, YIBAO_OK);
    let state: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(state["data"]["queued"], 3, "{state}");

    // Bad input: stable codes, never a panic.
    let (status, answer) = trans(path, &json!({"transType": "ec.pay"}));
    assert_eq!(
        (status, answer["reason"].clone()),
        (YIBAO_ERROR, json!("unknown-trans-type"))
    );
    let (status, out, _) = trans_bytes(dir_text.as_bytes(), b"{\"transType\": ", 4096);
    assert_eq!(status, YIBAO_ERROR);
    assert!(String::from_utf8_lossy(&out).contains("malformed-json"));
    let (status, out, _) = trans_bytes(dir_text.as_bytes(), b"{\"x\": \"\xb2\xe2\"}", 4096);
    assert_eq!(status, YIBAO_ERROR);
    assert!(String::from_utf8_lossy(&out).contains("invalid-utf8"));
    // SAFETY: null pointers are answered, not dereferenced.
    let status = unsafe {
        yibao_ec_trans(
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, YIBAO_NO_ANSWER);

    // GBK in and out: an ANSI program's operator name, the masked name back in GBK.
    // SAFETY: a NUL-terminated name.
    assert_eq!(unsafe { yibao_set_charset(c"GBK".as_ptr()) }, YIBAO_OK);
    let gbk_input = query(&code(&issuer, 9), "测试收银员").to_string();
    let (gbk, _, _) = encoding_rs::GBK.encode(&gbk_input);
    let (status, out, _) = trans_bytes(dir_text.as_bytes(), &gbk, 4096);
    let (text, _, malformed) = encoding_rs::GBK.decode(&out);
    assert!(!malformed);
    assert_eq!(status, YIBAO_OK, "{text}");
    assert!(out.windows(2).any(|w| w == [0xB2, 0xE2]), "测 in GBK");
    let answer: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(answer["data"]["userName"], "测*甲");
    // The longest answer ec.query can give (a family member's code, an operator id of 64
    // characters GBK lacks, each a 12-byte escape) fits the 4096 bytes ec.query asks for.
    let mut longest = query(&code(&issuer, 10), "测试收银员");
    longest["data"]["operatorId"] = json!("𠮷".repeat(64));
    let longest = longest.to_string();
    let (gb18030, _, _) = encoding_rs::GB18030.encode(&longest);
    let (status, out, needed) = trans_bytes(dir_text.as_bytes(), &gb18030, 4096);
    assert_eq!(status, YIBAO_OK, "{}", String::from_utf8_lossy(&out));
    assert!(needed > 1000 && needed <= 4096, "{needed}");
    let (text, _, malformed) = encoding_rs::GBK.decode(&out);
    assert!(!malformed);
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    assert!(text.contains("\\ud842\\udfb7"), "escaped, not lost: {text}");
    assert_eq!(answer["data"]["operatorId"], "𠮷".repeat(64));
    assert_eq!(answer["data"]["familyProxy"], true);
    // UTF-8 bytes are not GBK text: said so.
    let (status, out, _) = trans_bytes(dir_text.as_bytes(), "{\"x\":\"测\"}".as_bytes(), 4096);
    assert_eq!(status, YIBAO_ERROR);
    assert!(String::from_utf8_lossy(&out).contains("invalid-charset"));
    // SAFETY: NUL-terminated names.
    unsafe {
        assert_eq!(yibao_set_charset(c"EBCDIC".as_ptr()), YIBAO_ERROR);
        assert_eq!(yibao_set_charset(c"UTF-8".as_ptr()), YIBAO_OK);
    }

    // The version call: version, build, ABI version.
    let mut out = [0u8; 256];
    let mut needed = 0;
    // SAFETY: a 256-byte buffer.
    let status = unsafe { yibao_version(out.as_mut_ptr().cast(), 256, &mut needed) };
    assert_eq!(status, YIBAO_OK);
    let end = out.iter().position(|&b| b == 0).expect("NUL");
    let version: Value = serde_json::from_slice(&out[..end]).expect("json");
    assert_eq!(version["abiVersion"], 1);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        version["build"]
            .as_str()
            .is_some_and(|b| b.contains("linux")),
        "{version}"
    );

    // Close, then the visits are in the outbox with their context.
    let (status, _) = trans(path, &json!({"transType": "yibao.close"}));
    assert_eq!(status, YIBAO_OK);
    let outbox = yibao_verifier::Outbox::open(path).expect("closed, so it opens");
    let queued = outbox.queued(10).expect("reads");
    assert_eq!(queued.len(), 5);
    assert_eq!(
        queued[0].visit.context.operator_name.as_deref(),
        Some("测试收银员")
    );
    assert_eq!(
        queued[0].visit.context.office_name.as_deref(),
        Some("消化内科")
    );
    assert_eq!(
        queued[0].visit.context.device_type, None,
        "\"\" is no value"
    );
    drop(outbox);

    init_refuses_bad_settings_and_sets_a_terminal_up_once();
}

/// `yibao.init`: bad settings refused before anything is written, the same settings again
/// keep the outbox, a failed sync said.
fn init_refuses_bad_settings_and_sets_a_terminal_up_once() {
    let root = sample::root_key();
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("terminal");
    let root_file = base.path().join("root.public.json");
    std::fs::write(
        &root_file,
        yibao_verifier::yibao_shared::key_file::PublicKeyFile::new(
            yibao_verifier::yibao_shared::key_file::KeyRole::Root,
            None,
            root.public_key(),
        )
        .to_json(),
    )
    .expect("root key");
    let init = |credential: &str, sync: bool| {
        json!({"transType": "yibao.init", "data": {
            "issuerUrl": "http://127.0.0.1:9", "credential": credential,
            "orgId": common::INSTITUTION, "rootKeyFile": root_file, "sync": sync,
            "logLevel": "debug",
        }})
    };
    let (status, answer) = trans(&dir, &init("not-a-credential", false));
    assert_eq!(
        (status, answer["reason"].clone()),
        (YIBAO_ERROR, json!("invalid-setting"))
    );
    assert!(
        !dir.join(terminal_dir::CONFIG_FILE).exists(),
        "nothing written"
    );
    let (status, answer) = trans(&dir, &init("ybt_test", false));
    assert_eq!(status, YIBAO_OK, "{answer}");
    assert_eq!(answer["data"]["outbox"], "created");
    // Again: the same terminal, its outbox kept.
    let (status, answer) = trans(&dir, &init("ybt_test", false));
    assert_eq!(status, YIBAO_OK, "{answer}");
    assert_eq!(answer["data"]["outbox"], "kept");
    // Syncing with an issuer that is not there: set up, but said.
    let (status, answer) = trans(&dir, &init("ybt_test", true));
    assert_eq!(
        (status, answer["code"].clone()),
        (YIBAO_ERROR, json!("2003")),
        "{answer}"
    );
    let log = std::fs::read_to_string(dir.join(yibao_verifier_ffi::log::LOG_FILE)).expect("log");
    assert!(log.contains("yibao.init"), "{log}");
    assert!(!log.contains("ybt_test"), "no credential in the log: {log}");
    let (status, _) = trans(&dir, &json!({"transType": "yibao.close"}));
    assert_eq!(status, YIBAO_OK);
}

/// A terminal directory set up once for the garbage.
fn garbage_dir() -> &'static str {
    static DIR: std::sync::OnceLock<(tempfile::TempDir, String)> = std::sync::OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = common::terminal_dir(
            &sample::root_key(),
            &sample::issuer_key(),
            SystemClock.now(),
        );
        let text = dir.path().display().to_string();
        (dir, text)
    })
    .1
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Garbage and near-national requests get an answer with a return value the header
    /// lists, never a panic or an unterminated buffer, whatever the charset in force.
    #[test]
    fn any_request_gets_a_listed_answer(
        input in proptest::prop_oneof![
            proptest::collection::vec(1u8..=255, 0..200),
            "\\{\"transType\":\"(ec\\.query|ec\\.result|yibao\\.status|x)\",\"data\":\\{(\"[a-zA-Z]{1,12}\":(\"[a-z0-9 测𠮷*]{0,20}\"|[0-9]{1,5}|null|\\[\\]),?){0,6}\\}\\}"
                .prop_map(String::into_bytes),
        ],
        size in 0usize..5000,
    ) {
        let (status, out, needed) = trans_bytes(garbage_dir().as_bytes(), &input, size.max(1));
        proptest::prop_assert!(matches!(status, 0..=2 | 4), "{status}");
        proptest::prop_assert!(out.len() < size.max(1));
        proptest::prop_assert!(needed >= 1);
    }
}
