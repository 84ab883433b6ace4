//! Anonymous statistics (D3). Before a record is destroyed, the engine
//! counts it in a cell of the `statistics` table: a class, a month, and a
//! few coarse dimensions (an item, a patron category, an age band, a
//! terminal), with a count (a cell may be stored as several rows, which a
//! report adds up). No cell holds a patron id, a birth date or an address.
//! What a report may show of the cells, so that no small count can be
//! worked out from any combination of reports, is decided in
//! [`suppression`]; reports go only to the roles the policy grants
//! `read` on `statistics`.

mod suppression;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use self::suppression::{release, Cells, Count, Release};
use super::targets::Stats;
use crate::db::{params, Conn, EngineKind, Value};
use crate::error::Error;
use crate::gate::{Grant, Read, Statistics};
use crate::Tx;

/// Age bands: wide enough that a band and a month do not name a person.
pub const AGE_BANDS: [(u32, &str); 6] = [
    (13, "0-12"),
    (18, "13-17"),
    (30, "18-29"),
    (45, "30-44"),
    (65, "45-64"),
    (u32::MAX, "65+"),
];

pub(crate) fn age_band(birth_date: Option<&str>, on: NaiveDate) -> &'static str {
    let Some(birth) = birth_date.and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok()) else {
        return "unknown";
    };
    let Some(age) = on.years_since(birth) else {
        return "unknown";
    };
    AGE_BANDS
        .iter()
        .find(|(below, _)| age < *below)
        .map_or("unknown", |(_, band)| band)
}

/// The library-local date of a stored instant.
pub(crate) fn local_date(seconds: i64, zone: Tz) -> Result<NaiveDate, Error> {
    DateTime::from_timestamp(seconds, 0)
        .map(|t| t.with_timezone(&zone).date_naive())
        .ok_or_else(|| Error::internal("a stored time is out of range"))
}

