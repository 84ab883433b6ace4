//! The export package of a released disclosure: a JSON file and a
//! human-readable HTML page, each opening with a cover sheet (request,
//! legal basis, approver, date), holding exactly the approved record
//! classes of one patron, for the approved dates (each record counted by
//! when it happened, as legal holds count it). Nothing outside that scope
//! is read, so nothing outside it can leak into the package.

use carrel_policy::RecordClass;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use crate::db::{params, Value};
use crate::error::Error;
use crate::gate::DisclosureGrant;
use crate::retention::targets;
use crate::secrets::sha256_hex;
use crate::{patrons, Tx};

/// What the cover sheet says.
#[derive(Debug, Clone, Serialize)]
pub struct Cover {
    pub library: String,
    pub request: String,
    pub basis: String,
    pub legal_basis: String,
    pub requester_kind: String,
    pub approved_by: String,
    pub released_on: String,
    pub patron: i64,
    pub classes: Vec<String>,
    pub from_date: String,
    pub to_date: String,
}

/// A built package.
#[derive(Debug, Clone)]
pub struct Package {
    pub json: String,
    pub html: String,
    /// Records in the package (a registration counts as one).
    pub records: i64,
    /// SHA-256 of the JSON file: kept on the request as proof of exactly
    /// what left the library.
    pub sha256: String,
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn local_time(at: i64, zone: Tz) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Reads the records in scope and writes the package. Each class's read is
/// audited through `grant` with its count.
pub(crate) fn build(
    tx: &mut Tx<'_>,
    grant: &DisclosureGrant,
    cover: Cover,
    classes: &[RecordClass],
    from: NaiveDate,
    to: NaiveDate,
    include_kept_in_secret: bool,
) -> Result<Package, Error> {
    let zone = tx.policy().library.time_zone;
    let (start, end) = (
        carrel_policy::retention::start_of_day(from, zone).timestamp(),
        carrel_policy::retention::start_of_day_after(to, zone).timestamp(),
    );
    let mut sections = Map::new();
    let mut total = 0i64;
    for &class in classes {
        let mut section = Map::new();
        let mut in_class = 0i64;
        if class == RecordClass::Registration {
            // The registration as it stands on the release date: it is
            // who the patron is, not something that happened on a date.
            let record =
                patrons::fetch(tx, cover.patron)?.ok_or(Error::NotFound { what: "patron" })?;
            section.insert(
                "registration".into(),
                serde_json::to_value(record).map_err(|e| Error::internal(e.to_string()))?,
            );
            in_class += 1;
        }
        for target in targets::of_class(class).filter(|t| !t.export.is_empty()) {
            let columns: Vec<&str> = target.export.iter().map(|(_, sql)| *sql).collect();
            // Records kept in secret for a restricted request go only into
            // that circle's packages (L6).
            let secret = if include_kept_in_secret {
                "1 = 1".to_string()
            } else {
                crate::retention::not_kept_in_secret(target.kind, "t.id")
            };
            let rows = tx.conn.query(
                &format!(
                    "SELECT {} FROM {} t WHERE t.patron_id = ? AND {occurred} >= ? AND {occurred} < ? AND {secret} ORDER BY t.id",
                    columns.join(", "),
                    target.table,
                    occurred = target.occurred,
                ),
                params![cover.patron, start, end],
            )?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let mut record = Map::new();
                for ((name, _), value) in target.export.iter().zip(row.0) {
                    let value = match value {
                        Value::Null => Json::Null,
                        Value::Int(at) if name.ends_with("_at") => json!(local_time(at, zone)),
                        Value::Int(n) => json!(n),
                        Value::Text(text) => json!(text),
                    };
                    record.insert((*name).to_string(), value);
                }
                records.push(Json::Object(record));
            }
            in_class += records.len() as i64;
            section.insert(target.label.replace(' ', "_"), Json::Array(records));
        }
        grant.record_release(
            tx,
            class,
            cover.patron,
            format!("request {}: {in_class} records", cover.request),
        );
        total += in_class;
        sections.insert(class.name().to_string(), Json::Object(section));
    }
    let document = json!({
        "cover_sheet": cover,
        "time_zone": zone.name(),
        "records": Json::Object(sections),
    });
    let json =
        serde_json::to_string_pretty(&document).map_err(|e| Error::internal(e.to_string()))?;
    let html = render_html(&document, &cover);
    Ok(Package {
        sha256: sha256_hex(json.as_bytes()),
        json,
        html,
        records: total,
    })
}

