//! # What may be published of the statistics (D3)
//!
//! The statistics hold, per kind of record and month, *cells*: how many
//! records (and what amount) were counted under one combination of a
//! facet's dimensions. A report groups them by any subset of a facet's
//! dimensions, by month or not, over any range of months, so coarser
//! reports are margins of finer ones. And a kind of record counted under
//! two facets has the same total in both, every month: a loan counts once
//! by item and once by card category and age band, so the two are linked
//! tables.
//!
//! Leaving the small cells out of each report on its own, as Carrel first
//! did, does not hide them. A total minus the cells shown beside it gives
//! a hidden cell back ("adult card, age 13-17, March" was read as 3 off the
//! adult total minus its published age bands); so does one facet's month
//! minus the other's; and a count of the cells left out says which small
//! cells exist, which with linked facets can pin them by their bounds
//! alone (one item lent 4 times, by four kinds of borrower: with
//! `min_cell` 5, 4 = 1+1+1+1, and all five cells are known).
//!
//! ## The rule ([`release`])
//! Each kind of record and month is decided on its own:
//! 1. A cell of fewer than `min_cell` records is *small*; the others are
//!    *large*. Small cells are never shown.
//! 2. In each facet one large cell is *withheld*: the first large cell in
//!    an order fixed by the month and the cell's name alone (a hash of
//!    them, [`withholding_order`]), so the withheld group changes from
//!    month to month instead of always being the same one.
//! 3. If every facet has a large cell, the month is *published*: its total
//!    (the same in every facet), and in each facet its large cells but the
//!    withheld one. Otherwise nothing of the month is published, not even
//!    its total.
//!
//! A report then adds up, in each group it asks for, the shown cells of
//! the published months; with no dimensions asked, it adds up their
//! totals. It says which months are published, and never how many cells it
//! left out.
//!
//! ## Why no small cell can be worked out
//! Give an attacker everything: every report, of every grouping, range and
//! facet; this rule and `min_cell`; every cell that could exist (the
//! catalogue, the card categories, the age bands). What is published of a
//! month depends only on which of its cells are large, the values of the
//! large cells shown, and its total. Now take a small cell `x` of `v`
//! records (1 <= v < min_cell), in facet F of month m. Here is another
//! library, differing only in month m, whose every report is the same and
//! in which `x` counts v - 1:
//! - if month m is published: move one record from `x` to F's withheld cell
//!   `w`. `x` stays small (or empty), `w` stays large and first among the
//!   large cells, the shown cells and F's total do not change, and the
//!   other facets are untouched, so their totals still equal F's;
//! - if month m is not published, some facet G has no large cell: take one
//!   record from `x` and one from a non-empty cell of every other facet
//!   (each facet's total equals F's, which is at least v). G still has no
//!   large cell, so month m is still not published, and the facet totals
//!   are still equal.
//!
//! Any counts whose facets have equal totals are the counts of some set of
//! records, so that library could exist; it publishes the same figures,
//! and `x` could count v or v - 1 (nothing published says whether a small
//! cell exists at all, so v - 1 = 0 is fine). No published figure, and no
//! sum or difference of them, determines a small cell. The argument never
//! uses the attacker's ignorance of the catalogue or the categories. The
//! property test below checks it by brute force on small random tables.
//! Amounts (cents of fines, minutes of sessions) are only ever published
//! beside their records and move with them; what the argument protects is
//! the number of records, which is what could single a person out.
//!
//! ## What it costs
//! - Grouped figures add up only shown cells: "item 12: 40" over a year
//!   leaves out the months in which item 12 was lent fewer than `min_cell`
//!   times, and any month it was the withheld cell. Only figures with no
//!   dimensions are whole totals (of the published months).
//! - One large cell per facet and month is withheld.
//! - A month in which some facet has no large cell publishes nothing of
//!   that kind of record. In a small library where no item is lent
//!   `min_cell` times in a month, that month has no loan statistics at all,
//!   not even by borrower. A total alone would be safe only where the
//!   number of possible cells is known to be large; that depends on the
//!   catalogue, and this rule does not.
//! - Not covered: two reads of a report before and after a purge. A purge
//!   adds records to the cells of past months, so the difference of two
//!   reads shows where the records destroyed in between were counted.
//!   Reports go only to the roles the policy grants `statistics`, and each
//!   read is in the audit log.

use std::collections::BTreeMap;

/// The records counted in a cell or a month, and their amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Count {
    pub records: i64,
    pub amount: i64,
}

