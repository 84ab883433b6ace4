//! Staff accounts and sign-in sessions. A staff member's role comes from
//! their account, and their [`Actor`] only from a live session.

use serde::Serialize;

use crate::audit::PendingEntry;
use crate::db::params;
use crate::error::Error;
use crate::gate::Actor;
use crate::secrets::{
    hash_secret, random_token, sha256_hex, verify_against_nothing, verify_secret,
};
use crate::{Store, Tx};

/// How long a sign-in lasts.
pub const SESSION_HOURS: i64 = 8;

/// A new session: the token is shown once and stored only as a hash.
#[derive(Debug, Serialize)]
pub struct Session {
    pub token: String,
    pub expires_at: i64,
    pub staff_id: i64,
    pub role: String,
}

fn check_username(username: &str) -> Result<(), Error> {
    let ok = (2..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "bad_username",
            "username must be 2 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

fn system_entry(
    tx: &Tx<'_>,
    action: &str,
    record_id: Option<String>,
    decision: &'static str,
) -> PendingEntry {
    PendingEntry {
        at: tx.now().timestamp(),
        actor: "system:staff-admin".to_string(),
        action: action.to_string(),
        record_class: "staff".to_string(),
        record_id,
        purpose: "accountability".to_string(),
        decision,
        detail: None,
    }
}

/// Adds a staff account (`carrel staff add`). Run by the operator of the
/// server, who already holds the database; recorded in the audit log.
pub fn add(store: &Store, username: &str, password: &str, role: &str) -> Result<i64, Error> {
    check_username(username)?;
    if password.chars().count() < 10 {
        return Err(Error::invalid(
            "weak_password",
            "the password must be at least 10 characters long",
        ));
    }
    if !store.policy().roles.contains_key(role) {
        let roles: Vec<&str> = store.policy().roles.keys().map(String::as_str).collect();
        return Err(Error::invalid(
            "unknown_role",
            format!(
                "role '{role}' is not in the policy; choose one of: {}",
                roles.join(", ")
            ),
        ));
    }
    let hash = hash_secret(password)?;
    store.transact(|tx| {
        let taken = tx
            .conn
            .query_opt("SELECT id FROM staff WHERE username = ?", params![username])?;
        if taken.is_some() {
            return Err(Error::refused(
                "username_taken",
                "a staff account with that username already exists; choose another",
            ));
        }
        let now = tx.now().timestamp();
        let id = tx.conn.insert(
            "INSERT INTO staff (username, password_hash, role, active, created_at) VALUES (?, ?, ?, 1, ?)",
            params![username, &hash, role, now],
        )?;
        let entry = system_entry(tx, "create", Some(format!("staff:{id}")), "granted");
        tx.queue_audit(entry);
        Ok(id)
    })
}

/// How many active staff accounts exist (none: nobody can sign in yet).
pub fn active_count(store: &Store) -> Result<i64, Error> {
    store.read_only(|conn, _| {
        conn.query_one("SELECT COUNT(*) FROM staff WHERE active = 1", params![])?
            .int(0)
    })
}

/// Checks a username and password and opens a session.
pub fn sign_in(store: &Store, username: &str, password: &str) -> Result<Session, Error> {
    let account = store.transact(|tx| {
        tx.conn
            .query_opt(
                "SELECT id, password_hash, role FROM staff WHERE username = ? AND active = 1",
                params![username],
            )?
            .map(|row| Ok::<_, Error>((row.int(0)?, row.text(1)?, row.text(2)?)))
            .transpose()
    })?;
    let verified = match &account {
        Some((_, hash, _)) => verify_secret(password, hash),
        None => {
            verify_against_nothing(password);
            false
        }
    };
    let token = random_token()?;
    store.transact(|tx| {
        let Some((staff_id, _, role)) = account.filter(|_| verified) else {
            let mut entry = system_entry(tx, "sign_in", None, "denied");
            entry.actor = "anonymous".to_string();
            tx.queue_audit(entry);
            return Ok(Err(Error::Unauthenticated));
        };
        let now = tx.now().timestamp();
        let expires_at = now + SESSION_HOURS * 3600;
        tx.conn.execute(
            "INSERT INTO staff_sessions (token_sha256, staff_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            params![&sha256_hex(token.as_bytes()), staff_id, now, expires_at],
        )?;
        let mut entry = system_entry(tx, "sign_in", Some(format!("staff:{staff_id}")), "granted");
        entry.actor = format!("staff:{staff_id}");
        tx.queue_audit(entry);
        Ok(Ok(Session {
            token: token.clone(),
            expires_at,
            staff_id,
            role,
        }))
    })?
}

/// The staff member behind a session token, inside the caller's transaction,
/// so the check and the work it permits see the same database state.
pub fn authenticate(tx: &mut Tx<'_>, token: &str) -> Result<Actor, Error> {
    let now = tx.now().timestamp();
    let row = tx.conn.query_opt(
        "SELECT s.staff_id, st.role FROM staff_sessions s JOIN staff st ON st.id = s.staff_id
         WHERE s.token_sha256 = ? AND s.expires_at > ? AND st.active = 1",
        params![&sha256_hex(token.as_bytes()), now],
    )?;
    match row {
        Some(row) => Ok(Actor::staff(row.int(0)?, row.text(1)?)),
        None => Err(Error::Unauthenticated),
    }
}

/// Ends a session. Signing out twice is not an error.
pub fn sign_out(store: &Store, token: &str) -> Result<(), Error> {
    store.transact(|tx| {
        tx.conn.execute(
            "DELETE FROM staff_sessions WHERE token_sha256 = ?",
            params![&sha256_hex(token.as_bytes())],
        )?;
        Ok(())
    })
}
