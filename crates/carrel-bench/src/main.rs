//! Carrel's benchmarks, each printing its figures and the ratio its issue
//! sets a target for:
//!
//! - `cargo run --release -p carrel-bench [-- checkouts ...]`: raw insert rate
//!   against checkouts through the HTTP API ([`checkouts`]);
//! - `cargo run --release -p carrel-bench -- purge ...`: the retention purge
//!   of 10 million loans against a bare `DELETE` of the same rows ([`purge`]);
//! - `cargo build --release && cargo run --release -p carrel-bench -- wal |
//!   signin-flood | signin-timing | cron-purge`: the server under load and
//!   faults, and the time refused sign-ins take, as a
//!   process of its own ([`operator`]);
//! - `cargo run --release -p carrel-bench -- desk [CHECKOUTS] [ROUNDS]`:
//!   checkouts through the desk's page against the JSON API, 16 desks
//!   ([`checkouts::desk`]);
//! - `cargo run --release -p carrel-bench -- import [RECORDS]`: a MARC
//!   catalogue of 100,000 records read and loaded, records per second
//!   ([`import`]).

mod checkouts;
mod import;
mod operator;
mod purge;

use carrel_store::db::DatabaseUrl;
use carrel_store::{AuditKey, Store};

const POLICY: &str = include_str!("../../../policies/jefferson-county-mo.toml");

/// Opens (and migrates) a store under the Missouri policy, with the
/// benchmark's one audit key: a database the benchmark reopens must be
/// opened with the key it was written with, or the start's key check
/// refuses it.
fn open_store(url: &str) -> Store {
    let policy = carrel_policy::parse("mo", POLICY).unwrap();
    Store::open(
        &DatabaseUrl::parse(url).unwrap(),
        policy,
        POLICY,
        AuditKey::from_hex(&"5a".repeat(32)).unwrap(),
    )
    .unwrap()
}

/// Signs in through the API and returns the session token.
async fn sign_in(client: &reqwest::Client, base: &str, user: &str, password: &str) -> String {
    let body: serde_json::Value = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().expect("signed in").to_string()
}

fn main() {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("purge") => purge::main(argv.split_off(1)),
        Some("checkouts") => checkouts::main(argv.split_off(1)),
        Some("import") => import::main(argv.split_off(1)),
        Some("desk") => checkouts::desk(argv.split_off(1)),
        Some(mode @ ("wal" | "signin-flood" | "signin-timing" | "cron-purge")) => {
            let mode = mode.to_string();
            operator::main(&mode, argv.split_off(1))
        }
        _ => checkouts::main(argv),
    }
}
