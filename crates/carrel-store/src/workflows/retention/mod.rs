//! # Retention
//!
//! One engine destroys every record class on the policy's schedule (D1),
//! moving what statistics need into anonymous aggregates first (D3), and
//! leaving nothing recoverable in the files afterwards (D2).
//!
//! For each target (see [`targets`]) the policy's rule gives the clock, how
//! long to keep, and what disposal means. A record is due when its clock
//! event's local date is on or before the cutoff
//! ([`carrel_policy::retention::cutoff_date`]), nothing still needs it (an
//! unpaid fine, an item out, ...), and no legal hold in force pins it.
//!
//! A purge walks each target's due rows in batches, in one of two orders
//! ([`Walk`]): through the clock column's index in (event, id) order, so a
//! daily purge reads only what fell due; or, for a backlog, in key order,
//! so each page of the table is read and written once. Each batch is one
//! transaction: it adds
//! the rows to the statistics, destroys them, and adds their number to the
//! run's progress row. A purge killed at any point therefore leaves the
//! database consistent (every destroyed row counted once, in statistics and
//! in progress), and the next run resumes the unfinished run. When a class
//! is done, one audit entry records its counts: never one per person.
//! A daily purge reads only the rows that fell due since the last one (and
//! any kept past their time), not the table.

mod audit_log;
pub(crate) mod kept_in_secret;
mod statistics;
pub(crate) mod targets;

use carrel_policy::retention::{cutoff_date, cutoff_instant, due_on};
use carrel_policy::{Disposal, Policy, RecordClass, RetentionRule};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use chrono::{Days, NaiveDate};
use serde::Serialize;

pub(crate) use self::audit_log::{FLOOR_MARK, TAGGED_MARK};
pub(crate) use self::statistics::{age_band, local_date};

/// Sets aside, once per target per purge, the records this purge would
/// destroy but for the legal holds of requests under a non-disclosure
/// order: only those holds pin them. They leave their table (see
/// [`kept_in_secret`]): outside the requests' circles they are destroyed
/// from now on, and, as the purge would have destroyed them, they are
/// counted now in its summary and its audit entry (progress part
/// [`SECRET_PART`]) and in the statistics. When the holds end, the purge
/// that destroys them for good counts them in neither again: every figure
/// is what it would be had the holds never been placed.
fn set_aside_in_secret(
    tx: &mut Tx<'_>,
    run_id: i64,
    rule: &RetentionRule,
    target: &Target,
) -> Result<usize, Error> {
    let b = bound(tx, rule, target);
    let now = tx.now().timestamp();
    let (gagged, _) = hidden_hold_sql(None);
    let by_gagged = held_by_sql(target, &format!("NOT {gagged}"));
    let by_others = held_by_sql(target, &gagged);
    let counted = target
        .stats
        .columns_sql(tx.policy().library.time_zone, tx.conn.engine());
    let event_column = target.clock.step_column();
    let set_aside = tx.conn.execute(
        &format!(
            // Only pinned rows can qualify: start from the pins, not from
            // every row past its time (a backlog of millions at the first
            // purge).
            "INSERT INTO purge_step (id, {event_column}, month, facet1, facet2, amount)
             SELECT t.id, {event}, {columns} FROM {from}{day_from}
             WHERE t.id IN (SELECT pinned.record_id FROM legal_hold_records pinned WHERE pinned.record_kind = '{kind}')
               AND {governed} AND {event} < ? AND {by_gagged} AND NOT {by_others}{needs}",
            kind = target.kind,
            from = target.from,
            columns = counted.columns,
            day_from = counted.from,
            governed = governed_sql(rule),
            event = target.event,
            needs = not_needed_sql(tx, target),
        ),
        &[b.param(), Param::Int(now), Param::Int(now)],
    )?;
    if set_aside > 0 {
        statistics::add_step(&mut tx.conn, target.stats, target.class.name())?;
        let in_step = in_step(tx.conn.engine());
        if target.table == "patrons" {
            kept_in_secret::set_aside_subscriptions_of(tx, in_step)?;
        }
        kept_in_secret::set_aside(
            tx,
            target,
            rule.disposal,
            in_step,
            kept_in_secret::Why::RetentionEnded,
        )?;
        tx.conn.execute(
            "INSERT INTO purge_progress (run_id, target, part, destroyed) VALUES (?, ?, ?, ?)
             ON CONFLICT (run_id, target, part) DO UPDATE SET destroyed = purge_progress.destroyed + excluded.destroyed",
            params![run_id, target.kind, SECRET_PART, set_aside as i64],
        )?;
    }
    clear_step(tx)?;
    Ok(set_aside as usize)
}

/// The progress row that counts a run's records set aside in secret (see
/// [`set_aside_in_secret`]); workers' rows are numbered from 0.
const SECRET_PART: i64 = -1;

/// Whether records of `kind` (as audit entries name them, `kind:id`) are
/// ever destroyed: the audit log then forgets which entries named them.
pub(crate) fn is_destroyable_kind(kind: &str) -> bool {
    targets::TARGETS.iter().any(|t| t.kind.name() == kind)
}
pub use self::statistics::{dimension_names, has_statistics, report, Report, ReportRow, AGE_BANDS};
pub use self::targets::RecordKind;
use self::targets::{Clock, Target, TARGETS};
use crate::db::Only;
use crate::db::{params, EngineKind, Param, Value};
use crate::disclosures::visibility::{hidden_hold_sql, Viewer};
use crate::error::Error;
use crate::gate::{Actor, AuditLog, Grant, Read, RetentionGrant};
use crate::{Store, Tx};

/// Records destroyed per transaction, at most. On SQLite every commit
/// rewrites every page the transaction touched, and a loan's patron-index
/// entry is on a random page, so the fewer commits the less is written:
/// on 10M loans, batches of 50,000 took 6x a bare DELETE and batches of
/// 500,000 2.7x (`carrel-bench purge`). A long transaction does not keep
/// the desk waiting on SQLite: it ends at the next step as soon as another
/// operation waits for the database (see [`STEP`]). On PostgreSQL nothing
/// at the desk waits for a purge transaction except placing a legal hold.
pub const DEFAULT_BATCH: usize = 500_000;

/// Records one step reads, counts and destroys. A transaction is a series
/// of steps; on SQLite a desk request that arrives waits for the current
/// step at most, so steps are kept short.
pub const STEP: usize = 10_000;

/// The order a purge takes a target's due records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Through the clock's index, in (event, id) order: only records past
    /// their time are read, so a daily purge costs what fell due that day.
    /// But records fall due in another order than they were written (a
    /// loan is returned days after it was made), so each record is on
    /// another page of the table: a purge of millions in this order reads
    /// and writes every page of the table many times over.
    Clock,
    /// In key order, which is the order the table was written in: each
    /// page is read and written once, with all its due records. Records
    /// not due are read and skipped, so this is for a backlog only.
    Key,
}

