//! Links the executable without position independence on Linux (`-no-pie`). A position-
//! independent executable is relocated by the dynamic loader at every start: about 30,000
//! relocations, which write to 140 pages of `.data.rel.ro`, a few percent of a link-mode
//! `providers install` (docs/performance.md, "Startup"). Without PIE the linker resolves them
//! once, at build time. The code stays position-independent (the dependencies are compiled as
//! usual); only the executable's own load address is fixed, which gives up address-space
//! randomisation of the executable image (libraries, heap and stack stay randomised).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
}