/// The day a record counts on, as SQL over its target's FROM: an instant
/// column (turned into a library-local date by `carrel_local_date`) or a
/// `YYYY-MM-DD` date column.
#[derive(Debug, Clone, Copy)]
enum Day {
    Instant(&'static str),
    Date(&'static str),
}

/// One facet of a kind of record: the dimensions it is counted under, and
/// the SQL for its cell's dimension text (`name=value;name=value`), given
/// the SQL for the record's day. Text a person typed or a record holds
/// goes through [`clean`]: `;` and `=` separate dimensions.
pub(crate) struct Facet {
    /// The dimensions, in the order the text names them.
    pub names: &'static [&'static str],
    sql: fn(day: &str) -> String,
}

/// SQL for `value` as a dimension's value: `unknown` for NULL, and no `;`
/// or `=`, which separate dimensions in a cell's text.
fn clean(value: &str) -> String {
    format!("replace(replace(coalesce({value}, 'unknown'), ';', ' '), '=', ' ')")
}

// Each facet's SQL, for `Stats::counting`. `_day` where the facet does not
// depend on the record's day.
fn item(_day: &str) -> String {
    "'item=' || t.item_id".to_string()
}
fn borrower_on_loan(_day: &str) -> String {
    format!(
        "'category=' || {} || ';age=' || {}",
        clean("t.borrower_category"),
        clean("t.borrower_age_band")
    )
}
fn item_and_outcome(_day: &str) -> String {
    format!(
        "'item=' || t.item_id || ';outcome=' || {}",
        clean("t.status")
    )
}
fn fine_reason_and_category(_day: &str) -> String {
    format!(
        "'reason=' || CASE WHEN t.reason = 'overdue' THEN 'overdue' ELSE 'other' END || ';category=' || {}",
        clean("pt.category")
    )
}
fn lender_and_outcome(_day: &str) -> String {
    format!(
        "'lender=' || {} || ';outcome=' || {}",
        clean("t.lender"),
        clean("t.status")
    )
}
fn no_dimensions(_day: &str) -> String {
    "''".to_string()
}
fn program(_day: &str) -> String {
    "'program=' || t.program_id".to_string()
}
fn terminal(_day: &str) -> String {
    format!("'terminal=' || {}", clean("t.terminal"))
}
fn list(_day: &str) -> String {
    "'list=' || t.list_id".to_string()
}
fn holder_on_expiry(day: &str) -> String {
    format!(
        "'category=' || {} || ';age=' || carrel_age_band(t.birth_date, {day})",
        clean("t.category")
    )
}

/// How one kind of record is counted before it is destroyed.
struct Counting {
    day: Day,
    facets: &'static [Facet],
    /// SQL for the cell's amount (cents of a fine, minutes of a session,
    /// items delivered), or `0`.
    amount: &'static str,
}

/// The most facets a kind of record has (the purge's scratch table has a
/// column for each).
pub(crate) const MAX_FACETS: usize = 2;

impl Stats {
    /// The groups of dimensions this kind of record is counted under, and
    /// the SQL that computes them. Each facet is its own set of cells: a
    /// loan counts once under its item and once under its borrower's
    /// category and age band, and never under both at once, so no stored
    /// count says what kind of borrower took an item (a one-count cell
    /// "13-17, item 123, March" would be a quasi-identifier; D3). No facet
    /// holds a patron id, a birth date or an address.
    fn counting(self) -> Counting {
        const NONE: &str = "0";
        match self {
            Stats::Loan => Counting {
                day: Day::Instant("t.checked_out_at"),
                facets: &[
                    Facet {
                        names: &["item"],
                        sql: item,
                    },
                    // As the borrower was on the day of the loan, recorded
                    // at checkout.
                    Facet {
                        names: &["category", "age"],
                        sql: borrower_on_loan,
                    },
                ],
                amount: NONE,
            },
            Stats::Hold => Counting {
                day: Day::Instant("t.placed_at"),
                facets: &[Facet {
                    names: &["item", "outcome"],
                    sql: item_and_outcome,
                }],
                amount: NONE,
            },
            // Only "overdue" is a reason Carrel writes; staff-typed reasons
            // could name an item or a person, so they count as "other".
            Stats::Fine => Counting {
                day: Day::Instant("t.assessed_at"),
                facets: &[Facet {
                    names: &["reason", "category"],
                    sql: fine_reason_and_category,
                }],
                amount: "t.amount_cents",
            },
            Stats::Ill => Counting {
                day: Day::Instant("t.requested_at"),
                facets: &[Facet {
                    names: &["lender", "outcome"],
                    sql: lender_and_outcome,
                }],
                amount: "t.fees_cents",
            },
            Stats::Delivery => Counting {
                day: Day::Instant("t.completed_at"),
                facets: &[Facet {
                    names: &[],
                    sql: no_dimensions,
                }],
                amount: "(SELECT COUNT(*) FROM delivery_items di WHERE di.delivery_id = t.id)",
            },
            Stats::ProgramRegistration => Counting {
                day: Day::Instant("p.starts_at"),
                facets: &[Facet {
                    names: &["program"],
                    sql: program,
                }],
                amount: NONE,
            },
            Stats::ComputerSession => Counting {
                day: Day::Instant("t.started_at"),
                facets: &[Facet {
                    names: &["terminal"],
                    sql: terminal,
                }],
                amount: "(t.ended_at - t.started_at) / 60",
            },
            Stats::Subscription => Counting {
                day: Day::Instant("l.last_active_at"),
                facets: &[Facet {
                    names: &["list"],
                    sql: list,
                }],
                amount: NONE,
            },
            // A lapsed card counts in the month it expired, with the age
            // band its holder had that day.
            Stats::Registration => Counting {
                day: Day::Date("t.expires_on"),
                facets: &[Facet {
                    names: &["category", "age"],
                    sql: holder_on_expiry,
                }],
                amount: NONE,
            },
        }
    }

    pub(crate) fn facets(self) -> &'static [Facet] {
        self.counting().facets
    }

    /// SQL expressions, over the target's FROM, for a destroyed record's
    /// month, each facet's dimension text (NULL past the kind's own facets)
    /// and its amount: the columns `month, facet1, facet2, amount` of the
    /// purge's scratch table.
    pub(crate) fn columns_sql(self, zone: Tz, engine: EngineKind) -> CountingSql {
        let counting = self.counting();
        let (day, from) = match counting.day {
            Day::Instant(column) => {
                // A zone name is letters, digits, '/', '_', '+' and '-';
                // quoting is belt and braces.
                let day = format!(
                    "carrel_local_date({column}, '{}')",
                    zone.name().replace('\'', "''")
                );
                match engine {
                    // The day is named by several columns. PostgreSQL
                    // inlines carrel_local_date at each mention, so it is
                    // computed once here (OFFSET 0 keeps the planner from
                    // folding it back in).
                    EngineKind::Postgres => (
                        "d.day".to_string(),
                        format!(" CROSS JOIN LATERAL (SELECT {day} AS day OFFSET 0) d"),
                    ),
                    EngineKind::Sqlite => (day, String::new()),
                }
            }
            Day::Date(column) => (column.to_string(), String::new()),
        };
        let mut columns = vec![format!("substr({day}, 1, 7)")];
        for i in 0..MAX_FACETS {
            columns.push(match counting.facets.get(i) {
                Some(facet) => (facet.sql)(&day),
                None => "NULL".to_string(),
            });
        }
        columns.push(counting.amount.to_string());
        CountingSql {
            from,
            columns: columns.join(", "),
        }
    }
}

