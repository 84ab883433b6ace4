//! A library's catalogue file, from bytes to items loaded: read by
//! `carrel-marc` (MARC 21 as ISO 2709 or MARCXML, or CSV), checked and
//! loaded by `carrel_store::items::import`, and every record that could not
//! be read or loaded reported with its number and why. Both ways in use
//! it: `carrel import items FILE` and the staff upload form.

use carrel_marc::Problem;
use carrel_store::items::{NewItem, Rejected};

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How many records (or CSV rows) the file held.
    pub records: usize,
    /// How many items were added to the catalogue.
    pub loaded: usize,
    /// Every record that could not be read, and every item that could not
    /// be loaded, in file order: the first [`carrel_marc::LISTED`].
    pub problems: Vec<Problem>,
    /// How many more problems there were than are listed.
    pub unlisted: usize,
}

/// The items of a catalogue file, each with its record number, ready for
/// the store; and the records that could not be read. A file refused
/// whole (a CSV header Carrel cannot use) is `Err`, saying why.
pub fn read_file(bytes: &[u8]) -> Result<(carrel_marc::Read, Vec<(usize, NewItem)>), String> {
    let mut read = carrel_marc::read(bytes)?;
    let items = std::mem::take(&mut read.items)
        .into_iter()
        .map(|item| {
            (
                item.record,
                NewItem {
                    barcode: item.barcode,
                    title: item.title,
                    author: item.author,
                    call_number: item.call_number,
                    material_type: item.material_type,
                },
            )
        })
        .collect();
    Ok((read, items))
}

/// The report of an import: what was read, what was loaded, and every
/// problem, in the order of the file.
pub fn report(read: carrel_marc::Read, loaded: usize, rejected: Vec<Rejected>) -> Report {
    let mut problems = read.problems;
    let total = problems.len() + read.unlisted + rejected.len();
    problems.extend(rejected.into_iter().map(|r| Problem {
        record: r.record,
        reason: r.reason,
    }));
    problems.sort_by_key(|p| p.record);
    problems.truncate(carrel_marc::LISTED);
    Report {
        records: read.records,
        loaded,
        unlisted: total - problems.len(),
        problems,
    }
}
