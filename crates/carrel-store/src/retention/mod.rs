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
//! A purge walks each target's due rows in (event, id) order through the
//! clock column's index, in batches. Each batch is one transaction: it adds
//! the rows to the statistics, destroys them, and adds their number to the
//! run's progress row. A purge killed at any point therefore leaves the
//! database consistent (every destroyed row counted once, in statistics and
//! in progress), and the next run resumes the unfinished run. When a class
//! is done, one audit entry records its counts: never one per person.
//! A daily purge reads only the rows that fell due since the last one (and
//! any kept past their time), not the table.

mod audit_log;
mod statistics;
pub(crate) mod targets;

use carrel_policy::retention::{cutoff_date, cutoff_instant, due_on};
use carrel_policy::{Disposal, Policy, RecordClass, RetentionRule};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

pub(crate) use self::audit_log::FLOOR_MARK;
use self::statistics::Cells;
pub use self::statistics::{report, Report, ReportRow, AGE_BANDS};
use self::targets::{Clock, Target, TARGETS};
use crate::db::{params, EngineKind, Param, Row, Value};
use crate::error::Error;
use crate::gate::{AuditLog, Grant, Read, RetentionGrant};
use crate::{Store, Tx};

/// Rows destroyed per transaction. On SQLite each commit rewrites every
/// page the batch touched, and a loan's patron-index entry is on a random
/// page, so small batches rewrite the same pages over and over: on 1M
/// loans, 5,000 took 45.8 s where 50,000 took 14.3 s (`carrel-bench
/// purge`). A batch of 50,000 holds the SQLite writer about a second on
/// 1M loans, several on 10M; a daily purge is usually one batch.
pub const DEFAULT_BATCH: usize = 50_000;

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
fn bound(
    rule: &RetentionRule,
    target: &Target,
    today: NaiveDate,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> Bound {
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
    format!(
        "EXISTS (SELECT 1 FROM legal_hold_records r
                 WHERE r.record_kind = '{}' AND r.record_id = t.id
                   AND EXISTS (SELECT 1 FROM legal_holds h
                               WHERE h.id = r.hold_id AND h.released_at IS NULL AND h.expires_at > ?))",
        target.kind
    )
}

/// Removes the pins of holds no longer in force, so no pin outlives its
/// hold to point at a destroyed record (or at a new record that reuses
/// its id). Once per target per purge, instead of once per batch.
fn unpin_ended_holds(tx: &mut Tx<'_>, target: &Target) -> Result<(), Error> {
    tx.conn.execute(
        "DELETE FROM legal_hold_records WHERE record_kind = ? AND hold_id IN
           (SELECT id FROM legal_holds WHERE released_at IS NOT NULL OR expires_at <= ?)",
        params![target.kind, tx.now().timestamp()],
    )?;
    Ok(())
}

/// SQL true for rows this rule still governs: all of them when they are
/// deleted, only those still linked to a patron when they are anonymised.
fn governed_sql(rule: &RetentionRule) -> &'static str {
    match rule.disposal {
        Disposal::Delete => "1 = 1",
        Disposal::Anonymise => "t.patron_id IS NOT NULL",
    }
}

fn not_needed_sql(target: &Target) -> String {
    target
        .needs
        .iter()
        .map(|(_, sql)| format!(" AND NOT {sql}"))
        .collect()
}

/// Counts for one kind of record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TargetPlan {
    pub kind: String,
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
    pub oldest_age_days: Option<i64>,
    pub oldest_limit_days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClassPlan {
    pub class: String,
    /// The rule in words: "60 days after loan_returned, then delete".
    pub rule: String,
    pub targets: Vec<TargetPlan>,
}

/// What a purge would do now: nothing is changed by making one.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Plan {
    pub today: String,
    pub classes: Vec<ClassPlan>,
    pub legal_holds_in_force: i64,
}

impl Plan {
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
    tx.conn.query_one(sql, params)?.int(0)
}

/// Counts, per class and kind of record, what is held, due, kept and why
/// (the CLI's dry run). Counts only: no personal data is read.
pub fn plan(store: &Store) -> Result<Plan, Error> {
    store.transact(plan_in)
}

