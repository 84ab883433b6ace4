//! Legal holds (preservation requests, L5). A hold pins named records that
//! exist when it is placed (one patron's records of one class, in a date
//! range) against destruction, for the policy's period (90 days in both
//! shipped policies), renewable a limited number of times (once, for 90
//! more: 180 days at most). It never causes new collection: records made
//! after the hold are not pinned. When a hold expires or is released, the
//! records it pinned fall due at once if their normal time has passed.
//!
//! Only roles the policy's `[legal_holds]` names may place, renew or release
//! holds ([`crate::gate::authorize_legal_hold`]); every step is audited.

use carrel_policy::retention::{start_of_day, start_of_day_after};
use carrel_policy::RecordClass;
use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use crate::db::Only;
use crate::db::{params, Param};
use crate::disclosures::visibility::{hidden_hold_sql, Viewer};
use crate::error::Error;
use crate::gate::Actor;
use crate::gate::HoldGrant;
use crate::retention::targets;
use crate::{patrons, validate, Tx};

/// A legal hold: one patron's records of one class in a date range, preserved
/// from destruction for legal process (L5).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LegalHold {
    /// The hold's id: a random number, so ids do not tell how many holds exist
    /// (L6).
    pub id: i64,
    /// The requesting agency's reference (case or request number).
    pub reference: String,
    /// The class of the records held.
    pub record_class: RecordClass,
    /// None once the patron's registration itself has been destroyed.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The first day of the range held, in the library's time zone
    /// (YYYY-MM-DD).
    pub from_date: NaiveDate,
    /// The last day of the range held, inclusive (YYYY-MM-DD).
    pub to_date: NaiveDate,
    /// The staff id of who placed the hold.
    pub placed_by: i64,
    /// When the hold was placed, in Unix seconds.
    pub placed_at: i64,
    /// How many times the hold has been renewed.
    pub renewals: i64,
    /// How many more renewals the policy allows.
    pub renewals_left: i64,
    /// When the hold ends unless renewed, in Unix seconds.
    pub expires_at: i64,
    /// When the hold was released before it expired, in Unix seconds; `None` if
    /// it was not.
    #[schema(required = true)]
    pub released_at: Option<i64>,
    /// Records pinned (and not yet destroyed after the hold ended).
    pub records: i64,
    /// Whether the hold still pins its records: neither released nor expired.
    pub in_force: bool,
}

const COLUMNS: &str = "id, reference, record_class, patron_id, from_date, to_date, placed_by, placed_at, renewals, expires_at, released_at";

fn select(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<LegalHold, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM legal_holds WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "legal hold" })?;
    let records = tx
        .conn
        .query_one(
            "SELECT COUNT(*) FROM legal_hold_records WHERE hold_id = ?",
            params![id],
        )?
        .int(Only)?;
    let renewals = row.int("renewals")?;
    let expires_at = row.int("expires_at")?;
    let released_at = row.opt_int("released_at")?;
    Ok(LegalHold {
        id: row.int("id")?,
        reference: row.text("reference")?,
        record_class: row.name("record_class")?,
        patron_id: row.opt_int("patron_id")?,
        from_date: row.date("from_date")?,
        to_date: row.date("to_date")?,
        placed_by: row.int("placed_by")?,
        placed_at: row.int("placed_at")?,
        renewals,
        renewals_left: (i64::from(tx.policy().legal_holds.max_renewals) - renewals).max(0),
        expires_at,
        released_at,
        records,
        in_force: released_at.is_none() && expires_at > tx.now().timestamp(),
    })
}

/// A random id no hold has: hold ids do not count, so whoever places a
/// hold cannot tell from its id how many were placed since their last,
/// among them holds for restricted requests they cannot see (L6).
fn unused_id(tx: &mut Tx<'_>) -> Result<i64, Error> {
    tx.unused_random_number(
        100_000_000_000..1_000_000_000_000,
        "SELECT 1 FROM legal_holds WHERE id = ?",
        &[],
    )
}

