//! Failed attempts per account (C2, R3): sign-ins with a wrong password or
//! PIN, and a patron's refused lookups of a minor's records, counted per
//! account in a window of [`THROTTLE_MINUTES`]. An account that has used
//! up its attempts takes no more until the window has passed.
//!
//! An attempt is counted *before* it is checked, and given back when it
//! succeeds. A password check is an Argon2 hash of tens of milliseconds,
//! run outside any transaction; when failures were counted after it (from
//! the audit log), every attempt of a parallel burst passed the count
//! before the first failure was written: 59 wrong guesses and then the
//! right password were all checked, and the right one let in. Here the
//! count and the decision are one locked step ([`reserve`]): the account's
//! row is locked (`FOR UPDATE` on PostgreSQL; SQLite's writers take turns
//! already), so of any number of parallel attempts at most the limit get a
//! place, and the rest are refused unchecked. An attempt that dies between
//! its place and its answer (a crash, a failed commit) stays counted:
//! the count errs on the side of the account.
//!
//! This count is per account, kept in the database so that it holds across
//! several servers. What a guesser can do from one address is bounded by
//! the server's address throttle, below this limit, so a stranger at one
//! address cannot use this count to lock a patron out (see
//! `carrel_server::address_throttle`); strangers at several addresses can,
//! but not on a device the patron has signed in on: those sign-ins are
//! counted on the device, not here (`known_devices`).

use crate::db::params;
use crate::error::Error;
use crate::Tx;

/// The window in which failed attempts are counted.
pub const THROTTLE_MINUTES: i64 = 15;

/// Failed sign-ins one account takes in a window; further sign-ins are
/// refused, right password or not, until the window has passed.
pub const MAX_FAILED_SIGN_INS: i64 = 10;

/// Refused lookups of a minor's records one patron may make in a window. A
/// guardian types a child's card number, perhaps twice; 35 probes of other
/// cards in 0.7 s is someone else.
pub const MAX_REFUSED_MINOR_LOOKUPS: i64 = 5;

/// Whose attempts are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Account {
    Staff(i64),
    Patron(i64),
    /// A username no active staff account has, by its keyed pseudonym
    /// (`AuditKey::pseudonym`), never the name itself.
    UnknownStaff(i64),
    /// A card number no card that may sign in has (none such, or one
    /// blocked, expired or without a PIN), by its keyed pseudonym.
    UnknownCard(i64),
}

impl Account {
    fn kind(self) -> &'static str {
        match self {
            Account::Staff(_) => "staff",
            Account::Patron(_) => "patron",
            Account::UnknownStaff(_) => "unknown_staff",
            Account::UnknownCard(_) => "unknown_card",
        }
    }

    fn id(self) -> i64 {
        match self {
            Account::Staff(id)
            | Account::Patron(id)
            | Account::UnknownStaff(id)
            | Account::UnknownCard(id) => id,
        }
    }
}

/// What is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Signing in with a password or PIN.
    SignIn,
    /// A guardian asking for a minor's records by the minor's card number.
    MinorRecords,
}

impl Attempt {
    fn name(self) -> &'static str {
        match self {
            Attempt::SignIn => "sign_in",
            Attempt::MinorRecords => "minor_records",
        }
    }

    fn limit(self) -> i64 {
        match self {
            Attempt::SignIn => MAX_FAILED_SIGN_INS,
            Attempt::MinorRecords => MAX_REFUSED_MINOR_LOOKUPS,
        }
    }
}

/// Counts one attempt as failed before it is checked, if the account has
/// attempts left in its window: true if it did (the attempt may go ahead),
/// false if the account has used them up (refuse it unchecked).
pub(crate) fn reserve(tx: &mut Tx<'_>, account: Account, attempt: Attempt) -> Result<bool, Error> {
    let now = tx.now().timestamp();
    // The row must exist to be locked; a second transaction inserting it
    // at the same moment waits for the first and then does nothing.
    tx.conn.execute(
        "INSERT INTO failed_attempts (account_kind, account_id, attempt, window_started_at, failures)
         VALUES (?, ?, ?, ?, 0) ON CONFLICT (account_kind, account_id, attempt) DO NOTHING",
        params![account.kind(), account.id(), attempt.name(), now],
    )?;
    let lock = tx.conn.for_update();
    let row = tx.conn.query_one(
        &format!(
            "SELECT window_started_at, failures FROM failed_attempts
             WHERE account_kind = ? AND account_id = ? AND attempt = ?{lock}"
        ),
        params![account.kind(), account.id(), attempt.name()],
    )?;
    let (mut window_started_at, mut failures) =
        (row.int("window_started_at")?, row.int("failures")?);
    if now >= window_started_at + THROTTLE_MINUTES * 60 {
        (window_started_at, failures) = (now, 0);
    }
    if failures >= attempt.limit() {
        return Ok(false);
    }
    tx.conn.execute(
        "UPDATE failed_attempts SET window_started_at = ?, failures = ?
         WHERE account_kind = ? AND account_id = ? AND attempt = ?",
        params![
            window_started_at,
            failures + 1,
            account.kind(),
            account.id(),
            attempt.name()
        ],
    )?;
    Ok(true)
}

/// Gives back the place [`reserve`] took, for an attempt that succeeded. A
/// success does not wipe the window's other failures: those were guesses,
/// whoever made them. (If the window started again while the hash ran,
/// the place given back is one of the new window's: one failure more
/// allowed in it, once per such success, which is not worth a column.)
pub(crate) fn give_back(tx: &mut Tx<'_>, account: Account, attempt: Attempt) -> Result<(), Error> {
    tx.conn.execute(
        "UPDATE failed_attempts SET failures = failures - 1
         WHERE account_kind = ? AND account_id = ? AND attempt = ? AND failures > 0",
        params![account.kind(), account.id(), attempt.name()],
    )?;
    Ok(())
}

/// Deletes the rows whose window has passed: they count nothing any more,
/// and the rows of unknown names (pseudonyms of mistyped or guessed card
/// numbers) would otherwise pile up. Run with every retention purge.
pub(crate) fn forget_passed_windows(tx: &mut Tx<'_>) -> Result<i64, Error> {
    let passed = tx.now().timestamp() - THROTTLE_MINUTES * 60;
    let forgotten = tx.conn.execute(
        "DELETE FROM failed_attempts WHERE window_started_at <= ?",
        params![passed],
    )?;
    Ok(forgotten as i64)
}
