//! The export package of a released disclosure: a JSON file (which the
//! server also shows as a page, `carrel-server`'s `package_page`), opening
//! with a cover sheet (request,
//! legal basis, approver, date), holding exactly the approved record
//! classes of one patron, for the approved dates (each record counted by
//! when it happened, as legal holds count it). Nothing outside that scope
//! is read, so nothing outside it can leak into the package.

use super::TimelineStep;
use crate::db::Only;
use crate::principal::{Principal, SystemTask};
use carrel_policy::RecordClass;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};

use crate::db::params;
use crate::disclosures::SUBJECT_OF_R;
use crate::error::Error;
use crate::gate::DisclosureGrant;
use crate::retention::{kept_in_secret, targets};
use crate::secrets::sha256_hex;
use crate::{patrons, Tx};

/// What the cover sheet says.
#[derive(Debug, Clone, Serialize)]
pub struct Cover {
    /// The library's name, from the policy.
    pub library: String,
    /// The request's reference (`D-12`).
    pub request: String,
    /// The basis released under, by its name in the policy.
    pub basis: String,
    /// The basis's citation and description, in words.
    pub legal_basis: String,
    /// Who asked.
    pub requester_kind: carrel_policy::disclosure::RequesterKind,
    /// Who approved the release: a staff member's username, or, online, that
    /// the requester signed in with card and PIN.
    pub approved_by: String,
    /// The day of the release, in the library's time zone (YYYY-MM-DD).
    pub released_on: chrono::NaiveDate,
    /// The patron record id the records are about.
    pub patron: i64,
    /// The record classes released.
    pub classes: Vec<RecordClass>,
    /// The first day of the range released (YYYY-MM-DD).
    pub from_date: chrono::NaiveDate,
    /// The last day of the range released, inclusive (YYYY-MM-DD).
    pub to_date: chrono::NaiveDate,
}

/// A built package.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package as a JSON file, cover sheet included (the server
    /// renders it as a page too).
    pub json: String,
    /// Records in the package (a registration counts as one).
    pub records: i64,
    /// SHA-256 of the JSON file: kept on the request as proof of exactly
    /// what left the library.
    pub sha256: String,
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
    // A restricted request, whose holds' records kept in secret go into
    // its package too (L5 with L6).
    kept_for: Option<i64>,
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
            // One set aside in secret, as it stood then (only for its
            // case's circle).
            let record = match patrons::fetch(tx, cover.patron)? {
                Some(record) => {
                    let mut value =
                        serde_json::to_value(record).map_err(|e| Error::internal(e.to_string()))?;
                    // To the patron themselves, the consents, notices and
                    // corrections the registration holds too (A1: all of
                    // it). Not to anyone else: a correction waiting for
                    // verification is no fact about the patron, and none
                    // of it is what a release to another party approves.
                    if cover.requester_kind == carrel_policy::disclosure::RequesterKind::Patron {
                        if let Json::Object(fields) = &mut value {
                            fields.extend(crate::consents::registration_extras(tx, cover.patron)?);
                        }
                    }
                    value
                }
                None => match kept_for {
                    Some(request) => kept_in_secret::registration_of(tx, request, cover.patron)?
                        .ok_or(Error::NotFound { what: "patron" })?,
                    None => return Err(Error::NotFound { what: "patron" }),
                },
            };
            section.insert("registration".into(), record);
            in_class += 1;
        }
        for target in targets::of_class(class).filter(|t| !t.export.is_empty()) {
            let columns: Vec<&str> = target.export.iter().map(|(_, sql)| *sql).collect();
            let rows = tx.conn.query(
                &format!(
                    "SELECT t.id AS record_id, {} FROM {} t WHERE t.patron_id = ? AND {occurred} >= ? AND {occurred} < ? ORDER BY t.id",
                    columns.join(", "),
                    target.table,
                    occurred = target.occurred,
                ),
                params![cover.patron, start, end],
            )?;
            let mut found = Vec::with_capacity(rows.len());
            for row in rows {
                // The facts that follow are walked in the target's order,
                // and may name `id` again: hence the alias.
                let id = row.int("record_id")?;
                found.push((id, target.facts(&row.values()[1..])));
            }
            // Records set aside in secret for a restricted request go only
            // into that circle's packages (L6).
            if let Some(request) = kept_for {
                found.extend(kept_in_secret::records_of(
                    tx,
                    target.kind,
                    request,
                    cover.patron,
                    (start, end),
                )?);
                found.sort_by_key(|(id, _)| *id);
            }
            let records: Vec<Json> = found
                .into_iter()
                .map(|(_, record)| Json::Object(shown(record, zone)))
                .collect();
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
    Ok(Package {
        sha256: sha256_hex(json.as_bytes()),
        json,
        records: total,
    })
}

/// A record as the package shows it: times (`..._at`, Unix seconds) in
/// the library's zone.
fn shown(record: Map<String, Json>, zone: Tz) -> Map<String, Json> {
    record
        .into_iter()
        .map(|(name, value)| match value.as_i64() {
            Some(at) if name.ends_with("_at") => (name, json!(local_time(at, zone))),
            _ => (name, value),
        })
        .collect()
}

/// Erases the stored packages (kept for download until the request
/// closes) that hold any of the records about to be destroyed: a package
/// is a copy of the records, and goes with them (D1, D2). Its digest and
/// record count stay, and the timeline says why it went. `rows` is a
/// FROM clause naming the records as `t` (`loans t WHERE t.id IN ...`),
/// `patron` the SQL naming a row's patron; `except`, SQL true for the
/// requests `r` whose packages stay (those that keep the records, when
/// they are set aside in secret). Conservative: a package of the same
/// patron and class goes whatever its date range.
pub(crate) fn erase_packages_holding(
    tx: &mut Tx<'_>,
    class: RecordClass,
    rows: &str,
    patron: &str,
    except: Option<&str>,
) -> Result<(), Error> {
    let except = except.unwrap_or("1 = 0");
    erase_packages_where(
        tx,
        class,
        &format!("NOT {except} AND EXISTS (SELECT 1 FROM {rows} AND {patron} = {SUBJECT_OF_R})"),
    )
}

/// Erases the stored packages of class `class` of the requests `r` for
/// which `holding` (SQL) is true, with a `package_erased` step on each
/// request's timeline.
pub(crate) fn erase_packages_where(
    tx: &mut Tx<'_>,
    class: RecordClass,
    holding: &str,
) -> Result<(), Error> {
    let holding =
        format!("r.package_json IS NOT NULL AND (',' || r.classes || ',') LIKE ? AND {holding}");
    let like = format!("%,{},%", class.name());
    let erased = tx.conn.query(
        &format!("SELECT r.id FROM disclosure_requests r WHERE {holding}"),
        params![&like],
    )?;
    for request in erased {
        let id = request.int(Only)?;
        super::add_step(
            tx,
            id,
            Principal::System(SystemTask::Retention),
            TimelineStep::PackageErased,
            Some("records in it were destroyed"),
            None,
        )?;
        tx.conn.execute(
            "UPDATE disclosure_requests SET package_json = NULL, package_html = NULL WHERE id = ?",
            params![id],
        )?;
    }
    Ok(())
}
