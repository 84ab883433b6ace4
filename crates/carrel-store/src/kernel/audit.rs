//! The audit log (D7): every grant and every denial, appended in the same
//! transaction as the access, hash-chained with a keyed MAC so that editing,
//! deleting, inserting or reordering entries is detected by [`verify`].
//!
//! Entries hold who (an opaque staff id), what action on which record class,
//! which record (an opaque `kind:id`), for what purpose, and the decision.
//! Never a name, title, barcode or address.

use carrel_policy::disclosure::Step;
use carrel_policy::{Action, RecordClass};
use serde::Serialize;
use strum::{EnumString, IntoStaticStr};

use crate::db::Only;
use crate::db::{params, Conn, EngineKind};
use crate::error::Error;
use crate::gate::{AuditLog, Grant, Read};
use crate::principal::{Principal, SystemTask};
use crate::secrets::AuditKey;
use crate::{Store, Tx};

/// Whether the access an entry records was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoStaticStr, EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// The gate allowed the access (or Carrel's own step was taken).
    Granted,
    /// The gate refused the access; the entry is written even though the
    /// request failed.
    Denied,
}

/// What an entry records was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// An action the policy decides: read, create, update, destroy,
    /// export, disclose.
    Policy(Action),
    /// A step of a disclosure request.
    Disclosure(Step),
    /// Placing, renewing or releasing a legal hold.
    LegalHold,
    /// A sign-in, staff or patron.
    SignIn,
    /// A client address refused further guesses at a secret (C2).
    GuessesRefused,
    /// A staff account deactivated.
    DeactivateAccount,
    /// A staff member's supervisor set or cleared.
    SetSupervisor,
    /// Migration 10's vouch for erasures made before erasure tags.
    VouchForErasures,
}

impl AuditAction {
    /// The action's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Policy(action) => action.name(),
            AuditAction::Disclosure(step) => step.name(),
            AuditAction::LegalHold => LEGAL_HOLD,
            AuditAction::SignIn => "sign_in",
            AuditAction::GuessesRefused => "guesses_refused",
            AuditAction::DeactivateAccount => "deactivate",
            AuditAction::SetSupervisor => "set_supervisor",
            AuditAction::VouchForErasures => VOUCHED_FOR_ERASURES,
        }
    }
}

/// What kind of record an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditClass {
    /// A class the policy governs.
    Policy(RecordClass),
    /// Staff accounts.
    Staff,
    /// Legal holds (the list of them).
    LegalHold,
    /// Disclosure requests.
    DisclosureRequest,
}

impl AuditClass {
    /// The class's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            AuditClass::Policy(class) => class.name(),
            AuditClass::Staff => "staff",
            AuditClass::LegalHold => LEGAL_HOLD,
            AuditClass::DisclosureRequest => crate::gate::DISCLOSURE_CLASS,
        }
    }
}

/// The audit name of legal holds, as an action and as a class (and as the
/// purpose of their entries): preserving records for legal process is
/// neither a read nor an ordinary update.
const LEGAL_HOLD: &str = crate::gate::LEGAL_HOLD_ACTION;

/// An entry waiting for its transaction to commit. Made only by
/// [`PendingEntry::new`]: the gate's grants, and the few entries no grant
/// stands behind (sign-ins, the operator's staff commands, migrations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    at: i64,
    actor: Principal,
    action: AuditAction,
    class: AuditClass,
    record_id: Option<String>,
    purpose: String,
    outcome: Outcome,
    detail: Option<String>,
    /// The log's new floor, on a retention purge's entry for the log.
    floor: Option<Anchor>,
}

impl PendingEntry {
    /// `actor` did (or was refused) `action` on records of `class` for
    /// `purpose`, now by the transaction's clock.
    pub(crate) fn new(
        tx: &Tx<'_>,
        actor: Principal,
        outcome: Outcome,
        action: AuditAction,
        class: AuditClass,
        purpose: impl Into<String>,
    ) -> PendingEntry {
        let at = tx.now().timestamp();
        PendingEntry::at(at, actor, outcome, action, class, purpose)
    }

    /// [`PendingEntry::new`] at `at` (a migration has no transaction of the
    /// store's, nor its clock).
    pub(crate) fn at(
        at: i64,
        actor: Principal,
        outcome: Outcome,
        action: AuditAction,
        class: AuditClass,
        purpose: impl Into<String>,
    ) -> PendingEntry {
        PendingEntry {
            at,
            actor,
            action,
            class,
            record_id: None,
            purpose: purpose.into(),
            outcome,
            detail: None,
            floor: None,
        }
    }

    /// On one record (an opaque `kind:id`), or with `None` on the class.
    pub(crate) fn on(mut self, record_id: Option<String>) -> PendingEntry {
        self.record_id = record_id;
        self
    }

    /// With a detail for auditors (counts, a reason's code; never personal
    /// data).
    pub(crate) fn saying(mut self, detail: Option<String>) -> PendingEntry {
        self.detail = detail;
        self
    }

    /// Recording that the log now starts after `floor` (a retention
    /// purge's entry for the log): `verify` checks the log's floor against
    /// the latest entry recording one.
    pub(crate) fn moving_floor_to(mut self, floor: Anchor) -> PendingEntry {
        self.floor = Some(floor);
        self
    }

    /// The record the entry names, if any.
    pub(crate) fn record_id(&self) -> Option<&str> {
        self.record_id.as_deref()
    }

    /// The fields the chain commits to, as they are stored.
    fn text(&self) -> EntryText<'_> {
        EntryText {
            at: self.at,
            actor: self.actor.label().into(),
            action: self.action.name(),
            record_class: self.class.name(),
            purpose: &self.purpose,
            decision: self.outcome.into(),
            detail: self.detail.as_deref(),
            floor: self.floor.as_ref(),
        }
    }
}

/// An entry's fields as text, as the chain commits to them: made from a
/// [`PendingEntry`] when it is appended and from a [`StoredEntry`] when it
/// is verified, so both go through one [`message`].
struct EntryText<'a> {
    at: i64,
    actor: std::borrow::Cow<'a, str>,
    action: &'a str,
    record_class: &'a str,
    purpose: &'a str,
    decision: &'a str,
    detail: Option<&'a str>,
    floor: Option<&'a Anchor>,
}