/// A purge walks a target in key order once at least one in
/// `KEY_WALK_SHARE` of its rows (by id span) are past their time. Measured
/// on 10M loans, PostgreSQL (`carrel-bench purge`): a due record costs
/// about 17 us in clock order and 11 us in key order, and key order reads
/// a record not due for about 1 us, so it wins from about one due in ten.
const KEY_WALK_SHARE: i64 = 8;

/// [`Walk::Key`] when the rows past their time are at least one in
/// [`KEY_WALK_SHARE`] of the id span, else [`Walk::Clock`].
fn walk_for_counts(past: i64, id_span: i64) -> Walk {
    if past > 0 && past.saturating_mul(KEY_WALK_SHARE) >= id_span {
        Walk::Key
    } else {
        Walk::Clock
    }
}

/// Chooses a target's walk for this purge from two cheap counts: its id
/// span (from the key index) and its rows past their time, counted
/// through the clock index only as far as the choice needs.
/// Also returns the target's lowest and highest id, the keys a key walk
/// covers (records written later are not due).
fn walk_for(
    tx: &mut Tx<'_>,
    rule: &RetentionRule,
    target: &Target,
) -> Result<(Walk, (i64, i64)), Error> {
    let ids = tx.conn.query_one(
        &format!(
            "SELECT COALESCE(MIN(id), 0) AS low, COALESCE(MAX(id), 0) AS high FROM {}",
            target.table
        ),
        params![],
    )?;
    let ids = (ids.int("low")?, ids.int("high")?);
    let id_span = ids.1 - ids.0 + 1;
    let enough = id_span / KEY_WALK_SHARE + 1;
    let b = bound(tx, rule, target);
    let past = count(
        tx,
        &format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {} WHERE {} AND {} < ? LIMIT {enough}) past",
            target.from,
            governed_sql(rule),
            target.event
        ),
        &[b.param()],
    )?;
    Ok((walk_for_counts(past, id_span), ids))
}

/// Key ranges `[from, to)` covering `lowest..=highest`, for `workers` to
/// take one at a time: one range for one worker, else eight per worker,
/// so a worker that finishes early takes another's share.
fn key_chunks(lowest: i64, highest: i64, workers: usize) -> Vec<(i64, i64)> {
    let end = highest.saturating_add(1);
    if workers <= 1 {
        return vec![(lowest, end)];
    }
    let count = (workers * 8) as i64;
    let size = ((end - lowest + count - 1) / count).max(1);
    (0..count)
        .map(|i| lowest.saturating_add(i * size))
        .take_while(|&from| from < end)
        .map(|from| (from, from.saturating_add(size).min(end)))
        .collect()
}

/// The scratch table a purge step fills with its due rows: the id, the
/// clock event (for where the next step starts), and what the statistics
/// need (month, each facet's dimension text, amount), computed in the same
/// pass over the clock index. Every later statement of the step reads this
/// table instead of finding the rows again. Temporary, so private to its
/// connection and never in a backup (in memory on SQLite, not WAL-logged
/// on PostgreSQL); created when a connection opens, emptied by every step.
pub(crate) fn step_table_sql(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Sqlite => {
            "CREATE TEMP TABLE IF NOT EXISTS purge_step (id INTEGER PRIMARY KEY, event_at INTEGER, event_on TEXT,
             month TEXT NOT NULL, facet1 TEXT NOT NULL, facet2 TEXT, amount INTEGER NOT NULL)"
        }
        EngineKind::Postgres => {
            "CREATE TEMP TABLE IF NOT EXISTS purge_step (id BIGINT NOT NULL, event_at BIGINT, event_on TEXT,
             month TEXT COLLATE \"C\" NOT NULL, facet1 TEXT COLLATE \"C\" NOT NULL, facet2 TEXT COLLATE \"C\",
             amount BIGINT NOT NULL)"
        }
    }
}

/// `<column> IN (the step's rows)`, written so each engine looks the rows
/// up by key whatever its statistics say: SQLite walks the scratch table
/// and seeks each id; PostgreSQL reads the ids into one array first (an
/// IN-subquery could be planned as a join that scans the whole table).
fn in_step(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Sqlite => "IN (SELECT id FROM purge_step)",
        EngineKind::Postgres => "= ANY(ARRAY(SELECT id FROM purge_step))",
    }
}

fn clear_step(tx: &mut Tx<'_>) -> Result<(), Error> {
    tx.conn.batch(match tx.conn.engine() {
        EngineKind::Sqlite => "DELETE FROM purge_step",
        // A temporary table is not vacuumed: TRUNCATE leaves no dead rows.
        EngineKind::Postgres => "TRUNCATE purge_step",
    })
}

/// The bound a due record's clock event is below, for one target today.
#[derive(Debug, Clone)]
enum Bound {
    Instant(i64),
    Date(String),
}

impl Bound {
    fn param(&self) -> Param<'_> {
        match self {
            Bound::Instant(t) => Param::Int(*t),
            Bound::Date(d) => Param::Text(d),
        }
    }
}

fn rule_of(policy: &Policy, class: RecordClass) -> Option<&RetentionRule> {
    policy.class(class)?.retention.as_ref()
}

/// Today's bound for a rule: events strictly below it are past their time.
/// An instant clock also never counts an event that has not happened yet
/// (a program that ends this evening is not over at noon).
fn bound(tx: &Tx<'_>, rule: &RetentionRule, target: &Target) -> Bound {
    let (today, now, zone) = (tx.today(), tx.now(), tx.policy().library.time_zone);
    match target.clock {
        Clock::Instant => {
            let cut = cutoff_instant(today, rule.keep, zone).timestamp();
            Bound::Instant(cut.min(now.timestamp() + 1))
        }
        // A card's clock starts the day after its last valid day, so it is
        // past its time when expires_on + 1 <= cutoff, i.e. expires_on < cutoff.
        Clock::ExpiryDate => Bound::Date(cutoff_date(today, rule.keep).to_string()),
    }
}

/// SQL true while a legal hold in force pins the row (parameter: now).
/// Written as a probe of the row's own pins first, so the planner never
/// walks every hold in force for each row, whatever its statistics say.
fn held_sql(target: &Target) -> String {
    held_by_sql(target, "1 = 0")
}

/// [`held_sql`], counting only holds `h` for which `hidden` is false (its
/// parameters follow `now`).
fn held_by_sql(target: &Target, hidden: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM legal_hold_records pin
                 WHERE pin.record_kind = '{}' AND pin.record_id = t.id
                   AND EXISTS (SELECT 1 FROM legal_holds h
                               WHERE h.id = pin.hold_id AND h.released_at IS NULL AND h.expires_at > ?
                                 AND NOT {hidden}))",
        target.kind
    )
}

