//! Loans and holds: checkout, checkin, renew, place and cancel a hold, with
//! the library's loan rules from the policy.
//!
//! Each desk operation touches several record classes, so it asks the gate
//! for one grant per class it touches (the `*Grants` bundles below). Item
//! shelf status changes ride on the circulation grant of the step that
//! causes them.

use carrel_policy::loans::{due_at, overdue_fine_cents};
use carrel_policy::PatronCategory;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::fines::{self, FineRecord};
use crate::gate::{
    self, Actor, Catalogue, Circulation, Create, Fines, Grant, Read, Registration, Update,
};
use crate::items::{self, ItemRecord, ItemStatus};
use crate::patrons::{self, Standing};
use crate::validate::{CardBarcode, ItemBarcode};
use crate::Tx;

/// The purposes Carrel states when it uses each class at the desk; the
/// policy checker makes sure a policy allows them.
pub use carrel_policy::purpose;

/// A loan: one item lent to one patron, open until the item is checked in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LoanRecord {
    /// The loan's record id.
    pub id: i64,
    /// The borrower's patron id; `None` once the retention purge has anonymised
    /// the loan.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The item lent.
    pub item_id: i64,
    /// When the item was checked out, in Unix seconds.
    pub checked_out_at: i64,
    /// When the item is due back, in Unix seconds (the end of the due day in
    /// the library's time zone, moved on by each renewal).
    pub due_at: i64,
    /// How many times the loan has been renewed.
    pub renewals: i64,
    /// When the item was checked in, in Unix seconds; `None` while it is still
    /// out.
    #[schema(required = true)]
    pub returned_at: Option<i64>,
    /// The item's barcode.
    pub item_barcode: String,
    /// The item's title.
    pub title: String,
}

/// A hold: a patron's place in the queue for an item, until the item is
/// collected or the hold cancelled.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct HoldRecord {
    /// The hold's record id.
    pub id: i64,
    /// The patron waiting; `None` once the retention purge has anonymised the
    /// hold.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The item held.
    pub item_id: i64,
    /// When the hold was placed, in Unix seconds; the queue is in this order.
    pub placed_at: i64,
    /// Where the hold stands.
    pub status: HoldStatus,
    /// When the hold was fulfilled by a checkout or cancelled, in Unix seconds;
    /// `None` while it is open.
    #[schema(required = true)]
    pub closed_at: Option<i64>,
    /// The item's barcode.
    pub item_barcode: String,
    /// The item's title.
    pub title: String,
}

/// Where a hold stands. Waiting and ready holds are open.
#[derive(
    Debug,
    Clone,
    Copy,
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
pub enum HoldStatus {
    /// The patron is in the queue for the item: it is out, or on the shelf
    /// and on the pull list until staff scan it in to the hold shelf.
    Waiting,
    /// The item waits on the hold shelf for this patron.
    Ready,
    /// The patron checked the item out.
    Fulfilled,
    /// The hold was cancelled before it was fulfilled.
    Cancelled,
}

impl HoldStatus {
    /// The status as stored and shown (`waiting`, `ready`, `fulfilled`,
    /// `cancelled`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Still waiting for the item, or for the patron to collect it.
    pub fn is_open(self) -> bool {
        matches!(self, HoldStatus::Waiting | HoldStatus::Ready)
    }
}

/// A loan's columns, and its item's barcode and title (a list of loans
/// that named only item ids would need a lookup per loan).
const LOAN_COLUMNS: &str = "id, patron_id, item_id, checked_out_at, due_at, renewals, returned_at,
    (SELECT barcode FROM items WHERE items.id = loans.item_id) AS item_barcode,
    (SELECT title FROM items WHERE items.id = loans.item_id) AS title";
/// A hold's columns, and its item's barcode and title.
const HOLD_COLUMNS: &str = "id, patron_id, item_id, placed_at, status, closed_at,
    (SELECT barcode FROM items WHERE items.id = holds.item_id) AS item_barcode,
    (SELECT title FROM items WHERE items.id = holds.item_id) AS title";

