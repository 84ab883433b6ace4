//! Interlibrary loan requests.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::gate::authorize;
use carrel_store::ill::{self, IllChange, IllRequest, IllStatus};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NotFound, NotJson, Refused, TooLarge, Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewIllRequest)]
pub struct NewRequest {
    patron_id: i64,
    #[schema(max_length = 200)]
    lender: String,
    #[schema(max_length = 500)]
    title: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000_000)]
    fees_cents: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/ill-requests",
    operation_id = "ill_create",
    summary = "Record an interlibrary loan request for a patron",
    request_body = NewRequest,
    responses(
        (status = 201, description = "The request", body = IllRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<NewRequest>,
) -> Result<(StatusCode, Json<IllRequest>), ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            ill::request(
                tx,
                &grant,
                req.patron_id,
                &req.lender,
                &req.title,
                req.fees_cents,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[utoipa::path(
    get,
    path = "/api/v1/ill-requests/{id}",
    operation_id = "ill_read",
    summary = "Read an interlibrary loan request",
    params(
        ("id" = i64, Path, description = "The request's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "The request", body = IllRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<IllRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("interlibrary loan request", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            ill::load(tx, &grant, id)
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, value_type = Option<IllStatus>)]
    status: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, minimum = 0, maximum = 100_000_000)]
    fees_cents: Option<i64>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, minimum = 0, maximum = 100_000_000)]
    fees_paid_cents: Option<i64>,
}

#[utoipa::path(
    patch,
    path = "/api/v1/ill-requests/{id}",
    operation_id = "ill_update",
    summary = "Move a request on (status forward, fees, payment); it closes when finished and paid",
    params(
        ("id" = i64, Path, description = "The request's id.", minimum = 1),
    ),
    request_body = Change,
    responses(
        (status = 200, description = "The request", body = IllRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(change): Body<Change>,
) -> Result<Json<IllRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let change = change?;
            let id = path_id("interlibrary loan request", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            let change = IllChange {
                status: change.status,
                fees_cents: change.fees_cents,
                fees_paid_cents: change.fees_paid_cents,
            };
            ill::update(tx, &grant, id, change)
        })
        .await?;
    Ok(Json(request))
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/ill-requests",
    operation_id = "ill_of_patron",
    summary = "A patron's interlibrary loan requests",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Requests", body = [IllRequest]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn of_patron(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<IllRequest>>, ApiError> {
    let requests = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            ill::of_patron(tx, &grant, id)
        })
        .await?;
    Ok(Json(requests))
}