/// SQL true for rows this rule still governs: all of them when they are
/// deleted, only those still linked to a patron when they are anonymised.
fn governed_sql(rule: &RetentionRule) -> &'static str {
    match rule.disposal {
        Disposal::Delete => "1 = 1",
        Disposal::Anonymise => "t.patron_id IS NOT NULL",
    }
}

fn not_needed_sql(tx: &Tx<'_>, target: &Target) -> String {
    target
        .needs
        .iter()
        .map(|(_, sql)| format!(" AND NOT {}", need_sql(tx, sql)))
        .collect()
}

/// A need's SQL with its placeholders filled in: `{now}`, and
/// `{fines_due_before}`, the bound a fine's settlement must be below for
/// this purge to destroy it (no fine is ever due under a policy without a
/// fines rule). Both are numbers Carrel computes, never typed by anyone.
pub(crate) fn need_sql(tx: &Tx<'_>, sql: &str) -> String {
    if !sql.contains('{') {
        return sql.to_string();
    }
    let fines_due_before = rule_of(tx.policy(), RecordClass::Fines)
        .and_then(|rule| {
            let fines = targets::of_class(RecordClass::Fines).next()?;
            match bound(tx, rule, fines) {
                Bound::Instant(at) => Some(at),
                Bound::Date(_) => None,
            }
        })
        .unwrap_or(i64::MIN);
    sql.replace("{fines_due_before}", &fines_due_before.to_string())
        .replace("{now}", &tx.now().timestamp().to_string())
}

/// Counts for one kind of record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TargetPlan {
    /// The kind of record (`loan`, `computer_session`, ...).
    pub kind: RecordKind,
    /// The kind of record's name for people, plural (`loans`, `computer
    /// sessions`).
    pub label: String,
    /// Records held (for anonymised classes: still linked to a patron).
    pub held: i64,
    /// Would be destroyed by a purge now.
    pub due: i64,
    /// Clock not started: the record is in use (item out, session running).
    pub in_use: i64,
    /// What "in use" means for this kind of record.
    pub in_use_means: String,
    /// Clock started, keep period not over.
    pub not_yet_due: i64,
    /// Past their time but pinned by a legal hold in force.
    pub legal_hold: i64,
    /// Past their time but still needed, by reason (a record may have more
    /// than one reason).
    pub kept: Vec<(String, i64)>,
    /// Age in days of the oldest record whose clock has started, and the
    /// number of days its rule allows it.
    #[schema(required = true)]
    pub oldest_age_days: Option<i64>,
    /// How many days the rule keeps that oldest record; `None` when no record's
    /// clock has started.
    #[schema(required = true)]
    pub oldest_limit_days: Option<i64>,
}

/// The plan for one record class: its rule, and counts for each kind of record
/// in it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ClassPlan {
    /// The record class.
    pub class: RecordClass,
    /// The rule in words: "60 days after loan_returned, then delete".
    pub rule: String,
    /// Counts for each kind of record the class holds.
    pub targets: Vec<TargetPlan>,
}

/// What a purge would do now: nothing is changed by making one.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Plan {
    /// The day the plan was made, in the library's time zone.
    pub today: chrono::NaiveDate,
    /// One plan per record class with a retention rule, the audit log last.
    pub classes: Vec<ClassPlan>,
    /// How many legal holds are in force now, among those the viewer may see.
    pub legal_holds_in_force: i64,
}

impl Plan {
    /// How many records a purge would destroy now, over every class.
    pub fn total_due(&self) -> i64 {
        self.classes
            .iter()
            .flat_map(|c| &c.targets)
            .map(|t| t.due)
            .sum()
    }
}

fn describe(rule: &RetentionRule) -> String {
    let dispose = match rule.disposal {
        Disposal::Delete => "delete",
        Disposal::Anonymise => "anonymise",
    };
    format!("{} after {}, then {dispose}", rule.keep, rule.clock.name())
}

fn count(tx: &mut Tx<'_>, sql: &str, params: &[Param<'_>]) -> Result<i64, Error> {
    tx.conn.query_one(sql, params)?.int(Only)
}

/// Counts, per class and kind of record, what is held, due, kept and why
/// (the CLI's dry run). Counts only: no personal data is read. A run with
/// no viewer counts no hold placed for a request under a non-disclosure
/// order (L6): those records count as if unheld.
pub fn plan(store: &Store) -> Result<Plan, Error> {
    store.transact(|tx| plan_in(tx, None))
}

/// [`plan`] for a staff member who may oversee the audit log (the privacy
/// dashboard); the look is recorded. Holds placed for restricted requests
/// the staff member cannot see are not counted: every figure is what it
/// would be had those holds never been placed (L6).
pub fn plan_for(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, AuditLog>,
    actor: &Actor,
) -> Result<Plan, Error> {
    grant.record(tx, None, Some("retention plan".into()));
    let viewer = Viewer::of(tx, actor);
    plan_in(tx, Some(&viewer))
}

