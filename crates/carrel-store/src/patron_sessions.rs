//! Patrons signed in with their library card barcode and PIN (C2). A
//! patron session reaches only the patron's own records, and a minor's
//! where the policy lets a guardian see them online (R2, R3): see
//! `disclosures::online`.

use serde::Serialize;

use crate::audit::PendingEntry;
use crate::db::params;
use crate::error::Error;
use crate::gate::PatronActor;
use crate::secrets::{random_token, sha256_hex, verify_against_nothing, verify_secret};
use crate::staff::{too_many_failures, THROTTLE_MINUTES};
use crate::validate::CardBarcode;
use crate::{Store, Tx};

/// How long a patron's sign-in lasts: long enough to read and download
/// records, short enough for a shared computer.
pub const SESSION_MINUTES: i64 = 30;

#[derive(Debug, Serialize)]
pub struct PatronSession {
    pub token: String,
    pub expires_at: i64,
}

fn entry(tx: &Tx<'_>, patron: Option<i64>, decision: &'static str) -> PendingEntry {
    PendingEntry {
        at: tx.now().timestamp(),
        actor: match (patron, decision) {
            (Some(id), "granted") => format!("patron:{id}"),
            _ => "anonymous".to_string(),
        },
        action: "sign_in".to_string(),
        record_class: "registration".to_string(),
        record_id: patron.map(|id| format!("patron:{id}")),
        purpose: "online_access".to_string(),
        decision,
        detail: None,
    }
}

/// Checks a card barcode and PIN and opens a session. Only a current card
/// in good standing with a PIN set can sign in; failures are throttled per
/// card like staff sign-ins, and every attempt is audited.
pub fn sign_in(store: &Store, card_barcode: &str, pin: &str) -> Result<PatronSession, Error> {
    let barcode = CardBarcode::parse(card_barcode).map_err(|_| Error::Unauthenticated)?;
    let account = store.transact(|tx| {
        let today = tx.today().to_string();
        let Some(row) = tx.conn.query_opt(
            "SELECT id, pin_hash FROM patrons WHERE card_barcode = ? AND status = 'active' AND expires_on >= ? AND pin_hash IS NOT NULL",
            params![barcode.as_str(), &today],
        )?
        else {
            return Ok(None);
        };
        let id = row.int(0)?;
        if too_many_failures(tx, &format!("patron:{id}"))? {
            let mut refused = entry(tx, Some(id), "denied");
            refused.detail = Some("throttled".into());
            tx.queue_audit(refused);
            return Ok(Some(Err(Error::refused(
                "too_many_attempts",
                format!("too many failed sign-ins with this card; wait {THROTTLE_MINUTES} minutes, or ask at the library"),
            ))));
        }
        Ok(Some(Ok((id, row.text(1)?))))
    })?;
    let account = account.transpose()?;
    let verified = match &account {
        Some((_, hash)) => verify_secret(pin, hash),
        None => {
            verify_against_nothing(pin);
            false
        }
    };
    let token = random_token()?;
    store.transact(|tx| {
        let Some((patron_id, _)) = account.clone().filter(|_| verified) else {
            let failed = entry(tx, account.as_ref().map(|(id, _)| *id), "denied");
            tx.queue_audit(failed);
            return Ok(Err(Error::Unauthenticated));
        };
        let now = tx.now().timestamp();
        let expires_at = now + SESSION_MINUTES * 60;
        tx.conn.execute(
            "INSERT INTO patron_sessions (token_sha256, patron_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            params![&sha256_hex(token.as_bytes()), patron_id, now, expires_at],
        )?;
        let granted = entry(tx, Some(patron_id), "granted");
        tx.queue_audit(granted);
        Ok(Ok(PatronSession {
            token: token.clone(),
            expires_at,
        }))
    })?
}

/// The patron behind a session token, inside the caller's transaction.
pub fn authenticate(tx: &mut Tx<'_>, token: &str) -> Result<PatronActor, Error> {
    let row = tx.conn.query_opt(
        "SELECT patron_id FROM patron_sessions WHERE token_sha256 = ? AND expires_at > ?",
        params![&sha256_hex(token.as_bytes()), tx.now().timestamp()],
    )?;
    match row {
        Some(row) => Ok(PatronActor::new(row.int(0)?)),
        None => Err(Error::Unauthenticated),
    }
}