fn loan_from(row: &crate::db::Row) -> Result<LoanRecord, Error> {
    Ok(LoanRecord {
        id: row.int("id")?,
        patron_id: row.opt_int("patron_id")?,
        item_id: row.int("item_id")?,
        checked_out_at: row.int("checked_out_at")?,
        due_at: row.int("due_at")?,
        renewals: row.int("renewals")?,
        returned_at: row.opt_int("returned_at")?,
        item_barcode: row.text("item_barcode")?,
        title: row.text("title")?,
    })
}

fn hold_from(row: &crate::db::Row) -> Result<HoldRecord, Error> {
    Ok(HoldRecord {
        id: row.int("id")?,
        patron_id: row.opt_int("patron_id")?,
        item_id: row.int("item_id")?,
        placed_at: row.int("placed_at")?,
        status: row.name("status")?,
        closed_at: row.opt_int("closed_at")?,
        item_barcode: row.text("item_barcode")?,
        title: row.text("title")?,
    })
}

/// A loan, locked for the rest of the transaction.
fn lock_loan(tx: &mut Tx<'_>, id: i64) -> Result<LoanRecord, Error> {
    select_loan(tx, id, true)
}

fn fetch_loan(tx: &mut Tx<'_>, id: i64) -> Result<LoanRecord, Error> {
    select_loan(tx, id, false)
}

fn select_loan(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<LoanRecord, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {LOAN_COLUMNS} FROM loans WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "loan" })?;
    loan_from(&row)
}

fn fetch_hold(tx: &mut Tx<'_>, id: i64) -> Result<HoldRecord, Error> {
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE id = ?"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "hold" })?;
    hold_from(&row)
}

fn category<'p>(tx: &'p Tx<'_>, patron: &Standing) -> Result<&'p PatronCategory, Error> {
    tx.policy().category(&patron.category).ok_or_else(|| {
        Error::refused(
            "unknown_category",
            "the patron's category is no longer in the library's policy; update the patron's category first",
        )
    })
}

/// The first hold in the queue for an item that is still active.
fn first_active_hold(tx: &mut Tx<'_>, item_id: i64) -> Result<Option<HoldRecord>, Error> {
    tx.conn
        .query_opt(
            &format!(
                "SELECT {HOLD_COLUMNS} FROM holds WHERE item_id = ? AND status IN (?, ?)
                 ORDER BY placed_at, id LIMIT 1"
            ),
            params![
                item_id,
                HoldStatus::Waiting.name(),
                HoldStatus::Ready.name()
            ],
        )?
        .map(|r| hold_from(&r))
        .transpose()
}

/// Grants a checkout needs: the patron's standing, their balance, the item,
/// and the new loan.
pub struct CheckoutGrants {
    patron: Grant<Read, Registration>,
    fines: Grant<Read, Fines>,
    item: Grant<Read, Catalogue>,
    lend: Grant<Create, Circulation>,
}

impl CheckoutGrants {
    /// Asks the gate for every grant a checkout needs; fails with the first
    /// denial, which is audited.
    pub fn request(tx: &mut Tx<'_>, actor: &Actor) -> Result<Self, Error> {
        Ok(CheckoutGrants {
            patron: gate::authorize(tx, actor, purpose::ACCOUNT)?,
            fines: gate::authorize(tx, actor, purpose::FINES)?,
            item: gate::authorize(tx, actor, purpose::CIRCULATION)?,
            lend: gate::authorize(tx, actor, purpose::CIRCULATION)?,
        })
    }
}

/// Who borrows: the card the desk scanned, or the patron the desk's page
/// already found by it.
#[derive(Debug, Clone)]
pub enum Borrower {
    /// By library card barcode.
    Card(CardBarcode),
    /// By patron id.
    Id(i64),
}

