//! Patrons signed in with their library card barcode and PIN (C2). A
//! patron session reaches only the patron's own records, and a minor's
//! where the policy lets a guardian see them online (R2, R3): see
//! `disclosures::online`.

use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::PatronActor;
use crate::known_devices::{self, KnownDevice};
use crate::patrons::PatronStatus;
use crate::secrets::{random_token, sha256_hex};
use crate::sign_in::{self, AccountKind, Found};
use crate::validate::CardBarcode;
use crate::{Store, Tx};

/// How long a patron's sign-in lasts: long enough to read and download
/// records, short enough for a shared computer.
pub const SESSION_MINUTES: i64 = 30;

/// A patron's new session, after sign-in with card and PIN: the token is shown
/// once and stored only as a hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PatronSession {
    /// The session token, to present on every request; the store keeps only its
    /// SHA-256.
    pub token: String,
    /// When the session ends unless it is ended sooner, in Unix seconds
    /// (30 minutes after sign-in, [`SESSION_MINUTES`]).
    pub expires_at: i64,
    /// The device's token (see `known_devices`): to present at the next
    /// sign-in from this device.
    pub device: String,
}

/// What a card must be to sign in, and to stay signed in: in good
/// standing, not expired, with a PIN set. `p` is the patrons table; the
/// parameters are [`PatronStatus::Active`]'s name and today's date in the
/// library's zone.
const MAY_SIGN_IN: &str = "p.status = ? AND p.expires_on >= ? AND p.pin_hash IS NOT NULL";

/// Checks a card barcode and PIN and opens a session. Only a current card
/// in good standing with a PIN set can sign in. Failed attempts are
/// counted per card (`attempts`), every attempt is audited, and every
/// refusal is the same [`Error::SignInRefused`] after the same work, a
/// malformed card number included (see `sign_in`). With a `device` that
/// [`known_device`] confirmed, the attempt is counted on the device
/// instead (see `known_devices`).
pub fn sign_in(
    store: &Store,
    card_barcode: &str,
    pin: &str,
    device: Option<&KnownDevice>,
) -> Result<PatronSession, Error> {
    let barcode = CardBarcode::parse(card_barcode).ok();
    // A malformed number is counted under its own pseudonym too, so that
    // its refusal does the same work as any other.
    let name = barcode.as_ref().map_or(card_barcode, CardBarcode::as_str);
    let token = random_token()?;
    sign_in::sign_in(
        store,
        AccountKind::Patron,
        name,
        pin,
        device,
        |tx| {
            let Some(barcode) = &barcode else {
                return Ok(None);
            };
            let today = tx.today().to_string();
            let lock = tx.conn.for_update();
            let row = tx.conn.query_opt(
                &format!("SELECT p.id, p.pin_hash FROM patrons p WHERE p.card_barcode = ? AND {MAY_SIGN_IN}{lock}"),
                params![barcode.as_str(), PatronStatus::Active.name(), &today],
            )?;
            row.map(|row| {
                Ok(Found {
                    id: row.int("id")?,
                    secret_hash: row.text("pin_hash")?,
                    detail: (),
                })
            })
            .transpose()
        },
        |tx, patron_id, (), device| {
            let now = tx.now().timestamp();
            let expires_at = now + SESSION_MINUTES * 60;
            tx.conn.execute(
                "INSERT INTO patron_sessions (token_sha256, patron_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                params![&sha256_hex(token.as_bytes()), patron_id, now, expires_at],
            )?;
            Ok(PatronSession {
                token,
                expires_at,
                device,
            })
        },
    )
}

/// Whether `token` is a known device of the card `card_barcode`, which
/// may sign in: what lets a sign-in skip the address throttle (see
/// `known_devices`).
pub fn known_device(
    store: &Store,
    card_barcode: &str,
    token: &str,
) -> Result<Option<KnownDevice>, Error> {
    let Ok(barcode) = CardBarcode::parse(card_barcode) else {
        return Ok(None);
    };
    let today = store.today().to_string();
    known_devices::confirm(
        store,
        token,
        &format!("JOIN patrons p ON p.id = d.patron_id AND p.card_barcode = ? AND {MAY_SIGN_IN}"),
        params![barcode.as_str(), PatronStatus::Active.name(), &today],
    )
}

/// The patron behind a session token, inside the caller's transaction. The
/// card is checked again on every request, so a session ends the moment
/// its card expires or is blocked, even if nothing ended it explicitly.
pub fn authenticate(tx: &mut Tx<'_>, token: &str) -> Result<PatronActor, Error> {
    let today = tx.today().to_string();
    let row = tx.conn.query_opt(
        &format!(
            "SELECT s.patron_id FROM patron_sessions s JOIN patrons p ON p.id = s.patron_id
             WHERE s.token_sha256 = ? AND s.expires_at > ? AND {MAY_SIGN_IN}"
        ),
        params![
            &sha256_hex(token.as_bytes()),
            tx.now().timestamp(),
            PatronStatus::Active.name(),
            &today
        ],
    )?;
    match row {
        Some(row) => Ok(PatronActor::new(row.int(Only)?)),
        None => Err(Error::Unauthenticated),
    }
}

/// Ends every session of a card at once: at sign-out, and when staff
/// change its PIN, its barcode, its standing or its expiry (someone who
/// learnt the old PIN, or holds a lost card, must not stay signed in, and
/// a session the card's expiry stopped must not come back when the card
/// is renewed). Its known devices are not ended here: see
/// [`end_all_and_devices`].
pub(crate) fn end_all(tx: &mut Tx<'_>, patron_id: i64) -> Result<(), Error> {
    tx.conn.execute(
        "DELETE FROM patron_sessions WHERE patron_id = ?",
        params![patron_id],
    )?;
    Ok(())
}

/// [`end_all`], and every known device of the card too: for a change
/// that may mean someone else has the PIN or the card (a new PIN, a new
/// card number, a new standing), not for a sign-out or a new expiry date.
pub(crate) fn end_all_and_devices(tx: &mut Tx<'_>, patron_id: i64) -> Result<(), Error> {
    end_all(tx, patron_id)?;
    known_devices::end_all(tx, AccountKind::Patron, patron_id)
}
