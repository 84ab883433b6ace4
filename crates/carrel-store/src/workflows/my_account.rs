//! A patron's own account, online (A1, C2): what a patron signed in with
//! card and PIN sees and does on the My account pages. Every function
//! takes the [`PatronActor`] and reaches that patron's records and no
//! one else's: the grants it uses are minted here, for the patron
//! ([`gate::for_patron`]), and never leave the crate. Every read and
//! change is audited under the patron (`patron:ID` as the actor).
//!
//! What a patron may do to their own records is the gate's table
//! ([`gate::for_patron`]): see all of them; renew their loans; place and
//! cancel their holds; change their PIN.

use carrel_policy::{purpose, RecordClass};
use chrono::NaiveDate;

use crate::circulation::{self, HoldGrants, HoldRecord, LoanRecord, RenewGrants};
use crate::db::params;
use crate::error::Error;
use crate::fines::{self, FineRecord};
use crate::gate::{self, PatronActor, Read};
use crate::patrons::{self, PatronRecord};
use crate::retention::targets::{self, Clock};
use crate::secrets::{hash_secret, verify_secret};
use crate::validate::{ItemBarcode, Pin};
use crate::{items, Tx};

/// A loan or hold with the title of its item (the catalogue's, no one
/// else's data).
#[derive(Debug, Clone)]
pub struct WithTitle<T> {
    /// The record.
    pub record: T,
    /// The item's title, if the item is still in the catalogue.
    pub title: Option<String>,
}

/// The account at a glance: the card, what is out, what is waiting, what
/// is owed.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The registration as it stands.
    pub registration: PatronRecord,
    /// Loans not yet returned, oldest first.
    pub loans: Vec<WithTitle<LoanRecord>>,
    /// Holds waiting or ready, oldest first.
    pub holds: Vec<WithTitle<HoldRecord>>,
    /// Fines not yet settled.
    pub fines: Vec<FineRecord>,
    /// How many renewals the card's category allows a loan.
    pub renewals_allowed: i64,
}

fn title_of(tx: &mut Tx<'_>, item_id: i64) -> Result<Option<String>, Error> {
    Ok(items::fetch(tx, item_id)?.map(|item| item.title))
}

