//! Staff accounts and sign-in sessions. A staff member's role comes from
//! their account, and their [`Actor`] only from a live session.

use serde::Serialize;

use crate::audit::{AuditAction, AuditClass, Outcome, PendingEntry};
use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::Actor;
use crate::known_devices::{self, KnownDevice};
use crate::principal::{Principal, SystemTask};
use crate::secrets::{hash_secret, random_token, sha256_hex};
use crate::sign_in::{self, AccountKind, Found};
use crate::{Store, Tx};
use carrel_policy::Action;

/// How long a sign-in lasts.
pub const SESSION_HOURS: i64 = 8;

/// A new session: the token is shown once and stored only as a hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// The session token, to present on every request; the store keeps only its
    /// SHA-256.
    pub token: String,
    /// When the session ends unless signed out sooner, in Unix seconds
    /// (8 hours after sign-in, [`SESSION_HOURS`]).
    pub expires_at: i64,
    /// The signed-in staff member's account id.
    pub staff_id: i64,
    /// The staff member's role, as the policy's role table names it.
    pub role: String,
    /// The device's token (see `known_devices`): to present at the next
    /// sign-in from this device.
    pub device: String,
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

/// The entry for an operator's `carrel staff` command on account `id`.
fn system_entry(tx: &Tx<'_>, action: AuditAction, id: i64) -> PendingEntry {
    PendingEntry::new(
        tx,
        Principal::System(SystemTask::StaffAdmin),
        Outcome::Granted,
        action,
        AuditClass::Staff,
        "accountability",
    )
    .on(Some(Principal::Staff(id).label()))
}

/// Adds a staff account (`carrel staff add`). Run by the operator of the
/// server, who already holds the database; recorded in the audit log.
pub fn add(store: &Store, username: &str, password: &str, role: &str) -> Result<i64, Error> {
    add_with_supervisor(store, username, password, role, None)
}

/// [`add`], naming the new staff member's supervisor (by username) in the
/// same transaction.
pub fn add_with_supervisor(
    store: &Store,
    username: &str,
    password: &str,
    role: &str,
    supervisor: Option<&str>,
) -> Result<i64, Error> {
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
                "the role is not one of the policy's roles; choose one of: {}",
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
        let entry = system_entry(tx, AuditAction::Policy(Action::Create), id);
        tx.queue_audit(entry);
        if supervisor.is_some() {
            assign_supervisor(tx, id, supervisor)?;
        }
        Ok(id)
    })
}

/// Deactivates a staff account (someone left the library): no more
/// sign-ins, and every open session and known device ends at once.
pub fn deactivate(store: &Store, username: &str) -> Result<i64, Error> {
    store.transact(|tx| {
        let id = tx
            .conn
            .query_opt(
                "SELECT id FROM staff WHERE username = ? AND active = 1",
                params![username],
            )?
            .ok_or(Error::NotFound {
                what: "active staff account with that username",
            })?
            .int(Only)?;
        tx.conn
            .execute("UPDATE staff SET active = 0 WHERE id = ?", params![id])?;
        tx.conn
            .execute("DELETE FROM staff_sessions WHERE staff_id = ?", params![id])?;
        known_devices::end_all(tx, AccountKind::Staff, id)?;
        let entry = system_entry(tx, AuditAction::DeactivateAccount, id);
        tx.queue_audit(entry);
        Ok(id)
    })
}

