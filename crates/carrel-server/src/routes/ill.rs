//! Interlibrary loan requests.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::gate::authorize;
use carrel_store::ill::{self, IllChange, IllRequest};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    patron_id: i64,
    lender: String,
    title: String,
    #[serde(default)]
    fees_cents: i64,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    #[serde(default, deserialize_with = "crate::api::present")]
    status: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    fees_cents: Option<i64>,
    #[serde(default, deserialize_with = "crate::api::present")]
    fees_paid_cents: Option<i64>,
}

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
