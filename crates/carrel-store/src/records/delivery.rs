//! Home delivery ("Books on the Run"): a visit to a homebound patron on a
//! route, carrying some items. Kept until the visit is completed, then on
//! the home-delivery retention clock.

use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::{Create, Grant, HomeDelivery, Read, Update};
use crate::{items, patrons, validate, Tx};

/// A home-delivery visit: items taken to a homebound patron on a route, on a
/// day.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Delivery {
    /// The delivery's record id.
    pub id: i64,
    /// The patron visited; `None` once the retention purge has anonymised the
    /// delivery.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The delivery route's name, as staff entered it.
    pub route: String,
    /// The day of the visit (YYYY-MM-DD).
    pub scheduled_on: chrono::NaiveDate,
    /// The items the visit carries, by item id, in ascending order.
    pub item_ids: Vec<i64>,
    /// When the visit was scheduled, in Unix seconds.
    pub created_at: i64,
    /// When the visit was completed, in Unix seconds; `None` until then.
    #[schema(required = true)]
    pub completed_at: Option<i64>,
}

/// The most items one visit carries.
pub const MAX_ITEMS: usize = 50;

fn select(tx: &mut Tx<'_>, id: i64) -> Result<Delivery, Error> {
    let row = tx
        .conn
        .query_opt(
            "SELECT id, patron_id, route, scheduled_on, created_at, completed_at FROM deliveries WHERE id = ?",
            params![id],
        )?
        .ok_or(Error::NotFound { what: "delivery" })?;
    let item_ids = tx
        .conn
        .query(
            "SELECT item_id FROM delivery_items WHERE delivery_id = ? ORDER BY item_id",
            params![id],
        )?
        .iter()
        .map(|r| r.int(Only))
        .collect::<Result<_, _>>()?;
    Ok(Delivery {
        id: row.int("id")?,
        patron_id: row.opt_int("patron_id")?,
        route: row.text("route")?,
        scheduled_on: row.date("scheduled_on")?,
        item_ids,
        created_at: row.int("created_at")?,
        completed_at: row.opt_int("completed_at")?,
    })
}

/// Schedules a visit for a current, valid card on `scheduled_on` (YYYY-MM-DD),
/// carrying at most [`MAX_ITEMS`] items, each of which must exist.
pub fn schedule(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, HomeDelivery>,
    patron_id: i64,
    route: &str,
    scheduled_on: &str,
    item_ids: &[i64],
) -> Result<Delivery, Error> {
    let route = validate::text("route", route, 100)?;
    let scheduled_on = validate::date("scheduled_on", scheduled_on)?;
    if item_ids.len() > MAX_ITEMS {
        return Err(Error::invalid(
            "too_many_items",
            format!("a delivery carries at most {MAX_ITEMS} items; split it into several visits"),
        ));
    }
    patrons::require_current(tx, patron_id)?;
    let mut ids = item_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for &item in &ids {
        if items::fetch(tx, item)?.is_none() {
            return Err(Error::NotFound { what: "item" });
        }
    }
    let id = tx.conn.insert(
        "INSERT INTO deliveries (patron_id, route, scheduled_on, created_at) VALUES (?, ?, ?, ?)",
        params![
            patron_id,
            &route,
            &scheduled_on.to_string(),
            tx.now().timestamp()
        ],
    )?;
    for item in ids {
        tx.conn.execute(
            "INSERT INTO delivery_items (delivery_id, item_id) VALUES (?, ?)",
            params![id, item],
        )?;
    }
    grant.used_on(tx, crate::retention::RecordKind::Delivery, id);
    select(tx, id)
}

/// Marks a visit completed, which starts its retention clock; a visit is
/// completed only once.
pub fn complete(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, HomeDelivery>,
    id: i64,
) -> Result<Delivery, Error> {
    let lock = tx.conn.for_update();
    let done = tx
        .conn
        .query_opt(
            &format!("SELECT completed_at FROM deliveries WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "delivery" })?
        .opt_int(Only)?;
    if done.is_some() {
        return Err(Error::refused(
            "delivery_completed",
            "this delivery is already completed",
        ));
    }
    tx.conn.execute(
        "UPDATE deliveries SET completed_at = ? WHERE id = ?",
        params![tx.now().timestamp(), id],
    )?;
    grant.record(tx, Some(format!("delivery:{id}")), Some("completed".into()));
    select(tx, id)
}

/// A patron's deliveries, by scheduled day; audited as one read on the patron.
pub fn of_patron(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, HomeDelivery>,
    patron_id: i64,
) -> Result<Vec<Delivery>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let ids = tx.conn.query(
        "SELECT id FROM deliveries WHERE patron_id = ? ORDER BY scheduled_on, id",
        params![patron_id],
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for row in ids {
        out.push(select(tx, row.int(Only)?)?);
    }
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} deliveries", out.len())),
    );
    Ok(out)
}