/// The borrower's standing, audited through `grant`.
fn standing_of(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Registration>,
    borrower: &Borrower,
) -> Result<Standing, Error> {
    match borrower {
        Borrower::Card(barcode) => patrons::standing_by_barcode(tx, grant, barcode),
        Borrower::Id(id) => patrons::standing(tx, grant, *id),
    }
}

/// Lends an item to a patron, if the policy's loan rules allow it.
pub fn checkout(
    tx: &mut Tx<'_>,
    grants: &CheckoutGrants,
    borrower: &Borrower,
    item_barcode: &ItemBarcode,
) -> Result<LoanRecord, Error> {
    let patron = standing_of(tx, &grants.patron, borrower)?;
    patron.check_current(tx.today())?;
    let rules = category(tx, &patron)?.clone();
    let owed = fines::owed_cents(tx, &grants.fines, patron.id)?;
    let limit = tx.policy().loans.block_at_owed_cents;
    if owed >= limit {
        return Err(Error::refused(
            "patron_owes",
            format!(
                "the patron's unpaid fines are at or over the library's limit of {}.{:02}; take a payment first",
                limit / 100,
                limit % 100
            ),
        ));
    }
    let on_loan = tx
        .conn
        .query_one(
            "SELECT COUNT(*) FROM loans WHERE patron_id = ? AND returned_at IS NULL",
            params![patron.id],
        )?
        .int(Only)?;
    if on_loan >= i64::from(rules.max_items) {
        return Err(Error::refused(
            "loan_limit",
            format!(
                "the patron already has {} items out, the most a '{}' card may have",
                rules.max_items, patron.category
            ),
        ));
    }
    let item = items::lock_by_barcode(tx, &grants.item, item_barcode)?;
    if item.status == ItemStatus::OnLoan {
        return Err(Error::refused(
            "item_on_loan",
            "the item is already on loan; check it in first",
        ));
    }
    if let Some(hold) = first_active_hold(tx, item.id)? {
        if hold.patron_id != Some(patron.id) {
            return Err(Error::refused(
                "item_on_hold",
                "the item is on hold for another patron",
            ));
        }
        tx.conn.execute(
            "UPDATE holds SET status = ?, closed_at = ? WHERE id = ?",
            params![HoldStatus::Fulfilled.name(), tx.now().timestamp(), hold.id],
        )?;
    }
    let now = tx.now();
    let due = due_at(now, rules.loan_days, tx.policy().library.time_zone);
    // The borrower's card category and age band today go with the loan, for
    // the statistics it will be counted in when it is destroyed (D3); the
    // birth date itself never leaves the database.
    let today = tx.today().to_string();
    let loan = loan_from(&tx.conn.query_one(
        &format!(
            "INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals, borrower_category, borrower_age_band)
             SELECT p.id, ?, ?, ?, 0, p.category, carrel_age_band(p.birth_date, ?) FROM patrons p WHERE p.id = ?
             RETURNING {LOAN_COLUMNS}"
        ),
        params![item.id, now.timestamp(), due.timestamp(), &today, patron.id],
    )?)?;
    items::set_status(tx, item.id, ItemStatus::OnLoan)?;
    grants
        .lend
        .used_on(tx, crate::retention::RecordKind::Loan, loan.id);
    Ok(loan)
}

/// Grants a checkin needs: the item, the loan, the borrower's category (for
/// the fine rate), and a fine if the item is late.
pub struct CheckinGrants {
    item: Grant<Read, Catalogue>,
    loan: Grant<Update, Circulation>,
    patron: Grant<Read, Registration>,
    fine: Grant<Create, Fines>,
}

impl CheckinGrants {
    /// Asks the gate for every grant a checkin needs; fails with the first
    /// denial, which is audited.
    pub fn request(tx: &mut Tx<'_>, actor: &Actor) -> Result<Self, Error> {
        Ok(CheckinGrants {
            item: gate::authorize(tx, actor, purpose::CIRCULATION)?,
            loan: gate::authorize(tx, actor, purpose::CIRCULATION)?,
            patron: gate::authorize(tx, actor, purpose::ACCOUNT)?,
            fine: gate::authorize(tx, actor, purpose::FINES)?,
        })
    }
}

