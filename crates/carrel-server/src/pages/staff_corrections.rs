//! The staff's verification queue for corrections patrons sent online
//! (A2): each waits until staff check the patron's photo ID in person and
//! approve it (the change is made) or refuse it; the kind of ID checked
//! is recorded, never its number.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use carrel_store::corrections;
use carrel_store::disclosures::IdKind;
use carrel_store::Error;

use super::staff_sign_in::SIGN_IN;
use super::{failure, local_date, render, words, Frame};
use crate::api::{ApiError, AppState, Token};

struct Line {
    id: i64,
    who: String,
    card: String,
    field: String,
    current: String,
    value: String,
    sent: String,
}

#[derive(Template)]
#[template(path = "staff/corrections.html")]
struct QueuePage {
    frame: Frame,
    form_token: String,
    done: Option<String>,
    corrections: Vec<Line>,
    id_kinds: Vec<(&'static str, String)>,
}

const NOT_ALLOWED: &str =
    "Your role may not change patrons' registrations, so it does not verify their corrections.";

/// GET /staff/corrections
pub async fn queue(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let library = state.store.policy().library.name.clone();
    let zone = state.store.policy().library.time_zone;
    let path = "/staff/corrections";
    let token = match token {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, ""),
    };
    let session = token.0.clone();
    let found = state
        .as_staff(token, |tx, actor| {
            Ok((corrections::queue(tx, actor)?, actor.role().to_string()))
        })
        .await;
    let (queue, role) = match found {
        Ok(found) => found,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, NOT_ALLOWED),
    };
    let done = match query.get("done").map(String::as_str) {
        Some("approved") => Some("Approved: the patron's details are changed.".to_string()),
        Some("rejected") => Some("Refused: nothing was changed.".to_string()),
        _ => None,
    };
    let policy = state.store.policy();
    render(
        StatusCode::OK,
        &QueuePage {
            frame: Frame::staff(state.store.policy(), path, &role, &session),
            form_token: super::form_token(&session),
            done,
            corrections: queue
                .into_iter()
                .map(|q| Line {
                    id: q.correction.id,
                    // As the role's display rule shows them (D6): the
                    // patron is at the desk with a photo ID.
                    who: q
                        .name
                        .as_deref()
                        .and_then(|name| policy.display_of(&role, "name").apply(name))
                        .unwrap_or_else(|| format!("patron record {}", q.correction.patron_id)),
                    card: policy
                        .display_of(&role, "card_barcode")
                        .apply(&q.card_barcode)
                        .unwrap_or_default(),
                    field: words(&q.correction.field),
                    // What the record holds now, masked as the desk shows
                    // it: verifying needs the photo ID and the value asked
                    // for, not the old one.
                    current: match q.current {
                        None => "not given".into(),
                        Some(now) => policy
                            .display_of(&role, &q.correction.field)
                            .apply(&now)
                            .unwrap_or_else(|| "(not shown)".into()),
                    },
                    value: q.correction.value.unwrap_or_default(),
                    sent: local_date(q.correction.submitted_at, zone),
                })
                .collect(),
            id_kinds: <IdKind as strum::VariantArray>::VARIANTS
                .iter()
                .map(|k| (k.name(), words(k.name())))
                .collect(),
        },
    )
}

/// POST /staff/corrections/{id}: approve or refuse.
pub async fn decide(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/staff/corrections";
    let token = match token {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, ""),
    };
    let approve = match form.get("decision").map(String::as_str) {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            return failure(
                Frame::public(&library, path),
                ApiError(Error::invalid(
                    "bad_decision",
                    "decision must be approve or reject",
                )),
                SIGN_IN,
                "",
            )
        }
    };
    let id_kind = form.get("id_kind").cloned().unwrap_or_default();
    let result = state
        .as_staff(token, move |tx, actor| {
            let id = id
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or(Error::NotFound { what: "correction" })?;
            let id_kind = match id_kind.as_str() {
                "" => None,
                name => Some(name.parse::<IdKind>().map_err(|_| {
                    Error::invalid("bad_id_kind", "choose the kind of photo ID from the list")
                })?),
            };
            corrections::decide(tx, actor, id, approve, id_kind).map(drop)
        })
        .await;
    match result {
        Ok(()) => (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!(
                    "/staff/corrections?done={}",
                    if approve { "approved" } else { "rejected" }
                ),
            )],
        )
            .into_response(),
        Err(e) => failure(Frame::public(&library, path), e, SIGN_IN, NOT_ALLOWED),
    }
}
