//! Home delivery visits ("Books on the Run").

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::delivery::{self, Delivery};
use carrel_store::gate::authorize;
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDelivery {
    patron_id: i64,
    route: String,
    scheduled_on: String,
    #[serde(default)]
    item_ids: Vec<i64>,
}

pub async fn create(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<NewDelivery>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    let visit = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            delivery::schedule(
                tx,
                &grant,
                req.patron_id,
                &req.route,
                &req.scheduled_on,
                &req.item_ids,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(visit)))
}

pub async fn complete(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<Delivery>, ApiError> {
    let visit = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("delivery", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            delivery::complete(tx, &grant, id)
        })
        .await?;
    Ok(Json(visit))
}

pub async fn of_patron(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let visits = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            delivery::of_patron(tx, &grant, id)
        })
        .await?;
    Ok(Json(visits))
}