/// What a purge step selects for the statistics: `columns` (month, facets,
/// amount), and `from`, joined after the target's FROM.
pub(crate) struct CountingSql {
    pub from: String,
    pub columns: String,
}

/// Adds the records in the purge's scratch table (one step's worth, about
/// to be destroyed) to the statistics, in the caller's transaction: one
/// row per (month, dimensions) per facet, counted in the database, so no
/// record travels to Carrel and back.
///
/// Where they go depends on the engine, so that nothing stored says which
/// cells one purge step (perhaps of one loan: its item, its borrower's
/// card category and age band) added to:
/// - SQLite: straight into the cells, added to in place. The table is a
///   B-tree in key order (WITHOUT ROWID), so a cell's place in the file
///   says nothing of when it grew, and the purge zeroes what it frees.
/// - PostgreSQL: appended to `statistics_pending`, which
///   [`merge_pending`] adds to the cells when the purge is done with the
///   class. A row PostgreSQL updates is written anew at the end of the
///   table, with the writing transaction's id (`xmin`) on it: cells
///   updated in place would be found together, by place or by `xmin`.
///
/// A record whose month a report has already published
/// (`statistics_sealed`) is not counted: published figures must never
/// change, or two reports read either side of this purge would say, by
/// subtraction, what the one record was.
pub(crate) fn add_step(conn: &mut Conn<'_>, stats: Stats, class: &str) -> Result<(), Error> {
    let (table, merge) = match conn.engine() {
        EngineKind::Sqlite => (
            "statistics",
            " ON CONFLICT (record_class, month, dimensions) DO UPDATE SET
                records = statistics.records + excluded.records,
                amount = statistics.amount + excluded.amount",
        ),
        EngineKind::Postgres => ("statistics_pending", ""),
    };
    for i in 1..=stats.facets().len() {
        conn.execute(
            &format!(
                "INSERT INTO {table} (record_class, month, dimensions, records, amount)
                 SELECT ?, month, facet{i}, COUNT(*), SUM(amount) FROM purge_step
                 WHERE facet{i} IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM statistics_sealed ss WHERE ss.record_class = ? AND ss.month = purge_step.month)
                 GROUP BY month, facet{i}{merge}"
            ),
            params![class, class],
        )?;
    }
    Ok(())
}

/// Adds a class's pending counts (PostgreSQL: every purge step's, this
/// run's and any a stopped run left; see [`add_step`]) to its cells, in the
/// caller's transaction: every month they touch is rewritten whole, one
/// row per cell, in key order, in one transaction, so no cell's place or
/// `xmin` says which of the month's cells grew. A month sealed since its
/// rows were counted is not changed. The cost is the month's cells, not
/// the purge's: on PostgreSQL a purge transaction keeps no desk waiting.
pub(crate) fn merge_pending(conn: &mut Conn<'_>, class: &str) -> Result<(), Error> {
    if conn
        .query_opt(
            "SELECT 1 FROM statistics_pending WHERE record_class = ? LIMIT 1",
            params![class],
        )?
        .is_none()
    {
        return Ok(());
    }
    let touched = "SELECT DISTINCT p.month FROM statistics_pending p WHERE p.record_class = ?";
    conn.execute(
        "DELETE FROM statistics_pending WHERE record_class = ?
           AND month IN (SELECT ss.month FROM statistics_sealed ss WHERE ss.record_class = ?)",
        params![class, class],
    )?;
    conn.execute(
        &format!(
            "INSERT INTO statistics_pending (record_class, month, dimensions, records, amount)
             SELECT record_class, month, dimensions, records, amount FROM statistics
             WHERE record_class = ? AND month IN ({touched})"
        ),
        params![class, class],
    )?;
    conn.execute(
        &format!("DELETE FROM statistics WHERE record_class = ? AND month IN ({touched})"),
        params![class, class],
    )?;
    conn.execute(
        "INSERT INTO statistics (record_class, month, dimensions, records, amount)
         SELECT record_class, month, dimensions, SUM(records), SUM(amount) FROM statistics_pending
         WHERE record_class = ?
         GROUP BY record_class, month, dimensions
         ORDER BY record_class, month, dimensions",
        params![class],
    )?;
    conn.execute(
        "DELETE FROM statistics_pending WHERE record_class = ?",
        params![class],
    )?;
    Ok(())
}

