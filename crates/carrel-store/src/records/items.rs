//! Items in the collection. No personal data, but still behind the gate:
//! who may add or change items is a policy decision too.

use serde::{Deserialize, Serialize};

use crate::db::params;
use crate::error::Error;
use crate::gate::{Catalogue, Create, Grant, Read, Update};
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
    /// What kind of item it is (book, dvd, audiobook...: the library's own
    /// words, at most 40 characters), if given.
    #[serde(default)]
    #[schema(max_length = 40)]
    pub material_type: Option<String>,
}

/// Changes to an item; a field left out is not changed, null clears an
/// optional one.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemChanges {
    /// A new barcode (a relabelled item).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    pub barcode: Option<String>,
    /// A new title.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub title: Option<String>,
    /// A new author; null removes it.
    #[serde(default, with = "double_option")]
    #[schema(max_length = 300, nullable)]
    pub author: Option<Option<String>>,
    /// A new call number; null removes it.
    #[serde(default, with = "double_option")]
    #[schema(max_length = 100, nullable)]
    pub call_number: Option<Option<String>>,
    /// A new material type; null removes it.
    #[serde(default, with = "double_option")]
    #[schema(max_length = 40, nullable)]
    pub material_type: Option<Option<String>>,
}

/// A field that may be left out (not changed) or null (cleared).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
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
    /// What kind of item it is, if recorded.
    #[schema(required = true)]
    pub material_type: Option<String>,
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

/// An item's fields, checked: a barcode of the right shape, and texts of
/// reasonable length with nothing unprintable.
struct Checked {
    barcode: ItemBarcode,
    title: String,
    author: Option<String>,
    call_number: Option<String>,
    material_type: Option<String>,
}

fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, Error> {
    value.map(|v| validate::text(field, v, max)).transpose()
}

fn check(item: &NewItem) -> Result<Checked, Error> {
    Ok(Checked {
        barcode: ItemBarcode::parse(&item.barcode)?,
        title: validate::text("title", &item.title, 500)?,
        author: optional_text("author", item.author.as_deref(), 300)?,
        call_number: optional_text("call_number", item.call_number.as_deref(), 100)?,
        material_type: optional_text("material_type", item.material_type.as_deref(), 40)?,
    })
}

fn barcode_taken(tx: &mut Tx<'_>, barcode: &ItemBarcode) -> Result<bool, Error> {
    Ok(tx
        .conn
        .query_opt(
            "SELECT id FROM items WHERE barcode = ?",
            params![barcode.as_str()],
        )?
        .is_some())
}

fn taken() -> Error {
    Error::refused(
        "item_barcode_taken",
        "an item with that barcode already exists",
    )
}

fn insert(tx: &mut Tx<'_>, item: &Checked) -> Result<i64, Error> {
    tx.conn.insert(
        "INSERT INTO items (barcode, title, author, call_number, material_type, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![
            item.barcode.as_str(),
            &item.title,
            &item.author,
            &item.call_number,
            &item.material_type,
            ItemStatus::Available.name(),
            tx.now().timestamp()
        ],
    )
}

/// Adds an item to the catalogue, available, after checking its fields; refuses
/// a barcode already in use.
pub fn create(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, Catalogue>,
    item: &NewItem,
) -> Result<ItemRecord, Error> {
    let item = check(item)?;
    if barcode_taken(tx, &item.barcode)? {
        return Err(taken());
    }
    let id = insert(tx, &item)?;
    grant.used_on(tx, crate::gate::SubjectKind::Item, id);
    fetch(tx, id)?.ok_or(Error::NotFound { what: "item" })
}

/// Changes an item's catalogue fields (not its status, which circulation
/// decides).
pub fn update(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Catalogue>,
    id: i64,
    changes: &ItemChanges,
) -> Result<ItemRecord, Error> {
    lock(tx, id)?;
    let current = fetch(tx, id)?.ok_or(Error::NotFound { what: "item" })?;
    let merged = NewItem {
        barcode: changes.barcode.clone().unwrap_or(current.barcode.clone()),
        title: changes.title.clone().unwrap_or(current.title),
        author: changes.author.clone().unwrap_or(current.author),
        call_number: changes.call_number.clone().unwrap_or(current.call_number),
        material_type: changes
            .material_type
            .clone()
            .unwrap_or(current.material_type),
    };
    let item = check(&merged)?;
    if item.barcode.as_str() != current.barcode && barcode_taken(tx, &item.barcode)? {
        return Err(taken());
    }
    tx.conn.execute(
        "UPDATE items SET barcode = ?, title = ?, author = ?, call_number = ?, material_type = ? WHERE id = ?",
        params![
            item.barcode.as_str(),
            &item.title,
            &item.author,
            &item.call_number,
            &item.material_type,
            id
        ],
    )?;
    grant.used_on(tx, crate::gate::SubjectKind::Item, id);
    fetch(tx, id)?.ok_or(Error::NotFound { what: "item" })
}

/// The most items one search answers with.
pub const SEARCH_LIMIT: usize = 50;

