//! Anonymous statistics (D3). Before a record is destroyed, the engine adds
//! it to a cell of the `statistics` table: a class, a month, and a few
//! coarse dimensions (an item, a patron category, an age band, a terminal),
//! with a count. No cell holds a patron id, a birth date or an address, and
//! reports suppress every cell smaller than the policy's `min_cell`, so no
//! one can be singled out from them.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use super::targets::Stats;
use crate::db::{params, Conn, Row, Value};
use crate::error::Error;
use crate::gate::Actor;
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
pub(super) fn local_date(seconds: i64, zone: Tz) -> Result<NaiveDate, Error> {
    DateTime::from_timestamp(seconds, 0)
        .map(|t| t.with_timezone(&zone).date_naive())
        .ok_or_else(|| Error::internal("a stored time is out of range"))
}

fn month_of(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

/// Text values from a record kept in a dimension: `;` and `=` separate
/// dimensions, so they are replaced.
fn clean(value: &str) -> String {
    value.replace([';', '='], " ")
}

impl Stats {
    /// The groups of dimensions this kind of record is counted under. Each
    /// facet is its own set of cells: a loan counts once under its item and
    /// once under its borrower's category and age band, and never under
    /// both at once, so no stored count says what kind of borrower took an
    /// item (a one-count cell "13-17, item 123, March" would be a
    /// quasi-identifier; D3).
    pub(crate) fn facets(self) -> &'static [&'static [&'static str]] {
        match self {
            Stats::Loan => &[&["item"], &["category", "age"]],
            Stats::Hold => &[&["item", "outcome"]],
            Stats::Fine => &[&["reason", "category"]],
            Stats::Ill => &[&["lender", "outcome"]],
            Stats::Delivery => &[&[]],
            Stats::ProgramRegistration => &[&["program"]],
            Stats::ComputerSession => &[&["terminal"]],
            Stats::Subscription => &[&["list"]],
            Stats::Registration => &[&["category", "age"]],
        }
    }
}

/// Adds a record about to be destroyed to its statistics cells: one per
/// facet, each (month, dimensions) with an amount (cents of a fine,
/// minutes of a session, items delivered). `row` holds the target's
/// `stats_columns` from column `first` on.
pub(crate) fn add_record(
    cells: &mut Cells,
    stats: Stats,
    row: &Row,
    first: usize,
    zone: Tz,
) -> Result<(), Error> {
    let when = |i: usize| -> Result<NaiveDate, Error> { local_date(row.int(first + i)?, zone) };
    let text = |i: usize| -> Result<String, Error> {
        Ok(row
            .opt_text(first + i)?
            .map_or_else(|| "unknown".to_string(), |s| clean(&s)))
    };
    let (month, dimensions, amount) = match stats {
        Stats::Loan => {
            let on = when(0)?;
            let birth = row.opt_text(first + 3)?;
            let month = month_of(on);
            cells.add((month.clone(), format!("item={}", row.int(first + 1)?), 0));
            (
                month,
                format!(
                    "category={};age={}",
                    text(2)?,
                    age_band(birth.as_deref(), on)
                ),
                0,
            )
        }
        Stats::Hold => (
            month_of(when(0)?),
            format!("item={};outcome={}", row.int(first + 1)?, text(2)?),
            0,
        ),
        Stats::Fine => {
            // Only "overdue" is a reason Carrel writes; staff-typed reasons
            // could name an item or a person, so they count as "other".
            let reason = row.text(first + 1)?;
            let reason = if reason == "overdue" {
                "overdue"
            } else {
                "other"
            };
            (
                month_of(when(0)?),
                format!("reason={reason};category={}", text(2)?),
                row.int(first + 3)?,
            )
        }
        Stats::Ill => (
            month_of(when(0)?),
            format!("lender={};outcome={}", text(1)?, text(2)?),
            row.int(first + 3)?,
        ),
        Stats::Delivery => (month_of(when(0)?), String::new(), row.int(first + 1)?),
        Stats::ProgramRegistration => (
            month_of(when(0)?),
            format!("program={}", row.int(first + 1)?),
            0,
        ),
        Stats::ComputerSession => (
            month_of(when(0)?),
            format!("terminal={}", text(1)?),
            row.int(first + 2)?,
        ),
        Stats::Subscription => (
            month_of(when(0)?),
            format!("list={}", row.int(first + 1)?),
            0,
        ),
        Stats::Registration => {
            let expires = NaiveDate::parse_from_str(&row.text(first)?, "%Y-%m-%d")
                .map_err(|_| Error::internal("a stored expiry date is malformed"))?;
            let birth = row.opt_text(first + 2)?;
            (
                month_of(expires),
                format!(
                    "category={};age={}",
                    text(1)?,
                    age_band(birth.as_deref(), expires)
                ),
                0,
            )
        }
    };
    cells.add((month, dimensions, amount));
    Ok(())
}

/// Counts gathered from one batch, keyed by (month, dimensions). Kept in
/// key order so that the upserts walk the table's B-tree in order.
#[derive(Default)]
pub(crate) struct Cells(BTreeMap<(String, String), (i64, i64)>);

impl Cells {
    pub(crate) fn add(&mut self, (month, dimensions, amount): (String, String, i64)) {
        let cell = self.0.entry((month, dimensions)).or_insert((0, 0));
        cell.0 += 1;
        cell.1 += amount;
    }

    /// Adds the cells to the table, in the caller's transaction. Values are
    /// written inline (the month and dimensions are built above from
    /// numbers, policy names and quote-escaped text) so that a thousand
    /// cells cost one statement, not a thousand round trips.
    pub(crate) fn flush(self, conn: &mut Conn<'_>, class: &str) -> Result<(), Error> {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let cells: Vec<_> = self.0.into_iter().collect();
        for chunk in cells.chunks(1000) {
            let values: Vec<String> = chunk
                .iter()
                .map(|((month, dims), (records, amount))| {
                    format!(
                        "({}, {}, {}, {records}, {amount})",
                        quote(class),
                        quote(month),
                        quote(dims)
                    )
                })
                .collect();
            conn.batch(&format!(
                "INSERT INTO statistics (record_class, month, dimensions, records, amount) VALUES {}
                 ON CONFLICT (record_class, month, dimensions) DO UPDATE
                 SET records = statistics.records + excluded.records, amount = statistics.amount + excluded.amount",
                values.join(", ")
            ))?;
        }
        Ok(())
    }
}

/// One line of a statistics report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReportRow {
    /// `YYYY-MM`, or None when the report is not by month.
    pub month: Option<String>,
    /// The requested dimensions and their values.
    pub group: BTreeMap<String, String>,
    pub records: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub record_class: String,
    pub by: Vec<String>,
    pub monthly: bool,
    pub min_cell: u32,
    /// Cells left out of `rows` count as suppressed here, so a reader knows
    /// that something was held back, not what.
    pub suppressed_cells: usize,
    pub rows: Vec<ReportRow>,
}

