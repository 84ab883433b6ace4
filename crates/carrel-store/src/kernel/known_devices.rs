//! Known devices (C2: "do not let a stranger lock a real patron out by
//! guessing"; OWASP's "device cookies"): a device that has signed in to
//! an account gets a random token, and a sign-in that presents it is
//! counted on the device instead of on the account's window
//! (`attempts`) and the server's count per address
//! (`carrel_server::address_throttle`).
//!
//! Why: the address throttle (5 failures per address) keeps one stranger
//! from using up an account's 10 failures, but two addresses are enough,
//! and then the patron or staff member is locked out for the window, right
//! secret or not. With a known device they are not: strangers can fill
//! the account's count and their own addresses', and the holder, at any
//! address, a stranger's too, still signs in on a device they signed in on
//! before. What remains is the trade-off: a device that never signed in
//! to the account (a new phone, a library computer without the token) is
//! still locked out for the window, since nothing tells it from a
//! stranger's. Guessing across cards stays bounded by the address
//! throttle, which a token can lift only for its own account.
//!
//! A token in the wrong hands (copied off a shared computer) gives at most
//! [`MAX_DEVICE_FAILURES`] guesses in all: a device's failures are counted
//! without a window and never forgiven (a success gives back only its own
//! place), and at the limit the device is no longer known (its row is
//! deleted), so its token is then worth no more than none. Someone who
//! shares the holder's computer gets as many again only when the holder,
//! locked out of the exemption, signs in there anew and gets a new token.
//!
//! A device is known only if the store says so: the server asks it
//! (`confirm`, one read) before it decides to skip the address throttle,
//! and only the [`KnownDevice`] that answers, which nothing outside this
//! crate can make, lets a sign-in skip it. The sign-in then counts itself on the device in the
//! same locked step as `attempts::reserve`; a device that stopped being
//! known in between (ended, expired, used up) is refused unchecked, so a
//! token cannot carry a guess past both counts. A token that is made up,
//! expired, used up or another account's is simply not known: the sign-in
//! goes as if none were presented, with the one answer for every refusal.
//!
//! Stored: the token's SHA-256 (never the token), the account, when it was
//! issued and until when it is known ([`DEVICE_DAYS`] after its latest
//! sign-in), and its failures. Nothing about the device itself: no
//! address, no browser. The rows go when their time is up (the retention
//! purge, `forget_expired`), when the patron's registration is destroyed
//! (`retention::targets`), and, like every session of the account, when it
//! is compromised: a new PIN or card number, a new standing (a block),
//! a deactivated staff account (`end_all`). Signing out does not end
//! them: the device is no less the holder's.

use crate::db::{params, Param};
use crate::error::Error;
use crate::secrets::{random_token, sha256_hex};
use crate::sign_in::AccountKind;
use crate::{Store, Tx};

/// How long a device stays known after its latest sign-in.
pub const DEVICE_DAYS: i64 = 90;

/// Failed sign-ins a device takes, in all; at the limit it is known no
/// more. As many as an account takes in a window: a stolen token gives no
/// more guesses than the account's own count would.
pub const MAX_DEVICE_FAILURES: i64 = 10;

/// Devices one account keeps at most; a new one ends the least recently
/// used. Bounds the rows of a client that never keeps its token (each of
/// its sign-ins is a new device), and is more than the holder's phone,
/// computers and branches' desks.
pub const DEVICES_PER_ACCOUNT: i64 = 20;

/// A device token the store has found known for the account a name
/// resolves to (see `confirm`): the one thing that lets a sign-in skip
/// the address throttle. Only this crate makes one; the sign-in checks it
/// again, locked, before counting on it.
pub struct KnownDevice {
    token: String,
}

impl AccountKind {
    /// The column of `known_devices` that names an account of this kind.
    pub(crate) fn device_column(self) -> &'static str {
        match self {
            AccountKind::Staff => "staff_id",
            AccountKind::Patron => "patron_id",
        }
    }
}

