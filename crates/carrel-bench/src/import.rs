//! `cargo run --release -p carrel-bench -- import [RECORDS] [--postgres URL]`:
//! a catalogue of RECORDS MARC 21 records (default 100,000), each a book
//! with one item as Koha exports it (245, 100, 092, 952), written as ISO
//! 2709 and as MARCXML, then read and loaded as `carrel import items`
//! does: records per second, reading and loading apart.

use std::time::Instant;

use carrel_marc::iso2709;
use carrel_marc::{Field, Record};

fn data(tag: &str, subfields: &[(char, String)]) -> Field {
    Field::Data {
        tag: tag.into(),
        subfields: subfields.to_vec(),
    }
}

/// Record `n` of the generated catalogue.
fn record(n: usize) -> Record {
    Record {
        leader: "00000nam a2200000 a 4500".into(),
        fields: vec![
            Field::Control {
                tag: "001".into(),
                data: format!("bench{n:08}"),
            },
            data("100", &[('a', format!("Author{}, Given,", n % 9973))]),
            data(
                "245",
                &[
                    ('a', format!("A history of place number {n} :")),
                    ('b', "with maps and tables /".into()),
                ],
            ),
            data(
                "092",
                &[
                    ('a', format!("{}.{}", n % 1000, n % 97)),
                    ('b', "AUT".into()),
                ],
            ),
            data(
                "952",
                &[
                    ('p', format!("38{n:012}")),
                    ('o', format!("FIC {}", n % 500)),
                    ('y', "BK".into()),
                ],
            ),
        ],
    }
}

/// The same records as MARCXML.
fn as_xml(records: usize) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<collection xmlns=\"http://www.loc.gov/MARC21/slim\">\n");
    for n in 0..records {
        out.push_str("<record><leader>00000nam a2200000 a 4500</leader>");
        for field in record(n).fields {
            match field {
                Field::Control { tag, data } => out.push_str(&format!(
                    "<controlfield tag=\"{tag}\">{data}</controlfield>"
                )),
                Field::Data { tag, subfields } => {
                    out.push_str(&format!("<datafield tag=\"{tag}\" ind1=\" \" ind2=\" \">"));
                    for (code, value) in subfields {
                        out.push_str(&format!("<subfield code=\"{code}\">{value}</subfield>"));
                    }
                    out.push_str("</datafield>");
                }
            }
        }
        out.push_str("</record>\n");
    }
    out.push_str("</collection>\n");
    out.into_bytes()
}

pub fn main(argv: Vec<String>) {
    let records: usize = argv
        .first()
        .filter(|a| !a.starts_with("--"))
        .map_or(100_000, |a| a.parse().expect("RECORDS is a number"));
    let postgres = argv
        .iter()
        .position(|a| a == "--postgres")
        .and_then(|i| argv.get(i + 1).cloned());
    let dir = std::env::temp_dir().join(format!("carrel-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let iso: Vec<u8> = (0..records)
        .flat_map(|n| iso2709::write(&record(n)))
        .collect();
    let xml = as_xml(records);
    println!(
        "carrel-bench import: {records} MARC records ({} MB as ISO 2709, {} MB as MARCXML)",
        iso.len() / 1_000_000,
        xml.len() / 1_000_000
    );
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>14}",
        "file, engine", "read s", "load s", "total s", "records/s"
    );
    let mut targets = vec![("sqlite".to_string(), None)];
    if let Some(url) = postgres {
        targets.push(("postgresql".to_string(), Some(url)));
    }
    for (format, bytes) in [("ISO 2709", &iso), ("MARCXML", &xml)] {
        for (engine, pg) in &targets {
            let url = match pg {
                None => format!(
                    "sqlite:{}",
                    dir.join(format!("{}-{engine}.db", format.replace(' ', "")))
                        .display()
                ),
                Some(url) => {
                    let schema = format!("bench_import_{}_{}", std::process::id(), format.len());
                    format!("{url}?schema={schema}")
                }
            };
            let store = crate::open_store(&url);
            let started = Instant::now();
            let (read, items) = carrel_server::catalogue_import::read_file(bytes).unwrap();
            let read_s = started.elapsed().as_secs_f64();
            let loading = Instant::now();
            let (loaded, rejected) =
                carrel_store::items::import_as_operator(&store, &items, &mut |_| {}).unwrap();
            let load_s = loading.elapsed().as_secs_f64();
            let total = started.elapsed().as_secs_f64();
            assert_eq!(loaded, records, "every record loads");
            assert!(rejected.is_empty() && read.problems.is_empty());
            println!(
                "{:<34} {:>10.2} {:>10.2} {:>12.2} {:>14.0}",
                format!("{format}, {engine}"),
                read_s,
                load_s,
                total,
                records as f64 / total
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
