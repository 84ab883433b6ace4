//! Corrections to a patron's registration details (A2). A patron sends
//! one online (`my_account::propose_correction`), for the fields the
//! policy lets patrons correct online (`[patrons] online_corrections`);
//! it is held as pending, and the patron sees it so, until staff verify
//! it against a photo ID and approve it (it is then applied) or refuse
//! it. Either way the value asked for is cleared: what stays is which
//! field, who decided, when, and which kind of photo ID they checked,
//! never its number.

use std::collections::BTreeMap;

use carrel_policy::purpose;
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::params;
use crate::disclosures::IdKind;
use crate::error::Error;
use crate::gate::{self, Actor, Read, Registration, Update};
use crate::{patrons, Tx};

/// Where a correction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CorrectionState {
    /// Sent online, waiting for staff to verify it.
    Pending,
    /// Verified against a photo ID and applied.
    Approved,
    /// Refused by staff; nothing was changed.
    Rejected,
}

impl CorrectionState {
    /// The state as stored.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Correction {
    /// Its record id.
    pub id: i64,
    /// The patron it is about.
    pub patron_id: i64,
    /// The registration field to change (`name`, `address`...).
    pub field: String,
    /// The value asked for, while pending; `None` once decided.
    pub value: Option<String>,
    /// When it was sent, in Unix seconds.
    pub submitted_at: i64,
    /// Whether the patron sent it online (or staff made it in person).
    pub online: bool,
    /// Where it stands.
    pub state: CorrectionState,
    /// When staff decided, in Unix seconds.
    pub decided_at: Option<i64>,
    /// The kind of photo ID staff checked.
    pub id_kind: Option<String>,
}

const COLUMNS: &str =
    "id, patron_id, field, value, submitted_at, online, state, decided_at, id_kind";

fn correction_from(row: &crate::db::Row) -> Result<Correction, Error> {
    Ok(Correction {
        id: row.int("id")?,
        patron_id: row.int("patron_id")?,
        field: row.text("field")?,
        value: row.opt_text("value")?,
        submitted_at: row.int("submitted_at")?,
        online: row.int("online")? != 0,
        state: row.name("state")?,
        decided_at: row.opt_int("decided_at")?,
        id_kind: row.opt_text("id_kind")?,
    })
}

/// Holds a correction the patron sent online (`my_account`): the field
/// must be one the policy lets patrons correct online, and the value must
/// be one a registration would take; both are checked now, so staff
/// verify only who is asking.
pub(crate) fn propose(
    tx: &mut Tx<'_>,
    patron_id: i64,
    field: &str,
    value: &str,
) -> Result<Correction, Error> {
    let allowed = &tx.policy().patrons.online_corrections;
    if !allowed.iter().any(|f| f == field) {
        return Err(Error::invalid(
            "not_correctable_online",
            format!(
                "this library takes corrections online only to: {}; ask at the desk for anything else",
                allowed.join(", ")
            ),
        ));
    }
    // The value as a registration update would take it, checked with the
    // same rules (and so with the same messages).
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(
            "empty_value",
            format!("give the new {}", field.replace('_', " ")),
        ));
    }
    patrons::check_input(tx, field, &Json::String(value.to_string()))?;
    // A newer correction of the same field replaces the one waiting, as a
    // row of its own: the old one is deleted, so a member of staff
    // looking at it approves nothing they did not see (it is not found),
    // and a patron sending corrections over and over keeps one a field.
    tx.conn.execute(
        "DELETE FROM corrections WHERE patron_id = ? AND field = ? AND state = ?",
        params![patron_id, field, CorrectionState::Pending.name()],
    )?;
    let id = tx.conn.insert(
        "INSERT INTO corrections (patron_id, field, value, submitted_at, online, state) VALUES (?, ?, ?, ?, 1, ?)",
        params![patron_id, field, value, tx.now().timestamp(), CorrectionState::Pending.name()],
    )?;
    load_row(tx, id)
}

fn load_row(tx: &mut Tx<'_>, id: i64) -> Result<Correction, Error> {
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM corrections WHERE id = ?"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "correction" })?;
    correction_from(&row)
}

/// How long a patron is shown what became of a correction once decided.
pub const DECIDED_SHOWN_DAYS: i64 = 30;

/// The patron's own corrections decided in the last
/// [`DECIDED_SHOWN_DAYS`] (approved or refused; not those they replaced
/// themselves), newest first.
pub(crate) fn recently_decided(tx: &mut Tx<'_>, patron_id: i64) -> Result<Vec<Correction>, Error> {
    let since = tx.now().timestamp() - DECIDED_SHOWN_DAYS * 24 * 3600;
    tx.conn
        .query(
            &format!("SELECT {COLUMNS} FROM corrections WHERE patron_id = ? AND online = 1 AND state IN (?, ?) AND decided_at >= ? ORDER BY decided_at DESC, id DESC"),
            params![
                patron_id,
                CorrectionState::Approved.name(),
                CorrectionState::Rejected.name(),
                since
            ],
        )?
        .iter()
        .map(correction_from)
        .collect()
}

