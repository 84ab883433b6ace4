//! Disclosure requests (R1-R5, L1-L7): the JSON API. Every step is a POST
//! on the request's reference (D-12); the store decides who may take it.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use carrel_store::disclosures::{
    self, DisclosureRequest, NewDocument, NewRequest, Queue, QueueFilter,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{ApiError, AppState, Body, NoBody, PathParam, QueryParams, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    kind: String,
    #[serde(default, deserialize_with = "crate::api::present")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    id_kind: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    issuing_court: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    jurisdiction: Option<String>,
}

impl From<DocumentBody> for NewDocument {
    fn from(d: DocumentBody) -> Self {
        NewDocument {
            kind: d.kind,
            reference: d.reference,
            id_kind: d.id_kind,
            issuing_court: d.issuing_court,
            jurisdiction: d.jurisdiction,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    requester_kind: String,
    #[serde(default, deserialize_with = "crate::api::present")]
    requester: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    requester_patron_id: Option<i64>,
    subject_patron_id: i64,
    basis: String,
    classes: Vec<String>,
    from_date: String,
    to_date: String,
    #[serde(default, deserialize_with = "crate::api::present")]
    reason: Option<String>,
    #[serde(default)]
    gagged: bool,
    #[serde(default)]
    documents: Vec<DocumentBody>,
}

pub async fn record(
    State(state): State<AppState>,
    token: Token,
    Body(body): Body<NewRequestBody>,
) -> Result<(StatusCode, Json<DisclosureRequest>), ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let body = body?;
            let new = NewRequest {
                requester_kind: body.requester_kind,
                requester: body.requester,
                requester_patron_id: body.requester_patron_id,
                subject_patron_id: body.subject_patron_id,
                basis: body.basis,
                classes: body.classes,
                from_date: body.from_date,
                to_date: body.to_date,
                reason: body.reason,
                gagged: body.gagged,
                documents: body.documents.into_iter().map(Into::into).collect(),
            };
            disclosures::record(tx, actor, new)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    state: Option<String>,
    patron_id: Option<i64>,
    basis: Option<String>,
}

pub async fn queue(
    State(state): State<AppState>,
    token: Token,
    QueryParams(query): QueryParams<QueueQuery>,
) -> Result<Json<Queue>, ApiError> {
    let queue = state
        .as_staff(token, move |tx, actor| {
            let query = query?;
            let filter = QueueFilter {
                state: query.state,
                subject_patron_id: query.patron_id,
                basis: query.basis,
            };
            disclosures::queue(tx, actor, &filter)
        })
        .await?;
    Ok(Json(queue))
}

pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            disclosures::load(tx, actor, &reference)
        })
        .await?;
    Ok(Json(request))
}

pub async fn attach_document(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<DocumentBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::attach_document(tx, actor, &reference, body.into())
        })
        .await?;
    Ok(Json(request))
}

pub async fn begin_review(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            no_body.0?;
            disclosures::begin_review(tx, actor, &reference)
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounselBody {
    advice: String,
    #[serde(default, deserialize_with = "crate::api::present")]
    note: Option<String>,
    /// What counsel confirms about the legal process
    /// (`competent_jurisdiction`, `good_cause`, `proper_form`).
    #[serde(default)]
    confirms: Vec<String>,
}

pub async fn counsel_review(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<CounselBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::counsel_review(
                tx,
                actor,
                &reference,
                &body.advice,
                body.note.as_deref(),
                &body.confirms,
            )
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default, deserialize_with = "crate::api::present")]
    note: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    #[serde(default, deserialize_with = "crate::api::present")]
    note: Option<String>,
    /// Why the Director approves although counsel's latest advice was to
    /// refuse; required then, and recorded.
    #[serde(default, deserialize_with = "crate::api::present")]
    override_reason: Option<String>,
}

pub async fn approve(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<ApprovalBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::approve(
                tx,
                actor,
                &reference,
                body.note.as_deref(),
                body.override_reason.as_deref(),
            )
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalBody {
    reason: String,
}

pub async fn refuse(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<RefusalBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::refuse(tx, actor, &reference, &body.reason)
        })
        .await?;
    Ok(Json(request))
}

fn released(request: DisclosureRequest, package_json: &str) -> Result<Json<Value>, ApiError> {
    let package: Value = serde_json::from_str(package_json).map_err(|_| {
        ApiError(carrel_store::Error::Internal(
            "a package is not JSON".into(),
        ))
    })?;
    Ok(Json(json!({"request": request, "package": package})))
}

pub async fn release(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<Value>, ApiError> {
    let (request, package) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            no_body.0?;
            disclosures::release(tx, actor, &reference)
        })
        .await?;
    released(request, &package.json)
}

pub async fn exigent_release(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<NoteBody>,
) -> Result<Json<Value>, ApiError> {
    let (request, package) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::exigent_release(tx, actor, &reference, body.note.as_deref())
        })
        .await?;
    released(request, &package.json)
}

pub async fn preserve(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            no_body.0?;
            disclosures::preserve(tx, actor, &reference)
        })
        .await?;
    Ok(Json(request))
}

pub async fn close(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<NoteBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::close(tx, actor, &reference, body.note.as_deref())
        })
        .await?;
    Ok(Json(request))
}

/// The released package's files, as downloads.
pub fn package_file(name: &str, content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub async fn package_json(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
) -> Result<Response, ApiError> {
    let (reference, (json, _)) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let package = disclosures::package_of(tx, actor, &reference)?;
            Ok((reference, package))
        })
        .await?;
    let name = format!("disclosure-{reference}.json");
    Ok(package_file(&name, "application/json", json))
}

pub async fn package_html(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
) -> Result<Response, ApiError> {
    let (reference, (_, html)) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let package = disclosures::package_of(tx, actor, &reference)?;
            Ok((reference, package))
        })
        .await?;
    let name = format!("disclosure-{reference}.html");
    Ok(package_file(&name, "text/html; charset=utf-8", html))
}