/// The signed-in patron's account at a glance. Audited as reads of the
/// patron's registration, circulation and fines.
pub fn overview(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Overview, Error> {
    let id = patron.patron_id();
    let account = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let registration = patrons::load(tx, &account, id)?;
    let circulation =
        gate::for_patron::<Read, gate::Circulation>(tx, patron, purpose::CIRCULATION)?;
    let mut loans = Vec::new();
    for loan in circulation::loans_of(tx, &circulation, id)? {
        if loan.returned_at.is_none() {
            let title = title_of(tx, loan.item_id)?;
            loans.push(WithTitle {
                record: loan,
                title,
            });
        }
    }
    let mut holds = Vec::new();
    for hold in circulation::holds_of(tx, &circulation, id)? {
        if hold.status.is_open() {
            let title = title_of(tx, hold.item_id)?;
            holds.push(WithTitle {
                record: hold,
                title,
            });
        }
    }
    let owed = gate::for_patron::<Read, gate::Fines>(tx, patron, purpose::FINES)?;
    let fines = fines::of_patron(tx, &owed, id)?
        .into_iter()
        .filter(|f| f.outstanding_cents > 0)
        .collect();
    let renewals_allowed = tx
        .policy()
        .category(&registration.category)
        .map_or(0, |c| i64::from(c.renewals));
    Ok(Overview {
        registration,
        loans,
        holds,
        fines,
        renewals_allowed,
    })
}

/// The patron's registration as it stands (audited as a read of it).
pub fn registration(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<PatronRecord, Error> {
    let grant = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    patrons::load(tx, &grant, patron.patron_id())
}

/// Renews one of the patron's own loans (the desk's rules: the renewal
/// limit, nobody else waiting). Another patron's loan is "not found",
/// as one that does not exist is: its existence is not the patron's to
/// learn.
pub fn renew(tx: &mut Tx<'_>, patron: &PatronActor, loan_id: i64) -> Result<LoanRecord, Error> {
    let grants = RenewGrants::for_patron(tx, patron)?;
    let owner = tx
        .conn
        .query_opt("SELECT patron_id FROM loans WHERE id = ?", params![loan_id])?
        .map(|row| row.opt_int("patron_id"))
        .transpose()?
        .flatten();
    if owner != Some(patron.patron_id()) {
        return Err(Error::NotFound { what: "loan" });
    }
    circulation::renew(tx, &grants, loan_id)
}

/// Places a hold for the patron on the item with `item_barcode`.
pub fn place_hold(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    item_barcode: &str,
) -> Result<HoldRecord, Error> {
    let item = ItemBarcode::parse(item_barcode)?;
    let grants = HoldGrants::for_patron(tx, patron)?;
    circulation::place_hold_for(tx, &grants, patron.patron_id(), &item)
}

/// Cancels one of the patron's own holds. Another patron's hold is "not
/// found", as for [`renew`].
pub fn cancel_hold(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    hold_id: i64,
) -> Result<HoldRecord, Error> {
    let grant = gate::for_patron(tx, patron, purpose::CIRCULATION)?;
    let owner = tx
        .conn
        .query_opt("SELECT patron_id FROM holds WHERE id = ?", params![hold_id])?
        .map(|row| row.opt_int("patron_id"))
        .transpose()?
        .flatten();
    if owner != Some(patron.patron_id()) {
        return Err(Error::NotFound { what: "hold" });
    }
    circulation::cancel_hold(tx, &grant, hold_id)
}

/// When a record the library holds will be destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destruction {
    /// Its retention clock has not started: what that means for this kind
    /// of record ("item not returned").
    InUse(&'static str),
    /// On or after this day (later only while still needed: an unpaid fine,
    /// a legal hold).
    OnOrAfter(NaiveDate),
}

/// One record the library holds about the patron, with its facts as the
/// patron's download shows them.
#[derive(Debug, Clone)]
pub struct HeldRecord {
    /// The record's id.
    pub id: i64,
    /// Its facts, by name (times in Unix seconds, as stored).
    pub facts: Vec<(String, crate::db::Value)>,
    /// When it will be destroyed, by the retention rule of its class.
    pub destroyed: Destruction,
}

/// The records of one kind the library holds about the patron.
#[derive(Debug, Clone)]
pub struct HeldKind {
    /// The record class.
    pub class: RecordClass,
    /// The kind, in words ("loans").
    pub label: &'static str,
    /// The records, oldest first.
    pub records: Vec<HeldRecord>,
}

/// Every record the library holds about the patron, but the registration
/// (see [`overview`]), kind by kind, each with when the retention rule will
/// destroy it (A1: "history the policy still keeps, and when each entry
/// will be destroyed"). Audited as one read per class.
pub fn held_records(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Vec<HeldKind>, Error> {
    let zone = tx.policy().library.time_zone;
    let mut kinds = Vec::new();
    for class in targets::classes_in_order() {
        if class == RecordClass::Registration {
            continue;
        }
        let keep = tx
            .policy()
            .class(class)
            .and_then(|c| c.retention.as_ref())
            .map(|r| r.keep);
        let mut in_class = 0usize;
        for target in targets::of_class(class).filter(|t| !t.export.is_empty()) {
            let columns: Vec<&str> = target.export.iter().map(|(_, sql)| *sql).collect();
            let rows = tx.conn.query(
                &format!(
                    "SELECT t.id AS record_id, {event} AS clock_event, {} FROM {} WHERE {} = ? ORDER BY t.id",
                    columns.join(", "),
                    target.from,
                    target.patron_column(),
                    event = target.event,
                ),
                params![patron.patron_id()],
            )?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let values = row.values();
                let facts = target
                    .export
                    .iter()
                    .zip(&values[2..])
                    .map(|((name, _), value)| ((*name).to_string(), value.clone()))
                    .collect();
                let destroyed = match (row.opt_int("clock_event")?, keep, target.clock) {
                    (Some(at), Some(keep), Clock::Instant) => {
                        let day = chrono::DateTime::from_timestamp(at, 0)
                            .map(|t| t.with_timezone(&zone).date_naive())
                            .unwrap_or(NaiveDate::MAX);
                        Destruction::OnOrAfter(carrel_policy::retention::due_on(day, keep))
                    }
                    _ => Destruction::InUse(target.in_use),
                };
                records.push(HeldRecord {
                    id: row.int("record_id")?,
                    facts,
                    destroyed,
                });
            }
            in_class += records.len();
            kinds.push(HeldKind {
                class,
                label: target.label,
                records,
            });
        }
        gate::record_own_read(tx, patron, class, in_class);
    }
    Ok(kinds)
}

/// Changes the patron's PIN, given the PIN they have now. The outer error
/// rolls back (a new PIN of the wrong shape, or typed differently twice:
/// nothing was guessed); the inner one is a wrong current PIN, a guess at
/// a secret, committed with its audit entry so the caller can count it
/// (`AppState::patron_guess`). A changed PIN ends every session and known
/// device of the card, this one too: whoever knew the old PIN is out.
pub fn change_pin(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    current: &str,
    new: &str,
    again: &str,
) -> Result<Result<(), Error>, Error> {
    let grant =
        gate::for_patron::<gate::Update, gate::Registration>(tx, patron, purpose::ONLINE_ACCESS)?;
    let new = Pin::parse(new)?;
    if new.as_str() != again {
        return Err(Error::invalid(
            "pins_differ",
            "the new PIN and its repetition differ; type the same new PIN twice",
        ));
    }
    let lock = tx.conn.for_update();
    let stored = tx
        .conn
        .query_opt(
            &format!("SELECT pin_hash FROM patrons WHERE id = ?{lock}"),
            params![patron.patron_id()],
        )?
        .map(|row| row.opt_text("pin_hash"))
        .transpose()?
        .flatten();
    let right = stored.is_some_and(|hash| verify_secret(current, &hash));
    if !right {
        gate::record_own_refusal(tx, patron, "wrong_pin");
        return Ok(Err(Error::invalid(
            "wrong_pin",
            "the PIN you have now was not right; nothing was changed",
        )));
    }
    let hash = hash_secret(new.as_str())?;
    tx.conn.execute(
        "UPDATE patrons SET pin_hash = ?, updated_at = ? WHERE id = ?",
        params![&hash, tx.now().timestamp(), patron.patron_id()],
    )?;
    crate::patron_sessions::end_all_and_devices(tx, patron.patron_id())?;
    grant.record(
        tx,
        Some(format!("patron:{}", patron.patron_id())),
        Some("PIN changed online by the patron".into()),
    );
    Ok(Ok(()))
}

/// One use of the patron's records by someone else, as the patron is
/// shown it (A3): when, by which staff role (never who), what was done,
/// to which class, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// When, in Unix seconds.
    pub at: i64,
    /// The staff role, as the policy names it; `None` for Carrel itself
    /// (the retention purge, the demo).
    pub role: Option<String>,
    /// What was done (`read`, `update`, a disclosure step...).
    pub action: String,
    /// The class of records.
    pub class: String,
    /// Why: the purpose, as the policy names it.
    pub purpose: String,
}

/// How many uses [`who_looked`] shows, newest first.
pub const LOOKS_SHOWN: i64 = 200;

/// Who has used the patron's records (A3): every granted entry of the
/// audit log in an operation that named the patron, by staff or by Carrel
/// itself (not the patron's own), newest first, at most [`LOOKS_SHOWN`].
/// An operation that was part of a case under a non-disclosure order is
/// left out whole (L6): the patron must not learn of the case from it.
/// Audited as a read of the patron's registration.
pub fn who_looked(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Vec<Look>, Error> {
    let grant = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let id = patron.patron_id();
    let me = patron.principal().label();
    let granted: &'static str = crate::audit::Outcome::Granted.into();
    let rows = tx.conn.query(
        "SELECT a.seq, a.at, a.actor, a.action, a.record_class, a.purpose, st.role
         FROM audit_subjects s
         JOIN audit_log a ON a.seq BETWEEN s.first_seq AND s.last_seq
         LEFT JOIN staff st ON a.actor = 'staff:' || CAST(st.id AS TEXT)
         WHERE s.kind = ? AND s.id = ? AND a.decision = ? AND a.actor <> ?
           AND NOT EXISTS (
             SELECT 1 FROM audit_log g JOIN disclosure_requests r
               ON g.record_id = 'disclosure:' || r.series || '-' || CAST(r.number AS TEXT)
             WHERE g.seq BETWEEN s.first_seq AND s.last_seq AND r.gagged = 1)
         ORDER BY a.seq DESC LIMIT ?",
        params![
            crate::retention::RecordKind::Patron,
            id,
            granted,
            &me,
            LOOKS_SHOWN
        ],
    )?;
    let mut looks = Vec::with_capacity(rows.len());
    for row in &rows {
        looks.push(Look {
            at: row.int("at")?,
            role: row.opt_text("role")?,
            action: row.text("action")?,
            class: row.text("record_class")?,
            purpose: row.text("purpose")?,
        });
    }
    grant.record(
        tx,
        Some(format!("patron:{id}")),
        Some(format!(
            "{} uses of the record, seen online by the patron",
            looks.len()
        )),
    );
    Ok(looks)
}

/// A request for the patron's records, as the patron is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureSeen {
    /// Its reference (`D-12`).
    pub reference: String,
    /// When it was received, in Unix seconds.
    pub received_at: i64,
    /// Who asked, by kind.
    pub requester_kind: String,
    /// The basis, by its name in the policy.
    pub basis: String,
    /// Where it stands.
    pub state: String,
    /// When records were released, if they were.
    pub released_at: Option<i64>,
}

/// Every request for the patron's records that is not under a
/// non-disclosure order (L6), newest first. Audited as a read of the
/// patron's registration.
pub fn disclosures(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Vec<DisclosureSeen>, Error> {
    let grant = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let id = patron.patron_id();
    let rows = tx.conn.query(
        "SELECT series || '-' || CAST(number AS TEXT) AS reference, received_at, requester_kind, basis, state, released_at
         FROM disclosure_requests WHERE subject_patron_id = ? AND gagged = 0 ORDER BY received_at DESC, id DESC",
        params![id],
    )?;
    let mut seen = Vec::with_capacity(rows.len());
    for row in &rows {
        seen.push(DisclosureSeen {
            reference: row.text("reference")?,
            received_at: row.int("received_at")?,
            requester_kind: row.text("requester_kind")?,
            basis: row.text("basis")?,
            state: row.text("state")?,
            released_at: row.opt_int("released_at")?,
        });
    }
    grant.record(
        tx,
        Some(format!("patron:{id}")),
        Some(format!(
            "{} disclosure requests, seen online by the patron",
            seen.len()
        )),
    );
    Ok(seen)
}
