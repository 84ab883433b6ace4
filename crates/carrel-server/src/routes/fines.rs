//! Fines: assess on a patron, pay, waive.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::fines::{self, FineRecord};
use carrel_store::gate::authorize;
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    amount_cents: i64,
    reason: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    amount_cents: i64,
}

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

pub async fn waive(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<FineRecord>, ApiError> {
    let fine = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("fine", &id)?;
            let grant = authorize(tx, actor, purpose::FINES)?;
            fines::waive(tx, &grant, id)
        })
        .await?;
    Ok(Json(fine))
}
