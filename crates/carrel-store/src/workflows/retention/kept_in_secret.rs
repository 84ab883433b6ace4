//! # Records kept in secret (L5 with L6)
//!
//! A purge destroys a record whose time is up unless a legal hold in force
//! pins it (L5). When the only holds that pin it were placed for requests
//! under a non-disclosure order, the library must keep the record for the
//! case and yet, to everyone outside the case's circle, look exactly as if
//! it had been destroyed (L6). So the record leaves its table: it is *set
//! aside* into `kept_in_secret`, whole (its patron, when it happened, its
//! facts as a disclosure package shows them), and its table is left as a
//! purge would leave it. No read by id, roster, count, renewal or need can
//! then find it, because none of them reads `kept_in_secret`; only two
//! things do: the package of a restricted request, and the plan shown to
//! those who see its holds. The record's id stays in the case's pins, and
//! is never given to another record (migration 17). When no hold pins it
//! any more, the next purge destroys it for good ([`destroy_released`]).
//!
//! Records are set aside in three places: by a purge, when their time is
//! up (`set_aside_in_secret` in `mod.rs`); by a registration's purge, for
//! the subscriptions it deletes with the registration
//! ([`set_aside_subscriptions_of`]); and at the desk, when a patron cancels
//! a program registration or a subscription that only a restricted case's
//! hold pins ([`delete_at_desk`]): the desk answers as for any deletion.

use carrel_policy::Disposal;
use serde_json::{Map, Value as Json};

use super::targets::{RecordKind, Target, TARGETS};
use crate::db::Only;
use crate::db::{params, Conn};
use crate::disclosures::package;
use crate::disclosures::visibility::Viewer;
use crate::error::Error;
use crate::secrets::AuditKey;
use crate::{patrons, Tx};

/// Why a record was set aside, as its package says (the facts
/// `set_aside_because` and `set_aside_at`): the circle must not release a
/// cancelled registration as a live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Its retention period ended (a purge).
    RetentionEnded,
    /// It went with its patron's registration (a subscription).
    WithTheRegistration,
    /// The patron cancelled it at the desk.
    CancelledAtTheDesk,
}

impl Why {
    fn words(self) -> &'static str {
        match self {
            Why::RetentionEnded => "its retention period ended",
            Why::WithTheRegistration => "the patron's registration was destroyed",
            Why::CancelledAtTheDesk => "cancelled at the desk on the patron's word",
        }
    }
}

/// The target of records of `kind`.
fn target_of(kind: RecordKind) -> Result<&'static Target, Error> {
    TARGETS
        .iter()
        .find(|t| t.kind == kind)
        .ok_or_else(|| Error::internal("no retention target for this kind of record"))
}

/// Moves the records of `target` that `ids` picks (SQL after `t.id`, with
/// no parameters) out of their table into `kept_in_secret`, and leaves the
/// table as `disposal` would: unlinks what points at them, then deletes
/// them or, for an anonymised class, unlinks their patron. Their facts
/// say why and when (`at`, Unix seconds). Returns how many were moved. On
/// a connection, so migration 17 can move the records set aside before
/// it.
pub(crate) fn move_out(
    conn: &mut Conn<'_>,
    target: &Target,
    disposal: Disposal,
    ids: &str,
    (why, at): (Why, i64),
) -> Result<usize, Error> {
    let facts: String = target
        .export
        .iter()
        .map(|(_, sql)| format!(", {sql}"))
        .collect();
    let rows = conn.query(
        &format!(
            "SELECT t.id AS kept_id, {patron} AS kept_patron_id, {occurred} AS kept_occurred{facts} FROM {table} t WHERE t.id {ids}",
            patron = target.patron_column(),
            occurred = target.occurred,
            table = target.table,
        ),
        params![],
    )?;
    for row in &rows {
        // The facts after the first three columns may repeat their names
        // (`id`, `patron_id`): hence the aliases.
        let id = row.int("kept_id")?;
        // A registration is kept as a package shows it: the patron's
        // record with the library's fields; anything else, as its export.
        let mut facts = if target.export.is_empty() {
            match serde_json::to_value(patrons::fetch_on(conn, id)?) {
                Ok(Json::Object(facts)) => facts,
                _ => Map::new(),
            }
        } else {
            target.facts(&row.values()[3..])
        };
        facts.insert("set_aside_because".into(), why.words().into());
        facts.insert("set_aside_at".into(), at.into());
        let record = Json::Object(facts).to_string();
        conn.execute(
            "INSERT INTO kept_in_secret (kind, id, patron_id, occurred, record) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (kind, id) DO UPDATE SET patron_id = excluded.patron_id,
               occurred = excluded.occurred, record = excluded.record",
            params![target.kind, id, row.opt_int("kept_patron_id")?, row.opt_int("kept_occurred")?, &record],
        )?;
    }
    target.dispose(conn, disposal, ids)?;
    Ok(rows.len())
}

