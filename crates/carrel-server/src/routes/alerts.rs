//! The signed-in staff member's alerts (L1, L3, L4): law-enforcement
//! requests, search warrants and overdue documents, for the roles the
//! policy alerts.

use axum::extract::State;
use axum::Json;
use carrel_store::disclosures::alerts::{self, Alert};

use crate::api::{path_id, ApiError, AppState, NoBody, PathParam, Token};

pub async fn list(
    State(state): State<AppState>,
    token: Token,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let alerts = state.as_staff(token, alerts::for_actor).await?;
    Ok(Json(alerts))
}

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
