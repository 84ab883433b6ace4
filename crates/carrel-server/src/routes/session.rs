//! POST /api/v1/session (staff sign-in), DELETE /api/v1/session and
//! DELETE /api/v1/patron-session (sign-out, for either kind of session).
//! A staff sign-in also sets the `carrel_device` cookie, the browser's
//! known-device token (see `carrel_store::known_devices`), and reads it
//! back at the next; signing out keeps it.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;
use carrel_store::{known_devices, sign_in, staff};
use serde::Deserialize;
use serde_json::json;

use crate::api::{
    cookie, ApiError, AppState, Body, ClientAddress, NoBody, Token, DEVICE_COOKIE, SESSION_COOKIE,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
    /// A known device's token (see `carrel_store::known_devices`); a
    /// browser sends the `carrel_device` cookie instead.
    #[serde(default)]
    device: Option<String>,
}

pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Body(form): Body<SignIn>,
) -> Result<Response, ApiError> {
    let presented = form
        .device
        .clone()
        .or_else(|| cookie(&headers, DEVICE_COOKIE).map(str::to_string));
    let username = form.username.clone();
    let device = state
        .known_device(presented, move |store, token| {
            staff::known_device(store, &username, token)
        })
        .await?;
    let session = state
        .password_check(&client, device, move |store, device| {
            staff::sign_in(store, &form.username, &form.password, device)
        })
        .await?;
    let max_age = staff::SESSION_HOURS * 3600;
    let session_cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        session.token
    );
    // Sent back only to the sign-in route: no other request needs it,
    // and a page's script cannot read it.
    let device_cookie = format!(
        "{DEVICE_COOKIE}={}; Path=/api/v1/session; HttpOnly; SameSite=Strict; Max-Age={}",
        session.device,
        known_devices::DEVICE_DAYS * 24 * 3600
    );
    Ok((
        AppendHeaders([
            (header::SET_COOKIE, session_cookie),
            (header::SET_COOKIE, device_cookie),
        ]),
        Json(json!(session)),
    )
        .into_response())
}

/// Ends the token's session: a staff member's, or every session of a
/// patron's card (see `sign_in::sign_out`).
pub async fn sign_out(
    State(state): State<AppState>,
    token: Token,
    _no_body: NoBody,
) -> Result<Response, ApiError> {
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