/// Sets aside the records of `target` that `ids` picks (see [`move_out`]),
/// in the caller's transaction. To everyone but the cases that keep them
/// they are destroyed from now on, so what goes with a destroyed record
/// goes with them now: the audit log forgets which entries named them,
/// and every package that holds them is erased but those of the requests
/// whose holds keep them (their circles may release what they preserved;
/// another restricted case's package goes too, L6). The pins of holds
/// that have ended are dropped, so that only the keeping cases' pins
/// lead to them.
pub(crate) fn set_aside(
    tx: &mut Tx<'_>,
    target: &Target,
    disposal: Disposal,
    ids: &str,
    why: Why,
) -> Result<usize, Error> {
    let (kind, now) = (target.kind, tx.now().timestamp());
    drop_ended_pins(tx, kind, ids)?;
    crate::audit::forget_records(tx, kind, ids, &[])?;
    let keeping = format!(
        "EXISTS (SELECT 1 FROM legal_holds h JOIN legal_hold_records pin ON pin.hold_id = h.id
                 WHERE h.disclosure_id = r.id AND pin.record_kind = '{kind}' AND pin.record_id {ids})"
    );
    package::erase_packages_holding(
        tx,
        target.class,
        &format!("{} t WHERE t.id {ids}", target.table),
        target.patron_column(),
        Some(&keeping),
    )?;
    move_out(&mut tx.conn, target, disposal, ids, (why, now))
}

/// Drops the pins of ended holds on the records of `kind` that `ids`
/// picks (SQL after `record_id`; `IS NOT NULL` for all of them): a record
/// going (destroyed or set aside) leaves no pin of an ended hold to point
/// at it, whether a case keeps it or not.
pub(crate) fn drop_ended_pins(tx: &mut Tx<'_>, kind: RecordKind, ids: &str) -> Result<(), Error> {
    tx.conn.execute(
        &format!(
            "DELETE FROM legal_hold_records WHERE record_kind = ? AND record_id {ids}
             AND hold_id IN (SELECT id FROM legal_holds WHERE released_at IS NOT NULL OR expires_at <= ?)"
        ),
        params![kind, tx.now().timestamp()],
    )?;
    Ok(())
}

/// SQL true while a legal hold in force pins the record `kind` `id_column`
/// (`now` written in: a number Carrel computes).
fn pinned_in_force(kind: RecordKind, id_column: &str, now: i64) -> String {
    format!(
        "EXISTS (SELECT 1 FROM legal_hold_records pin JOIN legal_holds h ON h.id = pin.hold_id
                 WHERE pin.record_kind = '{kind}' AND pin.record_id = {id_column}
                   AND h.released_at IS NULL AND h.expires_at > {now})"
    )
}

/// A registration's purge deletes the patron's mailing-list subscriptions
/// with it. One a hold in force pins is kept: a hold of an ordinary
/// request keeps the registration too (`PATRON_NEEDS`), so any still
/// pinned here is pinned only by restricted cases, and is set aside.
/// `patrons` is SQL after `patron_id` picking the registrations.
pub(crate) fn set_aside_subscriptions_of(tx: &mut Tx<'_>, patrons: &str) -> Result<usize, Error> {
    let now = tx.now().timestamp();
    let ids = format!(
        "IN (SELECT x.id FROM list_subscriptions x WHERE x.patron_id {patrons} AND {})",
        pinned_in_force(RecordKind::ListSubscription, "x.id", now)
    );
    set_aside(
        tx,
        target_of(RecordKind::ListSubscription)?,
        Disposal::Delete,
        &ids,
        Why::WithTheRegistration,
    )
}

/// Which holds in force pin one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pins {
    None,
    /// Only holds of requests under a non-disclosure order.
    OnlyRestricted,
    /// At least one hold of an ordinary request (or placed on its own).
    Ordinary,
}

fn pins_of(tx: &mut Tx<'_>, kind: RecordKind, id: i64) -> Result<Pins, Error> {
    let row = tx.conn.query_one(
        "SELECT CAST(COALESCE(MAX(CASE WHEN r.gagged = 1 THEN 1 ELSE 2 END), 0) AS BIGINT)
         FROM legal_hold_records pin JOIN legal_holds h ON h.id = pin.hold_id
         LEFT JOIN disclosure_requests r ON r.id = h.disclosure_id
         WHERE pin.record_kind = ? AND pin.record_id = ? AND h.released_at IS NULL AND h.expires_at > ?",
        params![kind, id, tx.now().timestamp()],
    )?;
    Ok(match row.int(Only)? {
        0 => Pins::None,
        1 => Pins::OnlyRestricted,
        _ => Pins::Ordinary,
    })
}

