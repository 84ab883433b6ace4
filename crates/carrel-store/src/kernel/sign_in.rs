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
//! That includes the database work: a name no account has is counted too,
//! under a keyed pseudonym (`AuditKey::pseudonym`) in the same table, so
//! its refusal writes and commits what a wrong PIN's does. (Without it, a
//! wrong PIN took 40 ms at the median under load and a missing card 36,
//! and a classifier told them apart 71-83% of the time.) It also bounds
//! guesses at one unknown number, as at a known one.
//!
//! A sign-in presenting a known device of the account (see
//! `known_devices`; the server asked the store first, and let it past the
//! address throttle) takes its place on the device instead of in the
//! account's count, in the same locked step, and settles there: a success
//! gives its place back and renews the device (earlier failures stay), a
//! failure stays counted on it. If the device is known no more by the first step, the sign-in is
//! refused unchecked. Every successful sign-in gives back a device token:
//! the one presented, or a new one.
//!
//! The secret is checked against the hash read in the first step, and the
//! account can change while the hash runs (staff set a new PIN or card
//! number, block the card, deactivate the account). So the settling step
//! reads the account's row again, locked, and opens the session only if it
//! still may sign in with the same hash: a change that ended every session
//! of the account ends this one before it begins, whichever commits first.

use crate::attempts::{self, Account, Attempt};
use crate::audit::{AuditAction, AuditClass, Outcome, PendingEntry};
use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::known_devices::{self, KnownDevice};
use crate::principal::Principal;
use crate::secrets::{sha256_hex, verify_against_nothing, verify_secret};
use crate::{Store, Tx};
use carrel_policy::RecordClass;

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

    /// Where the failed attempts at a name no account has are counted.
    fn unknown_account(self, store: &Store, name: &str) -> Account {
        match self {
            AccountKind::Staff => Account::UnknownStaff(store.audit_key.pseudonym("staff", name)),
            AccountKind::Patron => Account::UnknownCard(store.audit_key.pseudonym("card", name)),
        }
    }

    /// The account's holder, to the audit log.
    fn principal(self, id: i64) -> Principal {
        match self {
            AccountKind::Staff => Principal::Staff(id),
            AccountKind::Patron => Principal::Patron(id),
        }
    }

    /// The record class and purpose a sign-in is audited under.
    fn audited_as(self) -> (AuditClass, &'static str) {
        match self {
            AccountKind::Staff => (AuditClass::Staff, "accountability"),
            AccountKind::Patron => (
                AuditClass::Policy(RecordClass::Registration),
                "online_access",
            ),
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
    let (actor, outcome) = match account {
        Some(id) if granted => (kind.principal(id), Outcome::Granted),
        _ => (Principal::Anonymous, Outcome::Denied),
    };
    PendingEntry::new(
        tx,
        actor,
        outcome,
        AuditAction::SignIn,
        record_class,
        purpose,
    )
    .on(account.map(|id| kind.principal(id).label()))
}

/// Where a sign-in took its place before its secret was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the account's failed attempts (`attempts`), or an unknown name's.
    Account,
    /// On the known device it presented (`known_devices`).
    Device,
    /// None: the account has used up its attempts, or the device it
    /// presented is known no more. Refused unchecked.
    None,
}

