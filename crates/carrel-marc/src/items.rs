//! From a MARC record to the items Carrel keeps: the bibliographic fields
//! every item of the record shares, and one item per holding.
//!
//! - title: 245 $a, with $b (remainder of title) after it;
//! - author: 100 $a (a person), else 110 $a (a body), else 111 $a (a
//!   meeting);
//! - call number: the holding's own (952 $o; 852 $h with $i), else the
//!   record's local call number (090 $a $b, else 092 $a $b), else its
//!   Dewey number (082 $a);
//! - barcode: 952 $p (Koha's items) or 852 $p (MARC 21 holdings);
//! - material type: 952 $y (the item type), else the kind of record the
//!   leader names (position 06).
//!
//! The punctuation MARC puts at the end of a subfield for display (" /",
//! " :", ",", ".") is taken off.

use crate::record::{subfield, Record};

/// One item read from a catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedItem {
    /// The number of the record (or CSV row) it came from, from 1.
    pub record: usize,
    /// The item's barcode.
    pub barcode: String,
    /// The title.
    pub title: String,
    /// The author, if the record names one.
    pub author: Option<String>,
    /// Where it is shelved, if the record says.
    pub call_number: Option<String>,
    /// What kind of item it is (book, dvd...), if the record says.
    pub material_type: Option<String>,
}

/// The items of record number `number`, or why it has none.
pub fn items_of(record: &Record, number: usize) -> Result<Vec<ImportedItem>, String> {
    let title = record
        .first("245", 'a')
        .map(|a| match record.first("245", 'b') {
            // "Pride and prejudice : a novel": the title, then its rest.
            Some(b) => format!("{}: {}", tidy(a), tidy(b)),
            None => tidy(a),
        })
        .filter(|t| !t.is_empty())
        .ok_or("the record has no title (245 $a)")?;
    let author = ["100", "110", "111"]
        .iter()
        .find_map(|tag| record.first(tag, 'a'))
        .map(tidy)
        .filter(|a| !a.is_empty());
    let shelved = ["090", "092"]
        .iter()
        .find_map(|tag| {
            record.data_fields(tag).next().and_then(|f| {
                let parts: Vec<String> = [subfield(f, 'a'), subfield(f, 'b')]
                    .into_iter()
                    .flatten()
                    .map(tidy_call_number)
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
        })
        .or_else(|| record.first("082", 'a').map(tidy_call_number));
    let kind = kind_of_record(&record.leader);
    let mut items = Vec::new();
    for holding in record.data_fields("952") {
        if let Some(barcode) = subfield(holding, 'p') {
            items.push(ImportedItem {
                record: number,
                barcode: barcode.trim().to_string(),
                title: title.clone(),
                author: author.clone(),
                call_number: subfield(holding, 'o')
                    .map(tidy_call_number)
                    .or_else(|| shelved.clone()),
                material_type: subfield(holding, 'y')
                    .map(|t| t.trim().to_lowercase())
                    .or_else(|| kind.map(str::to_string)),
            });
        }
    }
    for holding in record.data_fields("852") {
        if let Some(barcode) = subfield(holding, 'p') {
            let own: Vec<String> = [subfield(holding, 'h'), subfield(holding, 'i')]
                .into_iter()
                .flatten()
                .map(tidy_call_number)
                .collect();
            items.push(ImportedItem {
                record: number,
                barcode: barcode.trim().to_string(),
                title: title.clone(),
                author: author.clone(),
                call_number: if own.is_empty() {
                    shelved.clone()
                } else {
                    Some(own.join(" "))
                },
                material_type: kind.map(str::to_string),
            });
        }
    }
    if items.is_empty() {
        return Err(
            "the record has no item with a barcode (952 $p or 852 $p): nothing to lend".into(),
        );
    }
    Ok(items)
}

/// A subfield without the punctuation MARC adds for display.
fn tidy(value: &str) -> String {
    value
        .trim()
        .trim_end_matches([' ', '/', ':', ';', ',', '=', '.'])
        .trim()
        .to_string()
}

/// A call number keeps its full stops ("FIC SMI", "823.914"), loses only
/// blanks and a trailing slash.
fn tidy_call_number(value: &str) -> String {
    value.trim().trim_end_matches([' ', '/']).to_string()
}

/// The kind of record leader position 06 names, as a material type.
fn kind_of_record(leader: &str) -> Option<&'static str> {
    Some(match leader.as_bytes().get(6)? {
        b'a' | b't' => "book",
        b'c' | b'd' => "score",
        b'e' | b'f' => "map",
        b'g' => "video",
        b'i' => "audiobook",
        b'j' => "music",
        b'k' => "picture",
        b'm' => "computer_file",
        b'o' => "kit",
        b'p' => "mixed_materials",
        b'r' => "object",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Field;

    fn data(tag: &str, subfields: &[(char, &str)]) -> Field {
        Field::Data {
            tag: tag.into(),
            subfields: subfields.iter().map(|(c, v)| (*c, v.to_string())).collect(),
        }
    }

    #[test]
    fn a_koha_record_with_two_copies_gives_two_items() {
        let record = Record {
            leader: "01234cam a2200301 a 4500".into(),
            fields: vec![
                data("100", &[('a', "Austen, Jane,"), ('d', "1775-1817.")]),
                data(
                    "245",
                    &[
                        ('a', "Pride and prejudice :"),
                        ('b', "a novel /"),
                        ('c', "Jane Austen."),
                    ],
                ),
                data("092", &[('a', "823.7"), ('b', "AUS")]),
                data(
                    "952",
                    &[('p', "31234000000017"), ('o', "FIC AUS"), ('y', "BK")],
                ),
                data("952", &[('p', "31234000000025")]),
            ],
        };
        let items = items_of(&record, 7).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].title, "Pride and prejudice: a novel");
        assert_eq!(items[0].author.as_deref(), Some("Austen, Jane"));
        assert_eq!(items[0].call_number.as_deref(), Some("FIC AUS"));
        assert_eq!(items[0].material_type.as_deref(), Some("bk"));
        assert_eq!(items[1].call_number.as_deref(), Some("823.7 AUS"));
        assert_eq!(items[1].material_type.as_deref(), Some("book"));
        assert!(items.iter().all(|i| i.record == 7));
    }

    #[test]
    fn marc_holdings_852_and_a_corporate_author() {
        let record = Record {
            leader: "00000ngm a2200000 a 4500".into(),
            fields: vec![
                data("110", &[('a', "BBC Natural History Unit.")]),
                data("245", &[('a', "Planet earth.")]),
                data(
                    "852",
                    &[('h', "DVD 508"), ('i', "PLA"), ('p', "30000000000001")],
                ),
            ],
        };
        let items = items_of(&record, 1).unwrap();
        assert_eq!(items[0].author.as_deref(), Some("BBC Natural History Unit"));
        assert_eq!(items[0].call_number.as_deref(), Some("DVD 508 PLA"));
        assert_eq!(items[0].material_type.as_deref(), Some("video"));
    }

    #[test]
    fn a_record_without_title_or_barcode_says_which() {
        let no_title = Record {
            leader: String::new(),
            fields: vec![data("952", &[('p', "1234")])],
        };
        assert!(items_of(&no_title, 1).unwrap_err().contains("245 $a"));
        let no_item = Record {
            leader: String::new(),
            fields: vec![data("245", &[('a', "Alone")])],
        };
        assert!(items_of(&no_item, 1)
            .unwrap_err()
            .contains("952 $p or 852 $p"));
    }
}
