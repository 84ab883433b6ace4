//! Interlibrary loan requests: a patron asks for an item another library
//! lends. The record links the patron to what they asked for, so it is kept
//! only until the item is back (or the request cancelled) and every fee is
//! paid; `closed_at` marks that moment and starts the retention clock.

use serde::Serialize;

use crate::db::params;
use crate::error::Error;
use crate::gate::{Create, Grant, InterlibraryLoan, Read, Update};
use crate::{patrons, validate, Tx};

/// Where a request stands. Forward only: requested → received → on_loan →
/// returned; cancelled from any state before on_loan. Declared in that
/// order, so the derived `Ord` is that order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialOrd,
    Ord,
    PartialEq,
    Eq,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum IllStatus {
    /// The patron asked for the item; the lending library has not sent it yet.
    Requested,
    /// The item has arrived from the lending library.
    Received,
    /// The item is lent to the patron.
    OnLoan,
    /// The patron has returned the item.
    Returned,
    /// The request was cancelled before the item was lent.
    Cancelled,
}

impl IllStatus {
    /// The status as stored and shown (`requested`, `on_loan`, ...).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// An interlibrary loan request: a patron's request for an item another library
/// lends.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct IllRequest {
    /// The request's record id.
    pub id: i64,
    /// The patron who asked; `None` once the retention purge has anonymised the
    /// request.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The library asked to lend the item.
    pub lender: String,
    /// The title of the item asked for.
    pub title: String,
    /// Where the request stands.
    pub status: IllStatus,
    /// The fees the patron is charged for the request, in cents.
    pub fees_cents: i64,
    /// How much of the fees the patron has paid, in cents.
    pub fees_paid_cents: i64,
    /// When the patron made the request, in Unix seconds.
    pub requested_at: i64,
    /// When the request was finished and paid in full; None while open.
    #[schema(required = true)]
    pub closed_at: Option<i64>,
}

const COLUMNS: &str =
    "id, patron_id, lender, title, status, fees_cents, fees_paid_cents, requested_at, closed_at";

fn from_row(row: &crate::db::Row) -> Result<IllRequest, Error> {
    Ok(IllRequest {
        id: row.int("id")?,
        patron_id: row.opt_int("patron_id")?,
        lender: row.text("lender")?,
        title: row.text("title")?,
        status: row.name("status")?,
        fees_cents: row.int("fees_cents")?,
        fees_paid_cents: row.int("fees_paid_cents")?,
        requested_at: row.int("requested_at")?,
        closed_at: row.opt_int("closed_at")?,
    })
}

fn select(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<IllRequest, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM ill_requests WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound {
            what: "interlibrary loan request",
        })?;
    from_row(&row)
}

fn check_cents(field: &str, cents: i64) -> Result<(), Error> {
    validate::cents(field, cents, validate::Zero::Allowed).map(drop)
}

/// Records a current, valid card's request for an item from `lender`, with its
/// fees in cents (zero when not yet known).
pub fn request(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, InterlibraryLoan>,
    patron_id: i64,
    lender: &str,
    title: &str,
    fees_cents: i64,
) -> Result<IllRequest, Error> {
    let lender = validate::text("lender", lender, 200)?;
    let title = validate::text("title", title, 500)?;
    check_cents("fees_cents", fees_cents)?;
    patrons::require_current(tx, patron_id)?;
    let id = tx.conn.insert(
        "INSERT INTO ill_requests (patron_id, lender, title, status, fees_cents, fees_paid_cents, requested_at)
         VALUES (?, ?, ?, ?, ?, 0, ?)",
        params![patron_id, &lender, &title, IllStatus::Requested.name(), fees_cents, tx.now().timestamp()],
    )?;
    grant.used_on(tx, crate::retention::RecordKind::IllRequest, id);
    select(tx, id, false)
}

/// A change to a request: a new status, fees, or a payment.
#[derive(Debug, Default, Clone)]
pub struct IllChange {
    /// The new status, by name; it may only move forward, or to `cancelled`
    /// before the item is lent.
    pub status: Option<String>,
    /// The new total of fees, in cents.
    pub fees_cents: Option<i64>,
    /// The new total paid, in cents; never more than the fees.
    pub fees_paid_cents: Option<i64>,
}

/// Changes an open request's status, fees or payments; a returned or cancelled
/// request paid in full closes, starting its retention clock.
pub fn update(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, InterlibraryLoan>,
    id: i64,
    change: IllChange,
) -> Result<IllRequest, Error> {
    let current = select(tx, id, true)?;
    if current.closed_at.is_some() {
        return Err(Error::refused(
            "ill_closed",
            "this request is closed (finished and paid); it cannot change any more",
        ));
    }
    let status = match change.status.as_deref() {
        None => current.status,
        Some(name) => name.parse::<IllStatus>().map_err(|_| {
            Error::invalid(
                "bad_status",
                format!(
                    "status must be one of: {}",
                    carrel_policy::names_of::<IllStatus>()
                ),
            )
        })?,
    };
    let from = current.status;
    let allowed = if status == from {
        true
    } else if status == IllStatus::Cancelled {
        from < IllStatus::OnLoan
    } else {
        from != IllStatus::Cancelled && status > from
    };
    if !allowed {
        return Err(Error::refused(
            "bad_transition",
            format!(
                "a request that is {} cannot become {}: requests move forward (requested, received, on_loan, returned) and can be cancelled only before the item is lent",
                current.status.name(),
                status.name()
            ),
        ));
    }
    let fees = change.fees_cents.unwrap_or(current.fees_cents);
    let paid = change.fees_paid_cents.unwrap_or(current.fees_paid_cents);
    check_cents("fees_cents", fees)?;
    check_cents("fees_paid_cents", paid)?;
    if paid > fees {
        return Err(Error::refused(
            "overpayment",
            "fees_paid_cents cannot be more than fees_cents",
        ));
    }
    let finished = matches!(status, IllStatus::Returned | IllStatus::Cancelled);
    let closed_at = (finished && paid == fees).then(|| tx.now().timestamp());
    tx.conn.execute(
        "UPDATE ill_requests SET status = ?, fees_cents = ?, fees_paid_cents = ?, closed_at = ? WHERE id = ?",
        params![status.name(), fees, paid, closed_at, id],
    )?;
    grant.record(
        tx,
        Some(format!("ill_request:{id}")),
        Some(format!("status {}", status.name())),
    );
    select(tx, id, false)
}

/// One request, audited as a read of it.
pub fn load(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, InterlibraryLoan>,
    id: i64,
) -> Result<IllRequest, Error> {
    let request = select(tx, id, false)?;
    grant.used_on(tx, crate::retention::RecordKind::IllRequest, id);
    Ok(request)
}

/// A patron's interlibrary loan requests, oldest first; audited as one read on
/// the patron.
pub fn of_patron(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, InterlibraryLoan>,
    patron_id: i64,
) -> Result<Vec<IllRequest>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        &format!(
            "SELECT {COLUMNS} FROM ill_requests WHERE patron_id = ? ORDER BY requested_at, id"
        ),
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} interlibrary loan requests", rows.len())),
    );
    rows.iter().map(from_row).collect()
}
