//! Bundles the browser phone (`web/phone`: JsSIP and `src/phone.js`) with
//! esbuild into `OUT_DIR/phone.js`, which `src/phone` embeds. npm installs
//! the pinned packages of `web/phone/package-lock.json` (`npm ci`) when
//! `node_modules` is missing or older than the lock file; nothing is
//! fetched at run time.

use std::path::Path;
use std::process::Command;

const INSTALL_NODE: &str = "install Node.js and npm (Debian: `apt-get install nodejs npm`; \
     scripts/run and scripts/test do it for you)";

pub fn bundle(web: &Path, out: &Path) {
    for watched in [
        "src",
        "index.html",
        "phone.css",
        "build.mjs",
        "package.json",
        "package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    if stale(web) {
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(web),
            "npm ci",
        );
    }
    run(
        Command::new("node")
            .arg("build.mjs")
            .arg(out.join("phone.js"))
            .current_dir(web),
        "esbuild (node build.mjs)",
    );
}

/// `node_modules` is missing, or was installed from an older lock file.
fn stale(web: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(&web.join("node_modules/.package-lock.json"));
    let locked = modified(&web.join("package-lock.json"));
    match (installed, locked) {
        (Some(i), Some(l)) => i < l,
        _ => true,
    }
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "building the browser phone (web/phone): `{what}` failed ({s}); see its output above"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "building the browser phone (web/phone) needs Node.js and npm, and `{what}` could \
             not be started: {INSTALL_NODE}"
        ),
        Err(e) => panic!("building the browser phone (web/phone): `{what}`: {e}"),
    }
}
