//! The patron's pages (C2, A1): sign in with card and PIN, My account
//! (loans to renew, holds to place and cancel, fines), PIN change and
//! sign-out. The session is the patron session the JSON API uses, kept
//! in the `carrel_patron` cookie (HttpOnly, SameSite=Strict, Secure
//! behind https). Sign-in failures are the API's: one answer whatever
//! went wrong, never whether the card exists, with the same throttles per
//! card and per client address (`AppState::password_check`).

use carrel_policy::display::Mask;
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Form;
use carrel_store::my_account::{self, Overview};
use carrel_store::{patron_sessions, sign_in, Error};

use super::forms::{before_sign_in, form_token};
use super::{failure, field, local_date, record_id, render, see_other, Frame, Message};
use crate::api::{
    carrel_cookie, cookie, ApiError, AppState, ClientAddress, SignInCookies, Token, PATRON_COOKIE,
};

/// The cookie keeping a patron browser's known-device token, sent only to
/// the sign-in form.
const PATRON_DEVICE_COOKIE: &str = "carrel_patron_device";

/// Where patrons sign in.
pub const SIGN_IN: &str = "/my/sign-in";

/// The patron session of a page request, from its cookie.
pub(super) fn session(headers: &HeaderMap) -> Result<Token, ApiError> {
    cookie(headers, PATRON_COOKIE)
        .filter(|token| !token.is_empty())
        .map(|token| Token(token.to_string()))
        .ok_or(ApiError(Error::Unauthenticated))
}

fn library(state: &AppState) -> String {
    state.store.policy().library.name.clone()
}

/// What a page says after a form sent the browser back to it, by a fixed
/// code in the address (never text from the request).
fn confirmation(done: Option<&String>) -> Option<String> {
    let text = match done?.as_str() {
        "signed-out" => "You are signed out.",
        "pin-changed" => "Your PIN is changed, and every session of your card has ended. Sign in with your new PIN.",
        "renewed" => "The loan is renewed; its new due date is below.",
        "hold-placed" => "Your hold is placed.",
        "hold-cancelled" => "Your hold is cancelled.",
        _ => return None,
    };
    Some(text.to_string())
}

#[derive(Template)]
#[template(path = "patron/sign_in.html")]
struct SignInPage {
    frame: Frame,
    form_token: String,
    problem: Option<String>,
    card_barcode: String,
    session_minutes: i64,
}

fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<String>,
    card_barcode: String,
) -> Response {
    before_sign_in(state, headers, |form_token| {
        render(
            status,
            &SignInPage {
                frame: Frame::public(&library(state), SIGN_IN),
                form_token,
                problem,
                card_barcode,
                session_minutes: patron_sessions::SESSION_MINUTES,
            },
        )
    })
}

/// GET /my/sign-in
pub async fn sign_in_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    sign_in_page(
        &state,
        &headers,
        StatusCode::OK,
        confirmation(query.get("done")),
        String::new(),
    )
}

/// POST /my/sign-in
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let card = field(&form, "card_barcode");
    let pin = form.get("pin").cloned().unwrap_or_default();
    let presented = cookie(&headers, PATRON_DEVICE_COOKIE).map(str::to_string);
    let device = {
        let card = card.clone();
        state
            .known_device(presented, move |store, token| {
                patron_sessions::known_device(store, &card, token)
            })
            .await
    };
    let signed_in = match device {
        Ok(device) => {
            let card = card.clone();
            state
                .password_check(&client, device, move |store, device| {
                    patron_sessions::sign_in(store, &card, &pin, device)
                })
                .await
        }
        Err(e) => Err(e),
    };
    let session = match signed_in {
        Ok(session) => session,
        Err(ApiError(Error::TooManyAttempts)) => {
            return sign_in_page(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many sign-in attempts have failed from here. Wait 15 minutes, then try again; or ask at the library's desk.".into()),
                String::new(),
            )
        }
        Err(ApiError(Error::SignInRefused | Error::Invalid { .. })) => {
            // One answer for every refusal: never whether the card exists.
            return sign_in_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("That card number and PIN did not open an account. Check both and try again. A card that has expired or is blocked cannot sign in: ask at the library's desk.".into()),
                String::new(),
            );
        }
        Err(other) => return other.into_response(),
    };
    // Consents a newer policy changed are asked again at once (C1).
    let asked_again = state
        .as_patron(Token(session.token.clone()), |tx, patron| {
            Ok(!my_account::stale_consents(tx, patron)?.is_empty())
        })
        .await
        .unwrap_or(false);
    let cookies = SignInCookies {
        session: (PATRON_COOKIE, session.token),
        session_seconds: patron_sessions::SESSION_MINUTES * 60,
        device: (PATRON_DEVICE_COOKIE, session.device),
        device_path: SIGN_IN,
    };
    (
        cookies.headers(state.secure_cookies),
        see_other(if asked_again { "/my/consents" } else { "/my" }),
    )
        .into_response()
}

