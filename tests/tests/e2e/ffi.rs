//! The C ABI from outside Rust, as terminal vendors call it: a C program compiled with the
//! system C compiler, Python through ctypes and Java through JNA each run the same scenario
//! against a real terminal directory and a running issuer (`verifier/ffi/clients/`): a code
//! accepted, its replay and a forged copy refused, bad input answered with error codes,
//! status, flush, and the settlement reference.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::platform::{PHARMACY, Platform, TerminalDir};
use yibao_tests::process::{binary, workspace_root};

/// The shared library, built with the binaries (`yibao_tests::process::binary`).
pub(crate) fn library() -> PathBuf {
    let path = binary("yibao-verify")
        .parent()
        .map(|dir| dir.join("libyibao_verifier_ffi.so"))
        .unwrap_or_default();
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn clients() -> PathBuf {
    workspace_root().join("verifier/ffi/clients")
}

fn tool(program: &str, install: &str) -> String {
    assert!(
        Command::new(program).arg("--version").output().is_ok(),
        "{program} is missing: {install} (scripts/test.sh installs it)"
    );
    program.to_owned()
}

/// Compiles the C client `source` (under `clients/`) against the header and the library
/// with warnings as errors, and returns the command that runs it.
fn c_client(source: &str, exe: &Path) -> Command {
    let lib_dir = library()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let status = Command::new(tool("cc", "apt-get install -y gcc"))
        .args(["-Wall", "-Wextra", "-Werror", "-o"])
        .arg(exe)
        .arg(clients().join(source))
        .arg("-I")
        .arg(workspace_root().join("verifier/ffi/include"))
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lyibao_verifier_ffi")
        .status()
        .expect("cc runs");
    assert!(status.success(), "the C client {source} does not compile");
    let mut cmd = Command::new(exe);
    cmd.env("LD_LIBRARY_PATH", lib_dir);
    cmd
}

/// Runs a client; its last line must be `OK <reference>` and the exit status 0.
fn run(mut command: Command, language: &str) -> String {
    let out = command.output().expect("the client runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{language} client failed:\n{text}");
    let last = text.lines().last().unwrap_or_default();
    let reference = last
        .strip_prefix("OK ")
        .unwrap_or_else(|| panic!("{language} client: no reference:\n{text}"));
    reference.to_owned()
}

fn scenario(platform: &Platform, terminal: &TerminalDir, language: &str) -> (String, String) {
    let (holder, _) = platform.holder(match language {
        "c" => 3,
        "python" => 4,
        _ => 5,
    });
    let code = platform.code(&holder);
    let args = |cmd: &mut Command| {
        cmd.arg(&terminal.dir).arg(PHARMACY).arg(&code);
    };
    let reference = match language {
        "c" => {
            let mut cmd = c_client("c/check.c", &terminal.dir.join("check-c"));
            args(&mut cmd);
            run(cmd, language)
        }
        "python" => {
            let mut cmd = Command::new(tool("python3", "apt-get install -y python3"));
            cmd.arg(clients().join("python/check.py")).arg(library());
            args(&mut cmd);
            run(cmd, language)
        }
        _ => {
            let jna = "/usr/share/java/jna.jar";
            assert!(
                Path::new(jna).exists(),
                "{jna} is missing: apt-get install -y libjna-java (scripts/test.sh installs it)"
            );
            let mut cmd = Command::new(tool("java", "apt-get install -y default-jdk-headless"));
            cmd.args(["-cp", jna])
                .arg(clients().join("java/Check.java"))
                .arg(library());
            args(&mut cmd);
            run(cmd, language)
        }
    };
    (code, reference)
}

#[test]
fn c_python_and_java_check_replay_forge_and_flush_through_the_c_abi() {
    let platform = Platform::new();
    for language in ["c", "python", "java"] {
        // A terminal per client: each scenario counts its own queue from empty.
        let terminal = platform.terminal(PHARMACY, &format!("p-{language}"));
        let (code, reference) = scenario(&platform, &terminal, language);
        // The reference is the issuer's for this code: the CLI on the same outbox agrees
        // the code was used, and settlement has it.
        let (exit, out) = terminal.run(&["check", &code]);
        assert_eq!(exit, 1, "{out}");
        assert!(out.contains("医保码已使用"), "{out}");
        assert!(
            reference.len() >= 8 && !reference.contains(' '),
            "{language}: {reference}"
        );
    }
    // The command line keeps the same visit context: a bad one is refused and not queued,
    // a good one is handed off and kept with the settlement.
    let terminal = platform.terminal(PHARMACY, "p-cli");
    let (holder, voucher) = platform.holder(6);
    let code = platform.code(&holder);
    let (exit, out) = terminal.run(&["check", &code, "--office-id", &"x".repeat(33)]);
    assert_eq!(exit, 2, "{out}");
    assert!(out.contains("office id"), "{out}");
    let (exit, out) = terminal.run(&[
        "check",
        &code,
        "--operator-name",
        "测试收银员",
        "--office-name",
        "消化内科",
    ]);
    assert_eq!(exit, 0, "{out}");
    let (exit, out) = terminal.run(&["flush"]);
    assert_eq!(exit, 0, "{out}");
    let audit = platform.audit(&voucher);
    assert_eq!(
        audit["settlements"][0]["context"],
        serde_json::json!({"operator_name": "测试收银员", "office_name": "消化内科"}),
        "{audit}"
    );
}

/// The set-up request a HIS sends through `yibao.init`, written where the client reads it.
fn init_request(platform: &Platform, dir: &Path, credential: &str) -> PathBuf {
    let request = serde_json::json!({"transType": "yibao.init", "orgId": PHARMACY, "data": {
        "issuerUrl": platform.url(""), "credential": credential, "orgId": PHARMACY,
        "rootKeyFile": platform.root_key_path(), "operatorId": "cashier-1",
    }});
    let path = dir.with_extension("init.json");
    std::fs::write(&path, request.to_string()).expect("init request");
    path
}

/// Runs one language's national client against a fresh, not yet set up, terminal directory.
fn national_scenario(platform: &Platform, language: &str, holder_index: usize) {
    let (holder, voucher) = platform.holder(holder_index);
    let code = platform.code(&holder);
    let id = format!("n-{language}");
    let credential = platform.register_terminal(PHARMACY, &id);
    let dir = platform.data.path().join(format!("terminal-{id}"));
    let init = init_request(platform, &dir, &credential);
    let lib_dir = library()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let scenario = |cmd: &mut Command| {
        cmd.arg(&dir).arg(PHARMACY).arg(&code).arg(&init);
    };
    let reference = match language {
        "c" => {
            let mut cmd = c_client("c/ec_trans.c", &platform.data.path().join("ec-trans-c"));
            scenario(&mut cmd);
            run(cmd, language)
        }
        "python" => {
            let mut cmd = Command::new(tool("python3", "apt-get install -y python3"));
            cmd.arg(clients().join("python/ec_trans.py")).arg(library());
            scenario(&mut cmd);
            run(cmd, language)
        }
        "java" => {
            let mut cmd = Command::new(tool("java", "apt-get install -y default-jdk-headless"));
            cmd.args(["-cp", "/usr/share/java/jna.jar"])
                .arg(clients().join("java/EcTrans.java"))
                .arg(library());
            scenario(&mut cmd);
            run(cmd, language)
        }
        _ => {
            let exe = platform.data.path().join("EcTrans.exe");
            let out = Command::new(tool("mcs", "apt-get install -y mono-mcs mono-runtime"))
                .arg(format!("-out:{}", exe.display()))
                .arg(clients().join("csharp/EcTrans.cs"))
                .output()
                .expect("mcs runs");
            assert!(
                out.status.success(),
                "the C# client does not compile: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            let mut cmd = Command::new(tool("mono", "apt-get install -y mono-runtime"));
            cmd.arg(&exe).env("LD_LIBRARY_PATH", &lib_dir);
            scenario(&mut cmd);
            run(cmd, language)
        }
    };
    // Settlement has the visit under the ecToken the client read, with the operator's name
    // the client sent in GBK and the office it named.
    let audit = platform.audit(&voucher);
    let settled = audit["settlements"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["reference"] == reference.as_str()))
        .unwrap_or_else(|| panic!("{language}: {reference} not in {audit}"));
    assert_eq!(
        settled["context"]["operator_name"], "测试收银员",
        "{language}: {settled}"
    );
    assert_eq!(
        settled["context"]["office_id"], "A03",
        "{language}: {settled}"
    );
    assert!(settled["context"].get("device_type").is_none(), "{settled}");
}

#[test]
fn c_python_java_and_csharp_run_the_national_call_from_set_up_to_settlement() {
    let platform = Platform::new();
    for (i, language) in ["c", "python", "java", "csharp"].into_iter().enumerate() {
        national_scenario(&platform, language, 6 + i);
    }
}