fn plan_in(tx: &mut Tx<'_>, viewer: Option<&Viewer>) -> Result<Plan, Error> {
    let (hidden, hidden_params) = hidden_hold_sql(viewer);
    let policy = tx.store.policy.clone();
    let (now, today, zone) = (tx.now(), tx.today(), policy.library.time_zone);
    let mut classes = Vec::new();
    for class in targets::classes_in_order() {
        let Some(rule) = rule_of(&policy, class) else {
            continue;
        };

        let mut plans = Vec::new();
        for target in targets::of_class(class) {
            let b = bound(tx, rule, target);
            let governed = governed_sql(rule);
            let (from, event) = (target.from, target.event);
            let held = count(
                tx,
                &format!("SELECT COUNT(*) FROM {from} WHERE {governed}"),
                params![],
            )?;
            let in_use = count(
                tx,
                &format!("SELECT COUNT(*) FROM {from} WHERE {governed} AND {event} IS NULL"),
                params![],
            )?;
            let not_yet_due = count(
                tx,
                &format!("SELECT COUNT(*) FROM {from} WHERE {governed} AND {event} >= ?"),
                &[b.param()],
            )?;
            let past = format!("{from} WHERE {governed} AND {event} < ?");
            let held_sql = held_by_sql(target, &hidden);
            let now_s = now.timestamp();
            let mut past_params = vec![b.param(), Param::Int(now_s)];
            past_params.extend(hidden_params.iter().cloned());
            let legal_hold = count(
                tx,
                &format!("SELECT COUNT(*) FROM {past} AND {held_sql}"),
                &past_params,
            )?;
            let mut kept = Vec::new();
            for (reason, need) in target.needs {
                let need = need_sql(tx, need);
                let n = count(
                    tx,
                    &format!("SELECT COUNT(*) FROM {past} AND NOT {held_sql} AND {need}"),
                    &past_params,
                )?;
                kept.push((reason.to_string(), n));
            }
            let due = count(
                tx,
                &format!(
                    "SELECT COUNT(*) FROM {past} AND NOT {held_sql}{}",
                    not_needed_sql(tx, target)
                ),
                &past_params,
            )?;
            let oldest = tx.conn.query_one(
                &format!(
                    "SELECT MIN({event}) FROM {from} WHERE {governed} AND {event} IS NOT NULL"
                ),
                params![],
            )?;
            let oldest_event = match (&oldest.values()[0], target.clock) {
                (Value::Int(t), Clock::Instant) => statistics::local_date(*t, zone).ok(),
                (Value::Text(d), Clock::ExpiryDate) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.checked_add_days(Days::new(1))),
                _ => None,
            }
            // A card still valid has not started its clock: not "oldest".
            .filter(|e| *e <= today);
            // Records set aside in secret, for those who see a hold that
            // keeps them (L6): held, pinned while a hold is in force, and
            // then kept only until the next purge, which destroys them
            // without counting them: they were counted as destroyed when
            // they were set aside.
            let (secret_held, secret_pinned) = kept_in_secret::shown_to(tx, viewer, target.kind)?;
            if secret_held > 0 {
                kept.push((
                    kept_in_secret::UNTIL_NEXT_PURGE.to_string(),
                    secret_held - secret_pinned,
                ));
            }
            plans.push(TargetPlan {
                kind: target.kind,
                label: target.label.to_string(),
                held: held + secret_held,
                due,
                in_use,
                in_use_means: target.in_use.to_string(),
                not_yet_due,
                legal_hold: legal_hold + secret_pinned,
                kept,
                oldest_age_days: oldest_event.map(|e| (today - e).num_days()),
                oldest_limit_days: oldest_event.map(|e| limit_days(e, rule)),
            });
        }
        classes.push(ClassPlan {
            class,
            rule: describe(rule),
            targets: plans,
        });
    }
    if let Some(rule) = rule_of(&policy, RecordClass::Audit) {
        classes.push(audit_plan(tx, rule, viewer)?);
    }
    let mut in_force_params = vec![Param::Int(now.timestamp())];
    in_force_params.extend(hidden_params.iter().cloned());
    let legal_holds_in_force = count(
        tx,
        &format!("SELECT COUNT(*) FROM legal_holds h WHERE h.released_at IS NULL AND h.expires_at > ? AND NOT {hidden}"),
        &in_force_params,
    )?;
    Ok(Plan {
        today,
        classes,
        legal_holds_in_force,
    })
}

/// How many days a rule keeps a record whose clock started on `event`.
fn limit_days(event: NaiveDate, rule: &RetentionRule) -> i64 {
    (due_on(event, rule.keep) - event).num_days()
}

/// The audit log's line in a plan: entries held, and the prefix now due.
fn audit_plan(
    tx: &mut Tx<'_>,
    rule: &RetentionRule,
    viewer: Option<&Viewer>,
) -> Result<ClassPlan, Error> {
    let prefix = audit_log::due_prefix(tx, rule)?;
    // Entries of operations on restricted requests the viewer cannot see
    // are not counted (L6): each such operation is one run of entries.
    let (visible, visible_params) = match viewer {
        Some(viewer) => viewer.sql(),
        None => ("1 = 0".to_string(), Vec::new()),
    };
    let mut hidden_params = vec![
        Param::Int(prefix.due_through),
        Param::Text(crate::audit::RESTRICTED_CASE),
        Param::Int(prefix.floor),
    ];
    hidden_params.extend(visible_params);
    let hidden = tx.conn.query_one(
        &format!(
            "SELECT CAST(COALESCE(SUM(s.last_seq - s.first_seq + 1), 0) AS BIGINT) AS held,
                    CAST(COALESCE(SUM(CASE WHEN s.last_seq <= ? THEN s.last_seq - s.first_seq + 1 ELSE 0 END), 0) AS BIGINT) AS due
             FROM audit_subjects s JOIN disclosure_requests r ON r.id = s.id
             WHERE s.kind = ? AND s.first_seq > ? AND r.gagged = 1 AND NOT {visible}"
        ),
        &hidden_params,
    )?;
    let (hidden_held, hidden_due) = (hidden.int("held")?, hidden.int("due")?);
    let held = count(tx, "SELECT COUNT(*) FROM audit_log", params![])? - hidden_held;
    let due = prefix.due() - hidden_due;
    let oldest = tx.conn.query_opt(
        "SELECT at FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1",
        params![prefix.floor],
    )?;
    let zone = tx.policy().library.time_zone;
    let today = tx.today();
    let oldest_event = match oldest {
        Some(row) => statistics::local_date(row.int(Only)?, zone).ok(),
        None => None,
    };
    Ok(ClassPlan {
        class: RecordClass::Audit,
        rule: describe(rule),
        targets: vec![TargetPlan {
            kind: audit_log::KIND,
            label: audit_log::LABEL.to_string(),
            held,
            due,
            in_use: 0,
            in_use_means: "never: an entry's clock starts when it is written".to_string(),
            not_yet_due: held - due,
            legal_hold: 0,
            kept: Vec::new(),
            oldest_age_days: oldest_event.map(|e| (today - e).num_days()),
            oldest_limit_days: oldest_event.map(|e| limit_days(e, rule)),
        }],
    })
}

/// The audit log's part of a purge: one transaction that cuts the due
/// prefix, moves the floor and records both in one audit entry. Returns
/// how many entries it destroyed.
fn purge_audit_log(tx: &mut Tx<'_>, run_id: i64, rule: &RetentionRule) -> Result<i64, Error> {
    if progress_of(tx, run_id, audit_log::KIND)?.1 {
        return Ok(0);
    }
    let (destroyed, floor) = audit_log::destroy_prefix(tx, rule)?;
    tx.conn.execute(
        "INSERT INTO purge_progress (run_id, target, destroyed, finished_at) VALUES (?, ?, ?, ?)",
        params![run_id, audit_log::KIND, destroyed, tx.now().timestamp()],
    )?;
    let detail = format!(
        "purge run {run_id}, {}: destroyed {destroyed} {} (rule: {}); the log now starts after {}{}:{}",
        audit_log::TAGGED_MARK,
        audit_log::LABEL,
        describe(rule),
        audit_log::FLOOR_MARK,
        floor.seq,
        floor.hash
    );
    RetentionGrant::new(RecordClass::Audit).record_floor(tx, detail, floor);
    Ok(destroyed)
}

/// How a purge is run.
#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// Records destroyed per transaction at most ([`DEFAULT_BATCH`] by default;
    /// 0 counts as 1).
    pub batch_size: usize,
    /// Who started it, for the run's record: "cli", "schedule", "staff:7".
    pub started_by: String,
}

