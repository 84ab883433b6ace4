//! Items from a CSV file: a header row naming columns from
//! [`CSV_COLUMNS`] (in any order; `barcode` and `title` required), then one
//! item per row.

use crate::{ImportedItem, Problem, Read};

/// The columns a catalogue CSV may have.
pub const CSV_COLUMNS: [&str; 5] = ["barcode", "title", "author", "call_number", "material_type"];

/// Reads a catalogue CSV. A header naming a column Carrel does not know,
/// or missing `barcode` or `title`, refuses the whole file, naming it.
pub fn read_csv(bytes: &[u8]) -> Result<Read, String> {
    // Not flexible: a row with more or fewer fields than the header is a
    // problem of its own, not a row loaded with its fields shifted.
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the first line is not a CSV header: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    for column in &header {
        if !CSV_COLUMNS.contains(&column.as_str()) {
            return Err(format!(
                "the column '{column}' is not one Carrel reads for items; use {}",
                CSV_COLUMNS.join(", ")
            ));
        }
    }
    let at = |name: &str| header.iter().position(|h| h == name);
    let (Some(barcode_at), Some(title_at)) = (at("barcode"), at("title")) else {
        return Err("the header must name the columns barcode and title".into());
    };
    let optional = |row: &csv::StringRecord, name: &str| {
        at(name)
            .and_then(|i| row.get(i))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut read = Read::default();
    for (index, row) in reader.records().enumerate() {
        let number = index + 1;
        read.records += 1;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                read.problem(Problem {
                    record: number,
                    reason: format!("the row cannot be read as CSV: {e}"),
                });
                continue;
            }
        };
        let field = |i: usize| row.get(i).unwrap_or("").to_string();
        let (barcode, title) = (field(barcode_at), field(title_at));
        if barcode.is_empty() || title.is_empty() {
            read.problem(Problem {
                record: number,
                reason: "the row has no barcode or no title".into(),
            });
            continue;
        }
        read.items.push(ImportedItem {
            record: number,
            barcode,
            title,
            author: optional(&row, "author"),
            call_number: optional(&row, "call_number"),
            material_type: optional(&row, "material_type").map(|t| t.to_lowercase()),
        });
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::read_csv;

    #[test]
    fn rows_are_read_and_a_bad_row_is_reported() {
        let read = read_csv(
            b"Title,barcode,author\n\"Dune, deluxe\",39000000000001,Herbert\n,39000000000002,\nEmma,39000000000003,\nToo,many,fields,here\n",
        )
        .unwrap();
        assert_eq!(read.records, 4);
        assert_eq!(read.items.len(), 2);
        assert_eq!(read.items[0].title, "Dune, deluxe");
        assert_eq!(read.items[1].author, None);
        assert_eq!(read.problems[0].record, 2);
        assert_eq!(read.problems[1].record, 4, "a shifted row is not loaded");
    }

    #[test]
    fn an_unknown_column_refuses_the_file_by_name() {
        let err = read_csv(b"barcode,title,borrower\n1,A,Someone\n").unwrap_err();
        assert!(err.contains("'borrower'"), "{err}");
        assert!(read_csv(b"barcode,author\n1,A\n")
            .unwrap_err()
            .contains("barcode and title"));
    }
}