/// The patron's own corrections still pending.
pub(crate) fn pending_of(tx: &mut Tx<'_>, patron_id: i64) -> Result<Vec<Correction>, Error> {
    tx.conn
        .query(
            &format!(
                "SELECT {COLUMNS} FROM corrections WHERE patron_id = ? AND state = ? ORDER BY id"
            ),
            params![patron_id, CorrectionState::Pending.name()],
        )?
        .iter()
        .map(correction_from)
        .collect()
}

/// A correction waiting for staff, with who sent it (so staff can check
/// the photo ID against the record) and the value it would replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The correction.
    pub correction: Correction,
    /// The patron's card number.
    pub card_barcode: String,
    /// The patron's name, as registered.
    pub name: Option<String>,
    /// The field's value now.
    pub current: Option<String>,
}

/// Every correction waiting for staff, oldest first (the verification
/// queue), for the roles that may decide them (that may change
/// registrations): a role that may only read them has no task here (D6).
/// Audited as a read of each patron's registration.
pub fn queue(tx: &mut Tx<'_>, actor: &Actor) -> Result<Vec<Queued>, Error> {
    gate::authorize::<Update, Registration>(tx, actor, purpose::ACCOUNT)?;
    let grant = gate::authorize::<Read, Registration>(tx, actor, purpose::ACCOUNT)?;
    let found: Vec<Correction> = tx
        .conn
        .query(
            &format!("SELECT {COLUMNS} FROM corrections WHERE state = ? ORDER BY submitted_at, id"),
            params![CorrectionState::Pending.name()],
        )?
        .iter()
        .map(correction_from)
        .collect::<Result<_, _>>()?;
    let mut queued = Vec::with_capacity(found.len());
    for correction in found {
        let Some(record) = patrons::fetch(tx, correction.patron_id)? else {
            continue;
        };
        grant.used_on(
            tx,
            crate::retention::RecordKind::Patron,
            correction.patron_id,
        );
        let current = match correction.field.as_str() {
            "birth_date" => record.birth_date.map(|d| d.to_string()),
            other => record.fields.get(other).cloned(),
        };
        queued.push(Queued {
            card_barcode: record.card_barcode.clone().unwrap_or_default(),
            name: record.fields.get("name").cloned(),
            current,
            correction,
        });
    }
    Ok(queued)
}

/// Staff verified the patron's photo ID (`id_kind`, never its number) and
/// apply the correction, or refuse it. Either way the value asked for is
/// cleared.
pub fn decide(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: i64,
    approve: bool,
    id_kind: Option<IdKind>,
) -> Result<Correction, Error> {
    let grant = gate::authorize::<Update, Registration>(tx, actor, purpose::ACCOUNT)?;
    let lock = tx.conn.for_update();
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM corrections WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "correction" })?;
    let correction = correction_from(&row)?;
    if correction.state != CorrectionState::Pending {
        return Err(Error::refused(
            "correction_decided",
            "this correction was already decided",
        ));
    }
    if approve && id_kind.is_none() {
        return Err(Error::invalid(
            "photo_id_required",
            "say which kind of photo ID you checked (never its number) to approve a correction",
        ));
    }
    if approve {
        let value = correction.value.clone().unwrap_or_default();
        let input = BTreeMap::from([(correction.field.clone(), Json::String(value))]);
        patrons::update(tx, &grant, correction.patron_id, &input)?;
    }
    let state = if approve {
        CorrectionState::Approved
    } else {
        CorrectionState::Rejected
    };
    tx.conn.execute(
        "UPDATE corrections SET state = ?, value = NULL, decided_by = ?, decided_at = ?, id_kind = ? WHERE id = ?",
        params![
            state.name(),
            actor.staff_id(),
            tx.now().timestamp(),
            id_kind.map(IdKind::name),
            id
        ],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{}", correction.patron_id)),
        Some(format!(
            "correction of {} {}{}",
            correction.field,
            state.name(),
            id_kind
                .map(|k| format!(", photo ID checked: {}", k.name()))
                .unwrap_or_default()
        )),
    );
    load_row(tx, id)
}

/// Records an in-person update by staff (A2): which fields changed, who
/// made the change and which kind of photo ID they checked.
pub(crate) fn record_in_person(
    tx: &mut Tx<'_>,
    staff_id: i64,
    patron_id: i64,
    fields: &[String],
    id_kind: IdKind,
) -> Result<(), Error> {
    let now = tx.now().timestamp();
    for field in fields {
        tx.conn.execute(
            "INSERT INTO corrections (patron_id, field, value, submitted_at, online, state, decided_by, decided_at, id_kind) VALUES (?, ?, NULL, ?, 0, ?, ?, ?, ?)",
            params![patron_id, field, now, CorrectionState::Approved.name(), staff_id, now, id_kind.name()],
        )?;
    }
    Ok(())
}
