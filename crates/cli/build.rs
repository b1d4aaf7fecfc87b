//! Orders the functions an idle station runs (start-up, its timers, the
//! API's first answers) together at the start of the executable's code, in
//! release builds linked by LLD (the default linker of Rust on
//! x86_64 Linux). The kernel maps an executable in page-cache folios of up
//! to 2 MiB, so code run at start but spread over the file kept most of it
//! resident; together, it is a few folios (docs/PERFORMANCE.md, "Idle RSS").
//! The list is made by `scripts/startup-order.sh`; names not found (code
//! changed since) are passed over, so a stale list only orders less.
//! `HOTLINE_NO_ORDER=1` leaves the layout to the linker.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=startup-order.txt");
    println!("cargo:rerun-if-env-changed=HOTLINE_NO_ORDER");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    // A linker chosen by hand may not be LLD: leave it alone then.
    let custom_linker = std::env::var_os("RUSTC_LINKER").is_some()
        || var("CARGO_ENCODED_RUSTFLAGS").contains("link");
    if var("TARGET") != "x86_64-unknown-linux-gnu"
        || var("PROFILE") != "release"
        || custom_linker
        || std::env::var_os("HOTLINE_NO_ORDER").is_some()
    {
        return;
    }
    let list = Path::new(&var("CARGO_MANIFEST_DIR")).join("startup-order.txt");
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
