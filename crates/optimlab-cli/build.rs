//! Builds the playground's WebAssembly module (crates/optimlab-web) so `optimlab playground`
//! can embed it: a nested `cargo build --target wasm32-unknown-unknown` into its own target
//! folder next to this build's (so it neither waits on this build's lock nor rebuilds for
//! every profile). When the wasm32 target is not installed the build goes on without the page,
//! and `optimlab playground` says how to get it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..").canonicalize().unwrap();
    for p in [
        "crates/optimlab/src",
        "crates/optimlab/data",
        "crates/optimlab/Cargo.toml",
        "crates/optimlab-web/src",
        "crates/optimlab-web/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(p).display());
    }
    println!("cargo::rerun-if-env-changed=OPTIMLAB_NO_PLAYGROUND");
    println!("cargo::rustc-check-cfg=cfg(playground_wasm)");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    match build(&root, &out) {
        Ok(()) => println!("cargo::rustc-cfg=playground_wasm"),
        Err(why) => {
            println!("cargo::rustc-env=OPTIMLAB_PLAYGROUND_MISSING={why}");
            println!("cargo::warning=optimlab playground will not be available: {why}");
        }
    }
}

fn build(root: &Path, out: &Path) -> Result<(), String> {
    if std::env::var_os("OPTIMLAB_NO_PLAYGROUND").is_some() {
        return Err("the binary was built with OPTIMLAB_NO_PLAYGROUND set".into());
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run {rustc}: {e}"))?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    let wasm_std = Path::new(&sysroot).join("lib/rustlib/wasm32-unknown-unknown");
    // Installing the target must rebuild with the page (a missing path reruns every build).
    println!("cargo::rerun-if-changed={}", wasm_std.display());
    if !wasm_std.is_dir() {
        return Err(
            "the wasm32-unknown-unknown target is not installed; run `rustup target add \
                    wasm32-unknown-unknown` and rebuild"
                .into(),
        );
    }
    let target_dir = shared_target_dir(out).join("playground-wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "-p",
            "optimlab-web",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "--target-dir",
        ])
        .arg(&target_dir);
    // Settings of the outer build must not leak into the nested one (flags for the host,
    // clippy's wrapper, its profile, feature and package variables).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        let leaks = key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key.starts_with("RUSTC_")
            || key == "RUSTFLAGS"
            || key == "RUSTDOCFLAGS";
        if leaks {
            cmd.env_remove(&key);
        }
    }
    // Small and quick to build: no debug info; speed matters for training in the page.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    let result = cmd
        .output()
        .map_err(|e| format!("cannot run cargo for the wasm build: {e}"))?;
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error"))
            .unwrap_or("see `cargo build -p optimlab-web --target wasm32-unknown-unknown`");
        return Err(format!("the wasm build failed: {first}"));
    }
    let wasm = target_dir.join("wasm32-unknown-unknown/release/optimlab_web.wasm");
    std::fs::copy(&wasm, out.join("optimlab_web.wasm"))
        .map_err(|e| format!("{}: {e}", wasm.display()))?;
    Ok(())
}

/// The outer build's target folder: OUT_DIR is `<target>/[<triple>/]<profile>/build/<pkg>/out`.
fn shared_target_dir(out: &Path) -> PathBuf {
    out.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out.to_path_buf())
}