fn cell(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(s) => escape_html(s),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", escape_html(k), cell(v)))
            .collect::<Vec<_>>()
            .join("<br>"),
        other => escape_html(&other.to_string()),
    }
}

fn render_html(document: &Json, cover: &Cover) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Disclosure {request} · {library}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}th,td{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}}.cover{{border:2px solid #333;padding:1rem;margin-bottom:2rem}}</style></head><body>\
         <section class=\"cover\" id=\"cover-sheet\"><h1>Disclosure of library records</h1><table>\
         <tr><th>Library</th><td>{library}</td></tr>\
         <tr><th>Request</th><td id=\"request\">{request}</td></tr>\
         <tr><th>Legal basis</th><td>{legal_basis} ({basis})</td></tr>\
         <tr><th>Requested by</th><td>{requester}</td></tr>\
         <tr><th>Approved by</th><td>{approver}</td></tr>\
         <tr><th>Released on</th><td>{released}</td></tr>\
         <tr><th>Records of</th><td>patron:{patron}</td></tr>\
         <tr><th>Classes</th><td>{classes}</td></tr>\
         <tr><th>Dates</th><td>{from} to {to}</td></tr></table>\
         <p>Confidential library records. Released under the basis above only; not to be passed on.</p></section>",
        request = escape_html(&cover.request),
        library = escape_html(&cover.library),
        legal_basis = escape_html(&cover.legal_basis),
        basis = escape_html(&cover.basis),
        requester = escape_html(&cover.requester_kind),
        approver = escape_html(&cover.approved_by),
        released = escape_html(&cover.released_on),
        patron = cover.patron,
        classes = escape_html(&cover.classes.join(", ")),
        from = escape_html(&cover.from_date),
        to = escape_html(&cover.to_date),
    );
    if let Some(classes) = document["records"].as_object() {
        for (class, section) in classes {
            out.push_str(&format!("<h2>{}</h2>", escape_html(class)));
            let Some(kinds) = section.as_object() else {
                continue;
            };
            for (kind, records) in kinds {
                out.push_str(&format!(
                    "<h3>{}</h3>",
                    escape_html(&kind.replace('_', " "))
                ));
                let rows: Vec<&Json> = match records {
                    Json::Array(list) => list.iter().collect(),
                    single => vec![single],
                };
                let Some(first) = rows.first().and_then(|r| r.as_object()) else {
                    out.push_str("<p>None in these dates.</p>");
                    continue;
                };
                out.push_str("<table><tr>");
                for name in first.keys() {
                    out.push_str(&format!("<th>{}</th>", escape_html(name)));
                }
                out.push_str("</tr>");
                for row in rows {
                    out.push_str("<tr>");
                    for name in first.keys() {
                        out.push_str(&format!("<td>{}</td>", cell(&row[name])));
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</table>");
            }
        }
    }
    out.push_str("</body></html>");
    out
}

/// Erases the stored packages (kept for download until the request
/// closes) that hold any record a purge step is about to destroy: a
/// package is a copy of the records, and goes with them (D1, D2). Its
/// digest and record count stay, and the timeline says why it went.
/// `table` is the target's table (`t` in the SQL), `in_step` the SQL after
/// `t.id` that picks the step's rows, `patron` the SQL naming a row's
/// patron. Conservative: a package
/// of the same patron and class goes whatever its date range.
pub(crate) fn erase_packages_holding(
    tx: &mut Tx<'_>,
    class: RecordClass,
    table: &str,
    patron: &str,
    in_step: &str,
) -> Result<(), Error> {
    let holding = format!(
        "package_json IS NOT NULL
         AND (',' || classes || ',') LIKE ?
         AND EXISTS (SELECT 1 FROM {table} t WHERE t.id {in_step} AND {patron} = disclosure_requests.subject_patron_id)"
    );
    let like = format!("%,{},%", class.name());
    tx.conn.execute(
        &format!(
            "INSERT INTO disclosure_steps (request_id, at, actor, step, outcome)
             SELECT id, ?, 'system:retention', 'package_erased', 'records in it were destroyed'
             FROM disclosure_requests WHERE {holding}"
        ),
        params![tx.now().timestamp(), &like],
    )?;
    tx.conn.execute(
        &format!(
            "UPDATE disclosure_requests SET package_json = NULL, package_html = NULL WHERE {holding}"
        ),
        params![&like],
    )?;
    Ok(())
}
