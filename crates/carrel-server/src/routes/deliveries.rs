//! Home delivery visits ("Books on the Run").

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::delivery::{self, Delivery};
use carrel_store::gate::authorize;
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, TooLarge,
    Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDelivery {
    patron_id: i64,
    #[schema(max_length = 100)]
    route: String,
    #[schema(format = Date)]
    scheduled_on: String,
    #[serde(default)]
    item_ids: Vec<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/deliveries",
    operation_id = "deliveries_create",
    summary = "Schedule a home delivery visit",
    request_body = NewDelivery,
    responses(
        (status = 201, description = "The visit", body = Delivery),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/deliveries/{id}/completion",
    operation_id = "deliveries_complete",
    summary = "Mark a delivery visit completed (starts its retention clock)",
    params(
        ("id" = i64, Path, description = "The delivery's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The visit", body = Delivery),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/deliveries",
    operation_id = "deliveries_of_patron",
    summary = "A patron's home deliveries",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Visits", body = [Delivery]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
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
