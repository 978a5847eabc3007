//! The checked-in C header is exactly what cbindgen generates from the source, so a vendor
//! never compiles against a stale declaration.
//!
//! The exported functions are `extern "system"` (stdcall on 32-bit Windows, where VB6,
//! PowerBuilder and most Delphi and C# HIS code expect it; the C convention elsewhere), which
//! cbindgen does not read. So the source is copied with `extern "system"` read as
//! `extern "C"`, cbindgen generates from the copy, and each function declaration gets
//! `YIBAO_CALL` (defined in the header as `__stdcall` on 32-bit Windows, nothing elsewhere).

use std::path::Path;

const CALL: &str = "YIBAO_CALL ";

/// The crate's sources, copied into `to` with the calling convention cbindgen reads, in a
/// stable order.
fn copy_as_c(from: &Path, to: &Path, copies: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            copy_as_c(&path, &to.join(&name), copies);
        } else if path.extension().is_some_and(|e| e == "rs") {
            std::fs::create_dir_all(to).expect("mkdir");
            let text = std::fs::read_to_string(&path).expect("read");
            let target = to.join(&name);
            std::fs::write(
                &target,
                text.replace("extern \"system\" fn", "extern \"C\" fn"),
            )
            .expect("write");
            copies.push(target);
        }
    }
}

/// `YIBAO_CALL` before each exported function's name, its other lines aligned again.
fn with_calling_convention(header: &str) -> String {
    let mut out = String::with_capacity(header.len() + 1024);
    let mut continuing = false;
    for line in header.lines() {
        if continuing {
            out.push_str(&" ".repeat(CALL.len()));
            out.push_str(line);
            continuing = !line.trim_end().ends_with(';');
        } else if let Some(at) = declaration_name(line) {
            out.push_str(&line[..at]);
            out.push_str(CALL);
            out.push_str(&line[at..]);
            continuing = !line.trim_end().ends_with(';');
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Where the function name starts in a declaration line (`int32_t yibao_check(`).
fn declaration_name(line: &str) -> Option<usize> {
    let first = line.chars().next()?;
    if first.is_whitespace() || "#/*}".contains(first) {
        return None;
    }
    let at = line.find("yibao_")?;
    let before = line[..at].chars().last()?;
    let is_call = (before == ' ' || before == '*') && line[at..].contains('(');
    is_call.then_some(at)
}

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().expect("tempdir");
    let mut copies = Vec::new();
    copy_as_c(&crate_dir.join("src"), copy.path(), &mut copies);
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("config");
    let mut generated = Vec::new();
    // From the crate root: cbindgen follows its `mod` declarations.
    assert!(copies.contains(&copy.path().join("lib.rs")));
    cbindgen::Builder::new()
        .with_src(copy.path().join("lib.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = with_calling_convention(&String::from_utf8(generated).expect("utf-8"));
    assert!(
        generated.contains("int32_t YIBAO_CALL yibao_ec_trans("),
        "{generated}"
    );
    let path = crate_dir.join("include/yibao_verifier.h");
    if std::env::var_os("YIBAO_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/yibao_verifier.h is stale: run \
         YIBAO_BLESS_HEADER=1 cargo test -p yibao-verifier-ffi --test header and commit it"
    );
}