/// [`plan`] for a staff member who may oversee the audit log (the privacy
/// dashboard); the look is recorded.
pub fn plan_for(tx: &mut Tx<'_>, grant: &Grant<Read, AuditLog>) -> Result<Plan, Error> {
    grant.record(tx, None, Some("retention plan".into()));
    plan_in(tx)
}

fn plan_in(tx: &mut Tx<'_>) -> Result<Plan, Error> {
    let policy = tx.store.policy.clone();
    let (now, today, zone) = (tx.now(), tx.today(), policy.library.time_zone);
    let mut classes = Vec::new();
    for class in targets::classes_in_order() {
        let Some(rule) = rule_of(&policy, class) else {
            continue;
        };

        let mut plans = Vec::new();
        for target in targets::of_class(class) {
            let b = bound(rule, target, today, now, zone);
            let (from, event, governed) = (target.from, target.event, governed_sql(rule));
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
            let held_sql = held_sql(target);
            let now_s = now.timestamp();
            let legal_hold = count(
                tx,
                &format!("SELECT COUNT(*) FROM {past} AND {held_sql}"),
                &[b.param(), Param::Int(now_s)],
            )?;
            let mut kept = Vec::new();
            for (reason, need) in target.needs {
                let n = count(
                    tx,
                    &format!("SELECT COUNT(*) FROM {past} AND NOT {held_sql} AND {need}"),
                    &[b.param(), Param::Int(now_s)],
                )?;
                kept.push((reason.to_string(), n));
            }
            let due = count(
                tx,
                &format!(
                    "SELECT COUNT(*) FROM {past} AND NOT {held_sql}{}",
                    not_needed_sql(target)
                ),
                &[b.param(), Param::Int(now_s)],
            )?;
            let oldest = tx.conn.query_one(
                &format!(
                    "SELECT MIN({event}) FROM {from} WHERE {governed} AND {event} IS NOT NULL"
                ),
                params![],
            )?;
            let oldest_event = match (&oldest.0[0], target.clock) {
                (Value::Int(t), Clock::Instant) => statistics::local_date(*t, zone).ok(),
                (Value::Text(d), Clock::ExpiryDate) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.checked_add_days(Days::new(1))),
                _ => None,
            }
            // A card still valid has not started its clock: not "oldest".
            .filter(|e| *e <= today);
            plans.push(TargetPlan {
                kind: target.kind.to_string(),
                label: target.label.to_string(),
                held,
                due,
                in_use,
                in_use_means: target.in_use.to_string(),
                not_yet_due,
                legal_hold,
                kept,
                oldest_age_days: oldest_event.map(|e| (today - e).num_days()),
                oldest_limit_days: oldest_event.map(|e| limit_days(e, rule)),
            });
        }
        classes.push(ClassPlan {
            class: class.name().to_string(),
            rule: describe(rule),
            targets: plans,
        });
    }
    if let Some(rule) = rule_of(&policy, RecordClass::Audit) {
        classes.push(audit_plan(tx, rule)?);
    }
    let legal_holds_in_force = count(
        tx,
        "SELECT COUNT(*) FROM legal_holds WHERE released_at IS NULL AND expires_at > ?",
        params![now.timestamp()],
    )?;
    Ok(Plan {
        today: today.to_string(),
        classes,
        legal_holds_in_force,
    })
}

/// How many days a rule keeps a record whose clock started on `event`.
fn limit_days(event: NaiveDate, rule: &RetentionRule) -> i64 {
    (due_on(event, rule.keep) - event).num_days()
}