/// What a checkin did: the closed loan (none when the item was on the shelf,
/// pulled for a hold), the item as it now stands, and any fine and hold the
/// return set off.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checkin {
    /// The loan, now with its `returned_at`; null when the item was not on
    /// loan but on the shelf, pulled for a hold and scanned in to trap it.
    #[schema(required = true)]
    pub loan: Option<LoanRecord>,
    /// The item, now available again or on the hold shelf.
    pub item: ItemRecord,
    /// An overdue fine assessed by this return, if any.
    #[schema(required = true)]
    pub fine: Option<FineRecord>,
    /// The hold that this return made ready for pickup, if any.
    #[schema(required = true)]
    pub hold_ready: Option<i64>,
}

/// Takes an item back; assesses an overdue fine under the policy; passes the
/// item to the next hold in the queue.
pub fn checkin(
    tx: &mut Tx<'_>,
    grants: &CheckinGrants,
    item_barcode: &ItemBarcode,
) -> Result<Checkin, Error> {
    let item = items::lock_by_barcode(tx, &grants.item, item_barcode)?;
    let loan = tx
        .conn
        .query_opt(
            &format!("SELECT {LOAN_COLUMNS} FROM loans WHERE item_id = ? AND returned_at IS NULL"),
            params![item.id],
        )?
        .map(|r| loan_from(&r))
        .transpose()?;
    let Some(loan) = loan else {
        // An item pulled from the shelf for a hold is scanned in to trap it.
        if item.status == ItemStatus::Available {
            if let Some(hold_id) = trap(tx, item.id)? {
                return Ok(Checkin {
                    loan: None,
                    item: items::fetch(tx, item.id)?.ok_or(Error::NotFound { what: "item" })?,
                    fine: None,
                    hold_ready: Some(hold_id),
                });
            }
        }
        return Err(Error::refused("not_on_loan", "the item is not on loan"));
    };
    let now = tx.now();
    tx.conn.execute(
        "UPDATE loans SET returned_at = ? WHERE id = ?",
        params![now.timestamp(), loan.id],
    )?;
    grants
        .loan
        .used_on(tx, crate::retention::RecordKind::Loan, loan.id);

    let mut fine = None;
    if let Some(patron_id) = loan.patron_id {
        let patron = patrons::standing(tx, &grants.patron, patron_id)?;
        let zone = tx.policy().library.time_zone;
        let due = DateTime::<Utc>::from_timestamp(loan.due_at, 0).unwrap_or(now);
        let amount = match tx.policy().category(&patron.category) {
            Some(rules) => overdue_fine_cents(due, now, rules, zone),
            None => 0,
        };
        if amount > 0 {
            fine = Some(fines::assess(
                tx,
                &grants.fine,
                patron_id,
                amount,
                "overdue",
                Some(loan.id),
            )?);
        }
    }

    let hold_ready = trap(tx, item.id)?;
    if hold_ready.is_none() {
        items::set_status(tx, item.id, ItemStatus::Available)?;
    }
    Ok(Checkin {
        loan: Some(fetch_loan(tx, loan.id)?),
        item: items::fetch(tx, item.id)?.ok_or(Error::NotFound { what: "item" })?,
        fine,
        hold_ready,
    })
}

/// Gives the item to the first hold waiting for it, if any: the hold is
/// ready and the item goes on the hold shelf.
fn trap(tx: &mut Tx<'_>, item_id: i64) -> Result<Option<i64>, Error> {
    let next = tx.conn.query_opt(
        "SELECT id FROM holds WHERE item_id = ? AND status = ? ORDER BY placed_at, id LIMIT 1",
        params![item_id, HoldStatus::Waiting.name()],
    )?;
    let Some(row) = next else {
        return Ok(None);
    };
    let hold_id = row.int(Only)?;
    tx.conn.execute(
        "UPDATE holds SET status = ? WHERE id = ?",
        params![HoldStatus::Ready.name(), hold_id],
    )?;
    items::set_status(tx, item_id, ItemStatus::OnHoldShelf)?;
    Ok(Some(hold_id))
}

