//! Items in the collection. No personal data, but still behind the gate:
//! who may add or change items is a policy decision too.

use serde::{Deserialize, Serialize};

use crate::db::params;
use crate::error::Error;
use crate::gate::{Catalogue, Create, Grant, Read};
use crate::validate::{self, ItemBarcode};
use crate::Tx;

/// A new item for the catalogue, as the client sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// The item's barcode: 4 to 32 letters or digits, unique in the collection.
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    pub barcode: String,
    /// The title (at most 500 characters).
    #[schema(max_length = 500)]
    pub title: String,
    /// The author, if any (at most 300 characters).
    #[serde(default)]
    #[schema(max_length = 300)]
    pub author: Option<String>,
    /// Where the item is shelved, if given (at most 100 characters).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub call_number: Option<String>,
}

/// An item in the collection as the catalogue holds it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ItemRecord {
    /// The item's record id.
    pub id: i64,
    /// The item's barcode.
    pub barcode: String,
    /// The title.
    pub title: String,
    /// The author, if recorded.
    #[schema(required = true)]
    pub author: Option<String>,
    /// Where the item is shelved, if recorded.
    #[schema(required = true)]
    pub call_number: Option<String>,
    /// Whether the item is on the shelf, on loan or on the hold shelf.
    pub status: ItemStatus,
}

/// Where an item is: decided by the circulation step that holds it.
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
pub enum ItemStatus {
    /// On the shelf: it may be checked out or held.
    Available,
    /// Lent to a patron.
    OnLoan,
    /// Waiting on the hold shelf for the patron whose hold is ready.
    OnHoldShelf,
}

impl ItemStatus {
    /// The status as stored and shown (`available`, `on_loan`,
    /// `on_hold_shelf`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Adds an item to the catalogue, available, after checking its fields; refuses
/// a barcode already in use.
pub fn create(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, Catalogue>,
    item: &NewItem,
) -> Result<ItemRecord, Error> {
    let barcode = ItemBarcode::parse(&item.barcode)?;
    let title = validate::text("title", &item.title, 500)?;
    let author = item
        .author
        .as_deref()
        .map(|a| validate::text("author", a, 300))
        .transpose()?;
    let call_number = item
        .call_number
        .as_deref()
        .map(|c| validate::text("call_number", c, 100))
        .transpose()?;
    if tx
        .conn
        .query_opt(
            "SELECT id FROM items WHERE barcode = ?",
            params![barcode.as_str()],
        )?
        .is_some()
    {
        return Err(Error::refused(
            "item_barcode_taken",
            "an item with that barcode already exists",
        ));
    }
    let id = tx.conn.insert(
        "INSERT INTO items (barcode, title, author, call_number, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![barcode.as_str(), &title, &author, &call_number, ItemStatus::Available.name(), tx.now().timestamp()],
    )?;
    grant.used_on(tx, crate::gate::SubjectKind::Item, id);
    fetch(tx, id)?.ok_or(Error::NotFound { what: "item" })
}

/// One item, by record id; the audit entry names no item (see `record_read`).
pub fn load(tx: &mut Tx<'_>, grant: &Grant<Read, Catalogue>, id: i64) -> Result<ItemRecord, Error> {
    let item = fetch(tx, id)?.ok_or(Error::NotFound { what: "item" })?;
    record_read(tx, grant);
    Ok(item)
}

/// One item, by the barcode the desk scanned; the audit entry names no item.
pub fn find_by_barcode(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Catalogue>,
    barcode: &ItemBarcode,
) -> Result<ItemRecord, Error> {
    by_barcode(tx, grant, barcode, false)
}

/// An item by barcode, locked for the rest of the transaction when `lock`:
/// the circulation step that holds it decides its status.
fn by_barcode(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Catalogue>,
    barcode: &ItemBarcode,
    lock: bool,
) -> Result<ItemRecord, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let item = tx
        .conn
        .query_opt(
            &format!("{SELECT} WHERE barcode = ?{lock}"),
            params![barcode.as_str()],
        )?
        .map(|row| item_from(&row))
        .transpose()?
        .ok_or(Error::NotFound { what: "item" })?;
    record_read(tx, grant);
    Ok(item)
}

/// Notes a read of the catalogue without naming the item. The catalogue
/// holds no personal data, and an item named beside a read of a patron's
/// registration (the desk scans the card, then the item) would say who
/// borrowed what long after the loan itself is destroyed (D1, D7).
fn record_read(tx: &mut Tx<'_>, grant: &Grant<Read, Catalogue>) {
    grant.record(tx, None, None);
}

const SELECT: &str = "SELECT id, barcode, title, author, call_number, status FROM items";

fn item_from(row: &crate::db::Row) -> Result<ItemRecord, Error> {
    Ok(ItemRecord {
        id: row.int("id")?,
        barcode: row.text("barcode")?,
        title: row.text("title")?,
        author: row.opt_text("author")?,
        call_number: row.opt_text("call_number")?,
        status: row.name("status")?,
    })
}

/// An item by barcode, locked for the rest of the transaction.
pub(crate) fn lock_by_barcode(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Catalogue>,
    barcode: &ItemBarcode,
) -> Result<ItemRecord, Error> {
    by_barcode(tx, grant, barcode, true)
}

/// Locks an item row by id (see [`lock_by_barcode`]).
pub(crate) fn lock(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    let lock = tx.conn.for_update();
    tx.conn.query(
        &format!("SELECT id FROM items WHERE id = ?{lock}"),
        params![id],
    )?;
    Ok(())
}

pub(crate) fn fetch(tx: &mut Tx<'_>, id: i64) -> Result<Option<ItemRecord>, Error> {
    tx.conn
        .query_opt(&format!("{SELECT} WHERE id = ?"), params![id])?
        .map(|row| item_from(&row))
        .transpose()
}

/// Changes an item's shelf status as part of a circulation step; the
/// circulation grant that step holds is what authorises it.
pub(crate) fn set_status(tx: &mut Tx<'_>, id: i64, status: ItemStatus) -> Result<(), Error> {
    tx.conn.execute(
        "UPDATE items SET status = ? WHERE id = ?",
        params![status.name(), id],
    )?;
    Ok(())
}