/// Seals every mature month (through `mature`) not sealed yet, from the
/// class's earliest counted month: whatever a report shows of them,
/// published or withheld, is what they are from now on. The sealed months
/// are always a prefix, so each report seals only the months that matured
/// since the last one.
fn seal_months(tx: &mut Tx<'_>, class: &str, mature: &str) -> Result<(), Error> {
    let bounds = tx.conn.query_one(
        "SELECT (SELECT MIN(month) FROM statistics WHERE record_class = ?) AS earliest,
                (SELECT MAX(month) FROM statistics_sealed WHERE record_class = ?) AS last_sealed",
        params![class, class],
    )?;
    let Some(earliest) = bounds.opt_text("earliest")? else {
        return Ok(());
    };
    let mut month = match bounds.opt_text("last_sealed")? {
        Some(last) => match next_month(&last) {
            Some(next) => next.max(earliest),
            None => return Ok(()),
        },
        None => earliest,
    };
    while month.as_str() <= mature {
        tx.conn.execute(
            "INSERT INTO statistics_sealed (record_class, month) VALUES (?, ?) ON CONFLICT (record_class, month) DO NOTHING",
            params![class, &month],
        )?;
        let Some(next) = next_month(&month) else {
            break;
        };
        month = next;
    }
    Ok(())
}

/// `YYYY-MM` of the month after.
fn next_month(month: &str) -> Option<String> {
    let (year, number) = month.split_once('-')?;
    let (year, number): (i32, u32) = (year.parse().ok()?, number.parse().ok()?);
    Some(if number >= 12 {
        format!("{:04}-01", year + 1)
    } else {
        format!("{year:04}-{:02}", number + 1)
    })
}

/// How long after a month's records fall due its statistics wait before
/// they are sealed: records that fall due late (a loan returned weeks after
/// its month) are still counted if they come within it.
pub const SEAL_DAYS: u64 = 90;

/// The last month (`YYYY-MM`) mature enough to publish for a class with
/// retention rule `keep`: `SEAL_DAYS` have passed since the records of its
/// last day could first be destroyed, so (nearly) all of them are counted.
/// A report shows mature months only, and seals each month it considers
/// (`statistics_sealed`): no purge adds to it again, so no published
/// figure ever changes (D3: two reads around a purge of one record must
/// not single it out).
pub fn sealed_through(today: NaiveDate, keep: carrel_policy::Period) -> String {
    let due_before = carrel_policy::retention::cutoff_date(today, keep);
    let settled = due_before
        .checked_sub_days(chrono::Days::new(SEAL_DAYS))
        .unwrap_or(NaiveDate::MIN);
    // Every day of a sealed month is on or before `settled`: the month
    // before the one `settled` is in, or that one if `settled` is its last
    // day.
    let last_full = match settled.succ_opt() {
        Some(next) if next.month() != settled.month() => settled,
        _ => settled
            .with_day(1)
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MIN),
    };
    last_full.format("%Y-%m").to_string()
}

/// One line of a statistics report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReportRow {
    /// `YYYY-MM`, or None when the report is not by month.
    #[schema(required = true)]
    pub month: Option<String>,
    /// The requested dimensions and their values.
    pub group: BTreeMap<String, String>,
    /// With no dimensions asked, every record of the row's published
    /// months; otherwise the records of the group's shown cells only (see
    /// [`suppression`]: small cells and one withheld cell per month are
    /// left out).
    pub records: i64,
    /// The sum of the shown cells' amounts: cents of fines or interlibrary loan
    /// fees, minutes of computer sessions, items delivered; 0 for kinds with no
    /// amount.
    pub amount: i64,
}