impl Default for PurgeOptions {
    fn default() -> Self {
        PurgeOptions {
            batch_size: DEFAULT_BATCH,
            started_by: "cli".into(),
        }
    }
}

/// Reported after every batch, for a progress display.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// The record class being purged.
    pub class: RecordClass,
    /// The kind of record being purged, plural, for people (`loans`).
    pub label: &'a str,
    /// Destroyed so far in this run, for this kind of record.
    pub destroyed: i64,
}

/// What a purge destroyed of one kind of record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PurgedTarget {
    /// The record class.
    pub class: RecordClass,
    /// The kind of record, plural, for people (`loans`).
    pub label: String,
    /// How many records were destroyed (or, for an anonymised class, unlinked
    /// from their patron); those set aside in secret count as destroyed (L6).
    pub destroyed: i64,
}

/// What a purge did: its run, and what it destroyed of each kind of record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PurgeSummary {
    /// The purge run's id; a resumed run keeps the id it started with.
    pub run_id: i64,
    /// The run had been interrupted and this call finished it.
    pub resumed: bool,
    /// What was destroyed, per kind of record.
    pub targets: Vec<PurgedTarget>,
}

impl PurgeSummary {
    /// How many records the purge destroyed in all.
    pub fn total(&self) -> i64 {
        self.targets.iter().map(|t| t.destroyed).sum()
    }
}

/// Taken first by every purge transaction and by placing a legal hold, so
/// the two never interleave. On PostgreSQL (READ COMMITTED) a batch could
/// otherwise select a row, a hold pin it and commit, and the batch delete
/// it anyway: its hold check ran on a snapshot from before the pin. Each
/// later statement sees a snapshot taken after the lock, so whichever
/// comes second sees what the first did. SQLite has one writer already.
pub(crate) fn exclude_concurrent_purge(tx: &mut Tx<'_>) -> Result<(), Error> {
    if tx.conn.engine() == EngineKind::Postgres {
        // A batch of a large purge can hold the lock for seconds; a hold
        // being placed waits for it longer than a desk request would
        // wait for a lock (`Pool::run`'s `lock_timeout`), for this
        // transaction only.
        tx.conn.batch(&format!(
            "SET LOCAL lock_timeout = '60s'; SELECT pg_advisory_xact_lock({PURGE_LOCK})"
        ))?;
    }
    Ok(())
}

/// [`exclude_concurrent_purge`] for a purge batch (and a desk deletion):
/// shared, so the batches of a purge's workers run beside each other, and
/// a legal hold being placed waits for all of them (and they for it).
pub(crate) fn share_purge_lock(tx: &mut Tx<'_>) -> Result<(), Error> {
    if tx.conn.engine() == EngineKind::Postgres {
        tx.conn.batch(&format!(
            "SELECT pg_advisory_xact_lock_shared({PURGE_LOCK})"
        ))?;
    }
    Ok(())
}

/// The PostgreSQL advisory lock of [`exclude_concurrent_purge`] (one per
/// database; public so a test can hold it as a purge would).
pub const PURGE_LOCK: i64 = 7302;

/// The PostgreSQL advisory lock a purge holds for its whole run, on a
/// connection of its own (`Pool::lock_purge_run`): one purge at a time.
pub(crate) const PURGE_RUN_LOCK: i64 = 7303;

/// Taken first in every purge transaction but the batches: its row lock
/// makes two purges of one SQLite database (the schedule and an operator)
/// take turns; on PostgreSQL the run lock already keeps them apart.
fn claim_run(tx: &mut Tx<'_>, run_id: i64) -> Result<(), Error> {
    exclude_concurrent_purge(tx)?;
    let lock = tx.conn.for_update();
    tx.conn.query_one(
        &format!("SELECT id FROM purge_runs WHERE id = ?{lock}"),
        params![run_id],
    )?;
    Ok(())
}

fn progress_of(tx: &mut Tx<'_>, run_id: i64, kind: RecordKind) -> Result<(i64, bool), Error> {
    // One row per worker; the finish is marked on part 0.
    let row = tx.conn.query_one(
        "SELECT CAST(COALESCE(SUM(destroyed), 0) AS BIGINT) AS destroyed, MAX(finished_at) AS finished_at FROM purge_progress
         WHERE run_id = ? AND target = ?",
        params![run_id, kind],
    )?;
    Ok((row.int("destroyed")?, row.opt_int("finished_at")?.is_some()))
}