/// The usernames of staff accounts `ids`, for pages that show who took a
/// step (staff see their colleagues by name, not `staff:3`). Needs a
/// signed-in member of staff (`_actor`): no patron or anonymous caller.
pub fn usernames(
    tx: &mut Tx<'_>,
    _actor: &Actor,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, Error> {
    let mut names = std::collections::HashMap::new();
    for id in ids {
        if names.contains_key(id) {
            continue;
        }
        if let Some(row) = tx
            .conn
            .query_opt("SELECT username FROM staff WHERE id = ?", params![*id])?
        {
            names.insert(*id, row.text("username")?);
        }
    }
    Ok(names)
}

/// How many active staff accounts exist (none: nobody can sign in yet).
pub fn active_count(store: &Store) -> Result<i64, Error> {
    store.bookkeeping(|conn, _| {
        conn.query_one("SELECT COUNT(*) FROM staff WHERE active = 1", params![])?
            .int(Only)
    })
}

/// Sets (or with `None` clears) a staff member's supervisor (`carrel staff
/// add --supervisor`). Under a non-disclosure order a case is visible to
/// the staff member who took it and to their supervisor (L6).
pub fn set_supervisor(
    store: &Store,
    username: &str,
    supervisor: Option<&str>,
) -> Result<(), Error> {
    store.transact(|tx| {
        let id = active_id(tx, username)?;
        assign_supervisor(tx, id, supervisor)
    })
}

fn active_id(tx: &mut Tx<'_>, username: &str) -> Result<i64, Error> {
    tx.conn
        .query_opt(
            "SELECT id FROM staff WHERE username = ? AND active = 1",
            params![username],
        )?
        .ok_or(Error::NotFound {
            what: "active staff account with that username",
        })?
        .int(Only)
}

fn assign_supervisor(tx: &mut Tx<'_>, id: i64, supervisor: Option<&str>) -> Result<(), Error> {
    let supervisor_id = match supervisor {
        Some(name) => Some(active_id(tx, name)?),
        None => None,
    };
    if supervisor_id == Some(id) {
        return Err(Error::invalid(
            "bad_supervisor",
            "a staff member cannot be their own supervisor",
        ));
    }
    tx.conn.execute(
        "UPDATE staff SET supervisor_id = ? WHERE id = ?",
        params![supervisor_id, id],
    )?;
    let entry = system_entry(tx, AuditAction::SetSupervisor, id)
        .saying(supervisor_id.map(|s| format!("supervisor {}", Principal::Staff(s))));
    tx.queue_audit(entry);
    Ok(())
}

/// A staff member's supervisor, if one is recorded.
pub(crate) fn supervisor_of(tx: &mut Tx<'_>, staff_id: i64) -> Result<Option<i64>, Error> {
    Ok(tx
        .conn
        .query_opt(
            "SELECT supervisor_id FROM staff WHERE id = ?",
            params![staff_id],
        )?
        .map(|row| row.opt_int(Only))
        .transpose()?
        .flatten())
}

/// A staff member's username, for a cover sheet.
pub(crate) fn username(tx: &mut Tx<'_>, staff_id: i64) -> Result<String, Error> {
    tx.conn
        .query_one("SELECT username FROM staff WHERE id = ?", params![staff_id])?
        .text(Only)
}

/// Checks a username and password and opens a session. Failed attempts
/// are counted per account (`attempts`): after
/// [`crate::attempts::MAX_FAILED_SIGN_INS`] in a window the account takes
/// no more until the window has passed, right password or not. Every
/// refusal is [`Error::SignInRefused`] (see `sign_in`). With a `device`
/// that [`known_device`] confirmed, the attempt is counted on the device
/// instead (see `known_devices`).
pub fn sign_in(
    store: &Store,
    username: &str,
    password: &str,
    device: Option<&KnownDevice>,
) -> Result<Session, Error> {
    let token = random_token()?;
    sign_in::sign_in(
        store,
        AccountKind::Staff,
        username,
        password,
        device,
        |tx| {
            let lock = tx.conn.for_update();
            let row = tx.conn.query_opt(
                &format!("SELECT id, password_hash, role FROM staff WHERE username = ? AND active = 1{lock}"),
                params![username],
            )?;
            row.map(|row| {
                Ok(Found {
                    id: row.int("id")?,
                    secret_hash: row.text("password_hash")?,
                    detail: row.text("role")?,
                })
            })
            .transpose()
        },
        |tx, staff_id, role, device| {
            let now = tx.now().timestamp();
            let expires_at = now + SESSION_HOURS * 3600;
            tx.conn.execute(
                "INSERT INTO staff_sessions (token_sha256, staff_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                params![&sha256_hex(token.as_bytes()), staff_id, now, expires_at],
            )?;
            Ok(Session {
                token,
                expires_at,
                staff_id,
                role,
                device,
            })
        },
    )
}

/// Whether `token` is a known device of the active staff account
/// `username`: what lets a sign-in skip the address throttle (see
/// `known_devices`).
pub fn known_device(
    store: &Store,
    username: &str,
    token: &str,
) -> Result<Option<KnownDevice>, Error> {
    known_devices::confirm(
        store,
        token,
        "JOIN staff s ON s.id = d.staff_id AND s.username = ? AND s.active = 1",
        params![username],
    )
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
        Some(row) => Ok(Actor::staff(row.int("staff_id")?, row.text("role")?)),
        None => Err(Error::Unauthenticated),
    }
}
