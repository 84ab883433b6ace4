//! The versions of the policy a library has run under (N2). Every policy
//! text a database is opened with is recorded once, when first served
//! (`Store::open`, or `carrel policy publish`), and kept for good: the
//! notice of every version stays readable, with what it changed from the
//! one before. A version's number is its order of first use.
//!
//! Public: a policy holds no personal data, so reading it needs no grant.

use serde::Serialize;

use crate::db::params;
use crate::error::Error;
use crate::Store;

/// One recorded version of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    /// Its number, counting from 1 in order of first use.
    pub number: i64,
    /// The library's own name for it (`[library] version`).
    pub label: String,
    /// When a server first ran under it, in Unix seconds.
    pub first_served_at: i64,
    /// SHA-256 of the policy file's text.
    pub sha256: String,
}

fn version_from(row: &crate::db::Row) -> Result<PolicyVersion, Error> {
    Ok(PolicyVersion {
        number: row.int("id")?,
        label: row.text("label")?,
        first_served_at: row.int("first_loaded_at")?,
        sha256: row.text("sha256")?,
    })
}

/// Every version, oldest first.
pub fn list(store: &Store) -> Result<Vec<PolicyVersion>, Error> {
    store.pool.run(|mut conn| {
        conn.query(
            "SELECT id, label, first_loaded_at, sha256 FROM policy_versions ORDER BY id",
            params![],
        )?
        .iter()
        .map(version_from)
        .collect()
    })
}

/// Version `number` and its policy file's text, if there is one.
pub fn load(store: &Store, number: i64) -> Result<Option<(PolicyVersion, String)>, Error> {
    store.pool.run(|mut conn| {
        conn.query_opt(
            "SELECT id, label, first_loaded_at, sha256, source FROM policy_versions WHERE id = ?",
            params![number],
        )?
        .map(|row| Ok((version_from(&row)?, row.text("source")?)))
        .transpose()
    })
}

/// The version before `number`, and its text, if there is one.
pub fn previous(store: &Store, number: i64) -> Result<Option<(PolicyVersion, String)>, Error> {
    let before = store.pool.run(|mut conn| {
        conn.query_opt(
            "SELECT MAX(id) AS id FROM policy_versions WHERE id < ?",
            params![number],
        )?
        .map(|row| row.opt_int("id"))
        .transpose()
    })?;
    match before.flatten() {
        Some(id) => load(store, id),
        None => Ok(None),
    }
}