/// Deletes a record at the desk on a patron's word (a cancelled program
/// registration, an ended subscription), as a purge destroys one: the
/// audit log forgets which entries named it, and released packages that
/// copied it are erased (D1). A hold of an ordinary request refuses the
/// deletion (`record_preserved`, L5: whoever may see that hold may know of
/// it). Holds of restricted requests only must not show (L6): the record
/// is set aside instead, and the desk's answer is the same, whoever is at
/// it. Returns whether there was such a record.
pub(crate) fn delete_at_desk(tx: &mut Tx<'_>, kind: RecordKind, id: i64) -> Result<bool, Error> {
    // Not while a hold is being placed: it might be pinning this record
    // (PostgreSQL; SQLite has one writer already).
    super::share_purge_lock(tx)?;
    let target = target_of(kind)?;
    let this = format!("= {id}");
    drop_ended_pins(tx, kind, &this)?;
    let found = match pins_of(tx, kind, id)? {
        Pins::Ordinary => return Err(crate::legal_holds::preserved()),
        Pins::OnlyRestricted => {
            set_aside(tx, target, Disposal::Delete, &this, Why::CancelledAtTheDesk)? > 0
        }
        Pins::None => {
            let exists = tx
                .conn
                .query_opt(
                    &format!("SELECT 1 FROM {} WHERE id = ?", target.table),
                    params![id],
                )?
                .is_some();
            if exists {
                package::erase_packages_holding(
                    tx,
                    target.class,
                    &format!("{} t WHERE t.id {this}", target.table),
                    target.patron_column(),
                    None,
                )?;
                target.dispose(&mut tx.conn, Disposal::Delete, &this)?;
            }
            exists
        }
    };
    if found {
        // Also keeps the desk's own entry from naming it as a subject.
        crate::audit::forget_record(tx, kind, id)?;
    }
    Ok(found)
}

/// Destroys for good the records of `target` set aside in secret that no
/// hold in force pins any more, with the restricted packages that hold
/// them (found through the pins of the ended holds, which the caller
/// removes next) (a restricted request then
/// has no link to a destroyed registration's patron any more, as an
/// ordinary request has none when the registration goes). They were counted
/// as destroyed, and in the statistics, when they were set aside. Returns
/// how many went.
pub(crate) fn destroy_released(tx: &mut Tx<'_>, target: &Target) -> Result<usize, Error> {
    let kind = target.kind;
    let unpinned = format!(
        "IN (SELECT k.id FROM kept_in_secret k WHERE k.kind = '{kind}' AND NOT {})",
        pinned_in_force(kind, "k.id", tx.now().timestamp())
    );
    let due = tx
        .conn
        .query_one(
            &format!("SELECT COUNT(*) FROM kept_in_secret WHERE kind = ? AND id {unpinned}"),
            params![kind],
        )?
        .int(Only)?;
    if due == 0 {
        return Ok(0);
    }
    // The audit log forgot which entries named them when they were set
    // aside; an entry written since (the desk's "cancelled and deleted")
    // is what it is in a library where they were deleted then.
    // Only the packages of the requests whose holds kept them hold them
    // (see `records_of`); ordinary packages that held them went when they
    // were set aside. The pins of ended holds are still there.
    package::erase_packages_where(
        tx,
        target.class,
        &format!(
            "EXISTS (SELECT 1 FROM legal_holds h JOIN legal_hold_records pin ON pin.hold_id = h.id
                     WHERE h.disclosure_id = r.id AND pin.record_kind = '{kind}' AND pin.record_id {unpinned})"
        ),
    )?;
    tx.conn.execute(
        &format!("DELETE FROM kept_in_secret WHERE kind = ? AND id {unpinned}"),
        params![kind],
    )?;
    Ok(due as usize)
}

/// The plan's reason (shown only to those who see a restricted case's
/// holds) for records set aside whose holds have ended.
pub(crate) const UNTIL_NEXT_PURGE: &str =
    "set aside for a restricted case whose holds have ended: the next purge destroys them (counted as destroyed when set aside)";

