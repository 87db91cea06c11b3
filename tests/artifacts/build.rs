//! Builds every guest crate of the workspace to a `wasm32-wasip2` component.
//!
//! Guest crates are found by scanning `plugins/*`, `examples/*` and
//! `tests/hostile/*` for a `Cargo.toml` that declares a `cdylib`. They are
//! built by one nested `cargo build --target wasm32-wasip2 --profile wasm`
//! with its own target directory (next to the outer one), so the outer
//! build's lock is never contended. The resulting `.wasm` files are copied
//! into `OUT_DIR` and embedded by `src/lib.rs`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "wasm";
const GUEST_DIRS: &[&str] = &["plugins", "examples", "tests/hostile"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    let guests = find_guests(&root);
    for g in &guests {
        println!("cargo:rerun-if-changed={}", g.dir.display());
    }
    for dir in GUEST_DIRS {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for p in ["wit", "sdk/rust", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }

    ensure_target_installed();

    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out; put the nested
    // build beside <target>/<profile> so it survives hash changes.
    let outer_target = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR layout")
        .to_path_buf();
    let wasm_target = outer_target.join("wasm-components");

    if !guests.is_empty() {
        let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root)
            .arg("build")
            .arg("--target")
            .arg(TARGET)
            .arg("--profile")
            .arg(PROFILE)
            .arg("--target-dir")
            .arg(&wasm_target);
        for g in &guests {
            cmd.arg("-p").arg(&g.package);
        }
        // Flags meant for the outer (host) build must not leak into the
        // guest build; clippy's wrapper would lint the guests a second time.
        for var in [
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTC_WRAPPER",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd
            .status()
            .expect("failed to run cargo for the wasm guests");
        assert!(
            status.success(),
            "building the wasm32-wasip2 guest components failed"
        );
    }

    let mut generated = String::from(
        "/// Every guest component: (package name, component bytes).\npub static ALL: &[(&str, &[u8])] = &[\n",
    );
    for g in &guests {
        let built = wasm_target
            .join(TARGET)
            .join(PROFILE)
            .join(format!("{}.wasm", g.lib_name));
        let dest = out_dir.join(format!("{}.wasm", g.lib_name));
        fs::copy(&built, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
        writeln!(
            generated,
            "    ({:?}, include_bytes!({:?})),",
            g.package,
            dest.display().to_string()
        )
        .unwrap();
    }
    generated.push_str("];\n");
    fs::write(out_dir.join("components.rs"), generated).unwrap();
}

struct Guest {
    package: String,
    lib_name: String,
    dir: PathBuf,
}

/// Guest crates: directories with a Cargo.toml that declares a cdylib.
fn find_guests(root: &Path) -> Vec<Guest> {
    let mut guests = Vec::new();
    for dir in GUEST_DIRS {
        let Ok(entries) = fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        dirs.sort();
        for crate_dir in dirs {
            let Ok(manifest) = fs::read_to_string(crate_dir.join("Cargo.toml")) else {
                continue;
            };
            if !manifest.contains("cdylib") {
                continue;
            }
            let package = manifest
                .lines()
                .find_map(|l| {
                    let l = l.trim();
                    l.strip_prefix("name")
                        .map(str::trim_start)
                        .and_then(|r| r.strip_prefix('='))
                        .map(|r| r.trim().trim_matches('"').to_string())
                })
                .unwrap_or_else(|| panic!("no package name in {}", crate_dir.display()));
            guests.push(Guest {
                lib_name: package.replace('-', "_"),
                package,
                dir: crate_dir,
            });
        }
    }
    guests
}

/// rustup's auto-install is off on our machines: add the target if missing.
fn ensure_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("run rustc");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).exists() {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({other:?}); install it and build again"
        ),
    }
}
