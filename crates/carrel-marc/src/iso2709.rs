//! MARC 21 records in ISO 2709, the binary exchange format.
//!
//! A record is a 24-byte leader, a directory of 12-byte entries (tag,
//! field length, field start) ended by a field terminator (0x1E), then the
//! fields, each ended by 0x1E, and the record terminator (0x1D). Data
//! fields start with two indicators; their subfields each start with the
//! delimiter 0x1F and a one-character code.
//!
//! The file is cut into records at the record terminators rather than by
//! the length each leader declares, so a record whose length is wrong
//! costs only itself: the next record is found anyway.

use crate::record::{Field, Record};
use crate::Problem;

const FIELD_END: u8 = 0x1E;
const RECORD_END: u8 = 0x1D;
const SUBFIELD: u8 = 0x1F;

/// The records of an ISO 2709 file, in order: each read, or why it could
/// not be.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Result<Record, Problem>> + '_ {
    bytes
        .split_inclusive(|b| *b == RECORD_END)
        // Line breaks some tools put between records, and a file's tail.
        .map(trim_ascii_start)
        .filter(|chunk| !chunk.iter().all(|b| b.is_ascii_whitespace()))
        .enumerate()
        .map(|(index, chunk)| {
            parse(chunk).map_err(|reason| Problem {
                record: index + 1,
                reason,
            })
        })
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn number(bytes: &[u8], what: &str) -> Result<usize, String> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("the {what} is not a number"))
}

/// One record, from its leader to its record terminator.
pub fn parse(chunk: &[u8]) -> Result<Record, String> {
    if chunk.last() != Some(&RECORD_END) {
        return Err(
            "the file ends in the middle of this record (no record terminator): the file was cut short"
                .into(),
        );
    }
    if chunk.len() < 25 {
        return Err("the record is shorter than a MARC leader (24 bytes)".into());
    }
    let leader = &chunk[..24];
    let declared = number(
        &leader[..5],
        "record length in the leader (positions 00-04)",
    )?;
    if declared != chunk.len() {
        return Err(format!(
            "the leader says the record is {declared} bytes long, but it is {} bytes",
            chunk.len()
        ));
    }
    let base = number(
        &leader[12..17],
        "base address of data in the leader (positions 12-16)",
    )?;
    if base < 25 || base > chunk.len() || chunk[base - 1] != FIELD_END {
        return Err(
            "the leader's base address of data does not point just past the directory".into(),
        );
    }
    let text = |bytes: &[u8]| -> Result<String, String> { decode(leader[9], bytes) };
    let directory = &chunk[24..base - 1];
    if !directory.len().is_multiple_of(12) {
        return Err(format!(
            "the directory is {} bytes long, not a multiple of 12",
            directory.len()
        ));
    }
    let mut record = Record {
        leader: text(leader)?,
        fields: Vec::with_capacity(directory.len() / 12),
    };
    for entry in directory.chunks(12) {
        let tag = text(&entry[..3])?;
        let length = number(
            &entry[3..7],
            &format!("length of field {tag} in the directory"),
        )?;
        let start = number(
            &entry[7..12],
            &format!("start of field {tag} in the directory"),
        )?;
        let from = base + start;
        let to = from + length;
        if length == 0 || to > chunk.len() - 1 || chunk[to - 1] != FIELD_END {
            return Err(format!(
                "field {tag} does not end where the directory says it does"
            ));
        }
        let data = &chunk[from..to - 1];
        if tag.as_str() < "010" {
            record.fields.push(Field::Control {
                tag,
                data: text(data)?,
            });
            continue;
        }
        if data.len() < 2 {
            return Err(format!("field {tag} has no indicators"));
        }
        let mut subfields = Vec::new();
        for part in data[2..].split(|b| *b == SUBFIELD).skip(1) {
            let Some((&code, value)) = part.split_first() else {
                continue;
            };
            subfields.push((char::from(code), text(value)?));
        }
        record.fields.push(Field::Data { tag, subfields });
    }
    Ok(record)
}

/// Field data as text. Leader position 09 says how it is encoded: `a` is
/// UTF-8; blank is MARC-8, which Carrel reads only where it is plain ASCII
/// (MARC-8's other characters need its conversion tables).
fn decode(coding: u8, bytes: &[u8]) -> Result<String, String> {
    if coding != b'a' && !bytes.is_ascii() {
        return Err("the record is in MARC-8 with characters beyond ASCII; convert the file to UTF-8 first (for example: yaz-marcdump -f MARC-8 -t UTF-8 -o marc -l 9=97 FILE), then import it again".into());
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| "the leader says UTF-8, but the record is not valid UTF-8".into())
}