/// Destroys everything due, class by class. Resumes an interrupted run.
pub fn purge(
    store: &Store,
    options: &PurgeOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<PurgeSummary, Error> {
    let batch_size = options.batch_size.max(1);
    let _one_purge_at_a_time = store.pool.lock_purge_run()?;
    let (run_id, resumed) = store.transact(|tx| {
        if let Some(row) = tx.conn.query_opt(
            "SELECT id FROM purge_runs WHERE finished_at IS NULL ORDER BY id LIMIT 1",
            params![],
        )? {
            return Ok((row.int(Only)?, true));
        }
        let id = tx.conn.insert(
            "INSERT INTO purge_runs (started_at, started_by) VALUES (?, ?)",
            params![tx.now().timestamp(), &options.started_by],
        )?;
        Ok((id, false))
    })?;

    let policy = store.policy.clone();
    let mut purged_tables = Vec::new();
    for class in targets::classes_in_order() {
        let Some(rule) = rule_of(&policy, class) else {
            continue;
        };

        for target in targets::of_class(class) {
            let (mut destroyed, finished) =
                store.transact(|tx| progress_of(tx, run_id, target.kind))?;
            if finished {
                continue;
            }
            let (released, set_aside, walk, (lowest, highest)) = store.transact(|tx| {
                claim_run(tx, run_id)?;
                let released = kept_in_secret::destroy_released(tx, target)?;
                // No pin outlives its hold to point at a destroyed record;
                // once per target per purge, instead of once per batch.
                kept_in_secret::drop_ended_pins(tx, target.kind, "IS NOT NULL")?;
                let set_aside = set_aside_in_secret(tx, run_id, rule, target)?;
                let (walk, ids) = walk_for(tx, rule, target)?;
                Ok((released, set_aside, walk, ids))
            })?;
            if released + set_aside > 0 {
                for table in [
                    target.table,
                    "kept_in_secret",
                    "audit_log",
                    "audit_subjects",
                ] {
                    if !purged_tables.contains(&table) {
                        purged_tables.push(table);
                    }
                }
            }
            // Shown as destroyed, as they would have been (L6).
            if set_aside > 0 {
                destroyed += set_aside as i64;
                progress(&Progress {
                    class,
                    label: target.label,
                    destroyed,
                });
            }
            let (workers, chunks) = match walk {
                Walk::Clock => (1, vec![(i64::MIN, i64::MAX)]),
                Walk::Key => {
                    let workers = store.pool.purge_workers();
                    (workers, key_chunks(lowest, highest, workers))
                }
            };
            let pass = Pass {
                run_id,
                rule,
                target,
                walk,
                part: 0,
                ids: (i64::MIN, i64::MAX),
            };
            walk_target(store, &pass, &chunks, workers, batch_size, &mut |n| {
                destroyed += n as i64;
                // The audit log's erased record ids too (PostgreSQL keeps
                // the old row versions until VACUUM), and the statistics'
                // pending rows, written in step order.
                for table in [
                    target.table,
                    "audit_log",
                    "audit_subjects",
                    "statistics_pending",
                    "statistics",
                ] {
                    if !purged_tables.contains(&table) {
                        purged_tables.push(table);
                    }
                }
                progress(&Progress {
                    class,
                    label: target.label,
                    destroyed,
                });
            })?;
        }
        store.transact(|tx| {
            claim_run(tx, run_id)?;
            finish_class(tx, run_id, class, rule)
        })?;
    }
    // The audit log last: the entries this purge wrote above are new, and
    // never due.
    if let Some(rule) = rule_of(&policy, RecordClass::Audit) {
        let destroyed = store.transact(|tx| {
            claim_run(tx, run_id)?;
            purge_audit_log(tx, run_id, rule)
        })?;
        if destroyed > 0 && !purged_tables.contains(&"audit_log") {
            purged_tables.push("audit_log");
        }
    }
    // Failed sign-ins whose window has passed count nothing; among them
    // are pseudonyms of card numbers that exist nowhere, which must not
    // pile up. Known devices whose time is up are known no more.
    store.transact(|tx| {
        claim_run(tx, run_id)?;
        crate::attempts::forget_passed_windows(tx)?;
        crate::known_devices::forget_expired(tx)
    })?;
    let targets = store.transact(|tx| {
        claim_run(tx, run_id)?;
        tx.conn.execute(
            "UPDATE purge_runs SET finished_at = ? WHERE id = ? AND finished_at IS NULL",
            params![tx.now().timestamp(), run_id],
        )?;
        let mut out = Vec::new();
        for target in TARGETS {
            if rule_of(&policy, target.class).is_none() {
                continue;
            }
            out.push(PurgedTarget {
                class: target.class,
                label: target.label.to_string(),
                destroyed: progress_of(tx, run_id, target.kind)?.0,
            });
        }
        if rule_of(&policy, RecordClass::Audit).is_some() {
            out.push(PurgedTarget {
                class: RecordClass::Audit,
                label: audit_log::LABEL.to_string(),
                destroyed: progress_of(tx, run_id, audit_log::KIND)?.0,
            });
        }
        Ok(out)
    })?;
    store.pool.after_purge(&purged_tables)?;
    Ok(PurgeSummary {
        run_id,
        resumed,
        targets,
    })
}

/// One worker's walk over one target (in a key walk, over one range of
/// its keys) in one purge run: what each of its batches needs.
#[derive(Clone, Copy)]
struct Pass<'a> {
    run_id: i64,
    rule: &'a RetentionRule,
    target: &'static Target,
    walk: Walk,
    /// The worker, whose progress row the batches add to.
    part: i64,
    /// Keys `[from, to)` of a key walk.
    ids: (i64, i64),
}

/// Walks the chunks of one target with `workers` threads, each taking the
/// next chunk when done with one, and calls `on_batch` (on this thread)
/// with each committed batch's count. The first error stops the workers
/// at their next chunk and is returned.
fn walk_target(
    store: &Store,
    pass: &Pass<'_>,
    chunks: &[(i64, i64)],
    workers: usize,
    batch_size: usize,
    on_batch: &mut dyn FnMut(usize),
) -> Result<(), Error> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (sender, committed) = mpsc::channel::<usize>();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|part| {
                let (sender, next, failed) = (sender.clone(), &next, &failed);
                scope.spawn(move || {
                    let result = (|| loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= chunks.len() || failed.load(Ordering::SeqCst) {
                            return Ok(());
                        }
                        let chunk = Pass {
                            part: part as i64,
                            ids: chunks[i],
                            ..*pass
                        };
                        walk_chunk(store, &chunk, batch_size, &|n| {
                            // The receiver lives until every worker ends.
                            let _ = sender.send(n);
                        })?;
                    })();
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    result
                })
            })
            .collect();
        drop(sender);
        for n in committed {
            on_batch(n);
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a purge worker panicked"))
            .collect::<Result<Vec<()>, Error>>()
            .map(|_| ())
    })
}

/// One worker's walk over one chunk, batch by batch until nothing due is
/// left in it. Batches take the purge lock shared, so workers run beside
/// each other and placing a legal hold waits for all of them.
fn walk_chunk(
    store: &Store,
    pass: &Pass<'_>,
    batch_size: usize,
    report: &dyn Fn(usize),
) -> Result<(), Error> {
    let mut after: Option<(Value, i64)> = None;
    loop {
        let batch = store.transact_long(|tx, desk_waiting| {
            share_purge_lock(tx)?;
            destroy_batch(tx, pass, after.clone(), batch_size, desk_waiting)
        })?;
        if batch.destroyed > 0 {
            report(batch.destroyed);
        }
        if batch.finished {
            return Ok(());
        }
        store.pool.between_batches()?;
        after = batch.last;
    }
}

/// What one purge transaction did for one target.
struct Batch {
    /// Records destroyed.
    destroyed: usize,
    /// The (event, id) key of the last record destroyed: the next batch
    /// starts after it.
    last: Option<(Value, i64)>,
    /// No due record is left for this target.
    finished: bool,
}

/// What one step of one target did.
struct Step {
    destroyed: usize,
    /// The (event, id) key of the last record destroyed.
    last: Option<(Value, i64)>,
}

/// One transaction's worth of one target: steps of [`STEP`] records until
/// `batch_size` are destroyed, none are left, or (SQLite) a desk request is
/// waiting for the database.
fn destroy_batch(
    tx: &mut Tx<'_>,
    pass: &Pass<'_>,
    mut after: Option<(Value, i64)>,
    batch_size: usize,
    desk_waiting: &dyn Fn() -> bool,
) -> Result<Batch, Error> {
    let mut destroyed = 0;
    loop {
        let limit = STEP.min(batch_size - destroyed);
        let step = destroy_step(tx, pass, after.as_ref(), limit)?;
        let n = step.destroyed;
        destroyed += n;
        if step.last.is_some() {
            after = step.last;
        }
        if n < limit || destroyed >= batch_size || desk_waiting() {
            return Ok(Batch {
                destroyed,
                last: after,
                finished: n < limit,
            });
        }
    }
}