/// A statistics report of one record class: only what suppression lets be
/// published, from sealed months only.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Report {
    /// The record class counted.
    pub record_class: carrel_policy::RecordClass,
    /// The dimensions the rows are grouped by, as asked (`category`, `age`,
    /// `item`, ...).
    pub by: Vec<String>,
    /// Whether the rows are by month.
    pub monthly: bool,
    /// The fewest records a published cell may count, from the policy.
    pub min_cell: u32,
    /// The months of the range whose figures are published. Any other
    /// month adds nothing to any row: it has no records, or in some facet
    /// no cell of `min_cell` records. Nothing says how many cells were left
    /// out: that count alone can give small cells away.
    pub months_published: Vec<String>,
    /// The report's rows.
    pub rows: Vec<ReportRow>,
}

/// Whether Carrel keeps statistics of `class` (not of the audit log, the
/// catalogue, or the statistics themselves).
pub fn has_statistics(class: carrel_policy::RecordClass) -> bool {
    super::targets::of_class(class).next().is_some()
}

/// The facets of the kind of record a report grouped by `by` reads, and
/// the position of the one it groups by: the first facet (of any kind of
/// record of the class) that has every dimension asked for. With none
/// asked, the class's first kind; its total is the same in every facet.
/// Every dimension any class's statistics can be grouped by (which ones
/// go together is [`facet_for`]'s to say), for the API's description.
pub fn dimension_names() -> std::collections::BTreeSet<&'static str> {
    carrel_policy::RecordClass::ALL
        .iter()
        .flat_map(|class| super::targets::of_class(*class))
        .flat_map(|target| target.stats.facets())
        .flat_map(|facet| facet.names.iter().copied())
        .collect()
}

fn facet_for(
    class: carrel_policy::RecordClass,
    by: &[String],
) -> Result<(&'static [Facet], usize), Error> {
    let mut choices = Vec::new();
    for target in super::targets::of_class(class) {
        let facets = target.stats.facets();
        for (position, facet) in facets.iter().enumerate() {
            if by.iter().all(|d| facet.names.contains(&d.as_str())) {
                return Ok((facets, position));
            }
            choices.push(facet.names.join(","));
        }
    }
    Err(Error::invalid(
        "bad_dimension",
        format!(
            "{} statistics cannot be grouped that way; group by one of: {}. Item counts and borrower counts are kept apart, so no count says what kind of borrower took an item",
            class.name(),
            choices.join(" | ")
        ),
    ))
}

/// The dimension names of a stored cell.
fn keys_of(dimensions: &str) -> Vec<&str> {
    dimensions
        .split(';')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .collect()
}

/// A report of one class's statistics, grouped by the named dimensions (and
/// month, if `monthly`), showing only what [`suppression`] publishes.
/// Statistics hold no personal data, but what one reader may combine is
/// the policy's to say: the grant is for `read` on `statistics`, and the
/// read is audited.
pub fn report(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Statistics>,
    class: carrel_policy::RecordClass,
    by: &[String],
    monthly: bool,
    months: Option<(String, String)>,
) -> Result<Report, Error> {
    let (facets, facet) = facet_for(class, by)?;
    let (from, to) = months.unwrap_or_else(|| ("0000-00".into(), "9999-99".into()));
    // Only sealed months: their figures never change again.
    let sealed = tx
        .policy()
        .class(class)
        .and_then(|c| c.retention.as_ref())
        .map(|rule| sealed_through(tx.today(), rule.keep))
        .unwrap_or_else(|| "0000-00".into());
    seal_months(tx, class.name(), &sealed)?;
    let to = to.min(sealed);
    let rows = tx.conn.query(
        "SELECT month, dimensions, CAST(SUM(records) AS BIGINT) AS records, CAST(SUM(amount) AS BIGINT) AS amount
         FROM statistics WHERE record_class = ? AND month >= ? AND month <= ?
         GROUP BY month, dimensions",
        params![class.name(), &from, &to],
    )?;
    // Every facet of the kind is read, not only the one grouped by: whether
    // a month may be published depends on all of them.
    let mut cells: BTreeMap<String, Vec<Cells>> = BTreeMap::new();
    for row in &rows {
        let text = match &row.values()[1] {
            Value::Text(d) => d.as_str(),
            _ => "",
        };
        let names = keys_of(text);
        let Some(position) = facets.iter().position(|f| f.names == names.as_slice()) else {
            continue;
        };
        let month = cells
            .entry(row.text("month")?)
            .or_insert_with(|| vec![Cells::new(); facets.len()]);
        month[position].insert(
            text.to_string(),
            Count {
                records: row.int("records")?,
                amount: row.int("amount")?,
            },
        );
    }
    let min_cell = tx.policy().statistics.min_cell;
    let (months_published, rows) = tabulate(&cells, facet, by, monthly, i64::from(min_cell));
    grant.record(
        tx,
        None,
        Some(format!(
            "statistics of {} by [{}]{}, {from} to {to}",
            class.name(),
            by.join(","),
            if monthly { " by month" } else { "" }
        )),
    );
    Ok(Report {
        record_class: class,
        by: by.to_vec(),
        monthly,
        min_cell,
        months_published,
        rows,
    })
}