/// Items whose title or author contains `words` (any case), or whose
/// barcode is `words`: at most [`SEARCH_LIMIT`], by title.
pub fn search(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Catalogue>,
    words: &str,
) -> Result<Vec<ItemRecord>, Error> {
    let words = validate::text("q", words.trim(), 200)?;
    if words.chars().count() < 2 {
        return Err(Error::invalid(
            "query_too_short",
            "search for at least two characters of a title, an author or a barcode",
        ));
    }
    let pattern = format!("%{}%", like_escaped(&words.to_lowercase()));
    let rows = tx.conn.query(
        &format!(
            "{SELECT} WHERE LOWER(title) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(author, '')) LIKE ? ESCAPE '\\' OR barcode = ?
             ORDER BY title, id LIMIT {SEARCH_LIMIT}"
        ),
        params![&pattern, &pattern, &words],
    )?;
    record_read(tx, grant);
    rows.iter().map(item_from).collect()
}

/// `text` with the wildcards of SQL's LIKE (and its escape) escaped.
pub(crate) fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An item a catalogue import could not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The number of the record it came from in the file.
    pub record: usize,
    /// Why it was not loaded.
    pub reason: String,
}

/// Loads items read from a library's catalogue file, each with the number
/// of the record it came from: every item whose fields check out and whose
/// barcode is new is added, available; the rest are returned with why. One
/// transaction (the caller's): all that can be loaded is, or nothing. One
/// audit entry says how many.
pub fn import(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, Catalogue>,
    items: &[(usize, NewItem)],
) -> Result<(usize, Vec<Rejected>), Error> {
    import_with_progress(tx, grant, items, &mut |_| {})
}

/// [`import`] by the operator (`carrel import items`), as Carrel's own
/// catalogue-import task, in one transaction; `progress` is told how many
/// items have been looked at, every thousand.
pub fn import_as_operator(
    store: &crate::Store,
    items: &[(usize, NewItem)],
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<(usize, Vec<Rejected>), Error> {
    store.transact(|tx| {
        let grant = crate::gate::authorize_system(
            tx,
            crate::principal::SystemTask::CatalogueImport,
            carrel_policy::purpose::COLLECTION,
        )?;
        import_with_progress(tx, &grant, items, progress)
    })
}

fn import_with_progress(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, Catalogue>,
    items: &[(usize, NewItem)],
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<(usize, Vec<Rejected>), Error> {
    let mut rejected = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut fit = Vec::with_capacity(items.len());
    for (record, item) in items {
        let reject = |reason: String| Rejected {
            record: *record,
            reason,
        };
        match check(item) {
            Ok(checked) if seen.insert(checked.barcode.as_str().to_string()) => {
                fit.push((*record, checked));
            }
            Ok(_) => rejected.push(reject(
                "the barcode is given twice in the file; the first was loaded".into(),
            )),
            Err(e) => rejected.push(reject(e.to_string())),
        }
    }
    // In batches: one query finds which barcodes are taken, one statement
    // inserts the rest (a round trip per item would make PostgreSQL's
    // import as slow as its network).
    let mut loaded = 0;
    let mut done = 0;
    for batch in fit.chunks(IMPORT_BATCH) {
        progress(done);
        done += batch.len();
        let marks = vec!["?"; batch.len()].join(", ");
        let barcodes: Vec<crate::db::Param<'_>> = batch
            .iter()
            .map(|(_, item)| crate::db::Param::from(item.barcode.as_str()))
            .collect();
        let taken: std::collections::HashSet<String> = tx
            .conn
            .query(
                &format!("SELECT barcode FROM items WHERE barcode IN ({marks})"),
                &barcodes,
            )?
            .iter()
            .map(|row| row.text("barcode"))
            .collect::<Result<_, _>>()?;
        let now = tx.now().timestamp();
        let mut values = Vec::new();
        let mut params = Vec::new();
        for (record, item) in batch {
            if taken.contains(item.barcode.as_str()) {
                rejected.push(Rejected {
                    record: *record,
                    reason: "an item with that barcode is already in the catalogue".into(),
                });
                continue;
            }
            values.push("(?, ?, ?, ?, ?, ?, ?)");
            params.extend([
                crate::db::Param::from(item.barcode.as_str()),
                crate::db::Param::from(&item.title),
                crate::db::Param::from(&item.author),
                crate::db::Param::from(&item.call_number),
                crate::db::Param::from(&item.material_type),
                crate::db::Param::from(ItemStatus::Available.name()),
                crate::db::Param::from(now),
            ]);
        }
        if values.is_empty() {
            continue;
        }
        tx.conn.execute(
            &format!(
                "INSERT INTO items (barcode, title, author, call_number, material_type, status, created_at) VALUES {}",
                values.join(", ")
            ),
            &params,
        )?;
        loaded += values.len();
    }
    progress(items.len());
    rejected.sort_by_key(|r| r.record);
    grant.record(tx, None, Some(format!("imported {loaded} items")));
    Ok((loaded, rejected))
}

/// Items an import checks and inserts per statement (7 parameters each,
/// well under either engine's limit on parameters).
const IMPORT_BATCH: usize = 500;

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

const SELECT: &str =
    "SELECT id, barcode, title, author, call_number, material_type, status FROM items";

fn item_from(row: &crate::db::Row) -> Result<ItemRecord, Error> {
    Ok(ItemRecord {
        id: row.int("id")?,
        barcode: row.text("barcode")?,
        title: row.text("title")?,
        author: row.opt_text("author")?,
        call_number: row.opt_text("call_number")?,
        material_type: row.opt_text("material_type")?,
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
