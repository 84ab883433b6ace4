//! Fines: assess on a patron, pay, waive.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::fines::{self, FineRecord, WaiveReason};
use carrel_store::gate::authorize;
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NotFound, NotJson, Refused, TooLarge, Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    #[schema(minimum = 1, maximum = 100_000_000)]
    amount_cents: i64,
    #[schema(max_length = 200)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/patrons/{id}/fines",
    operation_id = "fines_assess",
    summary = "Assess a fine or fee",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    request_body = Assessment,
    responses(
        (status = 201, description = "Assessed", body = FineRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn assess(
    State(state): State<AppState>,
    token: Token,
    PathParam(patron): PathParam<String>,
    Body(req): Body<Assessment>,
) -> Result<(StatusCode, Json<FineRecord>), ApiError> {
    let fine = state
        .as_staff(token, move |tx, actor| {
            let patron = patron?;
            let req = req?;
            let patron = path_id("patron", &patron)?;
            let grant = authorize(tx, actor, purpose::FINES)?;
            fines::assess(tx, &grant, patron, req.amount_cents, &req.reason, None)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(fine)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    #[schema(minimum = 1, maximum = 100_000_000)]
    amount_cents: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/fines/{id}/payments",
    operation_id = "fines_pay",
    summary = "Record a payment on a fine",
    params(
        ("id" = i64, Path, description = "The fine's id.", minimum = 1),
    ),
    request_body = Payment,
    responses(
        (status = 200, description = "The fine after payment", body = FineRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn pay(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(req): Body<Payment>,
) -> Result<Json<FineRecord>, ApiError> {
    let fine = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let req = req?;
            let id = path_id("fine", &id)?;
            let grant = authorize(tx, actor, purpose::FINES)?;
            fines::pay(tx, &grant, id, req.amount_cents)
        })
        .await?;
    Ok(Json(fine))
}

/// Why a fine is waived.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// One of the library's reasons for a waiver.
    reason: WaiveReason,
}

#[utoipa::path(
    post,
    path = "/api/v1/fines/{id}/waiver",
    operation_id = "fines_waive",
    summary = "Waive what is outstanding on a fine",
    description = "Needs a reason from the closed list (never free text).",
    params(
        ("id" = i64, Path, description = "The fine's id.", minimum = 1),
    ),
    request_body = Waiver,
    responses(
        (status = 200, description = "The fine after the waiver", body = FineRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn waive(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(waiver): Body<Waiver>,
) -> Result<Json<FineRecord>, ApiError> {
    let fine = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let waiver = waiver?;
            let id = path_id("fine", &id)?;
            let grant = authorize(tx, actor, purpose::FINES)?;
            fines::waive(tx, &grant, id, waiver.reason)
        })
        .await?;
    Ok(Json(fine))
}