/// Records of `kind` set aside in secret that `viewer` may count, as
/// (held, pinned by a hold in force): those pinned by a hold of a request
/// the viewer sees (all of them, for the gag circle). None for no viewer
/// (the CLI's dry run) or for anyone else: to them they are destroyed.
pub(crate) fn shown_to(
    tx: &mut Tx<'_>,
    viewer: Option<&Viewer>,
    kind: RecordKind,
) -> Result<(i64, i64), Error> {
    let Some(viewer) = viewer else {
        return Ok((0, 0));
    };
    let sees = if viewer.in_circle {
        "1 = 1".to_string()
    } else {
        format!(
            "EXISTS (SELECT 1 FROM legal_hold_records pin JOIN legal_holds h ON h.id = pin.hold_id
                     JOIN disclosure_requests r ON r.id = h.disclosure_id
                     WHERE pin.record_kind = k.kind AND pin.record_id = k.id AND r.gagged = 1 AND {})",
            viewer.sql_literal()
        )
    };
    let in_force = pinned_in_force(kind, "k.id", tx.now().timestamp());
    let row = tx.conn.query_one(
        &format!(
            "SELECT COUNT(*) AS held, CAST(COALESCE(SUM(CASE WHEN {in_force} THEN 1 ELSE 0 END), 0) AS BIGINT) AS pinned
             FROM kept_in_secret k WHERE k.kind = ? AND {sees}"
        ),
        params![kind],
    )?;
    Ok((row.int("held")?, row.int("pinned")?))
}

/// A record's facts, by name, as a package shows them.
pub(crate) type Facts = Map<String, Json>;

/// SQL true for a record `k` of `kept_in_secret` that a hold of request
/// `?` pins (its parameter).
const KEPT_FOR_REQUEST: &str =
    "EXISTS (SELECT 1 FROM legal_hold_records pin JOIN legal_holds h ON h.id = pin.hold_id
     WHERE pin.record_kind = k.kind AND pin.record_id = k.id AND h.disclosure_id = ?)";

/// The records of `kind` that the holds of restricted request `request`
/// keep in secret for `patron` and that happened in `[start, end)`, with
/// their ids, as they were set aside (times in Unix seconds): for that
/// request's package. Not those another case alone keeps: in a library
/// without that case they were destroyed (L6).
pub(crate) fn records_of(
    tx: &mut Tx<'_>,
    kind: RecordKind,
    request: i64,
    patron: i64,
    (start, end): (i64, i64),
) -> Result<Vec<(i64, Facts)>, Error> {
    let rows = tx.conn.query(
        &format!(
            "SELECT k.id, k.record FROM kept_in_secret k
             WHERE k.kind = ? AND k.patron_id = ? AND k.occurred >= ? AND k.occurred < ?
               AND {KEPT_FOR_REQUEST} ORDER BY k.id"
        ),
        params![kind, patron, start, end, request],
    )?;
    rows.iter()
        .map(|row| {
            let record = row.text("record")?;
            match serde_json::from_str(&record) {
                Ok(Json::Object(facts)) => Ok((row.int("id")?, facts)),
                _ => Err(Error::internal(
                    "a record kept in secret is not a JSON object",
                )),
            }
        })
        .collect()
}

/// A patron's registration that the holds of restricted request
/// `request` keep in secret, as a package shows it.
pub(crate) fn registration_of(
    tx: &mut Tx<'_>,
    request: i64,
    patron: i64,
) -> Result<Option<Json>, Error> {
    let Some(row) = tx.conn.query_opt(
        &format!(
            "SELECT k.record FROM kept_in_secret k WHERE k.kind = 'patron' AND k.id = ? AND {KEPT_FOR_REQUEST}"
        ),
        params![patron, request],
    )?
    else {
        return Ok(None);
    };
    serde_json::from_str(&row.text(Only)?)
        .map(Some)
        .map_err(|_| Error::internal("a registration kept in secret is not JSON"))
}

/// Migration 17: records set aside before it are still in their tables
/// (and have no stored facts): moves each out, and has the audit log
/// forget which entries named it, as a purge sets one aside now.
pub(crate) fn move_out_those_set_aside_before(
    conn: &mut Conn<'_>,
    policy: &carrel_policy::Policy,
    key: &AuditKey,
) -> Result<(), Error> {
    for target in TARGETS {
        let ids = conn.query(
            "SELECT id FROM kept_in_secret WHERE kind = ? AND record IS NULL ORDER BY id",
            params![target.kind],
        )?;
        let disposal = policy
            .class(target.class)
            .and_then(|c| c.retention.as_ref())
            .map_or(Disposal::Delete, |rule| rule.disposal);
        for row in ids {
            let id = row.int(Only)?;
            crate::audit::forget_records_on(conn, key, target.kind, "= ?", params![id])?;
            let now = (Why::RetentionEnded, chrono::Utc::now().timestamp());
            if move_out(conn, target, disposal, &format!("= {id}"), now)? == 0 {
                // Its record is gone from its table already: nothing is
                // left to keep.
                conn.execute(
                    "DELETE FROM kept_in_secret WHERE kind = ? AND id = ?",
                    params![target.kind, id],
                )?;
            }
        }
    }
    Ok(())
}
