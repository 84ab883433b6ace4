//! POST /api/v1/session (staff sign-in), DELETE /api/v1/session and
//! DELETE /api/v1/patron-session (sign-out, for either kind of session).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carrel_store::{sign_in, staff};
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, AppState, Body, ClientAddress, Token, SESSION_COOKIE};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    Body(form): Body<SignIn>,
) -> Result<Response, ApiError> {
    let session = state
        .password_check(&client, move |store| {
            staff::sign_in(store, &form.username, &form.password)
        })
        .await?;
    let max_age = staff::SESSION_HOURS * 3600;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        session.token
    );
    Ok(([(header::SET_COOKIE, cookie)], Json(json!(session))).into_response())
}

/// Ends the token's session: a staff member's, or every session of a
/// patron's card (see `sign_in::sign_out`).
pub async fn sign_out(State(state): State<AppState>, token: Token) -> Result<Response, ApiError> {
    state
        .blocking(move |store| sign_in::sign_out(store, &token.0))
        .await?;
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok((
        [(header::SET_COOKIE, expired)],
        Json(json!({"signed_out": true})),
    )
        .into_response())
}
