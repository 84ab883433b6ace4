//! # carrel-marc
//!
//! Reads a library's existing catalogue into items Carrel can load: MARC 21
//! bibliographic records with holdings, as ISO 2709 (the binary exchange
//! format every library system exports) or MARCXML, and CSV with a header
//! row.
//!
//! Every record that cannot be read is reported with its number and why,
//! and reading goes on with the next: one broken record never costs the
//! rest of the file. Nothing here touches a database; `carrel-store`
//! checks and loads what this crate reads.
//!
//! Why a small reader of our own rather than a MARC crate: Carrel needs
//! four fields of each record and its holdings, and a precise account of
//! every record it could not read. The format (ANSI/NISO Z39.2, MARC 21
//! "Record Structure") is small; the crates that read it either stop at
//! the first bad record or bring a record model, MARC-8 tables and
//! language bindings Carrel would not use.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod csv_items;
pub mod iso2709;
mod items;
mod record;
pub mod xml;

pub use csv_items::{read_csv, CSV_COLUMNS};
pub use items::{items_of, ImportedItem};
pub use record::{Field, Record};

/// A record that could not be read or mapped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The record's number in the file, from 1 (for CSV, the data row's).
    pub record: usize,
    /// What was wrong, in words that say what to do.
    pub reason: String,
}

/// What was read from a file: the items, in file order, and the records
/// that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Read {
    /// How many records the file held (read or not).
    pub records: usize,
    /// The items found, each with the number of the record it came from.
    pub items: Vec<ImportedItem>,
    /// The records that could not be read, in file order: the first
    /// [`LISTED`] of them.
    pub problems: Vec<Problem>,
    /// How many more could not be read than are listed.
    pub unlisted: usize,
}

/// How many problems a read lists; past that it counts them (a file of
/// broken records must not make a report, or a server's memory, as large
/// as the file many times over).
pub const LISTED: usize = 1000;

impl Read {
    /// Notes a record that could not be read.
    pub fn problem(&mut self, problem: Problem) {
        if self.problems.len() < LISTED {
            self.problems.push(problem);
        } else {
            self.unlisted += 1;
        }
    }
}

/// The formats Carrel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// MARC 21 in ISO 2709 (`.mrc`).
    Iso2709,
    /// MARC 21 in XML (`.xml`, the MARC 21 slim schema).
    MarcXml,
    /// A CSV file whose header names [`CSV_COLUMNS`].
    Csv,
}

impl Format {
    /// The format of a file, from its first bytes: XML starts with `<`
    /// (after any byte-order mark or blank), ISO 2709 with a five-digit
    /// record length, and anything else is taken for CSV.
    pub fn detect(bytes: &[u8]) -> Format {
        let unmarked = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let start = unmarked
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&[][..], |at| &unmarked[at..]);
        if start.starts_with(b"<") {
            Format::MarcXml
        } else if start.len() >= 24 && start[..5].iter().all(u8::is_ascii_digit) {
            Format::Iso2709
        } else {
            Format::Csv
        }
    }
}

/// Reads a catalogue file in whichever format it is in. A CSV file whose
/// header is wrong is refused whole (`Err`, naming the column): its rows
/// cannot be read at all.
pub fn read(bytes: &[u8]) -> Result<Read, String> {
    match Format::detect(bytes) {
        Format::Iso2709 => Ok(from_records(iso2709::records(bytes))),
        Format::MarcXml => Ok(from_records(xml::records(bytes))),
        Format::Csv => read_csv(bytes),
    }
}

/// The items of MARC records, and the problems of those that could not be
/// read or held no item.
fn from_records(records: impl Iterator<Item = Result<Record, Problem>>) -> Read {
    let mut read = Read::default();
    for (index, record) in records.enumerate() {
        read.records += 1;
        let number = index + 1;
        match record.and_then(|r| {
            items_of(&r, number).map_err(|reason| Problem {
                record: number,
                reason,
            })
        }) {
            Ok(items) => read.items.extend(items),
            Err(problem) => read.problem(problem),
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn formats_are_told_apart_by_their_first_bytes() {
        assert_eq!(Format::detect(b"<?xml version=\"1.0\"?>"), Format::MarcXml);
        assert_eq!(
            Format::detect(b"\xEF\xBB\xBF  <collection>"),
            Format::MarcXml
        );
        assert_eq!(
            Format::detect(b"00714cam a2200205 a 4500001001300000"),
            Format::Iso2709
        );
        assert_eq!(Format::detect(b"barcode,title\n1,A"), Format::Csv);
        assert_eq!(Format::detect(b""), Format::Csv);
    }
}
