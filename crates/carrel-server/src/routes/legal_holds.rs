//! Legal holds (preservation requests, L5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::gate::authorize_legal_hold;
use carrel_store::legal_holds::{self, HoldRequest, LegalHold};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, TooLarge,
    Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewLegalHold)]
pub struct NewHold {
    /// The legal process's own reference (docket or case number).
    #[schema(max_length = 100)]
    reference: String,
    /// The class of records to preserve.
    #[schema(value_type = crate::description::PatronRecordClass)]
    record_class: String,
    /// The patron whose records are preserved.
    patron_id: i64,
    /// The first day of the records preserved (YYYY-MM-DD).
    #[schema(format = Date)]
    from_date: String,
    /// The last day of the records preserved, inclusive (YYYY-MM-DD).
    #[schema(format = Date)]
    to_date: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/legal-holds",
    operation_id = "legal_holds_place",
    summary = "Place a legal hold on a patron's existing records of one class in a date range (L5)",
    request_body = NewHold,
    responses(
        (status = 201, description = "The hold", body = LegalHold),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn place(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<NewHold>,
) -> Result<(StatusCode, Json<LegalHold>), ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let grant = authorize_legal_hold(tx, actor)?;
            let request = HoldRequest {
                reference: req.reference,
                record_class: req.record_class,
                patron_id: req.patron_id,
                from_date: req.from_date,
                to_date: req.to_date,
            };
            legal_holds::place(tx, &grant, actor.staff_id(), request)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(hold)))
}

#[utoipa::path(
    get,
    path = "/api/v1/legal-holds",
    operation_id = "legal_holds_list",
    summary = "Every legal hold, newest first (roles in the policy's [legal_holds] only)",
    responses(
        (status = 200, description = "Holds", body = [LegalHold]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound)>,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    token: Token,
) -> Result<Json<Vec<LegalHold>>, ApiError> {
    let holds = state
        .as_staff(token, move |tx, actor| {
            let grant = authorize_legal_hold(tx, actor)?;
            legal_holds::list(tx, &grant, actor)
        })
        .await?;
    Ok(Json(holds))
}

#[utoipa::path(
    get,
    path = "/api/v1/legal-holds/{id}",
    operation_id = "legal_holds_read",
    summary = "Read a legal hold",
    params(
        ("id" = i64, Path, description = "The hold's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "The hold", body = LegalHold),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<LegalHold>, ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("legal hold", &id)?;
            let grant = authorize_legal_hold(tx, actor)?;
            legal_holds::load(tx, &grant, actor, id)
        })
        .await?;
    Ok(Json(hold))
}

#[utoipa::path(
    post,
    path = "/api/v1/legal-holds/{id}/renewal",
    operation_id = "legal_holds_renew",
    summary = "Renew a hold in force (policy limit: once, 90 days)",
    params(
        ("id" = i64, Path, description = "The hold's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The hold", body = LegalHold),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn renew(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<LegalHold>, ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("legal hold", &id)?;
            let grant = authorize_legal_hold(tx, actor)?;
            legal_holds::renew(tx, &grant, actor, id)
        })
        .await?;
    Ok(Json(hold))
}

#[utoipa::path(
    post,
    path = "/api/v1/legal-holds/{id}/release",
    operation_id = "legal_holds_release",
    summary = "Release a hold; its records fall due at once if their time has passed",
    params(
        ("id" = i64, Path, description = "The hold's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The hold", body = LegalHold),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn release(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<LegalHold>, ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("legal hold", &id)?;
            let grant = authorize_legal_hold(tx, actor)?;
            legal_holds::release(tx, &grant, actor, id)
        })
        .await?;
    Ok(Json(hold))
}