/// One step of one target, in the caller's transaction: find the next
/// `limit` due rows in the walk's order (locking them on PostgreSQL where
/// the desk can move their clock) into the scratch table, with what their
/// statistics need; add them to the statistics; unlink what points at
/// them; destroy them; count them in the run's progress.
fn destroy_step(
    tx: &mut Tx<'_>,
    pass: &Pass<'_>,
    after: Option<&(Value, i64)>,
    limit: usize,
) -> Result<Step, Error> {
    let (run_id, rule, target, walk) = (pass.run_id, pass.rule, pass.target, pass.walk);
    let engine = tx.conn.engine();
    let zone = tx.policy().library.time_zone;
    let b = bound(tx, rule, target);
    let now = tx.now().timestamp();
    let event = target.event;
    let lock = match engine {
        EngineKind::Postgres if target.lock_rows => " FOR UPDATE OF t",
        _ => "",
    };
    let event_column = target.clock.step_column();
    let (order, last_order) = match walk {
        Walk::Clock => (
            format!("{event}, t.id"),
            format!("{event_column} DESC, id DESC"),
        ),
        Walk::Key => ("t.id".to_string(), "id DESC".to_string()),
    };
    // Where the step starts. In clock order, after the last key with a
    // row-value comparison, which both engines turn into one index range in
    // (event, id) order (the equivalent OR makes SQLite read every
    // remaining row and sort them, each step). In key order, after the last
    // id within the worker's chunk.
    let (keyset, keys) = match (walk, after) {
        (Walk::Clock, None) => (String::new(), Vec::new()),
        (Walk::Clock, Some((key, id))) => (
            format!(" AND ({event}, t.id) > (?, ?)"),
            vec![value_param(key), Param::Int(*id)],
        ),
        (Walk::Key, after) => {
            let (from, to) = pass.ids;
            let after_id = after.map_or(from.saturating_sub(1), |(_, id)| *id);
            (
                " AND t.id > ? AND t.id < ?".to_string(),
                vec![Param::Int(after_id), Param::Int(to)],
            )
        }
    };
    let counted = target.stats.columns_sql(zone, engine);
    let sql = format!(
        "INSERT INTO purge_step (id, {event_column}, month, facet1, facet2, amount)
         SELECT t.id, {event}, {columns} FROM {from}{day_from}
         WHERE {governed} AND {event} < ?{keyset} AND NOT {held}{needs}
         ORDER BY {order} LIMIT {limit}{lock}",
        columns = counted.columns,
        day_from = counted.from,
        from = target.from,
        governed = governed_sql(rule),
        held = held_sql(target),
        needs = not_needed_sql(tx, target),
    );
    let mut params = vec![b.param()];
    params.extend(keys);
    params.push(Param::Int(now));
    let n = tx.conn.execute(&sql, &params)? as usize;
    if n == 0 {
        return Ok(Step {
            destroyed: 0,
            last: None,
        });
    }
    let last = tx.conn.query_one(
        &format!("SELECT {event_column}, id FROM purge_step ORDER BY {last_order} LIMIT 1"),
        params![],
    )?;
    let last = (last.values()[0].clone(), last.int("id")?);
    let in_step = in_step(engine);
    statistics::add_step(&mut tx.conn, target.stats, target.class.name())?;
    // Whichever the disposal, the record no longer links its patron to
    // anything, so neither may the audit entries of its operations.
    crate::audit::forget_records(tx, target.kind, in_step, &[])?;
    // So may no disclosure package kept for download (a copy of them).
    crate::disclosures::package::erase_packages_holding(
        tx,
        target.class,
        &format!("{} t WHERE t.id {in_step}", target.table),
        target.patron_column(),
        None,
    )?;
    // A subscription only a restricted case's hold pins is not deleted
    // with its registration, but set aside (L6).
    if target.table == "patrons" {
        kept_in_secret::set_aside_subscriptions_of(tx, in_step)?;
    }
    target.dispose(&mut tx.conn, rule.disposal, in_step)?;
    tx.conn.execute(
        "INSERT INTO purge_progress (run_id, target, part, destroyed) VALUES (?, ?, ?, ?)
         ON CONFLICT (run_id, target, part) DO UPDATE SET destroyed = purge_progress.destroyed + excluded.destroyed",
        params![run_id, target.kind, pass.part, n as i64],
    )?;
    clear_step(tx)?;
    Ok(Step {
        destroyed: n,
        last: Some(last),
    })
}

fn value_param(v: &Value) -> Param<'_> {
    match v {
        Value::Int(i) => Param::Int(*i),
        Value::Text(t) => Param::Text(t),
        Value::Null => Param::Null,
    }
}