/// The bytes the MAC covers: every field, length-prefixed so no two entries
/// encode alike, plus the sequence number and the previous entry's hash.
///
/// `record` is what the chain commits to for the entry's record: for
/// entries written since migration 7, `ref:` and a salted hash of the
/// record id ([`commitment`]), so the id and its salt can later be erased
/// (when the record is destroyed) without breaking the chain; for older
/// entries, the record id itself.
///
/// A floor (migration 18) is put after the detail, and only when there is
/// one: entries without one encode as they always did, so older entries
/// verify unchanged, and an entry with one is longer by whole fields, so
/// no two entries still encode alike.
fn message(seq: i64, prev_hash: &str, e: &EntryText<'_>, record: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut put = |field: Option<&str>| match field {
        None => out.extend_from_slice(&u64::MAX.to_le_bytes()),
        Some(s) => {
            out.extend_from_slice(&(s.len() as u64).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    };
    put(Some(&seq.to_string()));
    put(Some(prev_hash));
    put(Some(&e.at.to_string()));
    put(Some(&e.actor));
    put(Some(e.action));
    put(Some(e.record_class));
    put(record);
    put(Some(e.purpose));
    put(Some(e.decision));
    put(e.detail);
    if let Some(floor) = e.floor {
        put(Some(&floor.seq.to_string()));
        put(Some(&floor.hash));
    }
    out
}

/// The salted hash of a record id that the chain commits to. The salt is
/// random and erased with the id, so the hash left behind cannot be
/// matched against a guessed id (`patron:1`, `patron:2`, ...).
fn commitment(salt: &str, record_id: &str) -> String {
    crate::secrets::sha256_hex(format!("{salt}:{record_id}").as_bytes())
}

/// The record field of the MAC for a commitment.
fn committed(reference: &str) -> String {
    format!("ref:{reference}")
}

/// The subject kind of an operation on a request under a non-disclosure
/// order: never destroyed with a record, and counted out of what staff
/// outside the case's circle see of the log (L6).
pub(crate) const RESTRICTED_CASE: &str = "restricted_case";

/// The destroyable records (`kind`, id) that a run of entries names, in
/// the order first named, without those the operation itself destroyed.
pub(crate) fn subjects_of(
    entries: &[PendingEntry],
    forgotten: &[(String, i64)],
) -> Vec<(String, i64)> {
    let mut subjects: Vec<(String, i64)> = Vec::new();
    for e in entries {
        let Some((kind, id)) = e.record_id().and_then(|r| r.split_once(':')) else {
            continue;
        };
        let Ok(id) = id.parse::<i64>() else {
            continue;
        };
        if !crate::retention::is_destroyable_kind(kind) {
            continue;
        }
        let subject = (kind.to_string(), id);
        if !subjects.contains(&subject) && !forgotten.contains(&subject) {
            subjects.push(subject);
        }
    }
    subjects
}

/// Erases the record ids (and their salts) from every entry of every
/// operation that named one of the records of `kind` picked by `ids_sql`
/// (SQL that follows `id`: `= ?`, or `IN (SELECT id FROM purge_step)`,
/// with `params` for its placeholders), and forgets
/// those operations' subjects: once a loan is destroyed, the checkout's
/// reads of the patron and the item and the loan's renewals and return no
/// longer say whose or which. The entries stay, and the chain verifies,
/// because it commits to the salted hashes (D1, D2, D7); each erased entry
/// gets an [`erasure_tag`], without which [`verify`] takes an erasure for
/// one made by hand.
pub(crate) fn forget_records(
    tx: &mut Tx<'_>,
    kind: crate::retention::RecordKind,
    ids_sql: &str,
    params: &[crate::db::Param<'_>],
) -> Result<(), Error> {
    forget_records_on(&mut tx.conn, &tx.store.audit_key, kind, ids_sql, params)
}

/// [`forget_records`] on a connection, with the audit key (a migration has
/// no transaction of the store's).
pub(crate) fn forget_records_on(
    conn: &mut Conn<'_>,
    key: &AuditKey,
    kind: crate::retention::RecordKind,
    ids_sql: &str,
    params: &[crate::db::Param<'_>],
) -> Result<(), Error> {
    let ids = ids_sql;
    let mut all = vec![crate::db::Param::Text(kind.name())];
    all.extend_from_slice(params);
    drop_forged_subjects(conn, key, kind.name(), ids, &all)?;
    // On PostgreSQL, `= ANY(ARRAY(...))` makes each entry a lookup by its
    // number; `IN (subquery)` and a range join let the planner scan the
    // whole log for every purge step (9x slower at a million loans).
    // Entries already erased (by an earlier record of the same operation)
    // keep their tag.
    let (named, forget) = match conn.engine() {
        EngineKind::Postgres => (
            format!(
                "SELECT seq, record_ref FROM audit_log
                 WHERE record_id IS NOT NULL AND record_ref IS NOT NULL AND seq = ANY(ARRAY(
                   SELECT generate_series(s.first_seq, s.last_seq) FROM audit_subjects s
                   WHERE s.kind = ? AND s.id {ids}))"
            ),
            format!(
                "DELETE FROM audit_subjects WHERE first_seq = ANY(ARRAY(
                   SELECT first_seq FROM audit_subjects WHERE kind = ? AND id {ids})) AND kind <> ?"
            ),
        ),
        EngineKind::Sqlite => (
            format!(
                "SELECT seq, record_ref FROM audit_log
                 WHERE record_id IS NOT NULL AND record_ref IS NOT NULL AND seq IN (
                   SELECT a.seq FROM audit_subjects s
                   JOIN audit_log a ON a.seq >= s.first_seq AND a.seq <= s.last_seq
                   WHERE s.kind = ? AND s.id {ids})"
            ),
            format!(
                "DELETE FROM audit_subjects WHERE first_seq IN (
                   SELECT first_seq FROM audit_subjects WHERE kind = ? AND id {ids}) AND kind <> ?"
            ),
        ),
    };
    let named = conn
        .query(&named, &all)?
        .iter()
        .map(|row| Ok((row.int("seq")?, row.text("record_ref")?)))
        .collect::<Result<Vec<_>, Error>>()?;
    erase_with_tags(conn, key, &named)?;
    // A restricted case's row stays: it says which entries to leave out
    // of counts, and names no record.
    all.push(crate::db::Param::Text(RESTRICTED_CASE));
    conn.execute(&forget, &all)?;
    Ok(())
}

/// Entries tagged per UPDATE (two parameters each, under SQLite's limit
/// of 32,766 and PostgreSQL's of 65,535), measured on the purge of 1M
/// loans (`carrel-bench purge --loans 1000000 --patrons 100000`).
/// PostgreSQL: 39.8 s with 10,000, 27.7 s with 1,000 (the bare purge
/// before tags: 26.4 s), most likely because a large VALUES list is hashed
/// and the whole log scanned. SQLite: 20.2 s with 10,000, 228.8 s with
/// 1,000 (one run, on a shared machine; not yet explained).
fn erased_per_statement(engine: EngineKind) -> usize {
    match engine {
        EngineKind::Postgres => 1_000,
        EngineKind::Sqlite => 10_000,
    }
}

/// Erases the record id and salt of each entry `(seq, record_ref)` and
/// writes its [`erasure_tag`]. The tags are computed here, so the key
/// never travels into SQL text, a parameter log or the server.
fn erase_with_tags(
    conn: &mut Conn<'_>,
    key: &AuditKey,
    entries: &[(i64, String)],
) -> Result<(), Error> {
    let mac = key.macs();
    for chunk in entries.chunks(erased_per_statement(conn.engine())) {
        let tags: Vec<String> = chunk
            .iter()
            .map(|(seq, reference)| mac(&erasure_message(*seq, reference)))
            .collect();
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for ((seq, _), tag) in chunk.iter().zip(&tags) {
            values.extend_from_slice(params![*seq, tag]);
        }
        // VALUES columns are column1, column2 on both engines; the cast
        // tells PostgreSQL the seq parameters' type.
        let rows = vec!["(CAST(? AS BIGINT), ?)"; chunk.len()].join(", ");
        conn.execute(
            &format!(
                "UPDATE audit_log SET record_id = NULL, record_salt = NULL, erased_tag = erased.column2
                 FROM (VALUES {rows}) AS erased WHERE audit_log.seq = erased.column1"
            ),
            &values,
        )?;
    }
    Ok(())
}

