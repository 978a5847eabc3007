//! The layering rule, checked on the source: each module imports (`crate::…`) only the
//! layers below it, so a change to a route cannot ripple into the store and a rule has one
//! obvious home. Top to bottom: the binaries, `config`, `setup` and `demo`; `http`; `domain`;
//! `store`; `model`; the value modules `id_number`, `secrets`, `sealed` and `signing`.

use std::collections::BTreeSet;
use std::path::Path;

/// What each top-level module may import from the crate (besides itself).
const ALLOWED: &[(&str, &[&str])] = &[
    ("id_number", &[]),
    ("secrets", &["id_number"]),
    ("sealed", &["secrets"]),
    ("signing", &[]),
    ("telemetry", &[]),
    ("shutdown", &[]),
    ("model", &["id_number", "secrets", "sealed"]),
    ("store", &["model", "id_number", "secrets", "sealed"]),
    (
        "domain",
        &[
            "store",
            "model",
            "id_number",
            "secrets",
            "sealed",
            "signing",
        ],
    ),
    (
        "http",
        &[
            "domain",
            "store",
            "model",
            "id_number",
            "secrets",
            "sealed",
            "signing",
            "telemetry",
        ],
    ),
];

/// Words that mark HTTP in code (not in comments): none may appear below the shell.
const HTTP_WORDS: &[&str] = &["axum", "StatusCode", "IntoResponse", "FromRequest"];

/// The layers that know nothing of the API's schema either (request and response bodies are
/// the shell's; `model` documents the records it keeps, which some answers carry whole).
const SCHEMA_FREE: &[&str] = &["domain", "store"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each code line (comments and `#[cfg(test)]` modules left out) of `file`.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken = BTreeSet::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).expect("inside src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs"))
            .expect("a name");
        let Some((_, allowed)) = ALLOWED.iter().find(|(layer, _)| *layer == top) else {
            continue;
        };
        checked += 1;
        let text = std::fs::read_to_string(file).expect("readable");
        for line in code_lines(&text) {
            for (at, _) in line.match_indices("crate::") {
                let target: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if target != top && !allowed.contains(&target.as_str()) {
                    broken.insert(format!("{}: imports crate::{target}", rel.display()));
                }
            }
            if top != "http" {
                for word in HTTP_WORDS {
                    if line.contains(word) {
                        broken.insert(format!("{}: {word} below the HTTP shell", rel.display()));
                    }
                }
            }
            if SCHEMA_FREE.contains(&top) && line.contains("utoipa") {
                broken.insert(format!("{}: an API schema below the shell", rel.display()));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} files checked: is the layout as expected?"
    );
    assert!(
        broken.is_empty(),
        "imports against the layering: {broken:#?}"
    );
}