/// An item to fetch from the shelf for a hold.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ToPull {
    /// The item's barcode.
    pub item_barcode: String,
    /// The title.
    pub title: String,
    /// Where it is shelved, if recorded.
    #[schema(required = true)]
    pub call_number: Option<String>,
    /// When the oldest hold waiting for it was placed, in Unix seconds.
    pub wanted_since: i64,
}

/// The pull list: items on the shelf that a patron waits for, oldest hold
/// first, to fetch and scan in at checkin (which puts them on the hold
/// shelf). It names items, not who waits: fetching needs no patron.
pub fn pull_list(tx: &mut Tx<'_>, grant: &Grant<Read, Circulation>) -> Result<Vec<ToPull>, Error> {
    let rows = tx.conn.query(
        "SELECT i.barcode, i.title, i.call_number, MIN(h.placed_at) AS wanted_since
         FROM holds h JOIN items i ON i.id = h.item_id
         WHERE h.status = ? AND i.status = ?
         GROUP BY i.id, i.barcode, i.title, i.call_number
         ORDER BY wanted_since, i.id",
        params![HoldStatus::Waiting.name(), ItemStatus::Available.name()],
    )?;
    grant.record(tx, None, Some(format!("pull list: {} items", rows.len())));
    rows.iter()
        .map(|row| {
            Ok(ToPull {
                item_barcode: row.text("barcode")?,
                title: row.text("title")?,
                call_number: row.opt_text("call_number")?,
                wanted_since: row.int("wanted_since")?,
            })
        })
        .collect()
}

/// Grants a renewal needs: the loan, and the borrower's standing and category
/// (for the renewal limit).
pub struct RenewGrants {
    loan: Grant<Update, Circulation>,
    patron: Grant<Read, Registration>,
}

impl RenewGrants {
    /// Asks the gate for every grant a renewal needs; fails with the first
    /// denial, which is audited.
    pub fn request(tx: &mut Tx<'_>, actor: &Actor) -> Result<Self, Error> {
        Ok(RenewGrants {
            loan: gate::authorize(tx, actor, purpose::CIRCULATION)?,
            patron: gate::authorize(tx, actor, purpose::ACCOUNT)?,
        })
    }

    /// The grants for a patron renewing their own loan (`my_account`).
    pub(crate) fn for_patron(tx: &mut Tx<'_>, patron: &gate::PatronActor) -> Result<Self, Error> {
        Ok(RenewGrants {
            loan: gate::for_patron(tx, patron, purpose::CIRCULATION)?,
            patron: gate::for_patron(tx, patron, purpose::ACCOUNT)?,
        })
    }
}

/// Extends a loan by another loan period from today, within the policy's
/// renewal limit and unless someone else is waiting for the item.
pub fn renew(tx: &mut Tx<'_>, grants: &RenewGrants, loan_id: i64) -> Result<LoanRecord, Error> {
    let loan = lock_loan(tx, loan_id)?;
    if loan.returned_at.is_some() {
        return Err(Error::refused(
            "loan_closed",
            "the item has already been returned",
        ));
    }
    let patron_id = loan
        .patron_id
        .ok_or_else(|| Error::refused("loan_closed", "the loan is no longer linked to a patron"))?;
    let patron = patrons::standing(tx, &grants.patron, patron_id)?;
    patron.check_current(tx.today())?;
    let rules = category(tx, &patron)?.clone();
    if loan.renewals >= i64::from(rules.renewals) {
        return Err(Error::refused(
            "renewal_limit",
            format!(
                "the loan has been renewed {} times, the most the policy allows",
                rules.renewals
            ),
        ));
    }
    if first_active_hold(tx, loan.item_id)?.is_some() {
        return Err(Error::refused(
            "item_on_hold",
            "another patron is waiting for the item, so it cannot be renewed",
        ));
    }
    let due = due_at(tx.now(), rules.loan_days, tx.policy().library.time_zone).timestamp();
    if due <= loan.due_at {
        // A renewal today would not move the due date (the loan is new, or
        // was renewed today): refused, so it does not use up a renewal.
        return Err(Error::refused(
            "renewal_too_soon",
            "a renewal today would not move the due date, so nothing was renewed; renew nearer the due date",
        ));
    }
    tx.conn.execute(
        "UPDATE loans SET due_at = ?, renewals = renewals + 1 WHERE id = ?",
        params![due, loan_id],
    )?;
    grants
        .loan
        .used_on(tx, crate::retention::RecordKind::Loan, loan_id);
    fetch_loan(tx, loan_id)
}

