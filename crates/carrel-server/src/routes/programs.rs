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
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, TooLarge,
    Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProgram {
    #[schema(max_length = 200)]
    title: String,
    /// RFC 3339, for example 2026-12-01T18:00:00-06:00.
    starts_at: DateTime<FixedOffset>,
    ends_at: DateTime<FixedOffset>,
    #[serde(default)]
    #[schema(minimum = 1)]
    capacity: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/programs",
    operation_id = "programs_create",
    summary = "Create a program",
    request_body = NewProgram,
    responses(
        (status = 201, description = "The program", body = Program),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}",
    operation_id = "programs_read",
    summary = "Read a program",
    params(
        ("id" = i64, Path, description = "The program's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "The program", body = Program),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegistration {
    patron_id: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/programs/{id}/registrations",
    operation_id = "programs_register",
    summary = "Register a patron for a program",
    params(
        ("id" = i64, Path, description = "The program's id.", minimum = 1),
    ),
    request_body = NewRegistration,
    responses(
        (status = 201, description = "The registration", body = Registration),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/programs/{id}/registrations",
    operation_id = "programs_roster",
    summary = "The program's roster",
    params(
        ("id" = i64, Path, description = "The program's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Registrations", body = [Registration]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/program-registrations/{id}",
    operation_id = "programs_cancel",
    summary = "Cancel a registration: deleted at once, with any released package that copied it; refused (409 record_preserved) while a legal hold pins it",
    params(
        ("id" = i64, Path, description = "The registration's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 204, description = "Cancelled"),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/program-registrations",
    operation_id = "programs_of_patron",
    summary = "A patron's program registrations",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Registrations", body = [Registration]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
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
