//! Fines and fees: assessed, paid (in part or in full), waived.

use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::{Create, Fines, Grant, Read, Update};
use crate::validate::{self, Zero};
use crate::Tx;

/// A fine or fee on a patron's account, with what has been paid and waived on
/// it. All amounts are in cents.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FineRecord {
    /// The fine's record id.
    pub id: i64,
    /// The patron charged; `None` once the retention purge has anonymised the
    /// fine.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The loan the fine is for (an overdue return), if any.
    #[schema(required = true)]
    pub loan_id: Option<i64>,
    /// The amount charged, in cents.
    pub amount_cents: i64,
    /// Why the fine was charged (`overdue`, or the reason staff gave).
    pub reason: String,
    /// When the fine was assessed, in Unix seconds.
    pub assessed_at: i64,
    /// How much has been paid, in cents.
    pub paid_cents: i64,
    /// How much has been waived, in cents.
    pub waived_cents: i64,
    /// What is still owed: `amount_cents - paid_cents - waived_cents`, in
    /// cents.
    pub outstanding_cents: i64,
    /// When the fine was paid or waived in full, in Unix seconds; `None` while
    /// something is owed.
    #[schema(required = true)]
    pub settled_at: Option<i64>,
    /// Why what was waived was waived; `None` if nothing was.
    #[schema(required = true)]
    pub waive_reason: Option<WaiveReason>,
}

/// Why staff waive a fine: a closed list, never free text (which could say
/// more about the patron than the fine does).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum WaiveReason {
    /// The fine was charged by mistake at the desk.
    StaffError,
    /// The library's own fault: closed on the due day, a system fault.
    LibraryError,
    /// The patron cannot pay.
    Hardship,
    /// A one-off kindness the library's practice allows.
    Goodwill,
}

impl WaiveReason {
    /// The reason as stored and shown.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

const COLUMNS: &str =
    "id, patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents, settled_at, waive_reason";

fn from_row(row: &crate::db::Row) -> Result<FineRecord, Error> {
    let amount = row.int("amount_cents")?;
    let paid = row.int("paid_cents")?;
    let waived = row.int("waived_cents")?;
    Ok(FineRecord {
        id: row.int("id")?,
        patron_id: row.opt_int("patron_id")?,
        loan_id: row.opt_int("loan_id")?,
        amount_cents: amount,
        reason: row.text("reason")?,
        assessed_at: row.int("assessed_at")?,
        paid_cents: paid,
        waived_cents: waived,
        outstanding_cents: amount - paid - waived,
        settled_at: row.opt_int("settled_at")?,
        waive_reason: row
            .opt_text("waive_reason")?
            .and_then(|name| name.parse().ok()),
    })
}

/// A fine, locked for the rest of the transaction (two payments at once
/// cannot both take the same outstanding amount).
fn lock(tx: &mut Tx<'_>, id: i64) -> Result<FineRecord, Error> {
    select(tx, id, true)
}

fn fetch(tx: &mut Tx<'_>, id: i64) -> Result<FineRecord, Error> {
    select(tx, id, false)
}

fn select(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<FineRecord, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM fines WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "fine" })?;
    from_row(&row)
}

/// What a patron owes in unsettled fines.
pub fn owed_cents(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Fines>,
    patron_id: i64,
) -> Result<i64, Error> {
    let owed = tx
        .conn
        .query_one(
            "SELECT CAST(COALESCE(SUM(amount_cents - paid_cents - waived_cents), 0) AS BIGINT)
             FROM fines WHERE patron_id = ? AND settled_at IS NULL",
            params![patron_id],
        )?
        .int(Only)?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some("balance".to_string()),
    );
    Ok(owed)
}

/// A patron's fines, settled and unsettled, oldest first; audited as one read
/// on the patron.
pub fn of_patron(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Fines>,
    patron_id: i64,
) -> Result<Vec<FineRecord>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        &format!("SELECT {COLUMNS} FROM fines WHERE patron_id = ? ORDER BY assessed_at, id"),
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} fines", rows.len())),
    );
    rows.iter().map(from_row).collect()
}

/// Assesses a fine or fee on a patron.
pub fn assess(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, Fines>,
    patron_id: i64,
    amount_cents: i64,
    reason: &str,
    loan_id: Option<i64>,
) -> Result<FineRecord, Error> {
    validate::cents("amount_cents", amount_cents, Zero::Refused)?;
    let reason = validate::text("reason", reason, 200)?;
    if tx
        .conn
        .query_opt("SELECT id FROM patrons WHERE id = ?", params![patron_id])?
        .is_none()
    {
        return Err(Error::NotFound { what: "patron" });
    }
    let id = tx.conn.insert(
        "INSERT INTO fines (patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents)
         VALUES (?, ?, ?, ?, ?, 0, 0)",
        params![patron_id, loan_id, amount_cents, &reason, tx.now().timestamp()],
    )?;
    grant.used_on(tx, crate::retention::RecordKind::Fine, id);
    fetch(tx, id)
}

/// Adds `cents` to the fine's `paid_cents` or `waived_cents`, settling it
/// in the same statement when nothing is left outstanding.
fn credit(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Fines>,
    fine_id: i64,
    column: &str,
    cents: i64,
    note: &str,
) -> Result<FineRecord, Error> {
    let now = tx.now().timestamp();
    tx.conn.execute(
        &format!(
            "UPDATE fines SET {column} = {column} + ?,
                 settled_at = CASE WHEN amount_cents - paid_cents - waived_cents - ? = 0 THEN ? ELSE settled_at END
             WHERE id = ?"
        ),
        params![cents, cents, now, fine_id],
    )?;
    grant.record(tx, Some(format!("fine:{fine_id}")), Some(note.to_string()));
    fetch(tx, fine_id)
}

/// Records a payment, which may not exceed what is outstanding.
pub fn pay(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Fines>,
    fine_id: i64,
    amount_cents: i64,
) -> Result<FineRecord, Error> {
    let fine = lock(tx, fine_id)?;
    validate::cents("amount_cents", amount_cents, Zero::Refused)?;
    if fine.outstanding_cents == 0 {
        return Err(Error::refused(
            "fine_settled",
            "this fine is already settled; nothing is owed on it",
        ));
    }
    if amount_cents > fine.outstanding_cents {
        return Err(Error::refused(
            "overpayment",
            format!(
                "the payment is more than the {} cents outstanding on this fine",
                fine.outstanding_cents
            ),
        ));
    }
    credit(tx, grant, fine_id, "paid_cents", amount_cents, "payment")
}

/// Waives whatever is outstanding on a fine.
pub fn waive(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Fines>,
    fine_id: i64,
    reason: WaiveReason,
) -> Result<FineRecord, Error> {
    let fine = lock(tx, fine_id)?;
    if fine.outstanding_cents == 0 {
        return Err(Error::refused(
            "fine_settled",
            "this fine is already settled; there is nothing to waive",
        ));
    }
    tx.conn.execute(
        "UPDATE fines SET waive_reason = ? WHERE id = ?",
        params![reason.name(), fine_id],
    )?;
    credit(
        tx,
        grant,
        fine_id,
        "waived_cents",
        fine.outstanding_cents,
        "waived",
    )
}