/// POST /my/sign-out: ends every session of the card.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(token) = session(&headers) {
        // A session already ended signs nothing out; the cookie goes anyway.
        let _ = state
            .blocking(move |store| sign_in::sign_out(store, &token.0))
            .await;
    }
    let expired = carrel_cookie(PATRON_COOKIE, String::new(), "/", 0, state.secure_cookies);
    (
        AppendHeaders([(header::SET_COOKIE, expired)]),
        see_other("/my/sign-in?done=signed-out"),
    )
        .into_response()
}

struct LoanLine {
    id: i64,
    title: String,
    checked_out: String,
    due: String,
    overdue: bool,
    renewals: i64,
}

struct HoldLine {
    id: i64,
    title: String,
    placed: String,
    status: String,
}

struct FineLine {
    reason: String,
    assessed: String,
    owed: String,
}

#[derive(Template)]
#[template(path = "patron/account.html")]
struct AccountPage {
    frame: Frame,
    form_token: String,
    done: Option<String>,
    card: String,
    category: String,
    expires_on: String,
    standing: String,
    loans: Vec<LoanLine>,
    holds: Vec<HoldLine>,
    fines: Vec<FineLine>,
    renewals_allowed: i64,
    /// Consents a newer policy changed, waiting for the patron's answer.
    stale: usize,
}

/// Cents as dollars: 1250 as "$12.50".
pub fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

fn account_page(
    state: &AppState,
    session: &str,
    done: Option<String>,
    (overview, stale): (Overview, usize),
) -> AccountPage {
    let zone = state.store.policy().library.time_zone;
    let now = state.store.now().timestamp();
    let untitled = || "(an item no longer in the catalogue)".to_string();
    let registration = &overview.registration;
    let category = state
        .store
        .policy()
        .category(&registration.category)
        .map_or_else(|| registration.category.clone(), |c| c.description.clone());
    AccountPage {
        frame: Frame::patron(&library(state), "/my", session),
        form_token: form_token(session),
        done,
        card: registration
            .card_barcode
            .as_deref()
            .and_then(|card| Mask::LastFour.apply(card))
            .unwrap_or_default(),
        category,
        expires_on: registration.expires_on.to_string(),
        standing: super::words(registration.status.name()),
        loans: overview
            .loans
            .into_iter()
            .map(|l| LoanLine {
                id: l.record.id,
                title: l.title.unwrap_or_else(untitled),
                checked_out: local_date(l.record.checked_out_at, zone),
                due: local_date(l.record.due_at, zone),
                overdue: l.record.due_at < now,
                renewals: l.record.renewals,
            })
            .collect(),
        holds: overview
            .holds
            .into_iter()
            .map(|h| HoldLine {
                id: h.record.id,
                title: h.title.unwrap_or_else(untitled),
                placed: local_date(h.record.placed_at, zone),
                status: match h.record.status {
                    carrel_store::circulation::HoldStatus::Ready => {
                        "ready: waiting for you at the desk".to_string()
                    }
                    other => super::words(other.name()),
                },
            })
            .collect(),
        fines: overview
            .fines
            .into_iter()
            .map(|f| FineLine {
                reason: f.reason,
                assessed: local_date(f.assessed_at, zone),
                owed: dollars(f.outstanding_cents),
            })
            .collect(),
        renewals_allowed: overview.renewals_allowed,
        stale,
    }
}

