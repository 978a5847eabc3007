//! `yibao-issuer`: the issuer service. The HTTP service arrives with the issuer issue; until
//! then this binary only says so, so that the workspace layout is final from the start.

fn main() {
    eprintln!("yibao-issuer: the HTTP service is not built yet; see README.md");
    std::process::exit(2);
}
