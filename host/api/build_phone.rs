//! Bundles the browser's parts with esbuild: the browser phone (`web/phone`:
//! JsSIP and `src/phone.js`) into `OUT_DIR/phone.js`, which `src/phone`
//! embeds, and the web console (`web/console`) into `OUT_DIR/console/`,
//! which `src/console` embeds. npm installs the pinned packages of each
//! one's `package-lock.json` (`npm ci`) when `node_modules` is missing or
//! older than the lock file; nothing is fetched at run time.

use std::path::Path;
use std::process::Command;

const INSTALL_NODE: &str = "install Node.js and npm (Debian: `apt-get install nodejs npm`; \
     scripts/run and scripts/test do it for you)";

/// `web/phone` → `out/phone.js` (and `out/webcall.js`).
pub fn bundle(web: &Path, out: &Path) {
    npm_build(web, &["phone.css"], &out.join("phone.js"));
}

/// `web/console` → `out/console/` (`index.html`, `console.js`,
/// `console.css`).
pub fn bundle_console(web: &Path, out: &Path) {
    npm_build(web, &[], &out.join("console"));
}

/// `npm ci` when needed, then `node build.mjs TARGET` in `web`.
fn npm_build(web: &Path, also_watched: &[&str], target: &Path) {
    for watched in [
        "src",
        "index.html",
        "build.mjs",
        "package.json",
        "package-lock.json",
    ]
    .iter()
    .chain(also_watched)
    {
        println!("cargo:rerun-if-changed={}", web.join(watched).display());
    }
    if stale(web) {
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        run(
            Command::new(npm)
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(web),
            "npm ci",
            web,
        );
    }
    run(
        Command::new("node")
            .arg("build.mjs")
            .arg(target)
            .current_dir(web),
        "esbuild (node build.mjs)",
        web,
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

fn run(cmd: &mut Command, what: &str, web: &Path) {
    let web = web.display();
    match cmd.status() {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("building {web}: `{what}` failed ({s}); see its output above"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "building {web} needs Node.js and npm, and `{what}` could \
             not be started: {INSTALL_NODE}"
        ),
        Err(e) => panic!("building {web}: `{what}`: {e}"),
    }
}
