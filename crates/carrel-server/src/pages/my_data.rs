//! My data (A1, A3): everything the library holds about the signed-in
//! patron, with when the retention rule destroys each record; who has
//! used their records (role and purpose, never a name; nothing of a case
//! under a non-disclosure order); the requests for their records; and
//! the download of all of it, as JSON or as a page (the package the JSON
//! API's `GET /api/v1/my/records` answers with, a request recorded and
//! closed at once).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use carrel_store::db::Value;
use carrel_store::disclosures::online;
use carrel_store::my_account::{self, Destruction, DisclosureSeen, HeldKind, Look};
use carrel_store::patrons::PatronRecord;
use carrel_store::Error;

use super::capitalised;
use super::patron::{dollars, session, SIGN_IN};
use super::{failure, local_date, local_time, render, words, Frame};
use crate::api::{ApiError, AppState};

struct Row {
    /// Each fact with its column's name (for phones, where a row stacks).
    cells: Vec<(String, String)>,
    destroyed: String,
}

struct Kind {
    name: String,
    label: String,
    columns: Vec<String>,
    rows: Vec<Row>,
}

struct LookLine {
    when: String,
    who: String,
    did: String,
    records: String,
    why: String,
}

struct DisclosureLine {
    reference: String,
    received: String,
    asked_by: String,
    basis: String,
    state: String,
}

#[derive(Template)]
#[template(path = "patron/data.html")]
struct DataPage {
    frame: Frame,
    form_token: String,
    details: Vec<(String, String)>,
    registration_rule: String,
    kinds: Vec<Kind>,
    looks: Vec<LookLine>,
    disclosures: Vec<DisclosureLine>,
}

/// A stored fact as the page shows it: times in the library's zone,
/// cents as dollars, nothing as a dash.
fn shown(name: &str, value: &Value, zone: chrono_tz::Tz) -> String {
    match value {
        Value::Null => "–".into(),
        Value::Int(n) if name.ends_with("_at") => local_time(*n, zone),
        Value::Int(n) if name.ends_with("_cents") => dollars(*n),
        Value::Int(n) => n.to_string(),
        Value::Text(text) => text.clone(),
    }
}

fn details(registration: &PatronRecord, state: &AppState) -> Vec<(String, String)> {
    let policy = state.store.policy();
    let mut facts = vec![
        (
            "Card number".to_string(),
            registration.card_barcode.clone().unwrap_or_default(),
        ),
        (
            "Card type".to_string(),
            policy
                .category(&registration.category)
                .map_or_else(|| registration.category.clone(), |c| c.description.clone()),
        ),
        (
            "Valid through".to_string(),
            registration.expires_on.to_string(),
        ),
        ("Standing".to_string(), words(registration.status.name())),
        (
            "PIN".to_string(),
            if registration.has_pin {
                "set (kept only as a one-way hash)".to_string()
            } else {
                "not set".to_string()
            },
        ),
    ];
    if let Some(born) = registration.birth_date {
        facts.push(("Birth date".to_string(), born.to_string()));
    }
    if registration.guardian_id.is_some() {
        facts.push((
            "Guardian".to_string(),
            "a parent or guardian's account is linked to yours".to_string(),
        ));
    }
    for (name, value) in &registration.fields {
        facts.push((capitalised(&words(name)), value.clone()));
    }
    facts
}

fn kinds(held: Vec<HeldKind>, zone: chrono_tz::Tz, today: chrono::NaiveDate) -> Vec<Kind> {
    held.into_iter()
        .map(|kind| {
            let columns: Vec<String> = kind
                .records
                .first()
                .map(|r| r.facts.iter().map(|(name, _)| words(name)).collect())
                .unwrap_or_default();
            let rows = kind
                .records
                .iter()
                .map(|record| Row {
                    cells: record
                        .facts
                        .iter()
                        .map(|(name, value)| (words(name), shown(name, value, zone)))
                        .collect(),
                    destroyed: match &record.destroyed {
                        Destruction::InUse(why) => format!("not yet: {why}"),
                        Destruction::OnOrAfter { day, kept_while } if !kept_while.is_empty() => {
                            if *day <= today {
                                format!("kept while needed: {}", kept_while.join(", "))
                            } else {
                                format!(
                                    "on or after {day}, and later while needed: {}",
                                    kept_while.join(", ")
                                )
                            }
                        }
                        Destruction::OnOrAfter { day, .. } if *day <= today => {
                            "due now: at the next scheduled purge".to_string()
                        }
                        Destruction::OnOrAfter { day, .. } => format!("on or after {day}"),
                    },
                })
                .collect();
            Kind {
                name: kind.label.replace(' ', "-"),
                label: capitalised(kind.label),
                columns,
                rows,
            }
        })
        .collect()
}

