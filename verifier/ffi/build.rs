//! The build string `yibao_version` reports: the release pipeline's build id, the target and
//! the profile (cargo tells build scripts only these).

fn main() {
    println!("cargo:rerun-if-env-changed=YIBAO_BUILD_ID");
    let id = std::env::var("YIBAO_BUILD_ID").unwrap_or_else(|_| "dev".into());
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo:rustc-env=YIBAO_BUILD_ID={id}");
    println!("cargo:rustc-env=YIBAO_TARGET={target}");
    println!("cargo:rustc-env=YIBAO_PROFILE={profile}");
}