/// Marks a class done in this run and writes its one audit entry, unless
/// another purge already did; adds its pending statistics to their cells.
fn finish_class(
    tx: &mut Tx<'_>,
    run_id: i64,
    class: RecordClass,
    rule: &RetentionRule,
) -> Result<(), Error> {
    // Before anything else: a class another purge finished may still have
    // pending counts, from a run stopped after its last step.
    statistics::merge_pending(&mut tx.conn, class.name())?;
    let mut counts = Vec::new();
    let mut newly_finished = false;
    for target in targets::of_class(class) {
        let (destroyed, finished) = progress_of(tx, run_id, target.kind)?;
        if !finished {
            newly_finished = true;
            tx.conn.execute(
                "INSERT INTO purge_progress (run_id, target, destroyed, finished_at) VALUES (?, ?, 0, ?)
                 ON CONFLICT (run_id, target, part) DO UPDATE SET finished_at = excluded.finished_at",
                params![run_id, target.kind, tx.now().timestamp()],
            )?;
        }
        counts.push(format!("{destroyed} {}", target.label));
    }
    if !newly_finished {
        return Ok(());
    }
    for target in targets::of_class(class) {
        if let Some(statement) = target.after_class {
            let b = bound(tx, rule, target);
            tx.conn.execute(statement, &[b.param()])?;
        }
    }
    let verb = match rule.disposal {
        Disposal::Delete => "destroyed",
        Disposal::Anonymise => "anonymised",
    };
    RetentionGrant::new(class).record(
        tx,
        format!(
            "purge run {run_id}: {verb} {} (rule: {})",
            counts.join(", "),
            describe(rule)
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;
    use crate::AuditKey;

    const DAY: i64 = 86_400;
    const MISSOURI: &str = include_str!("../../../../../policies/jefferson-county-mo.toml");

    #[test]
    fn d1_a_backlog_walks_in_key_order_and_a_daily_purge_in_clock_order() {
        assert_eq!(walk_for_counts(0, 0), Walk::Clock, "nothing past its time");
        assert_eq!(walk_for_counts(3, 40), Walk::Clock);
        assert_eq!(walk_for_counts(5, 40), Walk::Key, "one in eight");
        assert_eq!(
            walk_for_counts(30_000, 10_000_000),
            Walk::Clock,
            "a day of 10M"
        );
        assert_eq!(walk_for_counts(7_900_000, 10_000_000), Walk::Key);
    }

    #[test]
    fn d1_key_chunks_cover_every_key_once() {
        assert_eq!(key_chunks(5, 44, 1), vec![(5, 45)]);
        for (lowest, highest, workers) in [(1, 40, 2), (1, 3, 2), (7, 7, 2), (1, 10_000_000, 3)] {
            let chunks = key_chunks(lowest, highest, workers);
            assert!(chunks.len() <= workers * 8 && !chunks.is_empty());
            assert_eq!(chunks[0].0, lowest);
            assert_eq!(chunks.last().unwrap().1, highest + 1);
            assert!(chunks
                .windows(2)
                .all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1));
        }
    }

    /// Forty loans returned on forty different days, in another order
    /// than they were made (as loans are), one with an unpaid fine. A few
    /// due (clock order) and then most (key order), purged a few per
    /// transaction so each walk resumes after its last record: exactly
    /// the loans past their time go, each counted once in the statistics.
    fn check(url: &crate::db::DatabaseUrl) {
        let policy = carrel_policy::parse("mo", MISSOURI).unwrap();
        let zone = policy.library.time_zone;
        let keep = rule_of(&policy, RecordClass::Circulation).unwrap().keep;
        let base: i64 = 1_770_000_000;
        let now = Arc::new(AtomicI64::new(base));
        let clock_now = now.clone();
        let store = Store::open(url, policy, MISSOURI, AuditKey::generate().unwrap())
            .unwrap()
            .with_clock(Arc::new(move || {
                DateTime::from_timestamp(clock_now.load(Ordering::SeqCst), 0).unwrap()
            }));
        let returned = |id: i64| base + ((id * 17) % 40 + 1) * DAY;
        store
            .transact(|tx| {
                tx.conn.batch(
                    "INSERT INTO patrons (id, card_barcode, category, status, expires_on, birth_date, created_at, updated_at)
                     VALUES (1, '29000000000001', 'adult', 'active', '2040-01-01', '1980-01-01', 0, 0)",
                )?;
                for id in 1..=40i64 {
                    tx.conn.execute(
                        "INSERT INTO items (id, barcode, title, status, created_at) VALUES (?, ?, 'T', 'available', 0)",
                        params![id, &format!("3100000000{id:04}")],
                    )?;
                    tx.conn.execute(
                        "INSERT INTO loans (id, patron_id, item_id, checked_out_at, due_at, renewals, returned_at, borrower_category, borrower_age_band)
                         VALUES (?, 1, ?, ?, ?, 0, ?, 'adult', '45-64')",
                        params![id, id, base - 30 * DAY, base, returned(id)],
                    )?;
                }
                tx.conn.batch(
                    "INSERT INTO fines (patron_id, loan_id, amount_cents, reason, assessed_at)
                     VALUES (1, 5, 150, 'overdue', 0)",
                )?;
                Ok(())
            })
            .unwrap();
        let loans = || {
            store
                .transact(|tx| {
                    tx.conn
                        .query("SELECT id FROM loans ORDER BY id", params![])?
                        .iter()
                        .map(|r| r.int(Only))
                        .collect::<Result<Vec<i64>, _>>()
                })
                .unwrap()
        };
        let counted = || {
            store
                .transact(|tx| {
                    count(
                        tx,
                        "SELECT COALESCE(CAST(SUM(records) AS BIGINT), 0) FROM statistics
                         WHERE record_class = 'circulation' AND dimensions LIKE 'item=%'",
                        params![],
                    )
                })
                .unwrap()
        };
        let rule = rule_of(store.policy(), RecordClass::Circulation)
            .unwrap()
            .clone();
        let target = targets::of_class(RecordClass::Circulation).next().unwrap();

        for (days_on, walk, batch_size) in [(63, Walk::Clock, 2), (95, Walk::Key, 3)] {
            now.store(base + days_on * DAY, Ordering::SeqCst);
            let cut = cutoff_instant(store.today(), keep, zone).timestamp();
            let expected: Vec<i64> = loans()
                .into_iter()
                .filter(|&id| id == 5 || returned(id) >= cut)
                .collect();
            let destroyed = (loans().len() - expected.len()) as i64;
            assert!(destroyed >= 3, "{destroyed} loans due on day {days_on}");
            assert_eq!(
                store.transact(|tx| walk_for(tx, &rule, target)).unwrap().0,
                walk,
                "{destroyed} loans due on day {days_on}"
            );
            let before = counted();
            let options = PurgeOptions {
                batch_size,
                started_by: "test".into(),
            };
            let summary = purge(&store, &options, &mut |_| {}).unwrap();
            assert_eq!(
                loans(),
                expected,
                "{walk:?}: exactly the loans due are gone"
            );
            let loans_target = summary.targets.iter().find(|t| t.label == "loans");
            assert_eq!(loans_target.unwrap().destroyed, destroyed, "{walk:?}");
            assert_eq!(counted() - before, destroyed, "{walk:?}: each counted once");
            // On PostgreSQL (three connections) a key walk runs two workers,
            // each counting its progress in its own row (one of them may
            // find every chunk taken).
            let parts = store
                .transact(|tx| {
                    count(
                        tx,
                        "SELECT COUNT(*) FROM purge_progress WHERE run_id = ? AND target = 'loan'",
                        params![summary.run_id],
                    )
                })
                .unwrap();
            let workers = match walk {
                Walk::Key => store.pool.purge_workers() as i64,
                Walk::Clock => 1,
            };
            assert!(
                (1..=workers).contains(&parts),
                "{walk:?} on {:?}: {parts} progress rows",
                store.engine()
            );
        }
    }

    /// On PostgreSQL a purge waits while another process's purge runs (its
    /// workers must not walk the same records), and starts when it ends.
    fn waits(url: &crate::db::DatabaseUrl) {
        let store = Store::open(
            url,
            carrel_policy::parse("mo", MISSOURI).unwrap(),
            MISSOURI,
            AuditKey::generate().unwrap(),
        )
        .unwrap();
        if store.engine() != EngineKind::Postgres {
            return;
        }
        let other = store.pool.lock_purge_run().unwrap();
        std::thread::scope(|scope| {
            let purge = scope.spawn(|| purge(&store, &PurgeOptions::default(), &mut |_| {}));
            std::thread::sleep(std::time::Duration::from_millis(500));
            assert!(!purge.is_finished(), "a purge started while another ran");
            drop(other);
            let summary = purge.join().unwrap().unwrap();
            assert!(!summary.resumed);
        });
    }

    #[test]
    fn d1_a_purge_waits_for_another_in_progress() {
        crate::db::on_both_databases("purge_lock", waits);
    }

    #[test]
    fn d1_either_walk_destroys_exactly_the_due_records_on_both_engines() {
        crate::db::on_both_databases("walk", check);
    }
}