fn looks(looks: Vec<Look>, state: &AppState) -> Vec<LookLine> {
    let policy = state.store.policy();
    let zone = policy.library.time_zone;
    looks
        .into_iter()
        .map(|look| LookLine {
            when: local_time(look.at, zone),
            who: match &look.role {
                Some(role) => policy
                    .roles
                    .get(role)
                    .map_or_else(|| words(role), |r| r.description.clone()),
                None if look.by_patron => {
                    "a parent or guardian, online, with your card number".to_string()
                }
                None => "the library's system".to_string(),
            },
            did: words(&look.action),
            records: words(&look.class),
            why: match look.purpose.as_str() {
                "disclosure" => {
                    "A request for your records, under the law on library records".to_string()
                }
                purpose => policy
                    .purposes
                    .get(purpose)
                    .cloned()
                    .unwrap_or_else(|| words(purpose)),
            },
        })
        .collect()
}

fn disclosures(seen: Vec<DisclosureSeen>, state: &AppState) -> Vec<DisclosureLine> {
    let policy = state.store.policy();
    let zone = policy.library.time_zone;
    seen.into_iter()
        .map(|d| DisclosureLine {
            reference: d.reference,
            received: local_date(d.received_at, zone),
            asked_by: words(&d.requester_kind),
            basis: policy
                .disclosure
                .basis(&d.basis)
                .map_or_else(|| words(&d.basis), |b| b.description.clone()),
            state: match d.released_at {
                Some(at) => format!(
                    "{} (records released {})",
                    words(&d.state),
                    local_date(at, zone)
                ),
                None => words(&d.state),
            },
        })
        .collect()
}

/// GET /my/data
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/my/data";
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    let found = state
        .as_patron(token, |tx, patron| {
            Ok((
                my_account::registration(tx, patron)?,
                my_account::held_records(tx, patron)?,
                my_account::who_looked(tx, patron)?,
                my_account::disclosures(tx, patron)?,
            ))
        })
        .await;
    let (registration, held, seen_looks, seen_disclosures) = match found {
        Ok(found) => found,
        Err(e) => return failure(Frame::patron(&library, path, &secret), e, SIGN_IN, ""),
    };
    let zone = state.store.policy().library.time_zone;
    let registration_rule = state
        .store
        .policy()
        .class(carrel_policy::RecordClass::Registration)
        .and_then(|c| c.retention.as_ref())
        .map(carrel_policy::notice::retention_sentence)
        .map(|rule| rule.trim_end_matches('.').to_string())
        .unwrap_or_else(|| "as the policy says".into());
    render(
        StatusCode::OK,
        &DataPage {
            frame: Frame::patron(&library, path, &secret),
            form_token: super::form_token(&secret),
            details: details(&registration, &state),
            registration_rule,
            kinds: kinds(
                held,
                zone,
                state.store.now().with_timezone(&zone).date_naive(),
            ),
            looks: looks(seen_looks, &state),
            disclosures: disclosures(seen_disclosures, &state),
        },
    )
}

/// POST /my/data/download: the package of all the patron's records, as
/// JSON or as a page, a file to keep.
pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/my/data";
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    let html = match form.get("format").map(String::as_str) {
        Some("json") => false,
        Some("html") => true,
        _ => {
            return failure(
                Frame::patron(&library, path, &secret),
                ApiError(Error::invalid("bad_format", "format must be json or html")),
                SIGN_IN,
                "",
            )
        }
    };
    match state.as_patron(token, online::own_records).await {
        Ok((reference, package)) => {
            let answer = if html {
                crate::pages::package::render(&package.json).map(|page| {
                    (
                        format!("library-records-{reference}.html"),
                        "text/html; charset=utf-8",
                        page,
                    )
                })
            } else {
                Some((
                    format!("library-records-{reference}.json"),
                    "application/json",
                    package.json,
                ))
            };
            match answer {
                Some((file, media, body)) => {
                    crate::routes::disclosures::package_file(&file, media, body)
                }
                None => ApiError(Error::Internal("a package is not JSON".into())).into_response(),
            }
        }
        Err(e) => failure(Frame::patron(&library, path, &secret), e, SIGN_IN, ""),
    }
}
