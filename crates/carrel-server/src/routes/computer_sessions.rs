//! Public computer sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::computer_sessions::{self, ComputerSession};
use carrel_store::gate::authorize;
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, TooLarge,
    Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    patron_id: i64,
    #[schema(max_length = 50)]
    terminal: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/computer-sessions",
    operation_id = "computer_sessions_start",
    summary = "Start a public computer session",
    request_body = NewSession,
    responses(
        (status = 201, description = "The session", body = ComputerSession),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<NewSession>,
) -> Result<(StatusCode, Json<ComputerSession>), ApiError> {
    let session = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let grant = authorize(tx, actor, purpose::ELECTRONIC_ACCESS)?;
            computer_sessions::start(tx, &grant, req.patron_id, &req.terminal)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

#[utoipa::path(
    post,
    path = "/api/v1/computer-sessions/{id}/end",
    operation_id = "computer_sessions_end",
    summary = "End a computer session",
    params(
        ("id" = i64, Path, description = "The session's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The session", body = ComputerSession),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn end(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<ComputerSession>, ApiError> {
    let session = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("computer session", &id)?;
            let grant = authorize(tx, actor, purpose::ELECTRONIC_ACCESS)?;
            computer_sessions::end(tx, &grant, id)
        })
        .await?;
    Ok(Json(session))
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/computer-sessions",
    operation_id = "computer_sessions_of_patron",
    summary = "A patron's computer sessions",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Sessions", body = [ComputerSession]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Invalid)>,
    ),
)]
pub async fn of_patron(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<ComputerSession>>, ApiError> {
    let sessions = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::ELECTRONIC_ACCESS)?;
            computer_sessions::of_patron(tx, &grant, id)
        })
        .await?;
    Ok(Json(sessions))
}