/// GET /my: the account at a glance.
pub async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let library = library(&state);
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, "/my"), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    let found = state
        .as_patron(token, |tx, patron| {
            Ok((
                my_account::overview(tx, patron)?,
                my_account::stale_consents(tx, patron)?.len(),
            ))
        })
        .await;
    match found {
        Ok(overview) => render(
            StatusCode::OK,
            &account_page(&state, &secret, confirmation(query.get("done")), overview),
        ),
        Err(e) => failure(Frame::patron(&library, "/my", &secret), e, SIGN_IN, ""),
    }
}

/// Runs one change to the patron's own records from a form, then sends
/// the browser back to My account with `done`.
async fn change<F>(state: AppState, headers: &HeaderMap, done: &str, work: F) -> Response
where
    F: FnOnce(&mut carrel_store::Tx<'_>, &carrel_store::gate::PatronActor) -> Result<(), Error>
        + Send
        + 'static,
{
    let library = library(&state);
    let token = match session(headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, "/my"), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    match state.as_patron(token, work).await {
        Ok(()) => see_other(&format!("/my?done={done}")),
        Err(e) => failure(Frame::patron(&library, "/my", &secret), e, SIGN_IN, ""),
    }
}

/// POST /my/loans/{id}/renewal
pub async fn renew(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    change(state, &headers, "renewed", move |tx, patron| {
        my_account::renew(tx, patron, record_id(&id, "loan")?).map(drop)
    })
    .await
}

/// POST /my/holds
pub async fn place_hold(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let barcode = field(&form, "item_barcode");
    change(state, &headers, "hold-placed", move |tx, patron| {
        my_account::place_hold(tx, patron, &barcode).map(drop)
    })
    .await
}

/// POST /my/holds/{id}/cancellation
pub async fn cancel_hold(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    change(state, &headers, "hold-cancelled", move |tx, patron| {
        my_account::cancel_hold(tx, patron, record_id(&id, "hold")?).map(drop)
    })
    .await
}

#[derive(Template)]
#[template(path = "patron/pin.html")]
struct PinPage {
    frame: Frame,
    form_token: String,
    problem: Option<String>,
}

fn pin_page(
    state: &AppState,
    session: &str,
    status: StatusCode,
    problem: Option<String>,
) -> Response {
    render(
        status,
        &PinPage {
            frame: Frame::patron(&library(state), "/my/pin", session),
            form_token: form_token(session),
            problem,
        },
    )
}

/// GET /my/pin
pub async fn pin_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let library = library(&state);
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, "/my/pin"), e, SIGN_IN, ""),
    };
    // The session must still be live for the form to be worth showing.
    let secret = token.0.clone();
    match state.as_patron(token, |_, _| Ok(())).await {
        Ok(()) => pin_page(&state, &secret, StatusCode::OK, None),
        Err(e) => failure(Frame::public(&library, "/my/pin"), e, SIGN_IN, ""),
    }
}

/// POST /my/pin: a wrong current PIN is a guess, counted per client
/// address like a sign-in's.
pub async fn change_pin(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let library = library(&state);
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, "/my/pin"), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    let current = form.get("current_pin").cloned().unwrap_or_default();
    let new = form.get("new_pin").cloned().unwrap_or_default();
    let again = form.get("new_pin_again").cloned().unwrap_or_default();
    let changed = state
        .patron_guess(&client, token, move |tx, patron| {
            my_account::change_pin(tx, patron, &current, &new, &again)
        })
        .await;
    match changed {
        Ok(()) => {
            let expired = carrel_cookie(PATRON_COOKIE, String::new(), "/", 0, state.secure_cookies);
            (
                AppendHeaders([(header::SET_COOKIE, expired)]),
                see_other("/my/sign-in?done=pin-changed"),
            )
                .into_response()
        }
        Err(ApiError(Error::SignInRefused)) => pin_page(
            &state,
            &secret,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The PIN you have now was not right. Nothing was changed.".into()),
        ),
        Err(ApiError(Error::Invalid { message, .. })) => pin_page(
            &state,
            &secret,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(super::sentence(&message)),
        ),
        Err(ApiError(Error::TooManyAttempts)) => Message::new(
            Frame::patron(&library, "/my/pin", &secret),
            "Too many tries",
            &["Too many wrong PINs have been tried, from here or for this card. Wait 15 minutes, then try again; or ask at the library's desk."],
        )
        .answer(StatusCode::TOO_MANY_REQUESTS),
        Err(e) => failure(Frame::patron(&library, "/my/pin", &secret), e, SIGN_IN, ""),
    }
}
