//! Opt-in mailing lists and subscriptions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::gate::authorize;
use carrel_store::mailing_lists::{self, List, Subscription};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, TooLarge,
    Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    #[schema(max_length = 100)]
    name: String,
    #[schema(max_length = 500)]
    description: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/mailing-lists",
    operation_id = "mailing_lists_create",
    summary = "Create an opt-in mailing list",
    request_body = NewList,
    responses(
        (status = 201, description = "The list", body = List),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<NewList>,
) -> Result<(StatusCode, Json<List>), ApiError> {
    let list = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let grant = authorize(tx, actor, purpose::MAILING_LIST)?;
            mailing_lists::create(tx, &grant, &req.name, &req.description)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(list)))
}

#[utoipa::path(
    get,
    path = "/api/v1/mailing-lists/{id}",
    operation_id = "mailing_lists_read",
    summary = "Read a mailing list",
    params(
        ("id" = i64, Path, description = "The list's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "The list", body = List),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<List>, ApiError> {
    let list = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("mailing list", &id)?;
            let grant = authorize(tx, actor, purpose::MAILING_LIST)?;
            mailing_lists::load(tx, &grant, id)
        })
        .await?;
    Ok(Json(list))
}

#[utoipa::path(
    post,
    path = "/api/v1/mailing-lists/{id}/mailings",
    operation_id = "mailing_lists_mailing",
    summary = "Record a mailing sent to the list (the list is active)",
    params(
        ("id" = i64, Path, description = "The list's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The list", body = List),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, NotJson, Invalid)>,
    ),
)]
pub async fn mailing(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<List>, ApiError> {
    let list = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("mailing list", &id)?;
            let grant = authorize(tx, actor, purpose::MAILING_LIST)?;
            mailing_lists::record_mailing(tx, &grant, id)
        })
        .await?;
    Ok(Json(list))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    patron_id: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/mailing-lists/{id}/subscriptions",
    operation_id = "mailing_lists_subscribe",
    summary = "Subscribe a patron who opted in",
    params(
        ("id" = i64, Path, description = "The list's id.", minimum = 1),
    ),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "The subscription", body = Subscription),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn subscribe(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(req): Body<NewSubscription>,
) -> Result<(StatusCode, Json<Subscription>), ApiError> {
    let subscription = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let req = req?;
            let id = path_id("mailing list", &id)?;
            let grant = authorize(tx, actor, purpose::MAILING_LIST)?;
            mailing_lists::subscribe(tx, &grant, id, req.patron_id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(subscription)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/subscriptions/{id}",
    operation_id = "mailing_lists_unsubscribe",
    summary = "Unsubscribe: deleted at once, with any released package that copied it; refused (409 record_preserved) while a legal hold pins it",
    params(
        ("id" = i64, Path, description = "The subscription's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 204, description = "Unsubscribed"),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<StatusCode, ApiError> {
    state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("subscription", &id)?;
            let grant = authorize(tx, actor, purpose::MAILING_LIST)?;
            mailing_lists::unsubscribe(tx, &grant, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/subscriptions",
    operation_id = "mailing_lists_of_patron",
    summary = "A patron's mailing-list subscriptions",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Subscriptions", body = [Subscription]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn of_patron(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<Subscription>>, ApiError> {
    let subscriptions = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::MAILING_LIST)?;
            mailing_lists::of_patron(tx, &grant, id)
        })
        .await?;
    Ok(Json(subscriptions))
}