/// Signs in under `name` (a username or card number): `find` looks up,
/// with its row locked, the account that may sign in (`None` for none:
/// unknown, blocked, expired, no PIN), `secret` is checked against its
/// hash, and `open` opens the session, given the device token the
/// sign-in gives back. With a `device` the store has confirmed, the
/// attempt is counted on it and not on the account (see
/// `known_devices`); if it is no longer known for the account found,
/// the attempt is refused unchecked, since the server let it past the
/// address throttle on the device's word. Any failure is
/// [`Error::SignInRefused`].
pub(crate) fn sign_in<T, S>(
    store: &Store,
    kind: AccountKind,
    name: &str,
    secret: &str,
    device: Option<&KnownDevice>,
    find: impl Fn(&mut Tx<'_>) -> Result<Option<Found<T>>, Error>,
    open: impl FnOnce(&mut Tx<'_>, i64, T, String) -> Result<S, Error>,
) -> Result<S, Error> {
    let (found, place) = store.transact(|tx| {
        let found = find(tx)?;
        let place = match (&found, device) {
            (Some(account), Some(device)) => {
                if known_devices::reserve(tx, kind, account.id, device)? {
                    Place::Device
                } else {
                    Place::None
                }
            }
            // Confirmed for an account that can no longer sign in.
            (None, Some(_)) => Place::None,
            (_, None) => {
                let counted_as = match &found {
                    Some(account) => kind.account(account.id),
                    None => kind.unknown_account(store, name),
                };
                if attempts::reserve(tx, counted_as, Attempt::SignIn)? {
                    Place::Account
                } else {
                    Place::None
                }
            }
        };
        Ok((found, place))
    })?;
    let verified = match &found {
        Some(account) if place != Place::None => verify_secret(secret, &account.secret_hash),
        _ => {
            verify_against_nothing(secret);
            false
        }
    };
    store.transact(|tx| {
        let id = found.as_ref().map(|account| account.id);
        let mut changed_while_checked = false;
        if let Some(account) = found.as_ref().filter(|_| verified) {
            let current = find(tx)?;
            changed_while_checked = !current.is_some_and(|current| {
                current.id == account.id && current.secret_hash == account.secret_hash
            });
        }
        let on_device = device.filter(|_| place == Place::Device);
        match found {
            Some(account) if verified && !changed_while_checked => {
                if place == Place::Account {
                    attempts::give_back(tx, kind.account(account.id), Attempt::SignIn)?;
                }
                let device_token = known_devices::signed_in(tx, kind, account.id, on_device)?;
                let session = open(tx, account.id, account.detail, device_token)?;
                let granted =
                    entry(tx, kind, id, true).saying(on_device.map(|_| "known_device".to_string()));
                tx.queue_audit(granted);
                Ok(Ok(session))
            }
            _ => {
                // Committed, with the attempt still counted: a refused
                // sign-in is on the record, and so is a throttled one, and
                // one whose account changed while its secret was checked
                // (that attempt stays counted too: rare, and it errs on the
                // side of the account).
                if let Some(device) = on_device {
                    known_devices::failed(tx, device)?;
                }
                let why = if id.is_some() && place == Place::None {
                    if device.is_some() {
                        Some("device_no_longer_known")
                    } else {
                        Some("throttled")
                    }
                } else if changed_while_checked {
                    Some("changed_while_checked")
                } else if on_device.is_some() {
                    Some("known_device")
                } else {
                    None
                };
                let refused = entry(tx, kind, id, false).saying(why.map(str::to_string));
                tx.queue_audit(refused);
                Ok(Err(Error::SignInRefused))
            }
        }
    })?
}

/// Records that a client address was refused further guesses at a
/// secret (C2): the server's throttle calls this for the first refusal of
/// an address in its window, so a guesser knocking at the limit writes one
/// entry, not one per knock. The entry names no address and no account
/// (an address is personal data, and the guesses were at many accounts
/// perhaps): it tells an auditor that guessing was stopped, and when.
pub fn record_address_refused(store: &Store) -> Result<(), Error> {
    store.transact(|tx| {
        let refused = PendingEntry::new(
            tx,
            Principal::Anonymous,
            Outcome::Denied,
            AuditAction::GuessesRefused,
            AuditClass::Policy(RecordClass::Audit),
            "accountability",
        )
        .saying(Some("address_throttled".to_string()));
        tx.queue_audit(refused);
        Ok(())
    })
}

/// Ends the session a token stands for, whichever kind it is. A staff
/// token ends that session; a patron token ends every session of that
/// card, on every device (a patron signing out of a library computer
/// means "sign me out", not "sign this tab out"). A token that opens no
/// session (signed out already, expired, or never one) is refused as not
/// signed in, as every route refuses it.
pub fn sign_out(store: &Store, token: &str) -> Result<(), Error> {
    let token_sha256 = sha256_hex(token.as_bytes());
    store.transact(|tx| {
        let staff = tx.conn.execute(
            "DELETE FROM staff_sessions WHERE token_sha256 = ?",
            params![&token_sha256],
        )?;
        let patron = tx.conn.query_opt(
            "SELECT patron_id FROM patron_sessions WHERE token_sha256 = ?",
            params![&token_sha256],
        )?;
        match patron {
            Some(row) => crate::patron_sessions::end_all(tx, row.int(Only)?),
            // A token that opens no session (never one, or already ended)
            // signs nothing out: said so, not "signed out".
            None if staff == 0 => Err(Error::Unauthenticated),
            None => Ok(()),
        }
    })
}