/// The audit log's line in a plan: entries held, and the prefix now due.
fn audit_plan(tx: &mut Tx<'_>, rule: &RetentionRule) -> Result<ClassPlan, Error> {
    let prefix = audit_log::due_prefix(tx, rule)?;
    let held = count(tx, "SELECT COUNT(*) FROM audit_log", params![])?;
    let oldest = tx.conn.query_opt(
        "SELECT at FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1",
        params![prefix.floor],
    )?;
    let zone = tx.policy().library.time_zone;
    let today = tx.today();
    let oldest_event = match oldest {
        Some(row) => statistics::local_date(row.int(0)?, zone).ok(),
        None => None,
    };
    Ok(ClassPlan {
        class: RecordClass::Audit.name().to_string(),
        rule: describe(rule),
        targets: vec![TargetPlan {
            kind: audit_log::KIND.to_string(),
            label: audit_log::LABEL.to_string(),
            held,
            due: prefix.due(),
            in_use: 0,
            in_use_means: "never: an entry's clock starts when it is written".to_string(),
            not_yet_due: held - prefix.due(),
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
    RetentionGrant::new(RecordClass::Audit).record(
        tx,
        format!(
            "purge run {run_id}: destroyed {destroyed} {} (rule: {}); the log now starts after {}{floor}",
            audit_log::LABEL,
            describe(rule),
            audit_log::FLOOR_MARK
        ),
    );
    Ok(destroyed)
}

/// How a purge is run.
#[derive(Debug, Clone)]
pub struct PurgeOptions {
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
    pub class: RecordClass,
    pub label: &'a str,
    /// Destroyed so far in this run, for this kind of record.
    pub destroyed: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PurgedTarget {
    pub class: String,
    pub label: String,
    pub destroyed: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PurgeSummary {
    pub run_id: i64,
    /// The run had been interrupted and this call finished it.
    pub resumed: bool,
    pub targets: Vec<PurgedTarget>,
}

impl PurgeSummary {
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
        tx.conn.batch("SELECT pg_advisory_xact_lock(7302)")?;
    }
    Ok(())
}

/// The purge's own row lock, taken first in every purge transaction: two
/// purges at once (the schedule and an operator) take turns batch by batch.
fn claim_run(tx: &mut Tx<'_>, run_id: i64) -> Result<(), Error> {
    exclude_concurrent_purge(tx)?;
    let lock = tx.conn.for_update();
    tx.conn.query_one(
        &format!("SELECT id FROM purge_runs WHERE id = ?{lock}"),
        params![run_id],
    )?;
    Ok(())
}

fn progress_of(tx: &mut Tx<'_>, run_id: i64, kind: &str) -> Result<(i64, bool), Error> {
    let row = tx.conn.query_opt(
        "SELECT destroyed, finished_at FROM purge_progress WHERE run_id = ? AND target = ?",
        params![run_id, kind],
    )?;
    Ok(match row {
        Some(r) => (r.int(0)?, r.opt_int(1)?.is_some()),
        None => (0, false),
    })
}

/// Destroys everything due, class by class. Resumes an interrupted run.
pub fn purge(
    store: &Store,
    options: &PurgeOptions,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<PurgeSummary, Error> {
    let batch_size = options.batch_size.max(1);
    let (run_id, resumed) = store.transact(|tx| {
        if let Some(row) = tx.conn.query_opt(
            "SELECT id FROM purge_runs WHERE finished_at IS NULL ORDER BY id LIMIT 1",
            params![],
        )? {
            return Ok((row.int(0)?, true));
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
            store.transact(|tx| {
                claim_run(tx, run_id)?;
                unpin_ended_holds(tx, target)
            })?;
            let mut after: Option<(Value, i64)> = None;
            loop {
                let (n, last) = store.transact(|tx| {
                    claim_run(tx, run_id)?;
                    destroy_batch(tx, run_id, rule, target, after.as_ref(), batch_size)
                })?;
                if n > 0 {
                    destroyed += n as i64;
                    if !purged_tables.contains(&target.table) {
                        purged_tables.push(target.table);
                    }
                    progress(&Progress {
                        class,
                        label: target.label,
                        destroyed,
                    });
                }
                if n < batch_size {
                    break;
                }
                store.pool.between_batches()?;
                after = last;
            }
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
        if destroyed > 0 {
            purged_tables.push("audit_log");
        }
    }
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
                class: target.class.name().to_string(),
                label: target.label.to_string(),
                destroyed: progress_of(tx, run_id, target.kind)?.0,
            });
        }
        if rule_of(&policy, RecordClass::Audit).is_some() {
            out.push(PurgedTarget {
                class: RecordClass::Audit.name().to_string(),
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

/// One batch of one target, in the caller's transaction: read the due rows
/// (locking them on PostgreSQL), add them to the statistics, unlink what
/// points at them, destroy them, and count them in the run's progress.
/// Returns how many were destroyed and the (event, id) key of the last.
fn destroy_batch(
    tx: &mut Tx<'_>,
    run_id: i64,
    rule: &RetentionRule,
    target: &Target,
    after: Option<&(Value, i64)>,
    batch_size: usize,
) -> Result<(usize, Option<(Value, i64)>), Error> {
    let zone = tx.policy().library.time_zone;
    let b = bound(rule, target, tx.today(), tx.now(), zone);
    let now = tx.now().timestamp();
    let (event, lock) = (
        target.event,
        match tx.conn.engine() {
            EngineKind::Postgres if target.lock_rows => " FOR UPDATE OF t",
            _ => "",
        },
    );
    // A row-value comparison, which both engines turn into one index range
    // in (event, id) order; the equivalent OR makes SQLite read every
    // remaining row and sort them, each batch.
    let keyset = if after.is_some() {
        format!(" AND ({event}, t.id) > (?, ?)")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT t.id, {event}, {stats} FROM {from}
         WHERE {governed} AND {event} < ?{keyset} AND NOT {held}{needs}
         ORDER BY {event}, t.id LIMIT {batch_size}{lock}",
        stats = target.stats_columns,
        from = target.from,
        governed = governed_sql(rule),
        held = held_sql(target),
        needs = not_needed_sql(target),
    );
    let mut params = vec![b.param()];
    if let Some((key, id)) = after {
        let key = value_param(key);
        params.extend([key, Param::Int(*id)]);
    }
    params.push(Param::Int(now));
    let rows: Vec<Row> = tx.conn.query(&sql, &params)?;
    if rows.is_empty() {
        return Ok((0, None));
    }
    let mut cells = Cells::default();
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        ids.push(row.int(0)?.to_string());
        statistics::add_record(&mut cells, target.stats, row, 2, zone)?;
    }
    let last = match rows.last() {
        Some(row) => Some((row.0[1].clone(), row.int(0)?)),
        None => None,
    };
    let ids = ids.join(",");
    cells.flush(&mut tx.conn, target.class.name())?;
    for statement in target.before_destroy {
        tx.conn.batch(&statement.replace("{ids}", &ids))?;
    }
    match rule.disposal {
        Disposal::Delete => tx
            .conn
            .batch(&format!("DELETE FROM {} WHERE id IN ({ids})", target.table))?,
        Disposal::Anonymise => tx.conn.batch(&format!(
            "UPDATE {} SET patron_id = NULL WHERE id IN ({ids})",
            target.table
        ))?,
    }
    tx.conn.execute(
        "INSERT INTO purge_progress (run_id, target, destroyed) VALUES (?, ?, ?)
         ON CONFLICT (run_id, target) DO UPDATE SET destroyed = purge_progress.destroyed + excluded.destroyed",
        params![run_id, target.kind, rows.len() as i64],
    )?;
    Ok((rows.len(), last))
}

fn value_param(v: &Value) -> Param<'_> {
    match v {
        Value::Int(i) => Param::Int(*i),
        Value::Text(t) => Param::Text(t),
        Value::Null => Param::Null,
    }
}

/// Marks a class done in this run and writes its one audit entry, unless
/// another purge already did.
fn finish_class(
    tx: &mut Tx<'_>,
    run_id: i64,
    class: RecordClass,
    rule: &RetentionRule,
) -> Result<(), Error> {
    let mut counts = Vec::new();
    let mut newly_finished = false;
    for target in targets::of_class(class) {
        let (destroyed, finished) = progress_of(tx, run_id, target.kind)?;
        if !finished {
            newly_finished = true;
            tx.conn.execute(
                "INSERT INTO purge_progress (run_id, target, destroyed, finished_at) VALUES (?, ?, 0, ?)
                 ON CONFLICT (run_id, target) DO UPDATE SET finished_at = excluded.finished_at",
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
            let b = bound(
                rule,
                target,
                tx.today(),
                tx.now(),
                tx.policy().library.time_zone,
            );
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