/// The bytes an erasure tag covers: a label no chain message starts with
/// (those start with the seq), the entry's seq, so a tag cannot be copied
/// to another entry, and its record commitment.
fn erasure_message(seq: i64, reference: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    for field in ["erased", &seq.to_string(), reference] {
        out.extend_from_slice(&(field.len() as u64).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// The MAC on an `audit_subjects` row: a label no other message starts
/// with, and every field, so a row cannot be made or changed without the
/// key, nor a tag copied to another row.
fn subject_tag(key: &AuditKey, kind: &str, id: i64, first_seq: i64, last_seq: i64) -> String {
    let mut out = Vec::with_capacity(64);
    for field in [
        "subject",
        kind,
        &id.to_string(),
        &first_seq.to_string(),
        &last_seq.to_string(),
    ] {
        out.extend_from_slice(&(field.len() as u64).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    key.mac(&out)
}

/// Migration 16: tags the subject rows written before subject tags.
pub(crate) fn tag_subjects_made_before_tags(
    conn: &mut Conn<'_>,
    key: &AuditKey,
) -> Result<(), Error> {
    let rows = conn
        .query(
            "SELECT kind, id, first_seq, last_seq FROM audit_subjects",
            params![],
        )?
        .iter()
        .map(|row| {
            Ok((
                row.text("kind")?,
                row.int("id")?,
                row.int("first_seq")?,
                row.int("last_seq")?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    for (kind, id, first_seq, last_seq) in rows {
        conn.execute(
            "UPDATE audit_subjects SET tag = ? WHERE kind = ? AND id = ? AND first_seq = ?",
            params![
                &subject_tag(key, &kind, id, first_seq, last_seq),
                &kind,
                id,
                first_seq
            ],
        )?;
    }
    Ok(())
}

/// Removes the subject rows among those naming records `ids` (of `kind`)
/// whose tag is not Carrel's: someone wrote them behind Carrel's back,
/// to have it erase entries they name (see migration 16). Warns, without
/// the rows' contents.
fn drop_forged_subjects(
    conn: &mut Conn<'_>,
    key: &AuditKey,
    kind: &str,
    ids: &str,
    all: &[crate::db::Param<'_>],
) -> Result<(), Error> {
    let rows = conn
        .query(
            &format!(
                "SELECT id, first_seq, last_seq, tag FROM audit_subjects WHERE kind = ? AND id {ids}"
            ),
            all,
        )?
        .iter()
        .map(|row| Ok((row.int("id")?, row.int("first_seq")?, row.int("last_seq")?, row.opt_text("tag")?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let forged: Vec<(i64, i64)> = rows
        .into_iter()
        .filter(|(id, first, last, tag)| {
            tag.as_deref() != Some(subject_tag(key, kind, *id, *first, *last).as_str())
        })
        .map(|(id, first, _, _)| (id, first))
        .collect();
    if forged.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        rows = forged.len(),
        "audit_subjects rows without Carrel's tag were ignored and removed: someone wrote to the database behind Carrel's back; run `carrel audit verify` and keep the database as evidence"
    );
    for (id, first_seq) in forged {
        conn.execute(
            "DELETE FROM audit_subjects WHERE kind = ? AND id = ? AND first_seq = ?",
            params![kind, id, first_seq],
        )?;
    }
    Ok(())
}

/// The tag Carrel writes on an entry whose record id and salt it erased:
/// only the holder of the audit key can make it.
fn erasure_tag(key: &AuditKey, seq: i64, reference: &str) -> String {
    key.mac(&erasure_message(seq, reference))
}

/// The action of the entry migration 10 writes when it tags the erasures
/// made before tags existed.
const VOUCHED_FOR_ERASURES: &str = "vouch_for_erasures";

/// Migration 10: erasures made before erasure tags cannot be told from
/// erasures by hand, and the previous verification accepted both, so the
/// migration tags every one there is and says so in the chain (how many,
/// and up to which entry). It runs once: [`verify`] refuses a log that
/// holds that entry twice, which is what running the migration again to
/// have hand erasures tagged would leave.
pub(crate) fn tag_erasures_made_before_tags(
    conn: &mut Conn<'_>,
    key: &AuditKey,
) -> Result<(), Error> {
    let erased = conn
        .query(
            "SELECT seq, record_ref FROM audit_log
             WHERE record_ref IS NOT NULL AND record_id IS NULL AND record_salt IS NULL
             ORDER BY seq",
            params![],
        )?
        .iter()
        .map(|row| Ok((row.int("seq")?, row.text("record_ref")?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let Some((last, _)) = erased.last() else {
        return Ok(());
    };
    let last = *last;
    erase_with_tags(conn, key, &erased)?;
    // Tags made with another key would leave a log that never verifies
    // again; the migration's transaction then rolls back.
    if check_key(conn, key)? != KeyCheck::Verified {
        return Err(Error::config(
            "the audit key does not verify the audit log, so the erasures it holds cannot be tagged: point --audit-key-file at the key this database was written with (restore it from backup); `carrel audit verify` says more",
        ));
    }
    let entry = PendingEntry::at(
        chrono::Utc::now().timestamp(),
        Principal::System(SystemTask::Migration),
        Outcome::Granted,
        AuditAction::VouchForErasures,
        AuditClass::Policy(RecordClass::Audit),
        "integrity",
    )
    .saying(Some(format!(
        "{} record ids erased before erasure tags, up to entry {last}, tagged",
        erased.len()
    )));
    append(conn, key, &[entry], &[])
}

/// [`forget_records`] for one record destroyed outside a purge (a
/// cancelled program registration, a subscription ended), in the caller's
/// transaction; the operation's own entries then do not list it as a
/// subject.
pub(crate) fn forget_record(
    tx: &mut Tx<'_>,
    kind: crate::retention::RecordKind,
    id: i64,
) -> Result<(), Error> {
    forget_records(tx, kind, "= ?", params![id])?;
    tx.forgotten.push((kind.name().to_string(), id));
    Ok(())
}

/// Appends entries at the end of the chain. Called just before COMMIT, so
/// that on PostgreSQL the lock on the chain head is held as briefly as
/// possible.
pub(crate) fn append(
    conn: &mut Conn<'_>,
    key: &AuditKey,
    entries: &[PendingEntry],
    subjects: &[(String, i64)],
) -> Result<(), Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let head_sql = match conn.engine() {
        EngineKind::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
        EngineKind::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
    };
    let head = conn.query_one(head_sql, params![])?;
    let (first_seq, mut hash) = (head.int("seq")? + 1, head.text("hash")?);
    let salts = random_salts(entries.len())?;
    let mut chained = Vec::with_capacity(entries.len());
    for (offset, (e, salt)) in entries.iter().zip(salts).enumerate() {
        let seq = first_seq + offset as i64;
        let (salt, reference) = match &e.record_id {
            Some(id) => {
                let reference = commitment(&salt, id);
                (Some(salt), Some(reference))
            }
            None => (None, None),
        };
        let record = reference.as_deref().map(committed);
        let text = e.text();
        let next = key.mac(&message(seq, &hash, &text, record.as_deref()));
        let prev = std::mem::replace(&mut hash, next.clone());
        chained.push((seq, e, text, salt, reference, prev, next));
    }
    let last_seq = first_seq + entries.len() as i64 - 1;
    let mut values = Vec::with_capacity(chained.len() * 15 + 2);
    for (seq, e, text, salt, reference, prev, next) in &chained {
        values.extend_from_slice(params![
            *seq,
            text.at,
            text.actor.as_ref(),
            text.action,
            text.record_class,
            &e.record_id,
            salt,
            reference,
            text.purpose,
            text.decision,
            text.detail,
            prev,
            next,
            text.floor.map(|f| f.seq),
            text.floor.map(|f| f.hash.as_str())
        ]);
    }
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chained.len()].join(", ");
    let insert = format!(
        "INSERT INTO audit_log (seq, at, actor, action, record_class, record_id, record_salt, record_ref, purpose, decision, detail, prev_hash, hash, floor_seq, floor_hash) VALUES {rows}"
    );
    let subject_tags: Vec<String> = subjects
        .iter()
        .map(|(kind, id)| subject_tag(key, kind, *id, first_seq, last_seq))
        .collect();
    let mut subject_values = Vec::with_capacity(subjects.len() * 5);
    for ((kind, id), tag) in subjects.iter().zip(&subject_tags) {
        subject_values.extend_from_slice(params![kind, *id, first_seq, last_seq, tag]);
    }
    let subject_insert = (!subjects.is_empty()).then(|| {
        format!(
            "INSERT INTO audit_subjects (kind, id, first_seq, last_seq, tag) VALUES {}",
            vec!["(?, ?, ?, ?, ?)"; subjects.len()].join(", ")
        )
    });
    match conn.engine() {
        // While the head row is locked, every round trip to the server
        // holds up every other writer: insert and move the head in one.
        EngineKind::Postgres => {
            let named = match &subject_insert {
                Some(sql) => {
                    values.extend_from_slice(&subject_values);
                    format!(", named AS ({sql})")
                }
                None => String::new(),
            };
            values.extend_from_slice(params![last_seq, &hash]);
            conn.execute(
                &format!("WITH appended AS ({insert} RETURNING seq){named} UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"),
                &values,
            )?;
        }
        EngineKind::Sqlite => {
            conn.execute(&insert, &values)?;
            if let Some(sql) = &subject_insert {
                conn.execute(sql, &subject_values)?;
            }
            conn.execute(
                "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
                params![last_seq, &hash],
            )?;
        }
    }
    Ok(())
}

/// One fresh 128-bit salt per entry, from one call to the system's random
/// source.
fn random_salts(n: usize) -> Result<Vec<String>, Error> {
    let mut bytes = vec![0u8; n * 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(bytes.chunks(16).map(crate::secrets::hex).collect())
}

/// An entry as stored, for reports and verification.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEntry {
    /// The entry's number in the chain; numbers go on counting after a purge
    /// destroys the oldest entries.
    pub seq: i64,
    /// When the access happened, in Unix seconds by the store's clock.
    pub at: i64,
    /// Who acted, as a principal's label (`staff:7`, `patron:12`,
    /// `system:retention`, `anonymous`).
    pub actor: String,
    /// What was done: a policy action (`read`, `update`, ...), a disclosure
    /// step, or one of Carrel's own (`sign_in`, `legal_hold`, ...).
    pub action: String,
    /// The class of record acted on: one the policy governs (`registration`,
    /// `circulation`, ...) or one of Carrel's own (`staff`,
    /// `disclosure_request`, `legal_hold`).
    pub record_class: String,
    /// The record acted on, as an opaque `kind:id`; `None` for the class as a
    /// whole, or once the record was destroyed and its id erased from the log.
    pub record_id: Option<String>,
    /// The purpose the access was asked for, as the policy names it.
    pub purpose: String,
    /// The gate's decision: `granted` or `denied`.
    pub decision: String,
    /// A note for auditors (a count, a reason's code), never personal data.
    pub detail: Option<String>,
    /// The floor a retention purge's entry recorded (migration 18 on);
    /// read only for verification.
    #[serde(skip)]
    pub floor: Option<Anchor>,
}

/// What `carrel audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Entries up to and including this seq were destroyed under the audit
    /// log's retention rule (0: none); the chain is checked from the next.
    pub floor: i64,
    /// How many entries were read and verified, starting after `floor`.
    pub entries_checked: i64,
    /// The seq of the last entry checked (`floor + entries_checked`).
    pub last_seq: i64,
    /// The first entry that fails, and why; `None` if the chain is intact.
    pub first_bad: Option<(i64, String)>,
    /// The hash of the last entry checked. Recorded outside the database
    /// (with `last_seq`), it is an anchor: a later `verify` with it
    /// proves the log was not cut back or rewritten up to that entry, which
    /// nothing inside the database alone can prove.
    pub last_hash: String,
    /// The key does not verify the log at all (neither its newest nor its
    /// oldest entry): most likely the wrong key file, not tampering.
    pub wrong_key: bool,
}

/// An entry recorded outside the database: its seq and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The anchored entry's number in the chain (0: the floor of a log nothing
    /// was ever cut from).
    pub seq: i64,
    /// The anchored entry's chain hash, 64 hexadecimal characters (empty only
    /// for entry 0).
    pub hash: String,
}

impl Anchor {
    /// Parses `SEQ:HASH`, as `carrel audit verify` prints it.
    pub fn parse(text: &str) -> Result<Anchor, Error> {
        let (seq, hash) = text.split_once(':').ok_or_else(|| {
            Error::invalid(
                "bad_anchor",
                "an anchor is written SEQ:HASH, as `carrel audit verify` prints it",
            )
        })?;
        let seq: i64 = seq
            .parse()
            .map_err(|_| Error::invalid("bad_anchor", "the anchor's SEQ must be a whole number"))?;
        // A mistyped or shortened hash is a mistake, not tampering: say so
        // rather than report the log broken. (Empty only for entry 0, the
        // floor of a log nothing was ever cut from.)
        let well_formed = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !(well_formed || (seq == 0 && hash.is_empty())) {
            return Err(Error::invalid(
                "bad_anchor",
                "the anchor's HASH must be the 64 hexadecimal characters `carrel audit verify` printed after SEQ: copy the whole anchor",
            ));
        }
        Ok(Anchor {
            seq,
            hash: hash.to_string(),
        })
    }
}

/// The newest entry of the log as an anchor (`None` while the log is
/// empty): what the server records outside the database on a schedule.
pub fn head_anchor(store: &Store) -> Result<Option<Anchor>, Error> {
    store.bookkeeping(|conn, _| {
        let head = conn.query_one("SELECT seq, hash FROM audit_head WHERE id = 1", params![])?;
        let (seq, hash) = (head.int("seq")?, head.text("hash")?);
        Ok((seq > 0).then_some(Anchor { seq, hash }))
    })
}

/// Checks, quickly, that the log still holds an anchored entry unchanged
/// (or destroyed it under its own retention rule, as the floor records):
/// for every start of the server and every anchor recorded. `Err` says
/// what is wrong; the full proof is `carrel audit verify`.
fn anchor_holds(conn: &mut Conn<'_>, anchor: &Anchor) -> Result<Result<(), String>, Error> {
    let head = conn.query_one(
        "SELECT seq, floor_seq, floor_hash FROM audit_head WHERE id = 1",
        params![],
    )?;
    let (newest, floor, floor_hash) = (
        head.int("seq")?,
        head.int("floor_seq")?,
        head.text("floor_hash")?,
    );
    if anchor.seq < floor {
        return Ok(Ok(()));
    }
    if anchor.seq == floor {
        return Ok(if anchor.hash == floor_hash {
            Ok(())
        } else {
            Err(format!("entry {floor}, anchored earlier, is not the entry the log now starts after: the log was rewritten"))
        });
    }
    if anchor.seq > newest {
        return Ok(Err(format!(
            "the log ends at entry {newest}, before entry {} that was anchored earlier: entries were cut off the end, or the whole log was replaced",
            anchor.seq
        )));
    }
    let stored = conn.query_opt(
        "SELECT hash FROM audit_log WHERE seq = ?",
        params![anchor.seq],
    )?;
    Ok(match stored {
        Some(row) if row.text(Only)? == anchor.hash => Ok(()),
        Some(_) => Err(format!(
            "entry {}, anchored earlier, has changed: the log was rewritten",
            anchor.seq
        )),
        None => Err(format!(
            "entry {}, anchored earlier, is missing: entries were deleted",
            anchor.seq
        )),
    })
}

/// A file outside the database where the server appends an anchor of the
/// audit log now and then, so that wiping or rewriting the log (and its
/// head) is detected even by an operator who never copied an anchor by
/// hand. One line per anchor: `UNIX-TIME SEQ:HASH`.
#[derive(Debug, Clone)]
pub struct AnchorFile {
    /// Where the file is; it is created readable by Carrel's user only, and
    /// appended to.
    pub path: std::path::PathBuf,
}

impl AnchorFile {
    /// Every anchor in the file, oldest first; none if the file does not
    /// exist.
    pub fn all(&self) -> Result<Vec<Anchor>, Error> {
        let text = match std::fs::read(&self.path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::config(format!(
                    "cannot read the audit anchor file {}: {e}",
                    self.path.display()
                )))
            }
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let anchor = line.split_whitespace().nth(1).ok_or_else(|| {
                    Error::config(format!(
                        "the audit anchor file {} has a line that is not `UNIX-TIME SEQ:HASH`",
                        self.path.display()
                    ))
                })?;
                Anchor::parse(anchor)
            })
            .collect()
    }

    /// The newest anchor in the file; `None` if the file does not exist or
    /// holds none.
    pub fn latest(&self) -> Result<Option<Anchor>, Error> {
        Ok(self.all()?.pop())
    }

    /// Checks every anchor in the file against the log (one lookup each,
    /// in one transaction): `Err` names the first the log no longer holds.
    pub fn check_all(&self, store: &Store) -> Result<Result<(), String>, Error> {
        let anchors = self.all()?;
        store.bookkeeping(|conn, _| {
            for anchor in &anchors {
                if let Err(why) = anchor_holds(conn, anchor)? {
                    return Ok(Err(why));
                }
            }
            Ok(Ok(()))
        })
    }

    /// Records the log's newest entry, after checking the log still holds
    /// every anchor recorded before: an anchor appended after the log was
    /// wiped or rewound would make the new log look like the one anchored.
    pub fn record(&self, store: &Store) -> Result<(), Error> {
        if let Err(why) = self.check_all(store)? {
            return Err(Error::config(format!(
                "the audit log no longer holds an anchor recorded in {}: {why}; no new anchor is recorded over it. Run `carrel audit verify`",
                self.path.display()
            )));
        }
        self.append_head(store)
    }

    /// Appends the log's newest entry (with the time) unless it is already
    /// the newest anchor. For a caller that has just run [`Self::check_all`]
    /// itself; otherwise use [`Self::record`].
    pub fn append_head(&self, store: &Store) -> Result<(), Error> {
        use std::io::Write;
        let Some(anchor) = head_anchor(store)? else {
            return Ok(());
        };
        let at = store.now().timestamp();
        if self.latest()?.as_ref() == Some(&anchor) {
            return Ok(());
        }
        let mut file = crate::private_files::options()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| {
                Error::config(format!(
                    "cannot write the audit anchor file {}: {e}",
                    self.path.display()
                ))
            })?;
        writeln!(file, "{at} {}:{}", anchor.seq, anchor.hash)
            .and_then(|_| file.sync_data())
            .map_err(|e| {
                Error::config(format!(
                    "cannot write the audit anchor file {}: {e}",
                    self.path.display()
                ))
            })
    }
}

const PAGE: i64 = 5_000;

/// Whether a key is the one the audit log was written with, judged by the
/// log's newest entry (and, if that fails, its oldest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// No entry has been written yet: any key will do.
    EmptyLog,
    /// The newest entry verifies with this key.
    Verified,
    /// Neither the newest nor the oldest entry verifies: the key is not
    /// the one this log was written with (or every entry was forged).
    WrongKey {
        /// The number of the log's newest entry, which did not verify.
        newest: i64,
    },
    /// The oldest entry verifies but the newest does not: the key is right
    /// and the end of the log was altered.
    NewestAltered {
        /// The number of the log's newest entry, which did not verify.
        newest: i64,
    },
}

/// Checks `key` against the log, reading two entries: cheap enough for
/// every start.
pub(crate) fn check_key(conn: &mut Conn<'_>, key: &AuditKey) -> Result<KeyCheck, Error> {
    let head = conn.query_one(
        "SELECT seq, floor_seq FROM audit_head WHERE id = 1",
        params![],
    )?;
    let (newest, floor) = (head.int("seq")?, head.int("floor_seq")?);
    if newest == 0 {
        return Ok(KeyCheck::EmptyLog);
    }
    let verifies = |conn: &mut Conn<'_>, seq: i64| -> Result<bool, Error> {
        let row = conn.query_opt(
            &format!("SELECT {CHAINED_COLUMNS} FROM audit_log WHERE seq = ?"),
            params![seq],
        )?;
        let Some(row) = row else {
            return Ok(false);
        };
        let prev = row.text("prev_hash")?;
        Ok(intact(key, &row, &prev)? == Integrity::Intact)
    };
    if verifies(conn, newest)? {
        return Ok(KeyCheck::Verified);
    }
    if verifies(conn, floor + 1)? {
        return Ok(KeyCheck::NewestAltered { newest });
    }
    Ok(KeyCheck::WrongKey { newest })
}

/// Whether the audit log holds any entry yet (a new key may be made only
/// for a log with none).
pub fn is_empty(store: &Store) -> Result<bool, Error> {
    store.bookkeeping(|conn, _| {
        Ok(conn
            .query_one("SELECT seq FROM audit_head WHERE id = 1", params![])?
            .int(Only)?
            == 0)
    })
}

/// The detail of a retention purge's own entry for the audit log, if
/// `entry` is one.
fn audit_purge_detail(entry: &StoredEntry) -> Option<&str> {
    let by_retention =
        Principal::from_label(&entry.actor) == Some(Principal::System(SystemTask::Retention));
    if !by_retention || entry.record_class != RecordClass::Audit.name() {
        return None;
    }
    entry.detail.as_deref()
}

/// Whether `entry` is a retention purge's, saying its erasures carry
/// tags: every purge entry that records its floor in columns (migration
/// 18 on) does; an older one said so in its text.
fn says_erasures_tagged(entry: &StoredEntry) -> bool {
    audit_purge_detail(entry)
        .is_some_and(|detail| entry.floor.is_some() || legacy::says_erasures_tagged(detail))
}

/// The floor a retention purge recorded in its entry, if `entry` is one:
/// from its columns, or for an entry older than migration 18, its text.
fn recorded_floor(entry: &StoredEntry) -> Option<Anchor> {
    let detail = audit_purge_detail(entry)?;
    match &entry.floor {
        Some(floor) => Some(floor.clone()),
        None => legacy::recorded_floor(detail),
    }
}

/// How retention purges wrote their floor before migration 18: in the
/// text of their entry. Read only for entries written then, which age out
/// of the log with its retention rule (two years in both seed policies);
/// this module can go once no database holds one.
mod legacy {
    use super::Anchor;
    use crate::retention::{FLOOR_MARK, TAGGED_MARK};

    pub(super) fn says_erasures_tagged(detail: &str) -> bool {
        detail.contains(TAGGED_MARK)
    }

    pub(super) fn recorded_floor(detail: &str) -> Option<Anchor> {
        let at = detail.rfind(FLOOR_MARK)?;
        Anchor::parse(&detail[at + FLOOR_MARK.len()..]).ok()
    }
}

/// Recomputes the chain from its floor (the last entry destroyed under the
/// retention rule) and names the first entry that does not fit; checks the
/// floor is the one the latest retention purge recorded in the chain; with
/// an anchor, also checks that entry is still there, unchanged.
pub fn verify(store: &Store, anchor: Option<&Anchor>) -> Result<Verification, Error> {
    store.bookkeeping(|conn, key| {
        let head = conn.query_one(
            "SELECT seq, hash, floor_seq, floor_hash FROM audit_head WHERE id = 1",
            params![],
        )?;
        let (head_seq, head_hash) = (head.int("seq")?, head.text("hash")?);
        let (floor, floor_hash) = (head.int("floor_seq")?, head.text("floor_hash")?);
        let mut expected_seq = floor + 1;
        let mut prev_hash = floor_hash.clone();
        let mut checked = 0;
        let mut last_recorded_floor: Option<Anchor> = None;
        let mut vouched_at: Option<i64> = None;
        let mut tags_in_use_at: Option<i64> = None;
        let result = |checked: i64, first_bad: Option<(i64, String)>, last_hash: String| {
            Ok(Verification {
                floor,
                entries_checked: checked,
                last_seq: floor + checked,
                first_bad,
                last_hash,
                wrong_key: false,
            })
        };
        if let KeyCheck::WrongKey { newest } = check_key(conn, key)? {
            return Ok(Verification {
                wrong_key: true,
                ..result(0, Some((newest, "the audit key does not verify this log: no entry checks out with it, so this is most likely not the key the log was written with; restore the right key file from your backup and pass it with --audit-key-file".to_string())), String::new())?
            });
        }
        if let Some(a) = anchor.filter(|a| a.seq == floor && floor > 0) {
            if a.hash != floor_hash {
                return result(0, Some((floor, format!(
                    "entry {floor} is not the entry anchored earlier: the log was rewritten from there"
                ))), String::new());
            }
        }
        loop {
            let rows = conn.query(
                &format!("SELECT {CHAINED_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?"),
                params![expected_seq, PAGE],
            )?;
            let page_len = rows.len() as i64;
            for row in rows {
                let seq = row.int("seq")?;
                if seq != expected_seq {
                    return result(checked, Some((
                        expected_seq,
                        format!(
                            "entry {expected_seq} is missing: the log jumps from {} to {seq} (entries deleted)",
                            expected_seq - 1
                        ),
                    )), String::new());
                }
                let stored = chained_from(&row)?;
                let stored_prev = row.text("prev_hash")?;
                let stored_hash = row.text("hash")?;
                if stored_prev != prev_hash {
                    return result(checked, Some((seq, format!(
                        "entry {seq} does not follow entry {}: entries were inserted, removed or reordered here",
                        seq - 1
                    ))), String::new());
                }
                if let Some(why) = intact(key, &row, &prev_hash)?.fault(seq) {
                    return result(checked, Some((seq, why)), String::new());
                }
                if stored.action == VOUCHED_FOR_ERASURES {
                    if let Some(earlier) = vouched_at {
                        return result(checked, Some((seq, format!(
                            "entry {seq} tags erasures made before erasure tags, as entry {earlier} did: that migration ran again, which tags erasures made by hand since"
                        ))), String::new());
                    }
                    // The first vouch ages out with the log; the purges
                    // after it said their erasures were tagged, and those
                    // entries are as recent as any hand erasure.
                    if let Some(tagged) = tags_in_use_at {
                        return result(checked, Some((seq, format!(
                            "entry {seq} tags erasures made before erasure tags, but entry {tagged} shows tags were already in use: that migration ran again, which tags erasures made by hand since"
                        ))), String::new());
                    }
                    vouched_at = Some(seq);
                }
                if tags_in_use_at.is_none() && says_erasures_tagged(&stored) {
                    tags_in_use_at = Some(seq);
                }
                if anchor.is_some_and(|a| a.seq == seq && a.hash != stored_hash) {
                    return result(checked, Some((seq, format!("entry {seq} is not the entry anchored earlier: the log was rewritten from there"))), String::new());
                }
                if let Some(recorded) = recorded_floor(&stored) {
                    last_recorded_floor = Some(recorded);
                }
                prev_hash = stored_hash;
                expected_seq += 1;
                checked += 1;
            }
            if page_len < PAGE {
                break;
            }
        }
        let last_seq = floor + checked;
        if floor > 0 && last_recorded_floor.as_ref() != Some(&Anchor { seq: floor, hash: floor_hash }) {
            return result(checked, Some((
                floor + 1,
                format!(
                    "the log starts after entry {floor}, but no retention purge recorded that floor: entries were removed from the start"
                ),
            )), prev_hash);
        }
        if let Some(a) = anchor.filter(|a| a.seq > last_seq) {
            return result(checked, Some((
                last_seq + 1,
                format!(
                    "the log ends at entry {last_seq}, before the anchored entry {}: entries were cut off the end",
                    a.seq
                ),
            )), prev_hash);
        }
        if head_seq != last_seq || head_hash != prev_hash {
            return result(checked, Some((
                last_seq + 1,
                format!(
                    "the log ends at entry {last_seq} but {head_seq} were written: entries were removed from the end"
                ),
            )), prev_hash);
        }
        result(checked, None, prev_hash)
    })
}

/// The most recent entries, newest first, for an auditor holding a grant.
pub fn recent(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, AuditLog>,
    limit: i64,
) -> Result<Vec<StoredEntry>, Error> {
    let rows = tx.conn.query(
        "SELECT seq, at, actor, action, record_class, record_id, purpose, decision, detail
         FROM audit_log ORDER BY seq DESC LIMIT ?",
        params![limit],
    )?;
    grant.record(tx, None, Some(format!("{} entries", rows.len())));
    rows.iter().map(stored_from).collect()
}

/// What [`intact`] reads of an entry: [`stored_from`]'s nine columns, then
/// the chain's and the record's commitment, and the erasure tag.
const CHAINED_COLUMNS: &str = "seq, at, actor, action, record_class, record_id, purpose, decision, detail, prev_hash, hash, record_salt, record_ref, erased_tag, floor_seq, floor_hash";

/// What [`intact`] found of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Integrity {
    /// The entry is the one written, or Carrel erased its record id.
    Intact,
    /// Its MAC or its record commitment does not check out.
    Altered,
    /// Its record id and salt are gone, with no erasure tag.
    ErasedByHand,
    /// Its record id and salt are gone, with a tag Carrel did not make for
    /// it (copied from another entry, or made up).
    ErasureTagForged,
}

impl Integrity {
    /// Why [`verify`] stops at entry `seq`; `None` if it is intact.
    fn fault(self, seq: i64) -> Option<String> {
        match self {
            Integrity::Intact => None,
            Integrity::Altered => Some(format!("entry {seq} was altered after it was written")),
            Integrity::ErasedByHand => Some(format!(
                "entry {seq}'s record id was erased by hand (no erasure by Carrel recorded)"
            )),
            Integrity::ErasureTagForged => Some(format!(
                "entry {seq}'s record id was erased by hand (its erasure tag is not one Carrel made for it)"
            )),
        }
    }
}

/// Whether an entry read with [`CHAINED_COLUMNS`] is the one written after
/// `prev_hash`: its MAC checks out and, where its record id has not been
/// erased, the id is the one committed to. An erased entry has neither id
/// nor salt, and the erasure tag only Carrel can make
/// ([`erasure_tag`]): without it, anyone who can write to the database
/// could remove whose record an entry names. One of id and salt without
/// the other was tampered with.
fn intact(key: &AuditKey, row: &crate::db::Row, prev_hash: &str) -> Result<Integrity, Error> {
    let stored = chained_from(row)?;
    let (hash, salt, reference) = (
        row.text("hash")?,
        row.opt_text("record_salt")?,
        row.opt_text("record_ref")?,
    );
    let erased_tag = row.opt_text("erased_tag")?;
    // Carrel writes no other decision: an entry with one was not written
    // by Carrel. Nor half a floor: a floor column set alone was set by
    // hand (the MAC covers a floor only when both are there).
    let half_a_floor = row.opt_int("floor_seq")?.is_some() != row.opt_text("floor_hash")?.is_some();
    if stored.decision.parse::<Outcome>().is_err() || half_a_floor {
        return Ok(Integrity::Altered);
    }
    let (record, erased) = match (&reference, &stored.record_id, &salt, &erased_tag) {
        // Written before migration 7: the chain holds the id itself.
        (None, _, None, None) => (stored.record_id.clone(), None),
        (Some(reference), Some(id), Some(salt), None) if commitment(salt, id) == *reference => {
            (Some(committed(reference)), None)
        }
        (Some(reference), None, None, tag) => (Some(committed(reference)), Some((reference, tag))),
        _ => return Ok(Integrity::Altered),
    };
    if key.mac(&message(
        stored.seq,
        prev_hash,
        &stored.text(),
        record.as_deref(),
    )) != hash
    {
        return Ok(Integrity::Altered);
    }
    Ok(match erased {
        None => Integrity::Intact,
        Some((_, None)) => Integrity::ErasedByHand,
        Some((reference, Some(tag))) if *tag == erasure_tag(key, stored.seq, reference) => {
            Integrity::Intact
        }
        Some(_) => Integrity::ErasureTagForged,
    })
}

/// An entry read with [`CHAINED_COLUMNS`], with the floor it records (a
/// floor half there is read as none; [`intact`] refuses it).
fn chained_from(row: &crate::db::Row) -> Result<StoredEntry, Error> {
    let floor = match (row.opt_int("floor_seq")?, row.opt_text("floor_hash")?) {
        (Some(seq), Some(hash)) => Some(Anchor { seq, hash }),
        _ => None,
    };
    Ok(StoredEntry {
        floor,
        ..stored_from(row)?
    })
}

/// The nine columns of `audit_log` from seq through detail, by name.
fn stored_from(row: &crate::db::Row) -> Result<StoredEntry, Error> {
    Ok(StoredEntry {
        seq: row.int("seq")?,
        at: row.int("at")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        record_class: row.text("record_class")?,
        record_id: row.opt_text("record_id")?,
        purpose: row.text("purpose")?,
        decision: row.text("decision")?,
        detail: row.opt_text("detail")?,
        floor: None,
    })
}

impl StoredEntry {
    /// The fields the chain commits to, exactly as stored.
    fn text(&self) -> EntryText<'_> {
        EntryText {
            at: self.at,
            actor: self.actor.as_str().into(),
            action: &self.action,
            record_class: &self.record_class,
            purpose: &self.purpose,
            decision: &self.decision,
            detail: self.detail.as_deref(),
            floor: self.floor.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{self, DatabaseUrl};
    use crate::retention::{purge, PurgeOptions};
    use crate::{staff, Store};

    const MISSOURI: &str = include_str!("../../../../policies/jefferson-county-mo.toml");

    /// D7: migration 10 vouches, once, for the erasures made before erasure
    /// tags. Two years on, its entry has aged out of the log; someone who
    /// can write the database (not the key) erases a record id by hand,
    /// drops the tags and rolls the schema back so that Carrel runs the
    /// migration again and tags everything. The purges since said their
    /// erasures were tagged, in entries that have not aged out, so verify
    /// refuses the second vouch.
    fn a_vouch_after_tags_were_in_use(url: &DatabaseUrl) {
        let policy = carrel_policy::parse("mo", MISSOURI).unwrap();
        let store = Store::open(url, policy, MISSOURI, AuditKey::generate().unwrap()).unwrap();
        staff::add(&store, "desk1", "a-long-enough-password", "clerk").unwrap();
        purge(&store, &PurgeOptions::default(), &mut |_| {}).unwrap();
        assert!(verify(&store, None).unwrap().first_bad.is_none());
        store
            .bookkeeping(|conn, key| {
                let erased = conn.execute(
                    "UPDATE audit_log SET record_id = NULL, record_salt = NULL
                     WHERE seq = (SELECT MIN(seq) FROM audit_log WHERE record_id IS NOT NULL)",
                    params![],
                )?;
                assert_eq!(erased, 1, "an entry naming a record, erased by hand");
                tag_erasures_made_before_tags(conn, key)
            })
            .unwrap();
        let (seq, why) = verify(&store, None)
            .unwrap()
            .first_bad
            .expect("the migration run again passed verification");
        let vouch = store
            .bookkeeping(|conn, _| {
                conn.query_one(
                    "SELECT MAX(seq) FROM audit_log WHERE action = ?",
                    params![VOUCHED_FOR_ERASURES],
                )?
                .int(Only)
            })
            .unwrap();
        assert_eq!(seq, vouch, "{why}");
        assert!(why.contains("already in use"), "{why}");
    }

    #[test]
    fn d7_migration_10_run_again_after_tags_were_in_use_is_detected_on_both_engines() {
        db::on_both_databases("vouch_again", a_vouch_after_tags_were_in_use);
    }

    /// A store whose clock the test moves.
    fn store_with_clock(url: &DatabaseUrl) -> (Store, std::sync::Arc<std::sync::Mutex<i64>>) {
        let policy = carrel_policy::parse("mo", MISSOURI).unwrap();
        let now = std::sync::Arc::new(std::sync::Mutex::new(1_767_225_600)); // 2026-01-01
        let clock = now.clone();
        let store = Store::open(url, policy, MISSOURI, AuditKey::generate().unwrap())
            .unwrap()
            .with_clock(std::sync::Arc::new(move || {
                chrono::DateTime::from_timestamp(*clock.lock().unwrap(), 0).unwrap()
            }));
        (store, now)
    }

    /// D7: a purge that cuts the log records the new floor in its entry's
    /// own columns (migration 18), which the chain's MAC covers: verify
    /// reads the floor from there, and a floor rewritten in place is caught.
    fn the_floor_is_in_columns(url: &DatabaseUrl) {
        let (store, now) = store_with_clock(url);
        staff::add(&store, "desk1", "a-long-enough-password", "clerk").unwrap();
        *now.lock().unwrap() += 3 * 366 * 86_400;
        purge(&store, &PurgeOptions::default(), &mut |_| {}).unwrap();
        let verified = verify(&store, None).unwrap();
        assert!(verified.first_bad.is_none(), "{:?}", verified.first_bad);
        assert!(verified.floor > 0, "the purge cut the log");
        let (seq, floor_seq, floor_hash, head_hash) = store
            .bookkeeping(|conn, _| {
                let row = conn.query_one(
                    "SELECT l.seq, l.floor_seq, l.floor_hash, h.floor_hash AS head_floor_hash
                     FROM audit_log l, audit_head h WHERE l.floor_seq IS NOT NULL",
                    params![],
                )?;
                Ok((
                    row.int("seq")?,
                    row.int("floor_seq")?,
                    row.text("floor_hash")?,
                    row.text("head_floor_hash")?,
                ))
            })
            .unwrap();
        assert_eq!((floor_seq, &floor_hash), (verified.floor, &head_hash));
        store
            .bookkeeping(|conn, _| {
                conn.execute(
                    "UPDATE audit_log SET floor_hash = ? WHERE seq = ?",
                    params![&"0".repeat(64), seq],
                )
            })
            .unwrap();
        let (bad, why) = verify(&store, None).unwrap().first_bad.expect("caught");
        assert_eq!(bad, seq, "{why}");
    }

    /// D7 (review): one floor column set by hand on an ordinary entry,
    /// which has no floor the MAC covers, is caught all the same.
    fn half_a_floor_set_by_hand(url: &DatabaseUrl) {
        let (store, _) = store_with_clock(url);
        staff::add(&store, "desk1", "a-long-enough-password", "clerk").unwrap();
        let seq = store
            .bookkeeping(|conn, _| {
                let seq = conn
                    .query_one("SELECT MAX(seq) FROM audit_log", params![])?
                    .int(Only)?;
                conn.execute(
                    "UPDATE audit_log SET floor_seq = 999 WHERE seq = ?",
                    params![seq],
                )?;
                Ok(seq)
            })
            .unwrap();
        let (bad, why) = verify(&store, None).unwrap().first_bad.expect("caught");
        assert_eq!(bad, seq, "{why}");
    }

    #[test]
    fn d7_half_a_floor_set_by_hand_is_caught_on_both_engines() {
        db::on_both_databases("half_floor", half_a_floor_set_by_hand);
    }

    #[test]
    fn d7_a_purge_records_the_logs_floor_in_columns_the_chain_covers_on_both_engines() {
        db::on_both_databases("floor_columns", the_floor_is_in_columns);
    }

    /// D7: a purge entry from before migration 18 has its floor only in its
    /// text; verify still honours it, and still refuses a floor no entry
    /// recorded. Stood in for by appending such an entry by hand (an entry
    /// without floor columns is chained exactly as entries were then) and
    /// cutting the log as that purge did.
    fn a_floor_in_old_text(url: &DatabaseUrl) {
        let (store, _) = store_with_clock(url);
        staff::add(&store, "desk1", "a-long-enough-password", "clerk").unwrap();
        staff::add(&store, "desk2", "a-long-enough-password", "clerk").unwrap();
        let cut = |floor_text: String| {
            store.bookkeeping(|conn, key| {
                let first = conn.query_one(
                    "SELECT seq, hash FROM audit_log ORDER BY seq LIMIT 1",
                    params![],
                )?;
                let (floor, hash) = (first.int("seq")?, first.text("hash")?);
                let old_purge = PendingEntry::at(
                    1_767_225_700,
                    Principal::System(SystemTask::Retention),
                    Outcome::Granted,
                    AuditAction::Policy(Action::Destroy),
                    AuditClass::Policy(RecordClass::Audit),
                    "retention",
                )
                .saying(Some(format!(
                    "purge run 1, erasures tagged: destroyed 1 audit log entries; the log now starts after {}",
                    floor_text.replace("{floor}", &format!("{floor}:{hash}"))
                )));
                append(conn, key, &[old_purge], &[])?;
                conn.execute("DELETE FROM audit_log WHERE seq <= ?", params![floor])?;
                conn.execute(
                    "UPDATE audit_head SET floor_seq = ?, floor_hash = ? WHERE id = 1",
                    params![floor, &hash],
                )
            })
        };
        cut("floor={floor}".to_string()).unwrap();
        let verified = verify(&store, None).unwrap();
        assert!(verified.first_bad.is_none(), "{:?}", verified.first_bad);
        assert_eq!(verified.floor, 1);

        // Cut once more, the entry's text naming another floor.
        cut("floor=1:{floor}".to_string()).unwrap();
        let (_, why) = verify(&store, None).unwrap().first_bad.expect("caught");
        assert!(
            why.contains("no retention purge recorded that floor"),
            "{why}"
        );
    }

    #[test]
    fn d7_a_floor_recorded_in_text_before_migration_18_still_counts_on_both_engines() {
        db::on_both_databases("floor_in_text", a_floor_in_old_text);
    }
}