/// The rows of a report from one kind of record's cells by month (each
/// month's cells under every facet of the kind), grouped by `by` within
/// facet number `facet`: the published months, and per group the sum of
/// what [`release`] lets each month show. Every figure of every report
/// comes from here, so every figure is a sum of published ones.
pub(crate) fn tabulate(
    cells: &BTreeMap<String, Vec<Cells>>,
    facet: usize,
    by: &[String],
    monthly: bool,
    min_cell: i64,
) -> (Vec<String>, Vec<ReportRow>) {
    type Key = (Option<String>, BTreeMap<String, String>);
    let mut groups: BTreeMap<Key, Count> = BTreeMap::new();
    let mut months_published = Vec::new();
    for (month, facets) in cells {
        let Release::Published { total, shown } = release(month, facets, min_cell) else {
            continue;
        };
        months_published.push(month.clone());
        let month = monthly.then(|| month.clone());
        if by.is_empty() {
            groups
                .entry((month, BTreeMap::new()))
                .or_default()
                .add(total);
            continue;
        }
        for (text, count) in shown.get(facet).into_iter().flatten() {
            let dimensions: BTreeMap<&str, &str> = text
                .split(';')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let group = by
                .iter()
                .map(|name| {
                    let value = dimensions.get(name.as_str()).unwrap_or(&"unknown");
                    (name.clone(), value.to_string())
                })
                .collect();
            groups
                .entry((month.clone(), group))
                .or_default()
                .add(*count);
        }
    }
    let rows = groups
        .into_iter()
        .map(|((month, group), count)| ReportRow {
            month,
            group,
            records: count.records,
            amount: count.amount,
        })
        .collect();
    (months_published, rows)
}

#[cfg(test)]
mod tests {

    #[test]
    fn d3_a_month_is_sealed_ninety_days_after_its_records_fall_due() {
        use carrel_policy::Period;
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // Kept 0 days: March's last records fall due on 31 March; sealed
        // once 90 days have passed since.
        assert_eq!(sealed_through(day(2026, 6, 28), Period::Days(0)), "2026-02");
        assert_eq!(sealed_through(day(2026, 6, 29), Period::Days(0)), "2026-03");
        // Kept 60 days: 60 more.
        assert_eq!(
            sealed_through(day(2026, 8, 27), Period::Days(60)),
            "2026-02"
        );
        assert_eq!(
            sealed_through(day(2026, 8, 28), Period::Days(60)),
            "2026-03"
        );
    }

    use super::*;

    /// A report tells a stored cell's kind of record and facet by its
    /// dimension names alone, and `suppression` needs every facet of a
    /// kind to decide a month: so no two facets of a class may have the
    /// same names.
    #[test]
    fn d3_each_facet_of_a_class_has_names_of_its_own() {
        for &class in carrel_policy::RecordClass::ALL {
            let names: Vec<&[&str]> = super::super::targets::of_class(class)
                .flat_map(|t| t.stats.facets().iter().map(|f| f.names))
                .collect();
            let distinct: std::collections::BTreeSet<_> = names.iter().collect();
            assert_eq!(distinct.len(), names.len(), "{class}: {names:?}");
        }
    }

    #[test]
    fn age_bands_are_counted_on_the_day() {
        let on = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        assert_eq!(age_band(Some("2008-06-01"), on), "18-29");
        assert_eq!(age_band(Some("2008-06-02"), on), "13-17");
        assert_eq!(age_band(Some("1950-01-01"), on), "65+");
        assert_eq!(age_band(None, on), "unknown");
        assert_eq!(age_band(Some("garbage"), on), "unknown");
    }
}