/// Writes `record` in ISO 2709, UTF-8 (leader position 09 `a`): for tests
/// and benchmarks, which need files as library systems export them.
pub fn write(record: &Record) -> Vec<u8> {
    let mut directory = Vec::new();
    let mut data = Vec::new();
    for field in &record.fields {
        let start = data.len();
        let tag = match field {
            Field::Control { tag, data: value } => {
                data.extend_from_slice(value.as_bytes());
                tag
            }
            Field::Data { tag, subfields } => {
                data.extend_from_slice(b"  ");
                for (code, value) in subfields {
                    data.push(SUBFIELD);
                    let mut buffer = [0; 4];
                    data.extend_from_slice(code.encode_utf8(&mut buffer).as_bytes());
                    data.extend_from_slice(value.as_bytes());
                }
                tag
            }
        };
        data.push(FIELD_END);
        directory
            .extend_from_slice(format!("{tag:0>3}{:04}{start:05}", data.len() - start).as_bytes());
    }
    directory.push(FIELD_END);
    data.push(RECORD_END);
    let base = 24 + directory.len();
    let length = base + data.len();
    let mut leader: Vec<u8> = if record.leader.len() == 24 {
        record.leader.as_bytes().to_vec()
    } else {
        b"00000nam a2200000 a 4500".to_vec()
    };
    leader[..5].copy_from_slice(format!("{length:05}").as_bytes());
    leader[9] = b'a';
    leader[12..17].copy_from_slice(format!("{base:05}").as_bytes());
    let mut out = leader;
    out.extend(directory);
    out.extend(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            leader: "00000nam a2200000 a 4500".into(),
            fields: vec![
                Field::Control {
                    tag: "001".into(),
                    data: "ocm00012345".into(),
                },
                Field::Data {
                    tag: "245".into(),
                    subfields: vec![
                        ('a', "Les misérables /".into()),
                        ('c', "Victor Hugo.".into()),
                    ],
                },
            ],
        }
    }

    #[test]
    fn a_written_record_reads_back_the_same() {
        let bytes = write(&sample());
        let read: Vec<_> = records(&bytes).collect();
        assert_eq!(read.len(), 1);
        let record = read[0].clone().unwrap();
        assert_eq!(record.fields, sample().fields);
        assert_eq!(record.first("245", 'a'), Some("Les misérables /"));
    }

    #[test]
    fn a_broken_record_costs_only_itself() {
        let good = write(&sample());
        let mut wrong_length = good.clone();
        wrong_length[..5].copy_from_slice(b"00999");
        let mut broken_directory = good.clone();
        broken_directory[27] = b'X';
        let mut file = good.clone();
        file.extend(&wrong_length);
        file.extend(b"\n");
        file.extend(&broken_directory);
        file.extend(&good);
        file.extend(&good[..40]); // cut short
        let read: Vec<_> = records(&file).collect();
        assert_eq!(read.len(), 5);
        assert!(read[0].is_ok());
        let problem = read[1].clone().unwrap_err();
        assert_eq!(problem.record, 2);
        assert!(
            problem.reason.contains("says the record is 999 bytes"),
            "{}",
            problem.reason
        );
        let problem = read[2].clone().unwrap_err();
        assert_eq!(problem.record, 3);
        assert!(problem.reason.contains("directory"), "{}", problem.reason);
        assert!(read[3].is_ok());
        assert!(read[4].clone().unwrap_err().reason.contains("cut short"));
    }

    #[test]
    fn marc_8_beyond_ascii_is_refused_with_what_to_do() {
        let mut bytes = write(&sample());
        bytes[9] = b' ';
        let problem = records(&bytes).next().unwrap().unwrap_err();
        assert!(problem.reason.contains("MARC-8"), "{}", problem.reason);
        assert!(problem.reason.contains("convert the file to UTF-8"));
        // Plain ASCII in MARC-8 reads.
        let mut ascii = sample();
        ascii.fields[1] = Field::Data {
            tag: "245".into(),
            subfields: vec![('a', "Moby Dick".into())],
        };
        let mut bytes = write(&ascii);
        bytes[9] = b' ';
        assert!(records(&bytes).next().unwrap().is_ok());
    }

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        for bytes in [
            &b"\x1d"[..],
            b"12345\x1d",
            b"0002999999999999999999999\x1d",
            b"00030nam a2200025 a 4500\x1e\x1f\x1d\x1d",
            b"00040nam a22000370a 4500245000300000\x1e\x1d",
        ] {
            for record in records(bytes) {
                assert!(record.is_err(), "{bytes:?}");
            }
        }
    }
}