/// The facet a report grouped by `by` reads: the first of the class's
/// facets that has every dimension asked for (with none asked for, the
/// class's first: loans by item, so each loan counts once).
fn facet_for(
    class: carrel_policy::RecordClass,
    by: &[String],
) -> Result<&'static [&'static str], Error> {
    let facets: Vec<&'static [&'static str]> = super::targets::of_class(class)
        .flat_map(|t| t.stats.facets().iter().copied())
        .collect();
    facets
        .iter()
        .copied()
        .find(|facet| by.iter().all(|d| facet.contains(&d.as_str())))
        .ok_or_else(|| {
            let choices: Vec<String> = facets.iter().map(|f| f.join(",")).collect();
            Error::invalid(
                "bad_dimension",
                format!(
                    "{} statistics cannot be grouped that way; group by one of: {}. Item counts and borrower counts are kept apart, so no count says what kind of borrower took an item",
                    class.name(),
                    choices.join(" | ")
                ),
            )
        })
}

/// The dimension names of a stored cell.
fn keys_of(dimensions: &str) -> Vec<&str> {
    dimensions
        .split(';')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .collect()
}

/// A report of one class's statistics, grouped by the named dimensions (and
/// month, if `monthly`), with small cells suppressed. Statistics hold no
/// personal data, so any signed-in staff member may read them; `_actor`
/// proves a live session.
pub fn report(
    tx: &mut Tx<'_>,
    _actor: &Actor,
    class: carrel_policy::RecordClass,
    by: &[String],
    monthly: bool,
    months: Option<(String, String)>,
) -> Result<Report, Error> {
    let facet = facet_for(class, by)?;
    let (from, to) = months.unwrap_or_else(|| ("0000-00".into(), "9999-99".into()));
    let rows = tx.conn.query(
        "SELECT month, dimensions, records, amount FROM statistics
         WHERE record_class = ? AND month >= ? AND month <= ? ORDER BY month, dimensions",
        params![class.name(), &from, &to],
    )?;
    // (month, group) -> (records, amount)
    type Key = (Option<String>, BTreeMap<String, String>);
    let mut groups: BTreeMap<Key, (i64, i64)> = BTreeMap::new();
    for row in &rows {
        let text = match &row.0[1] {
            Value::Text(d) => d.as_str(),
            _ => "",
        };
        if keys_of(text) != facet {
            continue;
        }
        let dims: BTreeMap<&str, &str> = text
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let group = by
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    dims.get(k.as_str()).unwrap_or(&"unknown").to_string(),
                )
            })
            .collect();
        let month = monthly.then(|| row.text(0)).transpose()?;
        let cell = groups.entry((month, group)).or_insert((0, 0));
        cell.0 += row.int(2)?;
        cell.1 += row.int(3)?;
    }
    let min_cell = i64::from(tx.policy().statistics.min_cell);
    let mut suppressed_cells = 0;
    // A suppressed cell is left out entirely: even "fewer than 5 teenagers
    // borrowed this item in March" says too much about a small town.
    let rows = groups
        .into_iter()
        .filter_map(|((month, group), (records, amount))| {
            if records < min_cell {
                suppressed_cells += 1;
                return None;
            }
            Some(ReportRow {
                month,
                group,
                records,
                amount,
            })
        })
        .collect();
    Ok(Report {
        record_class: class.name().to_string(),
        by: by.to_vec(),
        monthly,
        min_cell: tx.policy().statistics.min_cell,
        suppressed_cells,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
