//! Patrons from another system's CSV export (issue 16 item 5), for
//! `carrel import patrons FILE --map COLUMN=FIELD,...`.
//!
//! Each column of the file is named by its header, mapped (or not) to a
//! field the policy lets a registration carry. A column that maps to no
//! declared field refuses the whole file, naming it, before anything is
//! written (N4): Carrel stores only what the policy declares, and never a
//! borrowing history, which no policy field holds (a `checkouts` or
//! `history` column is such a column).

use std::collections::BTreeMap;

use serde_json::Value as Json;

/// One row of a patron CSV: its number (from 1, the header not counted)
/// and the registration it holds.
pub type Row = (usize, BTreeMap<String, Json>);

/// The registrations of a patron CSV, each with its row number (from 1,
/// the header not counted); or why the file is refused.
///
/// `map` renames the file's columns (`"Borrower Name" => "name"`); a
/// column it does not name keeps its own header as the field's name.
pub fn read(
    bytes: &[u8],
    map: &BTreeMap<String, String>,
    policy: &carrel_policy::Policy,
) -> Result<Vec<Row>, String> {
    let declared: Vec<String> = carrel_store::patrons::declared_inputs(policy)
        .into_iter()
        .map(|input| input.key)
        .collect();
    for (column, field) in map {
        if !declared.contains(field) {
            return Err(format!(
                "--map sends column '{column}' to '{field}', which the policy does not declare for registrations; declared: {}",
                declared.join(", ")
            ));
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the first line is not a CSV header: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut fields = Vec::with_capacity(header.len());
    for column in &header {
        let field = map.get(column).cloned().unwrap_or_else(|| column.clone());
        if !declared.contains(&field) {
            return Err(format!(
                "the column '{column}' is not a field the library's policy declares for registrations, so Carrel will not store it; remove the column or map it with --map '{column}=FIELD' (declared: {}). Nothing was imported",
                declared.join(", ")
            ));
        }
        if let Some(at) = fields.iter().position(|f| f == &field) {
            return Err(format!(
                "the columns '{}' and '{column}' both go to '{field}'; keep one (Carrel would store only the last, and lose the other). Nothing was imported",
                header[at]
            ));
        }
        fields.push(field);
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let record = record
            .map_err(|e| format!("row {row} cannot be read as CSV: {e}; nothing was imported"))?;
        let registration: BTreeMap<String, Json> = fields
            .iter()
            .zip(record.iter())
            .filter(|(_, value)| !value.is_empty())
            .map(|(field, value)| (field.clone(), Json::String(value.to_string())))
            .collect();
        rows.push((row, registration));
    }
    Ok(rows)
}

/// `--map` as given: `COLUMN=FIELD` pairs, separated by commas.
pub fn parse_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (column, field) = pair.split_once('=').ok_or_else(|| {
            format!("--map takes COLUMN=FIELD pairs separated by commas; '{pair}' has no '='")
        })?;
        map.insert(column.trim().to_string(), field.trim().to_string());
    }
    Ok(map)
}
