//! Legal holds (preservation requests, L5).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::gate::authorize_legal_hold;
use carrel_store::legal_holds::{self, HoldRequest, LegalHold};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    reference: String,
    record_class: String,
    patron_id: i64,
    from_date: String,
    to_date: String,
}

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
