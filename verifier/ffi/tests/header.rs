//! The checked-in C header is exactly what cbindgen generates from the source, so a vendor
//! never compiles against a stale declaration.

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8");
    let path = format!("{crate_dir}/include/yibao_verifier.h");
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
