//! MARC 21 records in MARCXML (the "MARC 21 slim" schema): a
//! `<collection>` of `<record>`s, each with a `<leader>`,
//! `<controlfield tag>`s and `<datafield tag ind1 ind2>`s holding
//! `<subfield code>`s. Elements are matched by local name, so a namespace
//! prefix (`marc:record`) makes no difference.
//!
//! A record with a field Carrel cannot read is reported and skipped. XML
//! that is not well-formed cannot be read past the fault: the record it
//! falls in is reported with where it broke, and reading stops there.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::record::{Field, Record};
use crate::Problem;

/// The records of a MARCXML file, in order: each read, or why it could not
/// be.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Result<Record, Problem>> + '_ {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().trim_text(false);
    let mut number = 0;
    let mut broken = false;
    std::iter::from_fn(move || {
        if broken {
            return None;
        }
        loop {
            match reader.read_event() {
                Ok(Event::Start(start)) if local(&start) == b"record" => {
                    number += 1;
                    return Some(record(&mut reader).map_err(|(reason, fatal)| {
                        broken = fatal;
                        Problem {
                            record: number,
                            reason,
                        }
                    }));
                }
                Ok(Event::Eof) => return None,
                Ok(_) => {}
                Err(e) => {
                    broken = true;
                    return Some(Err(Problem {
                        record: number + 1,
                        reason: not_well_formed(&reader, &e),
                    }));
                }
            }
        }
    })
}

/// Why reading stopped: where the XML broke, and that nothing after it
/// was read.
fn not_well_formed(reader: &Reader<&[u8]>, error: &quick_xml::Error) -> String {
    format!(
        "the XML is not well-formed near byte {} ({error}); records from here on were not read",
        reader.buffer_position()
    )
}

fn local<'a>(start: &'a BytesStart<'_>) -> &'a [u8] {
    let name = start.name().into_inner();
    match name.iter().rposition(|b| *b == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    }
}

fn attribute(start: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().into_inner() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Reads one `<record>` after its start tag. The error says whether the
/// XML itself broke (`true`: nothing after can be read).
fn record(reader: &mut Reader<&[u8]>) -> Result<Record, (String, bool)> {
    let mut record = Record::default();
    let mut problem: Option<String> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| (not_well_formed(reader, &e), true))?;
        match event {
            Event::Start(start) => match local(&start) {
                b"leader" => record.leader = text(reader, b"leader")?,
                b"controlfield" => {
                    let tag = attribute(&start, b"tag");
                    let data = text(reader, b"controlfield")?;
                    match tag {
                        Some(tag) => record.fields.push(Field::Control { tag, data }),
                        None => problem = Some("a controlfield has no tag".into()),
                    }
                }
                b"datafield" => match attribute(&start, b"tag") {
                    Some(tag) => {
                        let subfields = subfields(reader, &mut problem)?;
                        record.fields.push(Field::Data { tag, subfields });
                    }
                    None => {
                        problem = Some("a datafield has no tag".into());
                        subfields(reader, &mut problem)?;
                    }
                },
                _ => {}
            },
            Event::End(end) if local_end(end.name().into_inner()) == b"record" => break,
            Event::Eof => return Err(("the file ends in the middle of this record".into(), true)),
            _ => {}
        }
    }
    match problem {
        Some(reason) => Err((reason, false)),
        None => Ok(record),
    }
}

fn local_end(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|b| *b == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    }
}

/// The text of an element up to its end tag.
fn text(reader: &mut Reader<&[u8]>, element: &[u8]) -> Result<String, (String, bool)> {
    let mut value = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Text(t)) => value.push_str(
                &t.xml_content()
                    .map_err(|e| (format!("a value cannot be read: {e}"), false))?,
            ),
            Ok(Event::GeneralRef(r)) => {
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                value.push_str(&entity(&name).ok_or_else(|| {
                    (format!("the entity &{name}; is not one XML defines"), false)
                })?);
            }
            Ok(Event::CData(c)) => value.push_str(&String::from_utf8_lossy(&c)),
            Ok(Event::End(end)) if local_end(end.name().into_inner()) == element => {
                return Ok(value)
            }
            Ok(Event::Eof) => {
                return Err(("the file ends in the middle of this record".into(), true))
            }
            Ok(_) => {}
            Err(e) => return Err((not_well_formed(reader, &e), true)),
        }
    }
}

/// The five entities XML predefines, and character references.
fn entity(name: &str) -> Option<String> {
    let plain = match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            return char::from_u32(code).map(String::from);
        }
    };
    Some(plain.to_string())
}

fn subfields(
    reader: &mut Reader<&[u8]>,
    problem: &mut Option<String>,
) -> Result<Vec<(char, String)>, (String, bool)> {
    let mut found = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) if local(&start) == b"subfield" => {
                let code = attribute(&start, b"code").and_then(|c| {
                    let mut chars = c.chars();
                    chars.next().filter(|_| chars.next().is_none())
                });
                let value = text(reader, b"subfield")?;
                match code {
                    Some(code) => found.push((code, value)),
                    None => *problem = Some("a subfield has no one-character code".into()),
                }
            }
            Ok(Event::End(end)) if local_end(end.name().into_inner()) == b"datafield" => {
                return Ok(found)
            }
            Ok(Event::Eof) => {
                return Err(("the file ends in the middle of this record".into(), true))
            }
            Ok(_) => {}
            Err(e) => return Err((not_well_formed(reader, &e), true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::records;

    const TWO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<marc:collection xmlns:marc="http://www.loc.gov/MARC21/slim">
 <marc:record>
  <marc:leader>00000nam a2200000 a 4500</marc:leader>
  <marc:controlfield tag="001">123</marc:controlfield>
  <marc:datafield tag="245" ind1="1" ind2="0">
   <marc:subfield code="a">Pride &amp; prejudice /</marc:subfield>
  </marc:datafield>
 </marc:record>
 <marc:record>
  <marc:leader>00000nam a2200000 a 4500</marc:leader>
  <marc:datafield tag="245" ind1="1" ind2="0"><marc:subfield>no code</marc:subfield></marc:datafield>
 </marc:record>
 <marc:record>
  <marc:datafield tag="100" ind1="1" ind2=" "><marc:subfield code="a">Brontë, Emily</marc:subfield></marc:datafield>
 </marc:record>
</marc:collection>"#;

    #[test]
    fn records_are_read_and_a_bad_one_is_reported_by_number() {
        let read: Vec<_> = records(TWO.as_bytes()).collect();
        assert_eq!(read.len(), 3);
        let first = read[0].clone().unwrap();
        assert_eq!(first.first("245", 'a'), Some("Pride & prejudice /"));
        let problem = read[1].clone().unwrap_err();
        assert_eq!(problem.record, 2);
        assert!(problem.reason.contains("no one-character code"));
        assert_eq!(
            read[2].clone().unwrap().first("100", 'a'),
            Some("Brontë, Emily")
        );
    }

    #[test]
    fn broken_xml_stops_with_where_it_broke() {
        // The second record's datafield closes with the wrong tag.
        let broken = TWO.replace(
            "no code</marc:subfield></marc:datafield>",
            "no code</marc:subfield></marc:nonsense>",
        );
        let read: Vec<_> = records(broken.as_bytes()).collect();
        assert_eq!(read.len(), 2, "nothing is read past the fault");
        assert!(read[0].is_ok());
        let problem = read[1].clone().unwrap_err();
        assert_eq!(problem.record, 2);
        assert!(
            problem.reason.contains("not well-formed"),
            "{}",
            problem.reason
        );
    }
}
