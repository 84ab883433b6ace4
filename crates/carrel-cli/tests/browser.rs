//! The pages in a real browser: runs `tests/browser` (Debian's chromium
//! driven by playwright-core, axe-core on every page; see its README)
//! against this build's `carrel`, under each library's policy. Here so
//! that `cargo test` is the one command that runs every test.
//!
//! Without Node, Chromium or the npm packages (`.ci/install-browser`
//! installs them), the test says so loudly and passes, like the
//! PostgreSQL half without a server; with `CARREL_REQUIRE_BROWSER=1`
//! (which `.ci/run` sets) it fails instead.

use std::path::Path;
use std::process::Command;

#[test]
fn pages_in_a_real_browser_under_both_policies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let suite = root.join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = Command::new("node").arg("--version").output();
    let missing: Vec<&str> = [
        (node.is_err(), "node"),
        (!Path::new(&chromium).exists(), "chromium"),
        (
            !suite.join("node_modules/playwright-core").exists(),
            "the npm packages (npm ci in tests/browser)",
        ),
    ]
    .iter()
    .filter(|(gone, _)| *gone)
    .map(|(_, what)| *what)
    .collect();
    if !missing.is_empty() {
        let why = format!(
            "*** browser tests SKIPPED: no {}; run .ci/install-browser ***",
            missing.join(", no ")
        );
        assert!(
            std::env::var("CARREL_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("{why}");
        return;
    }
    for policy in ["jefferson-county-mo", "jefferson-county-co"] {
        let out = Command::new("node")
            .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
            .current_dir(&suite)
            .env("CARREL_BIN", env!("CARGO_BIN_EXE_carrel"))
            .env("CARREL_POLICY", policy)
            .env("CHROMIUM", &chromium)
            .output()
            .expect("node runs");
        let report = String::from_utf8_lossy(&out.stdout);
        println!("browser tests under policies/{policy}.toml:\n{report}");
        assert!(
            out.status.success(),
            "browser tests failed under {policy}:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