/// The hold, if the actor may see it: a hold placed for a restricted
/// request outside the actor's view is "not found", as if it never was
/// (L6).
fn select_visible(tx: &mut Tx<'_>, actor: &Actor, id: i64, lock: bool) -> Result<LegalHold, Error> {
    let viewer = Viewer::of(tx, actor);
    let (hidden, hidden_params) = hidden_hold_sql(Some(&viewer));
    let mut params = vec![Param::Int(id)];
    params.extend(hidden_params);
    let hidden = tx
        .conn
        .query_opt(
            &format!("SELECT 1 FROM legal_holds h WHERE h.id = ? AND {hidden}"),
            &params,
        )?
        .is_some();
    if hidden {
        return Err(Error::NotFound { what: "legal hold" });
    }
    select(tx, id, lock)
}

/// What a new hold covers.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    /// The requesting agency's reference (case or request number), at most 100
    /// characters.
    pub reference: String,
    /// The class of records to hold, by name: a class of patron records
    /// (`circulation`, `fines`, ...).
    pub record_class: String,
    /// The patron whose records are held.
    pub patron_id: i64,
    /// The first day of the range (YYYY-MM-DD).
    pub from_date: String,
    /// The last day of the range, inclusive (YYYY-MM-DD).
    pub to_date: String,
}

/// Places a hold on the patron's existing records of the class whose
/// occurrence falls in the date range (in the library's zone).
pub fn place(
    tx: &mut Tx<'_>,
    grant: &HoldGrant,
    staff_id: i64,
    request: HoldRequest,
) -> Result<LegalHold, Error> {
    let reference = validate::text("reference", &request.reference, 100)?;
    let class = RecordClass::from_name(&request.record_class)
        .filter(|c| c.holds_patron_records())
        .ok_or_else(|| {
            Error::invalid(
                "bad_record_class",
                "record_class must be a class of patron records: registration, circulation, fines, electronic_access, interlibrary_loan, home_delivery, program_registration or mailing_list",
            )
        })?;
    let from: NaiveDate = validate::date("from_date", &request.from_date)?;
    let to: NaiveDate = validate::date("to_date", &request.to_date)?;
    if to < from {
        return Err(Error::invalid(
            "bad_range",
            "to_date must be on or after from_date",
        ));
    }
    patrons::require(tx, request.patron_id)?;
    let zone = tx.policy().library.time_zone;
    let (start, end) = (
        start_of_day(from, zone).timestamp(),
        start_of_day_after(to, zone).timestamp(),
    );
    let now = tx.now();
    let expires_at = tx.policy().legal_holds.expires_at(now, 0).timestamp();
    let id = unused_id(tx)?;
    tx.conn.execute(
        "INSERT INTO legal_holds (id, reference, record_class, patron_id, from_date, to_date, placed_by, placed_at, renewals, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        params![id, &reference, class.name(), request.patron_id, &from.to_string(), &to.to_string(), staff_id, now.timestamp(), expires_at],
    )?;
    // Pin what exists now, nothing later. Every kind of record of the class
    // is pinned (circulation: loans and holds). Not while a purge batch is
    // between choosing its rows and destroying them. (A record kept in
    // secret for a restricted case has left its table, and is not pinned
    // by this hold: to whoever sees this hold it is destroyed, L6.)
    crate::retention::exclude_concurrent_purge(tx)?;
    let mut pinned = 0;
    for target in targets::of_class(class) {
        let patron_column = target.patron_column();
        pinned += tx.conn.execute(
            &format!(
                "INSERT INTO legal_hold_records (record_kind, record_id, hold_id)
                 SELECT '{kind}', t.id, ? FROM {table} t
                 WHERE {patron_column} = ? AND {occurred} >= ? AND {occurred} < ?",
                kind = target.kind,
                table = target.table,
                occurred = target.occurred,
            ),
            params![id, request.patron_id, start, end],
        )?;
    }
    grant.record(
        tx,
        class,
        id,
        format!("placed on {pinned} records of patron:{}", request.patron_id),
    );
    select(tx, id, false)
}

