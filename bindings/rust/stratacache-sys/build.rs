//! Links libstratacache, found with pkg-config (PKG_CONFIG_PATH names an install
//! prefix's lib/pkgconfig). 0.5 is the newest C ABI node the declarations use.
fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Err(e) = pkg_config::Config::new().atleast_version("0.5").probe("stratacache") {
        panic!("stratacache-sys: libstratacache not found with pkg-config ({e}); install the C library and set PKG_CONFIG_PATH");
    }
}
