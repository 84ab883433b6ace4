//! The one sign-in sequence staff (username and password, `staff`) and
//! patrons (card barcode and PIN, C2, `patron_sessions`) share, and the
//! one sign-out for either kind of session.
//!
//! A sign-in takes three steps: find the account and take a place in its
//! count of failed attempts (one transaction, see `attempts`); check the
//! secret (an Argon2 hash, outside any transaction); settle (a second
//! transaction: open the session and give the place back, or leave it
//! counted). Every attempt is audited in the second.
//!
//! Every failure gets one answer, [`Error::SignInRefused`], and the same
//! work, one Argon2 check (against a stand-in hash when there is no
//! account or no place left): an unknown username or card, a wrong
//! password or PIN, a card that is blocked, expired or has no PIN, and an
//! account that has used up its failed attempts all look alike, in the
//! answer and in its time. Otherwise a locked account would answer
//! differently from a missing one, and tell a guesser the card exists.

use crate::attempts::{self, Account, Attempt};
use crate::audit::PendingEntry;
use crate::db::params;
use crate::error::Error;
use crate::secrets::{sha256_hex, verify_against_nothing, verify_secret};
use crate::{Store, Tx};

/// Which kind of account signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountKind {
    Staff,
    Patron,
}

impl AccountKind {
    fn account(self, id: i64) -> Account {
        match self {
            AccountKind::Staff => Account::Staff(id),
            AccountKind::Patron => Account::Patron(id),
        }
    }

    fn label(self, id: i64) -> String {
        match self {
            AccountKind::Staff => format!("staff:{id}"),
            AccountKind::Patron => format!("patron:{id}"),
        }
    }

    /// The record class and purpose a sign-in is audited under.
    fn audited_as(self) -> (&'static str, &'static str) {
        match self {
            AccountKind::Staff => ("staff", "accountability"),
            AccountKind::Patron => ("registration", "online_access"),
        }
    }
}

/// An account that may sign in, as `find` returns it: its id, the stored
/// hash of its password or PIN, and what opening a session needs.
pub(crate) struct Found<T> {
    pub id: i64,
    pub secret_hash: String,
    pub detail: T,
}

fn entry(tx: &Tx<'_>, kind: AccountKind, account: Option<i64>, granted: bool) -> PendingEntry {
    let (record_class, purpose) = kind.audited_as();
    PendingEntry {
        at: tx.now().timestamp(),
        actor: match account {
            Some(id) if granted => kind.label(id),
            _ => "anonymous".to_string(),
        },
        action: "sign_in".to_string(),
        record_class: record_class.to_string(),
        record_id: account.map(|id| kind.label(id)),
        purpose: purpose.to_string(),
        decision: if granted { "granted" } else { "denied" },
        detail: None,
    }
}

/// Signs in: `find` looks up the account that may sign in (`None` for none:
/// unknown, blocked, expired, no PIN), `secret` is checked against its
/// hash, and `open` opens the session. Any failure is
/// [`Error::SignInRefused`].
pub(crate) fn sign_in<T, S>(
    store: &Store,
    kind: AccountKind,
    secret: &str,
    find: impl FnOnce(&mut Tx<'_>) -> Result<Option<Found<T>>, Error>,
    open: impl FnOnce(&mut Tx<'_>, i64, T) -> Result<S, Error>,
) -> Result<S, Error> {
    let (found, has_place) = store.transact(|tx| {
        let Some(found) = find(tx)? else {
            return Ok((None, false));
        };
        let has_place = attempts::reserve(tx, kind.account(found.id), Attempt::SignIn)?;
        Ok((Some(found), has_place))
    })?;
    let verified = match &found {
        Some(account) if has_place => verify_secret(secret, &account.secret_hash),
        _ => {
            verify_against_nothing(secret);
            false
        }
    };
    store.transact(|tx| {
        let id = found.as_ref().map(|account| account.id);
        match found {
            Some(account) if verified => {
                attempts::give_back(tx, kind.account(account.id), Attempt::SignIn)?;
                let session = open(tx, account.id, account.detail)?;
                let granted = entry(tx, kind, id, true);
                tx.queue_audit(granted);
                Ok(Ok(session))
            }
            _ => {
                // Committed, with the attempt still counted: a refused
                // sign-in is on the record, and so is a throttled one.
                let mut refused = entry(tx, kind, id, false);
                if id.is_some() && !has_place {
                    refused.detail = Some("throttled".to_string());
                }
                tx.queue_audit(refused);
                Ok(Err(Error::SignInRefused))
            }
        }
    })?
}

/// Ends the session a token stands for, whichever kind it is. A staff
/// token ends that session; a patron token ends every session of that
/// card, on every device (a patron signing out of a library computer
/// means "sign me out", not "sign this tab out"). Signing out twice, or
/// with a token that has expired, is not an error.
pub fn sign_out(store: &Store, token: &str) -> Result<(), Error> {
    let token_sha256 = sha256_hex(token.as_bytes());
    store.transact(|tx| {
        tx.conn.execute(
            "DELETE FROM staff_sessions WHERE token_sha256 = ?",
            params![&token_sha256],
        )?;
        let patron = tx.conn.query_opt(
            "SELECT patron_id FROM patron_sessions WHERE token_sha256 = ?",
            params![&token_sha256],
        )?;
        if let Some(row) = patron {
            crate::patron_sessions::end_all(tx, row.int(0)?)?;
        }
        Ok(())
    })
}