impl Count {
    pub(crate) fn add(&mut self, other: Count) {
        self.records += other.records;
        self.amount += other.amount;
    }
}

/// One facet's cells in one month, by dimension text
/// (`category=adult;age=13-17`).
pub(crate) type Cells = BTreeMap<String, Count>;

/// What may be published of one kind of record in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Release {
    /// Nothing: some facet has no large cell (or there are no records).
    Withheld,
    Published {
        /// Every record of the month, in every facet.
        total: Count,
        /// Per facet, in the kind's order, the cells that may be shown.
        shown: Vec<Cells>,
    },
}

/// Decides what may be published of one kind of record in one `month`,
/// from its cells under each of its facets (in the kind's order). See the
/// module documentation for the rule and why it is safe.
pub(crate) fn release(month: &str, facets: &[Cells], min_cell: i64) -> Release {
    let mut shown = Vec::with_capacity(facets.len());
    let mut totals = Vec::with_capacity(facets.len());
    for cells in facets {
        let large = || cells.iter().filter(|(_, count)| count.records >= min_cell);
        let Some(withheld) = large()
            .map(|(name, _)| name)
            .min_by_key(|name| (withholding_order(month, name), *name))
        else {
            return Release::Withheld;
        };
        shown.push(
            large()
                .filter(|(name, _)| *name != withheld)
                .map(|(name, count)| (name.clone(), *count))
                .collect(),
        );
        totals.push(cells.values().fold(Count::default(), |mut sum, count| {
            sum.add(*count);
            sum
        }));
    }
    let Some(&total) = totals.first() else {
        return Release::Withheld;
    };
    // The purge counts every record under every facet of its kind, so the
    // totals agree; if a database edited by hand made them differ, the
    // month is not published rather than published with a total that one
    // facet contradicts.
    if totals.iter().any(|t| *t != total) {
        return Release::Withheld;
    }
    Release::Published { total, shown }
}