/// Extends a hold in force by the policy's renewal period, if it has
/// renewals left.
pub fn renew(
    tx: &mut Tx<'_>,
    grant: &HoldGrant,
    actor: &Actor,
    id: i64,
) -> Result<LegalHold, Error> {
    let hold = select_visible(tx, actor, id, true)?;
    if !hold.in_force {
        return Err(Error::refused(
            "hold_ended",
            "this legal hold has expired or been released; place a new hold if records still exist",
        ));
    }
    let rules = tx.policy().legal_holds.clone();
    if hold.renewals >= i64::from(rules.max_renewals) {
        return Err(Error::refused(
            "hold_renewal_limit",
            format!(
                "a legal hold may be renewed {} time(s), {} days at most in all; this one has been, and it ends as scheduled",
                rules.max_renewals,
                rules.longest_days()
            ),
        ));
    }
    let renewals = hold.renewals + 1;
    let placed = DateTime::from_timestamp(hold.placed_at, 0)
        .ok_or_else(|| Error::internal("a stored time is out of range"))?;
    let expires_at = rules
        .expires_at(placed, u32::try_from(renewals).unwrap_or(u32::MAX))
        .timestamp();
    tx.conn.execute(
        "UPDATE legal_holds SET renewals = ?, expires_at = ? WHERE id = ?",
        params![renewals, expires_at, id],
    )?;
    let class = hold.record_class;
    grant.record(tx, class, id, format!("renewed ({renewals})"));
    select(tx, id, false)
}

/// Ends a hold before its time (the court order arrived and the records were
/// released, or the request was withdrawn).
pub fn release(
    tx: &mut Tx<'_>,
    grant: &HoldGrant,
    actor: &Actor,
    id: i64,
) -> Result<LegalHold, Error> {
    let staff_id = actor.staff_id();
    let hold = select_visible(tx, actor, id, true)?;
    if !hold.in_force {
        return Err(Error::refused(
            "hold_ended",
            "this legal hold has already expired or been released",
        ));
    }
    tx.conn.execute(
        "UPDATE legal_holds SET released_at = ?, released_by = ? WHERE id = ?",
        params![tx.now().timestamp(), staff_id, id],
    )?;
    let class = hold.record_class;
    grant.record(tx, class, id, "released".into());
    select(tx, id, false)
}

/// One hold the actor may see (one for a restricted case outside their circle
/// is not found); needs a hold grant and audits the read.
pub fn load(
    tx: &mut Tx<'_>,
    grant: &HoldGrant,
    actor: &Actor,
    id: i64,
) -> Result<LegalHold, Error> {
    let hold = select_visible(tx, actor, id, false)?;
    let class = hold.record_class;
    grant.record(tx, class, id, "read".into());
    Ok(hold)
}

/// Every hold the actor may see, newest first.
pub fn list(tx: &mut Tx<'_>, grant: &HoldGrant, actor: &Actor) -> Result<Vec<LegalHold>, Error> {
    let viewer = Viewer::of(tx, actor);
    let (hidden, hidden_params) = hidden_hold_sql(Some(&viewer));
    let ids = tx.conn.query(
        &format!("SELECT h.id FROM legal_holds h WHERE NOT {hidden} ORDER BY h.placed_at DESC, h.id DESC"),
        &hidden_params,
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for row in ids {
        out.push(select(tx, row.int(Only)?, false)?);
    }
    grant.record_list(tx, out.len());
    Ok(out)
}

/// The refusal for deleting a record a legal hold pins.
pub(crate) fn preserved() -> Error {
    Error::refused(
        "record_preserved",
        "this record is preserved under a legal hold and cannot be deleted until the hold ends; the purge removes it then",
    )
}

/// A hold by id, without an audit entry: for a disclosure request's view,
/// whose own read is audited.
pub(crate) fn fetch(tx: &mut Tx<'_>, id: i64) -> Result<LegalHold, Error> {
    select(tx, id, false)
}