/// [`renew`] from the desk's page of patron `patron_id`: a loan that is not
/// theirs is "loan not found", as if it did not exist.
pub fn renew_for(
    tx: &mut Tx<'_>,
    grants: &RenewGrants,
    patron_id: i64,
    loan_id: i64,
) -> Result<LoanRecord, Error> {
    let theirs = tx
        .conn
        .query_opt(
            "SELECT 1 FROM loans WHERE id = ? AND patron_id = ?",
            params![loan_id, patron_id],
        )?
        .is_some();
    if !theirs {
        return Err(Error::NotFound { what: "loan" });
    }
    renew(tx, grants, loan_id)
}

/// Grants placing a hold needs: the patron's standing, the item, and the new
/// hold.
pub struct HoldGrants {
    patron: Grant<Read, Registration>,
    item: Grant<Read, Catalogue>,
    hold: Grant<Create, Circulation>,
}

impl HoldGrants {
    /// Asks the gate for every grant placing a hold needs; fails with the first
    /// denial, which is audited.
    pub fn request(tx: &mut Tx<'_>, actor: &Actor) -> Result<Self, Error> {
        Ok(HoldGrants {
            patron: gate::authorize(tx, actor, purpose::ACCOUNT)?,
            item: gate::authorize(tx, actor, purpose::CIRCULATION)?,
            hold: gate::authorize(tx, actor, purpose::CIRCULATION)?,
        })
    }

    /// The grants for a patron placing a hold for themselves (`my_account`).
    pub(crate) fn for_patron(tx: &mut Tx<'_>, patron: &gate::PatronActor) -> Result<Self, Error> {
        Ok(HoldGrants {
            patron: gate::for_patron(tx, patron, purpose::ACCOUNT)?,
            item: gate::for_patron(tx, patron, purpose::CIRCULATION)?,
            hold: gate::for_patron(tx, patron, purpose::CIRCULATION)?,
        })
    }
}

/// Places a hold: the patron joins the item's queue. An item on the shelf
/// is not on the hold shelf yet (nobody has fetched it): it goes on the
/// pull list ([`pull_list`]) until staff scan it in at checkin, which
/// traps it for the first in the queue.
pub fn place_hold(
    tx: &mut Tx<'_>,
    grants: &HoldGrants,
    patron: &Borrower,
    item_barcode: &ItemBarcode,
) -> Result<HoldRecord, Error> {
    let patron = standing_of(tx, &grants.patron, patron)?;
    hold_for_standing(tx, grants, patron, item_barcode)
}

