//! Opt-in mailing lists and subscriptions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::gate::authorize;
use carrel_store::mailing_lists::{self, List, Subscription};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    name: String,
    description: String,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    patron_id: i64,
}

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
