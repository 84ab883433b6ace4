//! POST /api/v1/session (staff sign-in), DELETE /api/v1/session and
//! DELETE /api/v1/patron-session (sign-out, for either kind of session).
//! A staff sign-in also sets the `carrel_device` cookie, the browser's
//! known-device token (see `carrel_store::known_devices`), and reads it
//! back at the next; signing out keeps it.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use carrel_store::{sign_in, staff};
use serde::Deserialize;
use serde_json::json;

use crate::api::{
    carrel_cookie, cookie, ApiError, AppState, ClientAddress, NoBody, SignInBody, SignInCookies,
    Token, DEVICE_COOKIE, SESSION_COOKIE,
};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, SignInRefused,
    SignedOut, TooLarge, TooManyAttempts, Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
    /// The token a previous sign-in from this device returned as `device`:
    /// failures are then counted on the device, so strangers cannot lock
    /// the account's holder out. An unknown token is ignored; a browser
    /// sends the `carrel_device` cookie instead.
    #[serde(default)]
    device: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/session",
    operation_id = "session_sign_in",
    summary = "Staff sign-in (C2, D6). Every refusal is the same 401; failed sign-ins are counted per account (10 in 15 minutes) and per client address (5 in 15 minutes, all accounts together), and past either limit the answer is 429. A sign-in presenting a known device of the account (`device`, or the carrel_device cookie) is counted on the device instead, so strangers cannot lock its holder out",
    security(()),
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; also sets the carrel_session cookie, and the carrel_device cookie (the device's token, HttpOnly, for this route only, 90 days)", body = staff::Session),
        Errors<(BadRequest, SignInRefused, NotJson, Invalid, TooManyAttempts)>,
    ),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    SignInBody(form): SignInBody<SignIn>,
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
    // The device cookie is sent back only to the sign-in route: no other
    // request needs it, and a page's script cannot read it.
    let cookies = SignInCookies {
        session: (SESSION_COOKIE, session.token.clone()),
        session_seconds: staff::SESSION_HOURS * 3600,
        device: (DEVICE_COOKIE, session.device.clone()),
        device_path: "/api/v1/session",
    };
    Ok((cookies.headers(state.secure_cookies), Json(json!(session))).into_response())
}

/// Ends the token's session: a staff member's, or every session of a
/// patron's card (see `sign_in::sign_out`).
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    operation_id = "session_sign_out",
    summary = "Sign out: ends a staff session, or every session of a patron's card",
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "Signed out", body = SignedOut),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn sign_out(
    State(state): State<AppState>,
    token: Token,
    no_body: NoBody,
) -> Result<Response, ApiError> {
    no_body.0?;
    let expired = carrel_cookie(SESSION_COOKIE, String::new(), "/", 0, state.secure_cookies);
    let signed_out = state
        .blocking(move |store| sign_in::sign_out(store, &token.0))
        .await;
    if let Err(error) = signed_out {
        // A stale cookie goes all the same: it opens nothing.
        let mut refused = error.into_response();
        if let Ok(value) = header::HeaderValue::from_str(&expired) {
            refused.headers_mut().insert(header::SET_COOKIE, value);
        }
        return Ok(refused);
    }
    Ok((
        [(header::SET_COOKIE, expired)],
        Json(SignedOut { signed_out: true }),
    )
        .into_response())
}

/// DELETE /api/v1/patron-session: the same sign-out as [`sign_out`],
/// under the patron's path.
#[utoipa::path(
    delete,
    path = "/api/v1/patron-session",
    operation_id = "session_sign_out_patron",
    summary = "Sign out: ends every session of the patron's card (as DELETE /api/v1/session does)",
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "Signed out", body = SignedOut),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn sign_out_patron(
    state: State<AppState>,
    token: Token,
    no_body: NoBody,
) -> Result<Response, ApiError> {
    sign_out(state, token, no_body).await
}