fn hold_for_standing(
    tx: &mut Tx<'_>,
    grants: &HoldGrants,
    patron: patrons::Standing,
    item_barcode: &ItemBarcode,
) -> Result<HoldRecord, Error> {
    patron.check_current(tx.today())?;
    let rules = category(tx, &patron)?.clone();
    let active = tx
        .conn
        .query_one(
            "SELECT COUNT(*) FROM holds WHERE patron_id = ? AND status IN (?, ?)",
            params![
                patron.id,
                HoldStatus::Waiting.name(),
                HoldStatus::Ready.name()
            ],
        )?
        .int(Only)?;
    if active >= i64::from(rules.max_holds) {
        return Err(Error::refused(
            "hold_limit",
            format!(
                "the patron already has {} holds, the most a '{}' card may have",
                rules.max_holds, patron.category
            ),
        ));
    }
    let item = items::lock_by_barcode(tx, &grants.item, item_barcode)?;
    let duplicate = tx.conn.query_opt(
        "SELECT id FROM holds WHERE patron_id = ? AND item_id = ? AND status IN (?, ?)",
        params![
            patron.id,
            item.id,
            HoldStatus::Waiting.name(),
            HoldStatus::Ready.name()
        ],
    )?;
    if duplicate.is_some() {
        return Err(Error::refused(
            "already_holding",
            "the patron already has a hold on this item",
        ));
    }
    let borrowing = tx.conn.query_opt(
        "SELECT id FROM loans WHERE patron_id = ? AND item_id = ? AND returned_at IS NULL",
        params![patron.id, item.id],
    )?;
    if borrowing.is_some() {
        return Err(Error::refused(
            "already_borrowed",
            "the patron has this item on loan already",
        ));
    }
    let id = tx.conn.insert(
        "INSERT INTO holds (patron_id, item_id, placed_at, status) VALUES (?, ?, ?, ?)",
        params![
            patron.id,
            item.id,
            tx.now().timestamp(),
            HoldStatus::Waiting.name()
        ],
    )?;
    grants
        .hold
        .used_on(tx, crate::retention::RecordKind::Hold, id);
    fetch_hold(tx, id)
}

/// Cancels a hold; if it was waiting on the hold shelf, the item passes to
/// the next in the queue or back to the shelf.
pub fn cancel_hold(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Circulation>,
    hold_id: i64,
) -> Result<HoldRecord, Error> {
    let item_id = fetch_hold(tx, hold_id)?.item_id;
    // The item first (lock order), then the hold as it is now.
    items::lock(tx, item_id)?;
    let hold = fetch_hold(tx, hold_id)?;
    if !hold.status.is_open() {
        return Err(Error::refused(
            "hold_closed",
            "the hold is already fulfilled or cancelled",
        ));
    }
    tx.conn.execute(
        "UPDATE holds SET status = ?, closed_at = ? WHERE id = ?",
        params![HoldStatus::Cancelled.name(), tx.now().timestamp(), hold_id],
    )?;
    if hold.status == HoldStatus::Ready {
        match first_active_hold(tx, hold.item_id)? {
            Some(next) => {
                tx.conn.execute(
                    "UPDATE holds SET status = ? WHERE id = ?",
                    params![HoldStatus::Ready.name(), next.id],
                )?;
            }
            None => items::set_status(tx, hold.item_id, ItemStatus::Available)?,
        }
    }
    grant.used_on(tx, crate::retention::RecordKind::Hold, hold_id);
    fetch_hold(tx, hold_id)
}

/// The patron a hold is for (none once the purge has anonymised it), with
/// no audit entry: callers record their read of the patron.
pub(crate) fn hold_patron(tx: &mut Tx<'_>, hold_id: i64) -> Result<Option<i64>, Error> {
    Ok(fetch_hold(tx, hold_id)?.patron_id)
}

/// A patron's loans: open ones, or all still held.
pub fn loans_of(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Circulation>,
    patron_id: i64,
) -> Result<Vec<LoanRecord>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        &format!(
            "SELECT {LOAN_COLUMNS} FROM loans WHERE patron_id = ? ORDER BY checked_out_at, id"
        ),
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} loans", rows.len())),
    );
    rows.iter().map(loan_from).collect()
}

/// A patron's holds, open and closed, oldest first; audited as one read of the
/// patron's circulation records.
pub fn holds_of(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Circulation>,
    patron_id: i64,
) -> Result<Vec<HoldRecord>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE patron_id = ? ORDER BY placed_at, id"),
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} holds", rows.len())),
    );
    rows.iter().map(hold_from).collect()
}
