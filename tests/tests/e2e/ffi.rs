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
fn library() -> PathBuf {
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
            let exe = terminal.dir.join("check-c");
            let lib_dir = library()
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let status = Command::new(tool("cc", "apt-get install -y gcc"))
                .args(["-Wall", "-Wextra", "-Werror", "-o"])
                .arg(&exe)
                .arg(clients().join("c/check.c"))
                .arg("-I")
                .arg(workspace_root().join("verifier/ffi/include"))
                .arg("-L")
                .arg(&lib_dir)
                .arg("-lyibao_verifier_ffi")
                .status()
                .expect("cc runs");
            assert!(status.success(), "the C client does not compile");
            let mut cmd = Command::new(&exe);
            cmd.env("LD_LIBRARY_PATH", &lib_dir);
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
}
