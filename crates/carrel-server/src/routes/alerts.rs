//! The signed-in staff member's alerts (L1, L3, L4): law-enforcement
//! requests, search warrants and overdue documents, for the roles the
//! policy alerts.

use axum::extract::State;
use axum::Json;
use carrel_store::disclosures::alerts::{self, Alert};

use crate::api::{path_id, ApiError, AppState, NoBody, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, Unauthenticated,
};

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    operation_id = "alerts_list",
    summary = "Alerts for the signed-in staff member's role (law-enforcement requests, search warrants, overdue documents)",
    responses(
        (status = 200, description = "Alerts", body = [Alert]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused)>,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    token: Token,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let alerts = state.as_staff(token, alerts::for_actor).await?;
    Ok(Json(alerts))
}

#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/read",
    operation_id = "alerts_mark_read",
    summary = "Mark an alert read",
    params(
        ("id" = i64, Path, minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The alert", body = Alert),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn mark_read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<Alert>, ApiError> {
    let alert = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("alert", &id)?;
            alerts::mark_read(tx, actor, id)
        })
        .await?;
    Ok(Json(alert))
}