/// Whether `token` is a known device of the account `name` resolves to.
/// `account` joins the account's table to `known_devices d` (by its
/// `AccountKind::device_column`) on `name` and the conditions under
/// which it may sign in, with `params` (the name first). One read by
/// unique indexes (the token's hash, the account's name and id): a
/// made-up token costs that, microseconds next to the sign-in's hash, and
/// gets the same answer whether the name is an account's or not.
pub(crate) fn confirm(
    store: &Store,
    token: &str,
    account: &str,
    params: &[Param<'_>],
) -> Result<Option<KnownDevice>, Error> {
    let token_sha256 = sha256_hex(token.as_bytes());
    store.transact(|tx| {
        let now = tx.now().timestamp();
        let mut all = params.to_vec();
        all.extend_from_slice(params![&token_sha256, now, MAX_DEVICE_FAILURES]);
        let row = tx.conn.query_opt(
            &format!(
                "SELECT 1 FROM known_devices d {account}
                 WHERE d.token_sha256 = ? AND d.expires_at > ? AND d.failures < ?"
            ),
            &all,
        )?;
        Ok(row.map(|_| KnownDevice {
            token: token.to_string(),
        }))
    })
}

/// Counts one sign-in on `device` as failed before it is checked, if the
/// device is still known for the account `account_id` (not ended, not
/// expired, failures below the limit): true if it did. Its row is locked,
/// so parallel attempts with one token take at most the limit's places.
pub(crate) fn reserve(
    tx: &mut Tx<'_>,
    kind: AccountKind,
    account_id: i64,
    device: &KnownDevice,
) -> Result<bool, Error> {
    let lock = tx.conn.for_update();
    let column = kind.device_column();
    let token_sha256 = sha256_hex(device.token.as_bytes());
    let known = tx.conn.query_opt(
        &format!(
            "SELECT failures FROM known_devices
             WHERE token_sha256 = ? AND {column} = ? AND expires_at > ? AND failures < ?{lock}"
        ),
        params![
            &token_sha256,
            account_id,
            tx.now().timestamp(),
            MAX_DEVICE_FAILURES
        ],
    )?;
    if known.is_none() {
        return Ok(false);
    }
    tx.conn.execute(
        "UPDATE known_devices SET failures = failures + 1 WHERE token_sha256 = ?",
        params![&token_sha256],
    )?;
    Ok(true)
}

/// Settles a sign-in counted on `device` that failed: it stays counted,
/// and at the limit the device is known no more.
pub(crate) fn failed(tx: &mut Tx<'_>, device: &KnownDevice) -> Result<(), Error> {
    tx.conn.execute(
        "DELETE FROM known_devices WHERE token_sha256 = ? AND failures >= ?",
        params![&sha256_hex(device.token.as_bytes()), MAX_DEVICE_FAILURES],
    )?;
    Ok(())
}

/// The device token a successful sign-in gives back: `device`'s own, its
/// time renewed and the place this sign-in took given back, if it is
/// still known for the account; otherwise a new one. (A device ended
/// while its sign-in was checked, by a thief's tenth failure, gets a new
/// token: the right secret was given.) A success does not forgive the
/// device's earlier failures: on a shared computer they may be someone
/// else's, and forgiven at each of the holder's sign-ins they let that
/// someone guess on without end (an outside review checked 27 wrong PINs
/// on one token). A token gives [`MAX_DEVICE_FAILURES`] in its life.
pub(crate) fn signed_in(
    tx: &mut Tx<'_>,
    kind: AccountKind,
    account_id: i64,
    device: Option<&KnownDevice>,
) -> Result<String, Error> {
    let now = tx.now().timestamp();
    let expires_at = now + DEVICE_DAYS * 24 * 3600;
    let column = kind.device_column();
    if let Some(device) = device {
        let renewed = tx.conn.execute(
            &format!(
                "UPDATE known_devices SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, expires_at = ?
                 WHERE token_sha256 = ? AND {column} = ? AND expires_at > ?"
            ),
            params![
                expires_at,
                &sha256_hex(device.token.as_bytes()),
                account_id,
                now
            ],
        )?;
        if renewed > 0 {
            return Ok(device.token.clone());
        }
    }
    let token = random_token()?;
    tx.conn.execute(
        &format!(
            "INSERT INTO known_devices (token_sha256, {column}, issued_at, expires_at, failures)
             VALUES (?, ?, ?, ?, 0)"
        ),
        params![&sha256_hex(token.as_bytes()), account_id, now, expires_at],
    )?;
    tx.conn.execute(
        &format!(
            "DELETE FROM known_devices WHERE {column} = ? AND token_sha256 NOT IN (
               SELECT token_sha256 FROM known_devices WHERE {column} = ?
               ORDER BY expires_at DESC, token_sha256 LIMIT ?)"
        ),
        params![account_id, account_id, DEVICES_PER_ACCOUNT],
    )?;
    Ok(token)
}

/// Ends every known device of an account: its PIN, password or card
/// number changed, its standing changed, or it was deactivated. Whoever
/// learnt the old secret or holds the lost card must not keep a device's
/// allowance either.
pub(crate) fn end_all(tx: &mut Tx<'_>, kind: AccountKind, account_id: i64) -> Result<(), Error> {
    tx.conn.execute(
        &format!(
            "DELETE FROM known_devices WHERE {} = ?",
            kind.device_column()
        ),
        params![account_id],
    )?;
    Ok(())
}

/// Deletes the devices whose time is up, and any a failure left at the
/// limit (a sign-in that died before it settled). Run with every
/// retention purge.
pub(crate) fn forget_expired(tx: &mut Tx<'_>) -> Result<i64, Error> {
    let forgotten = tx.conn.execute(
        "DELETE FROM known_devices WHERE expires_at <= ? OR failures >= ?",
        params![tx.now().timestamp(), MAX_DEVICE_FAILURES],
    )?;
    Ok(forgotten as i64)
}