/// The order in which a month's large cells are considered for
/// withholding: FNV-1a of the month and the cell's name. It depends on
/// nothing counted, which is what the safety argument needs (moving records
/// between cells cannot change which cell is withheld), and it differs
/// from month to month, so no one group is always the one missing.
pub(crate) fn withholding_order(month: &str, name: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    month
        .bytes()
        .chain(std::iter::once(0))
        .chain(name.bytes())
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

#[cfg(test)]
mod tests {
    //! The safety argument, checked by brute force: on small random tables,
    //! for every small cell, some other library publishes exactly the same
    //! reports (every facet, every grouping, by month or not, every range)
    //! while that cell counts differently. The other libraries are every
    //! way of filling one month's possible cells with 0 to one more than its
    //! largest count, keeping the facets' totals equal.

    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::retention::statistics::{tabulate, ReportRow};

    const MONTHS: [&str; 2] = ["2026-01", "2026-02"];

    /// A kind of record as these tests see it: per facet, its dimensions
    /// and every cell that could exist (a value for each dimension).
    struct Kind {
        facets: Vec<(Vec<&'static str>, Vec<Vec<&'static str>>)>,
    }

    fn cells_of(values: &[&[&'static str]]) -> Vec<Vec<&'static str>> {
        values.iter().fold(vec![Vec::new()], |cells, dimension| {
            cells
                .iter()
                .flat_map(|cell| {
                    dimension.iter().map(move |value| {
                        let mut cell = cell.clone();
                        cell.push(*value);
                        cell
                    })
                })
                .collect()
        })
    }

    /// Loans: by item, and by card category and age band; linked.
    fn loans(items: &[&'static str], categories: &[&'static str], ages: &[&'static str]) -> Kind {
        Kind {
            facets: vec![
                (vec!["item"], cells_of(&[items])),
                (vec!["category", "age"], cells_of(&[categories, ages])),
            ],
        }
    }

    /// A kind counted under one facet: interlibrary loans by lender and
    /// outcome, or home deliveries with no dimension at all (one possible
    /// cell a month).
    fn single(dimensions: &[(&'static str, &'static [&'static str])]) -> Kind {
        let values: Vec<&[&'static str]> = dimensions.iter().map(|(_, v)| *v).collect();
        Kind {
            facets: vec![(
                dimensions.iter().map(|(d, _)| *d).collect(),
                cells_of(&values),
            )],
        }
    }

    /// Per month, per facet, per possible cell: how many records.
    type Counts = Vec<Vec<Vec<i64>>>;

    impl Kind {
        fn name(&self, facet: usize, cell: usize) -> String {
            let (dimensions, cells) = &self.facets[facet];
            dimensions
                .iter()
                .zip(&cells[cell])
                .map(|(d, v)| format!("{d}={v}"))
                .collect::<Vec<_>>()
                .join(";")
        }

        /// One month as the statistics table holds it: non-empty cells.
        fn stored_month(&self, month: &[Vec<i64>]) -> Vec<Cells> {
            month
                .iter()
                .enumerate()
                .map(|(facet, counts)| {
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, n)| **n > 0)
                        .map(|(cell, n)| {
                            let count = Count {
                                records: *n,
                                amount: 0,
                            };
                            (self.name(facet, cell), count)
                        })
                        .collect()
                })
                .collect()
        }

        /// Every report a reader could ask for, in a fixed order.
        fn every_report(
            &self,
            counts: &Counts,
            min_cell: i64,
        ) -> Vec<(Vec<String>, Vec<ReportRow>)> {
            let stored: BTreeMap<String, Vec<Cells>> = MONTHS
                .iter()
                .zip(counts)
                .map(|(month, cells)| (month.to_string(), self.stored_month(cells)))
                .collect();
            let mut ranges = vec![(MONTHS[0], MONTHS[MONTHS.len() - 1])];
            for (i, from) in MONTHS.iter().enumerate() {
                for to in &MONTHS[i..] {
                    ranges.push((from, to));
                }
            }
            let mut reports = Vec::new();
            for (facet, (dimensions, _)) in self.facets.iter().enumerate() {
                for subset in 0..1usize << dimensions.len() {
                    let by: Vec<String> = dimensions
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| subset & (1 << i) != 0)
                        .map(|(_, d)| d.to_string())
                        .collect();
                    for monthly in [false, true] {
                        for (from, to) in &ranges {
                            let in_range = stored
                                .range(from.to_string()..=to.to_string())
                                .map(|(m, c)| (m.clone(), c.clone()))
                                .collect();
                            reports.push(tabulate(&in_range, facet, &by, monthly, min_cell));
                        }
                    }
                }
            }
            reports
        }

        /// Every filling of one month's possible cells with 0..=cap records
        /// each whose facets have equal totals: the months of every library
        /// that could exist.
        fn fillings(&self, cap: i64) -> Vec<Vec<Vec<i64>>> {
            let vectors = |size: usize| -> Vec<Vec<i64>> {
                let base = cap as usize + 1;
                (0..base.pow(size as u32))
                    .map(|mut n| {
                        (0..size)
                            .map(|_| {
                                let digit = (n % base) as i64;
                                n /= base;
                                digit
                            })
                            .collect()
                    })
                    .collect()
            };
            let mut fillings: Vec<Vec<Vec<i64>>> = vec![Vec::new()];
            for (_, cells) in &self.facets {
                let mut by_total: BTreeMap<i64, Vec<Vec<i64>>> = BTreeMap::new();
                for vector in vectors(cells.len()) {
                    by_total
                        .entry(vector.iter().sum())
                        .or_default()
                        .push(vector);
                }
                fillings = fillings
                    .into_iter()
                    .flat_map(|so_far| {
                        let choices: Vec<Vec<i64>> = match so_far.first() {
                            None => by_total.values().flatten().cloned().collect(),
                            Some(first) => by_total
                                .get(&first.iter().sum())
                                .cloned()
                                .unwrap_or_default(),
                        };
                        choices.into_iter().map(move |vector| {
                            let mut filling = so_far.clone();
                            filling.push(vector);
                            filling
                        })
                    })
                    .collect();
            }
            fillings
        }
    }

    /// The small cells of `counts` that no other library tells apart under
    /// `publishes_the_same`, each as "month facet cell = count".
    fn determined(
        kind: &Kind,
        counts: &Counts,
        min_cell: i64,
        publishes_the_same: &dyn Fn(usize, &Counts) -> bool,
    ) -> Vec<String> {
        let mut determined = Vec::new();
        for (m, month) in counts.iter().enumerate() {
            let cap = month.iter().flatten().copied().max().unwrap_or(0) + 1;
            let alike: Vec<Vec<Vec<i64>>> = kind
                .fillings(cap)
                .into_iter()
                .filter(|filling| {
                    let mut other = counts.clone();
                    other[m] = filling.clone();
                    publishes_the_same(m, &other)
                })
                .collect();
            for (facet, cells) in month.iter().enumerate() {
                for (cell, &n) in cells.iter().enumerate() {
                    if n == 0 || n >= min_cell {
                        continue;
                    }
                    let values: BTreeSet<i64> = alike.iter().map(|f| f[facet][cell]).collect();
                    if values.len() < 2 {
                        determined.push(format!("{} {} = {n}", MONTHS[m], kind.name(facet, cell)));
                    }
                }
            }
        }
        determined
    }

    /// Carrel's rule: a month is told apart only through [`release`]; and
    /// for every small cell, one library with another count there is
    /// checked against every report, not only the release.
    fn determined_under_release(kind: &Kind, counts: &Counts, min_cell: i64) -> Vec<String> {
        let truth = kind.every_report(counts, min_cell);
        let same_release = |m: usize, other: &Counts| {
            release(MONTHS[m], &kind.stored_month(&other[m]), min_cell)
                == release(MONTHS[m], &kind.stored_month(&counts[m]), min_cell)
        };
        let mut found = determined(kind, counts, min_cell, &same_release);
        for (m, month) in counts.iter().enumerate() {
            let cap = month.iter().flatten().copied().max().unwrap_or(0) + 1;
            for (facet, cells) in month.iter().enumerate() {
                for (cell, &n) in cells.iter().enumerate() {
                    if n == 0 || n >= min_cell {
                        continue;
                    }
                    let witness = kind.fillings(cap).into_iter().find_map(|filling| {
                        let mut other = counts.clone();
                        other[m] = filling;
                        (other[m][facet][cell] != n && same_release(m, &other)).then_some(other)
                    });
                    if let Some(other) = witness {
                        if kind.every_report(&other, min_cell) != truth {
                            found.push(format!(
                                "{} {}: same release, different reports",
                                MONTHS[m],
                                kind.name(facet, cell)
                            ));
                        }
                    }
                }
            }
        }
        found
    }

    /// Counts for a kind from records, each a month and a cell per facet.
    fn count(kind: &Kind, records: &[(usize, Vec<usize>)]) -> Counts {
        let mut counts: Counts = MONTHS
            .iter()
            .map(|_| {
                kind.facets
                    .iter()
                    .map(|(_, cells)| vec![0; cells.len()])
                    .collect()
            })
            .collect();
        for (month, cells) in records {
            for (facet, cell) in cells.iter().enumerate() {
                counts[*month][facet][*cell] += 1;
            }
        }
        counts
    }

    /// The issue's table: in March, adult cards lent 14 times, 3 of them
    /// to 13-17-year-olds.
    fn issue_table() -> (Kind, Counts) {
        let kind = loans(&["1", "2"], &["adult"], &["13-17", "18-29", "30-44"]);
        let mut records = Vec::new();
        for (age, times) in [(0, 3), (1, 5), (2, 6)] {
            for _ in 0..times {
                records.push((0, vec![records.len() % 2, age]));
            }
        }
        let counts = count(&kind, &records);
        (kind, counts)
    }

    #[test]
    fn d3_the_brute_force_finds_the_cell_the_old_reports_gave_away() {
        // Before: each report left out its own small groups, and showed the
        // others with every record (so the adult total 14, less the age
        // bands shown, 5 and 6, gave 3 back).
        fn old_reports(
            kind: &Kind,
            counts: &Counts,
            min_cell: i64,
        ) -> Vec<Vec<(Vec<String>, i64)>> {
            let mut reports = Vec::new();
            for (facet, (dimensions, cells)) in kind.facets.iter().enumerate() {
                for subset in 0..1usize << dimensions.len() {
                    let mut groups: BTreeMap<Vec<String>, i64> = BTreeMap::new();
                    for (m, month) in counts.iter().enumerate() {
                        for (cell, n) in month[facet].iter().enumerate() {
                            let mut key = vec![MONTHS[m].to_string()];
                            key.extend(
                                cells[cell]
                                    .iter()
                                    .enumerate()
                                    .filter(|(i, _)| subset & (1 << i) != 0)
                                    .map(|(_, v)| v.to_string()),
                            );
                            *groups.entry(key).or_default() += n;
                        }
                    }
                    let shown: Vec<(Vec<String>, i64)> = groups
                        .iter()
                        .filter(|(_, n)| **n >= min_cell)
                        .map(|(k, n)| (k.clone(), *n))
                        .collect();
                    let suppressed = groups
                        .values()
                        .filter(|n| (1..min_cell).contains(*n))
                        .count();
                    let mut report = shown;
                    report.push((vec!["suppressed".into()], suppressed as i64));
                    reports.push(report);
                }
            }
            reports
        }
        let (kind, counts) = issue_table();
        let truth = old_reports(&kind, &counts, 5);
        let old = determined(&kind, &counts, 5, &|_, other| {
            old_reports(&kind, other, 5) == truth
        });
        assert!(
            old.contains(&"2026-01 category=adult;age=13-17 = 3".to_string()),
            "{old:?}"
        );
        assert_eq!(
            determined_under_release(&kind, &counts, 5),
            Vec::<String>::new()
        );
    }

    #[test]
    fn d3_four_loans_of_one_item_by_four_kinds_of_borrower_stay_hidden() {
        // Nothing reaches min_cell, so nothing is published: with a count
        // of suppressed cells the bounds alone would give 4 = 1+1+1+1.
        let kind = loans(&["1", "2"], &["adult", "juvenile"], &["13-17", "30-44"]);
        let records: Vec<(usize, Vec<usize>)> = (0..4).map(|c| (0, vec![0, c])).collect();
        let counts = count(&kind, &records);
        assert_eq!(
            release(MONTHS[0], &kind.stored_month(&counts[0]), 5),
            Release::Withheld
        );
        assert_eq!(
            determined_under_release(&kind, &counts, 5),
            Vec::<String>::new()
        );
    }

    #[test]
    fn d3_one_large_cell_per_facet_and_month_is_withheld_and_the_total_is_exact() {
        let (kind, counts) = issue_table();
        let Release::Published { total, shown } =
            release(MONTHS[0], &kind.stored_month(&counts[0]), 5)
        else {
            panic!("both facets have a large cell");
        };
        assert_eq!(total.records, 14);
        // Items 1 and 2 (7 each): one shown. Ages 18-29 and 30-44: one shown.
        assert_eq!(shown.iter().map(BTreeMap::len).collect::<Vec<_>>(), [1, 1]);
        assert!(!shown[1].contains_key("category=adult;age=13-17"));
        // The withheld cell is not always the same group.
        let withheld_in = |month: &str| {
            let names = ["category=adult;age=18-29", "category=adult;age=30-44"];
            names
                .iter()
                .min_by_key(|n| (withholding_order(month, n), **n))
                .copied()
        };
        let months: BTreeSet<_> = (1..=12)
            .filter_map(|m| withheld_in(&format!("2026-{m:02}")))
            .collect();
        assert_eq!(months.len(), 2);
    }

    const ITEMS: [&str; 2] = ["1", "2"];
    const CATEGORIES: [&str; 2] = ["adult", "juvenile"];
    const AGES: [&str; 2] = ["13-17", "30-44"];

    /// Up to ten records over the months, each naming a cell per facet by
    /// a number that each kind takes modulo its number of cells.
    fn records() -> impl Strategy<Value = Vec<(usize, [usize; 2])>> {
        proptest::collection::vec((0..MONTHS.len(), [0usize..4, 0usize..4]), 0..=10)
    }

    fn check(kind: &Kind, records: &[(usize, [usize; 2])], min_cell: i64) -> Vec<String> {
        let records: Vec<(usize, Vec<usize>)> = records
            .iter()
            .map(|(month, picks)| {
                let cells = kind
                    .facets
                    .iter()
                    .zip(picks)
                    .map(|((_, cells), pick)| pick % cells.len())
                    .collect();
                (*month, cells)
            })
            .collect();
        determined_under_release(kind, &count(kind, &records), min_cell)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Loans, linked by item and by borrower, with catalogues and age
        /// bands of several sizes: no small cell is determined by
        /// everything published.
        #[test]
        fn d3_no_small_cell_of_linked_facets_is_determined(
            records in records(),
            min_cell in 2i64..=4,
            shape in 0usize..3,
        ) {
            let kind = match shape {
                0 => loans(&ITEMS, &CATEGORIES, &AGES),
                1 => loans(&ITEMS[..1], &CATEGORIES, &AGES),
                _ => loans(&ITEMS, &CATEGORIES[..1], &AGES[..1]),
            };
            prop_assert_eq!(check(&kind, &records, min_cell), Vec::<String>::new());
        }

        /// Kinds counted under one facet, with four possible cells a month
        /// or only one.
        #[test]
        fn d3_no_small_cell_of_a_single_facet_is_determined(
            records in records(),
            min_cell in 2i64..=4,
            shape in 0usize..2,
        ) {
            let kind = match shape {
                0 => single(&[("lender", &["a", "b"]), ("outcome", &["filled", "refused"])]),
                _ => single(&[]),
            };
            prop_assert_eq!(check(&kind, &records, min_cell), Vec::<String>::new());
        }
    }
}
