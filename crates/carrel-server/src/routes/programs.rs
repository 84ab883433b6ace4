//! Library programs and registrations for them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::gate::authorize;
use carrel_store::programs::{self, Program, Registration};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProgram {
    title: String,
    /// RFC 3339, for example 2026-12-01T18:00:00-06:00.
    starts_at: DateTime<FixedOffset>,
    ends_at: DateTime<FixedOffset>,
    #[serde(default)]
    capacity: Option<i64>,
}

pub async fn create(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<NewProgram>,
) -> Result<(StatusCode, Json<Program>), ApiError> {
    let program = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            programs::create(
                tx,
                &grant,
                &req.title,
                req.starts_at.with_timezone(&Utc),
                req.ends_at.with_timezone(&Utc),
                req.capacity,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(program)))
}

pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Program>, ApiError> {
    let program = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("program", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            programs::load(tx, &grant, id)
        })
        .await?;
    Ok(Json(program))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRegistration {
    patron_id: i64,
}

pub async fn register(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(req): Body<NewRegistration>,
) -> Result<(StatusCode, Json<Registration>), ApiError> {
    let registration = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let req = req?;
            let id = path_id("program", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            programs::register(tx, &grant, id, req.patron_id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(registration)))
}

pub async fn roster(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<Registration>>, ApiError> {
    let roster = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("program", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            programs::roster(tx, &grant, id)
        })
        .await?;
    Ok(Json(roster))
}

pub async fn cancel(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<StatusCode, ApiError> {
    state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("program registration", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            programs::cancel(tx, &grant, id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn of_patron(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<Registration>>, ApiError> {
    let registrations = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::LIBRARY_SERVICES)?;
            programs::of_patron(tx, &grant, id)
        })
        .await?;
    Ok(Json(registrations))
}
