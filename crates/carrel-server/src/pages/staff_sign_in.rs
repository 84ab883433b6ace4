//! Staff sign-in and sign-out pages, and the staff home page. The session
//! is the one the JSON API's `POST /api/v1/session` opens, in the same
//! `carrel_session` cookie, with the same throttles per account and per
//! client address and the same single answer to every refusal.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Form;
use carrel_store::{sign_in, staff, Error};

use super::forms::before_sign_in;
use super::{failure, render, Frame};
use crate::api::{
    carrel_cookie, cookie, ApiError, AppState, ClientAddress, SignInCookies, Token, DEVICE_COOKIE,
    SESSION_COOKIE,
};

/// Where staff sign in.
pub const SIGN_IN: &str = "/staff/sign-in";

/// The sign-in page, set to send the browser on to `path` once signed in
/// (a staff page reached without a session); the plain sign-in page when
/// `path` is not one of Carrel's staff pages.
pub fn sign_in_then(path: &str) -> String {
    match next_page(path) {
        Some(next) if next != "/staff" => format!("{SIGN_IN}?next={next}"),
        _ => SIGN_IN.to_string(),
    }
}

/// `next` if it is a staff page of this site: a path under `/staff` of
/// letters, digits, `-`, `_` and `/`, never `//` (another host), a query,
/// or the sign-in page itself. Anything else sends the browser to `/staff`
/// (no open redirect).
fn next_page(next: &str) -> Option<&str> {
    let under_staff = next == "/staff" || next.starts_with("/staff/");
    let plain = next
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'));
    (under_staff && plain && !next.contains("//") && !next.starts_with(SIGN_IN)).then_some(next)
}

#[derive(Template)]
#[template(path = "staff/sign_in.html")]
struct SignInPage {
    frame: Frame,
    form_token: String,
    problem: Option<String>,
    /// The staff page to go on to, once signed in.
    next: Option<String>,
}

fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<String>,
    next: Option<&str>,
) -> Response {
    let next = next.and_then(next_page).map(str::to_string);
    before_sign_in(state, headers, |form_token| {
        render(
            status,
            &SignInPage {
                frame: Frame::public(&state.store.policy().library.name, SIGN_IN),
                form_token,
                problem,
                next,
            },
        )
    })
}

/// GET /staff/sign-in
pub async fn sign_in_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let done = (query.get("done").map(String::as_str) == Some("signed-out"))
        .then(|| "You are signed out.".to_string());
    let next = query.get("next").map(String::as_str);
    sign_in_page(&state, &headers, StatusCode::OK, done, next)
}

/// POST /staff/sign-in
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let username = form
        .get("username")
        .map(|u| u.trim().to_string())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let next = form.get("next").cloned().unwrap_or_default();
    let next = next_page(&next).unwrap_or("/staff").to_string();
    let presented = cookie(&headers, DEVICE_COOKIE).map(str::to_string);
    let device = {
        let username = username.clone();
        state
            .known_device(presented, move |store, token| {
                staff::known_device(store, &username, token)
            })
            .await
    };
    let signed_in = match device {
        Ok(device) => {
            state
                .password_check(&client, device, move |store, device| {
                    staff::sign_in(store, &username, &password, device)
                })
                .await
        }
        Err(e) => Err(e),
    };
    let session =
        match signed_in {
            Ok(session) => session,
            Err(ApiError(Error::TooManyAttempts)) => {
                return sign_in_page(
                    &state,
                    &headers,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(
                        "Too many sign-in attempts have failed. Wait 15 minutes, then try again."
                            .into(),
                    ),
                    Some(&next),
                )
            }
            Err(ApiError(Error::SignInRefused | Error::Invalid { .. })) => return sign_in_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some(
                    "That username and password did not open an account. Check both and try again."
                        .into(),
                ),
                Some(&next),
            ),
            Err(other) => return other.into_response(),
        };
    let cookies = SignInCookies {
        session: (SESSION_COOKIE, session.token),
        session_seconds: staff::SESSION_HOURS * 3600,
        device: (DEVICE_COOKIE, session.device),
        device_path: SIGN_IN,
    };
    (
        cookies.headers(state.secure_cookies),
        super::see_other(&next),
    )
        .into_response()
}

/// POST /staff/sign-out
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE).map(str::to_string) {
        // A session already ended signs nothing out; the cookie goes anyway.
        let _ = state
            .blocking(move |store| sign_in::sign_out(store, &token))
            .await;
    }
    let expired = carrel_cookie(SESSION_COOKIE, String::new(), "/", 0, state.secure_cookies);
    (
        AppendHeaders([(header::SET_COOKIE, expired)]),
        (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, "/staff/sign-in?done=signed-out")],
        ),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "staff/home.html")]
struct HomePage {
    frame: Frame,
    role: String,
    done: Option<String>,
}

/// GET /staff: where a staff sign-in lands.
pub async fn home(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let library = state.store.policy().library.name.clone();
    let token = match token {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, "/staff"), e, SIGN_IN, ""),
    };
    let session = token.0.clone();
    match state
        .as_staff(token, |_, actor| Ok(actor.role().to_string()))
        .await
    {
        Ok(role) => render(
            StatusCode::OK,
            &HomePage {
                frame: Frame::staff(state.store.policy(), "/staff", &role, &session),
                role: super::words(&role),
                done: None,
            },
        ),
        Err(e) => failure(Frame::public(&library, "/staff"), e, SIGN_IN, ""),
    }
}
