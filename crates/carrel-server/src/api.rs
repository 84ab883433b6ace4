//! What every route shares: the JSON error shape, the JSON body extractor
//! (with messages that never echo input values), the session token, and the
//! one way a handler reaches the store.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;
use carrel_store::gate::{Actor, PatronActor};
use carrel_store::known_devices::KnownDevice;
use carrel_store::{patron_sessions, sign_in, staff, validate, Error, RequestFault, Store, Tx};
use serde::de::DeserializeOwned;

use carrel_store::quiet_log::NowAndThen;

use crate::address_throttle::{client_address, AddressKey, AddressThrottle, Refusal, Reservation};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    /// Bounds the password and PIN checks of sign-ins (see
    /// [`PasswordChecks`]).
    pub password_checks: Arc<PasswordChecks>,
    /// Failed guesses per client address (see [`AddressThrottle`]).
    pub guesses: Arc<AddressThrottle>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see
    /// [`ClientAddress`]).
    pub trusted_proxies: Arc<[IpAddr]>,
    /// Session cookies are marked `Secure` (see [`crate::Config`]).
    pub secure_cookies: bool,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: &crate::Config) -> AppState {
        AppState {
            store,
            password_checks: Arc::new(PasswordChecks::new(
                config.limits.sign_in_turns,
                config.limits.sign_in_queue,
            )),
            guesses: Arc::new(AddressThrottle::new()),
            trusted_proxies: config
                .trusted_proxies
                .iter()
                .map(|a| a.to_canonical())
                .collect(),
            secure_cookies: config.secure_cookies,
        }
    }
}

/// Sign-ins are the one thing anyone can ask for without an account, and
/// each costs an Argon2id hash (19 MiB of memory and tens of milliseconds
/// of a core): 200 at once took the server from 159 MB to 3.8 GB and the
/// desk from 10 ms to 10 s. So sign-ins take turns: at most `turns` hash
/// at once (by default half the cores, so the desk keeps a core), at most
/// `queue` more wait for a turn, and any beyond that are refused at once
/// with 503 and Retry-After, before any work is done for them.
pub struct PasswordChecks {
    /// Turns to hash now.
    turns: Arc<tokio::sync::Semaphore>,
    /// Places in the building, hashing or waiting.
    places: Arc<tokio::sync::Semaphore>,
}

impl PasswordChecks {
    pub fn new(turns: usize, queue: usize) -> PasswordChecks {
        let turns = turns.max(1);
        PasswordChecks {
            turns: Arc::new(tokio::sync::Semaphore::new(turns)),
            places: Arc::new(tokio::sync::Semaphore::new(turns + queue)),
        }
    }
}

impl AppState {
    /// The device a sign-in presents (`presented`, a token), if the store
    /// knows it for the account the sign-in's name resolves to: `confirm`
    /// is `staff::known_device` or `patron_sessions::known_device` for
    /// that name. Asked before [`Self::password_check`], which lets only a
    /// confirmed device past the address throttle: a made-up token costs
    /// this one read, and gets the throttle like no token at all.
    pub async fn known_device<F>(
        &self,
        presented: Option<String>,
        confirm: F,
    ) -> Result<Option<KnownDevice>, ApiError>
    where
        F: FnOnce(&Store, &str) -> Result<Option<KnownDevice>, Error> + Send + 'static,
    {
        let Some(token) = presented.filter(|token| !token.is_empty()) else {
            return Ok(None);
        };
        self.blocking(move |store| confirm(store, &token)).await
    }

    /// Runs a sign-in (`work` checks a password or PIN) from `client` in its
    /// turn. Refuses at once, before any work: with
    /// [`Error::TooManyAttempts`] when the address has used up its failed
    /// guesses, and with [`Error::Overloaded`] when too many sign-ins are
    /// waiting already. A sign-in on a `device` the store confirmed
    /// ([`Self::known_device`]) takes no place in the address throttle:
    /// it is counted on the device (see `carrel_store::known_devices`),
    /// and `work` is handed the device to count it on.
    pub async fn password_check<T, F>(
        &self,
        client: &ClientAddress,
        device: Option<KnownDevice>,
        work: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store, Option<&KnownDevice>) -> Result<T, Error> + Send + 'static,
    {
        let guess = match device {
            Some(_) => None,
            None => Some(self.reserve_guess(client).await?),
        };
        let checks = self.password_checks.clone();
        let Ok(place) = checks.places.clone().try_acquire_owned() else {
            if let Some(guess) = guess {
                guess.give_back();
            }
            static REFUSED: NowAndThen = NowAndThen::new();
            if let Some(held_back) = REFUSED.due() {
                tracing::warn!(
                    held_back,
                    "sign-ins refused: too many waiting for a turn (a flood?)"
                );
            }
            return Err(ApiError(Error::Overloaded));
        };
        let Ok(turn) = checks.turns.clone().acquire_owned().await else {
            if let Some(guess) = guess {
                guess.give_back();
            }
            return Err(ApiError(Error::Overloaded));
        };
        // The place, the turn and the guess go with the work, not with this
        // request: a client that hangs up drops the request, but the hash
        // already started runs to its end, and until it does, its place
        // stays taken. (Held by the request, they were given back at once,
        // and sign-ins from clients that hang up piled up without bound on
        // the blocking threads the desk needs too.)
        self.blocking(move |store| {
            let _held = (place, turn);
            let outcome = work(store, device.as_ref());
            if let Some(guess) = guess {
                guess.settle(&outcome);
            }
            outcome
        })
        .await
    }

    /// Takes a place for one guess from `client` in the address throttle,
    /// or refuses with [`Error::TooManyAttempts`] when the address has
    /// used up its failed guesses.
    async fn reserve_guess(&self, client: &ClientAddress) -> Result<Reservation, ApiError> {
        let now = self.store.now().timestamp();
        match self.guesses.reserve(AddressKey::from(client.0), now) {
            Ok(reservation) => Ok(reservation),
            Err(refusal) => {
                self.note_refused_guess(refusal).await;
                Err(ApiError(Error::TooManyAttempts))
            }
        }
    }

    /// Logs (now and then) and, once per window, audits that an address
    /// was refused further guesses.
    async fn note_refused_guess(&self, refusal: Refusal) {
        // Never the address itself: it is personal data.
        static REFUSED: NowAndThen = NowAndThen::new();
        if let Some(held_back) = REFUSED.due() {
            tracing::warn!(
                held_back,
                "guesses refused: an address has used up its failed attempts"
            );
        }
        if refusal.first_in_window {
            let recorded = self.blocking(sign_in::record_address_refused).await;
            if let Err(ApiError(e)) = recorded {
                tracing::error!(error = %e, "could not record an address's refusal in the audit log");
            }
        }
    }
}

/// The name of the session cookie set at sign-in.
pub const SESSION_COOKIE: &str = "carrel_session";

/// The name of the patron's session cookie, set when a patron signs in on
/// the sign-in page (the patron pages read it; the JSON API takes the
/// patron's token as a bearer token).
pub const PATRON_COOKIE: &str = "carrel_patron";

/// A cookie of Carrel's, as a `Set-Cookie` value: for this path only,
/// never readable by a page's script (`HttpOnly`), never sent with a
/// request another site starts (`SameSite=Strict`), and `Secure` when
/// people reach Carrel over https (see [`crate::Config`]). A max age of 0
/// removes it.
pub fn carrel_cookie(
    name: &'static str,
    value: String,
    path: &'static str,
    max_age_seconds: i64,
    secure: bool,
) -> String {
    cookie::Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age_seconds))
        .secure(secure)
        .build()
        .to_string()
}

/// The two cookies a sign-in sets: the session's (for every path, as long
/// as the session lasts) and the device's (sent back only to the sign-in
/// that set it, see `carrel_store::known_devices`).
pub struct SignInCookies {
    /// The session cookie's name and the session's token.
    pub session: (&'static str, String),
    /// How long the session lasts, in seconds.
    pub session_seconds: i64,
    /// The device cookie's name and the device's token.
    pub device: (&'static str, String),
    /// The one path the device cookie is sent to.
    pub device_path: &'static str,
}

impl SignInCookies {
    /// The two `Set-Cookie` headers.
    pub fn headers(self, secure: bool) -> AppendHeaders<[(header::HeaderName, String); 2]> {
        AppendHeaders([
            (
                header::SET_COOKIE,
                carrel_cookie(
                    self.session.0,
                    self.session.1,
                    "/",
                    self.session_seconds,
                    secure,
                ),
            ),
            (
                header::SET_COOKIE,
                carrel_cookie(
                    self.device.0,
                    self.device.1,
                    self.device_path,
                    carrel_store::known_devices::DEVICE_DAYS * 24 * 3600,
                    secure,
                ),
            ),
        ])
    }
}

/// The name of the cookie that keeps a staff browser's device token (see
/// `carrel_store::known_devices`), sent only to the sign-in route.
pub const DEVICE_COOKIE: &str = "carrel_device";

/// The value of the cookie `name` in a request, if it has one.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// An error as the API answers it: `{"error": {"code", "message"}}` with a
/// status that matches. 5xx answers say nothing of the cause; the log does.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    /// Input that breaks a rule of form (422).
    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError(Error::invalid(code, message))
    }

    /// A request that cannot be read as one (400, 413, 408 or 415, by
    /// `fault`).
    pub fn request(
        fault: RequestFault,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError(Error::Request {
            fault,
            code,
            message: message.into(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = match &e {
            Error::Denied { .. } => StatusCode::FORBIDDEN,
            Error::Unauthenticated | Error::SignInRefused => StatusCode::UNAUTHORIZED,
            Error::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Error::MinorRecordsRefused => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Request { fault, .. } => match fault {
                RequestFault::Malformed => StatusCode::BAD_REQUEST,
                RequestFault::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                RequestFault::TooSlow => StatusCode::REQUEST_TIMEOUT,
                RequestFault::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            },
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Refused { .. } | Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Config(_)
            | Error::Unavailable
            | Error::Busy
            | Error::Overloaded
            | Error::DiskFull
            | Error::WriteFailed => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        // When to try again (seconds), for the answers that mean "not now".
        let retry_after: Option<i64> = match &e {
            Error::Busy | Error::Overloaded => Some(2),
            Error::Unavailable => Some(5),
            Error::DiskFull | Error::WriteFailed => Some(60),
            // A throttled guesser, when the window has passed (at most this
            // long: it may have started earlier).
            Error::TooManyAttempts => Some(carrel_store::attempts::THROTTLE_MINUTES * 60),
            _ => None,
        };
        let message = if retry_after.is_some() {
            // Not a fault of Carrel's: say plainly what is going on. (The
            // refused sign-ins of a flood, and guesses refused, are logged
            // where they are refused.)
            static NOT_NOW: NowAndThen = NowAndThen::new();
            if !matches!(e, Error::Overloaded | Error::TooManyAttempts) {
                if let Some(held_back) = NOT_NOW.due() {
                    tracing::warn!(error = %e, held_back, "request not served now");
                }
            }
            e.to_string()
        } else if status.is_server_error() {
            static FAILED: NowAndThen = NowAndThen::new();
            if let Some(held_back) = FAILED.due() {
                tracing::error!(error = %e, held_back, "request failed");
            }
            "Carrel could not complete the request; nothing was changed. The operator's log has the details.".to_string()
        } else {
            if let Error::Conflict { what } = &e {
                // Two writers at once, or a check Carrel should have made:
                // the operator should see which index (never a value).
                tracing::warn!(index = %what, "a unique index refused a write");
            } else {
                tracing::debug!(code = e.code(), "request refused");
            }
            e.to_string()
        };
        let mut response = (
            status,
            Json(crate::description::ErrorBody {
                error: crate::description::ErrorDetail {
                    code: e.code(),
                    message,
                },
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body, for a route that needs a signed-in caller. Unlike axum's
/// `Json`, its errors name the field and the expected type but never
/// repeat the value sent (it may be personal); and they wait: the route
/// reads the body (`let body = body?;`) only inside `as_staff` or
/// `as_patron`, after the session is checked, so a caller who is not
/// signed in learns nothing about what a well-formed body is (401 first).
pub struct Body<T>(pub Result<T, Error>);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Body(read_json(req, state).await.map_err(|e| e.0)))
    }
}

/// A JSON body read before anyone is signed in: the sign-in forms, whose
/// errors are answered at once.
pub struct SignInBody<T>(pub T);

impl<S, T> FromRequest<S> for SignInBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state).await.map(SignInBody)
    }
}

async fn read_json<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
) -> Result<T, ApiError> {
    if !has_media_type(req.headers(), JSON) {
        return Err(not_json());
    }
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(body_read_error)?;
    parse_json(&bytes)
}

/// The body of a route that takes none: nothing, `null` or `{}`. Anything else is
/// refused (422 `body_not_taken`) before the route does anything, so a request that
/// means something else by its body (`{"dry_run": true}` to a purge) is
/// not carried out as if it had none.
/// Like [`Body`], its refusal waits: the route checks it (`no_body.0?`)
/// after the session (the sign-out routes, which have no session to check
/// first, at once).
pub struct NoBody(pub Result<(), Error>);

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_read_error)?;
        let text = std::str::from_utf8(&bytes).unwrap_or("?");
        let empty = text.trim().is_empty()
            || serde_json::from_str::<Option<serde_json::Map<String, serde_json::Value>>>(text)
                .is_ok_and(|fields| fields.is_none_or(|fields| fields.is_empty()));
        Ok(NoBody(if empty {
            Ok(())
        } else {
            Err(Error::invalid(
                "body_not_taken",
                "this route takes no body: send none, null or {} (see /api/v1/openapi.json for what it does)",
            ))
        }))
    }
}

const JSON: &str = "application/json";

/// Whether a request's Content-Type is `media`: the media type alone,
/// any case, with any parameters (`; charset=utf-8`).
pub fn has_media_type(headers: &axum::http::HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(media))
}

fn not_json() -> ApiError {
    ApiError::request(RequestFault::NotJson, "unsupported_media_type",
        "send requests that change something with the header Content-Type: application/json (and a JSON body, or none where the route takes none)",
    )
}

/// Refuses any request that would change something (every method but
/// GET, HEAD and OPTIONS) unless it declares the body its route takes,
/// even where the route reads no body: `application/json` for the API,
/// a form (`application/x-www-form-urlencoded`) for the pages, which
/// also carries a form token (see `pages::forms::guard`). Why: a page on
/// another site can make a browser send a POST with the user's cookie,
/// unasked, only as a form, multipart or text/plain; a JSON request from
/// another site needs the browser to ask Carrel first (a CORS preflight),
/// which Carrel never grants. The session cookie is SameSite=Strict as
/// well; this holds where that is not honoured. DELETE is held to the
/// same rule, though another site cannot send one unasked: one rule for
/// every change is simpler to keep and to check. Applied once, as a route
/// layer, so an unknown route is still 404 and a wrong method 405.
pub async fn require_declared_body(request: Request, next: axum::middleware::Next) -> Response {
    use axum::http::Method;
    let method = request.method();
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    if !request.uri().path().starts_with("/api/") {
        return crate::pages::forms::guard(request, next).await;
    }
    if !has_media_type(request.headers(), JSON) {
        return not_json().into_response();
    }
    next.run(request).await
}

/// Why a body could not be read: too large, or (a body timeout, see
/// `listener`) too slow to arrive.
pub fn body_read_error(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::request(
            RequestFault::TooLarge,
            "body_too_large",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes; send less"),
        );
    }
    ApiError::request(
        RequestFault::TooSlow,
        "body_timeout",
        "the request body did not arrive in time; send it again, whole",
    )
}

/// Refuses a request whose declared body is larger than the API accepts,
/// before reading any of it (a client that declares 100 MB and sends
/// nothing is answered at once, not after a timeout).
pub async fn refuse_oversized_body(request: Request, next: axum::middleware::Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(limit) = crate::pages::forms::upload_limit(request.uri().path()) {
        if declared.is_some_and(|n| n > limit as u64) {
            return body_too_large_for_upload(limit);
        }
        return next.run(request).await;
    }
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        let mut response = ApiError::request(
            RequestFault::TooLarge,
            "body_too_large",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes; send less"),
        )
        .into_response();
        // The body was not read, so the connection cannot be reused.
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return response;
    }
    next.run(request).await
}

/// The answer to an upload larger than its form takes: a page (uploads
/// are forms), and the connection closed (the body was not read).
pub fn body_too_large_for_upload(limit: usize) -> Response {
    let mut response = crate::pages::Message::new(
        crate::pages::Frame::public("the library", ""),
        "File too large",
        &[&format!(
            "This form takes files of up to {} MB. For a larger catalogue, use carrel import items FILE on the server.",
            limit / (1024 * 1024)
        )],
    )
    .answer(StatusCode::PAYLOAD_TOO_LARGE);
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// The answer to an upload that did not arrive whole in time.
pub fn body_read_error_for_upload() -> Response {
    crate::pages::Message::new(
        crate::pages::Frame::public("the library", ""),
        "The file did not arrive in time",
        &["The upload was too slow to finish. On a slow connection, load a large catalogue with carrel import items FILE on the server; nothing was loaded."],
    )
    .answer(StatusCode::REQUEST_TIMEOUT)
}

/// An optional body field: absent is `None`, a value is `Some`, and
/// `null` is refused as the wrong type (the API's description types these
/// fields as strings or integers, not as nullable). Use with
/// `#[serde(default, deserialize_with = "crate::api::present")]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Parses JSON, turning serde's messages into ones that hold no input.
///
/// JSON has one kind of number: `12.0` is the integer 12 to JSON Schema
/// (and to the API's description), though serde refuses it for an `i64`.
/// A body refused for that (a number with a fraction or an exponent where
/// a whole number is expected) is read again with every number whose
/// value is exactly whole written as an integer, and nothing else
/// changed: the same keys, in the same order, so a duplicate key is still
/// refused. Any other refusal stands as it was.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match parse_json_as_sent(bytes) {
        Err(BodyRefusal::FloatForInteger(refused)) => match whole_numbers_as_integers(bytes) {
            Some(rewritten) => parse_json_as_sent(&rewritten).map_err(BodyRefusal::into_error),
            None => Err(refused),
        },
        other => other.map_err(BodyRefusal::into_error),
    }
}

/// Why a body was refused: for a float where an integer is expected
/// (which [`parse_json`] may read again), or for anything else.
enum BodyRefusal {
    FloatForInteger(ApiError),
    Other(ApiError),
}

impl BodyRefusal {
    fn into_error(self) -> ApiError {
        match self {
            BodyRefusal::FloatForInteger(error) | BodyRefusal::Other(error) => error,
        }
    }
}

/// The body with every number token whose value is exactly a whole `i64`
/// (`12.0`, `1.2e1`, `-300e-2`) written as that integer, every other byte
/// as it was; `None` if there is none. Exactly: `0.99999999999999999` is
/// not whole, however a float would round it.
fn whole_numbers_as_integers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                // A string, escapes included, copied as it is.
                let start = at;
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at = (at + 1).min(bytes.len());
                out.extend_from_slice(&bytes[start..at]);
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len()
                    && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    at += 1;
                }
                let token = &bytes[start..at];
                match whole_number(token) {
                    Some(whole) => {
                        out.extend_from_slice(whole.to_string().as_bytes());
                        changed = true;
                    }
                    None => out.extend_from_slice(token),
                }
            }
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    changed.then_some(out)
}

/// The value of a JSON number token with a fraction or an exponent, if it
/// is exactly a whole number that fits an `i64`.
fn whole_number(token: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(token).ok()?;
    if !text.contains(['.', 'e', 'E']) {
        return None;
    }
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
        return None;
    }
    // Where the decimal point falls among `digits` once the exponent moves it.
    let point = i64::try_from(whole.len()).ok()?.checked_add(exponent)?;
    let point = usize::try_from(point.max(0)).ok()?;
    let (integer, rest) = digits.split_at(point.min(digits.len()));
    if !rest.bytes().all(|d| d == b'0') {
        return None;
    }
    let zeros = point.saturating_sub(digits.len());
    if zeros > 19 {
        return None;
    }
    let magnitude: i128 = format!("0{integer}{}", "0".repeat(zeros)).parse().ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

fn parse_json_as_sent<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyRefusal> {
    // Every body the API takes is an object. serde would also read a
    // struct from an array of its fields in order, which no client means
    // (and which fills a struct of optional fields from `[]`).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(BodyRefusal::Other(ApiError::request(
            RequestFault::Malformed,
            "invalid_body",
            "the body is a JSON array; send a JSON object ({...}) with the fields this route takes",
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return BodyRefusal::Other(ApiError::request(RequestFault::Malformed, "malformed_json",
                format!("the body is not valid JSON (line {}, column {}); check quotes, commas and braces", inner.line(), inner.column()),
            ));
        }
        let message = inner.to_string();
        let refused = ApiError::request(RequestFault::Malformed, "invalid_body", describe_data_error(&path, &message));
        let integer_expected = ["i64", "i32", "u32", "u64", "integer"]
            .iter()
            .any(|integer| message.contains(&format!("expected {integer}")));
        if message.starts_with("invalid type: floating point") && integer_expected {
            BodyRefusal::FloatForInteger(refused)
        } else {
            BodyRefusal::Other(refused)
        }
    })?;
    de.end().map_err(|_| {
        BodyRefusal::Other(ApiError::request(
            RequestFault::Malformed,
            "malformed_json",
            "there is more after the JSON value; send one JSON object",
        ))
    })?;
    Ok(value)
}

/// serde's data errors look like "invalid type: string \"Ada\", expected
/// i64 at line 1 column 9". Keep what is safe: what was expected, missing
/// field names (from Carrel's own types), and the names of unknown fields
/// and the path only where they have the shape of field names
/// ([`validate::field_label`]): a client's keys are input too.
fn describe_data_error(path: &str, message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    let at = if path == "." || path.is_empty() {
        String::new()
    } else if path_shaped(path) {
        format!(" at '{path}'")
    } else {
        " in a field whose name is not a field name".to_string()
    };
    // What serde expected comes last; a value sent may itself hold the
    // words ", expected ", so split at the last one.
    let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
    if message.starts_with("unknown field `") {
        // "unknown field `KEY`, expected one of `a`, `b`" (or ", there
        // are no fields"): the key is what lies between.
        let head = match message.rsplit_once(", expected ") {
            Some((head, _)) => head,
            None => message.trim_end_matches(", there are no fields"),
        };
        let key = head
            .strip_prefix("unknown field `")
            .and_then(|k| k.strip_suffix('`'))
            .unwrap_or_default();
        let expected = expected
            .map(|e| format!("; expected {e}"))
            .unwrap_or_default();
        return format!(
            "unknown field {}{at}: remove it{expected}",
            validate::field_label(key)
        );
    }
    if message.starts_with("missing field ") {
        return format!("{message}{at}: add it");
    }
    match expected {
        Some(expected) => format!("wrong type or value{at}: expected {expected}"),
        None => format!("the body does not have the expected shape{at}"),
    }
}

/// Whether a path into the body (`documents[0].kind`) is made of field
/// names and indexes only, and so may be named in a message.
fn path_shaped(path: &str) -> bool {
    path.len() <= 80
        && path
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c))
}

/// The query string, parsed into `T`. Unlike axum's `Query`, its errors
/// are JSON like every other, and name a parameter only as
/// [`describe_data_error`] allows (axum's echo unknown names as sent).
/// Like [`Body`], its errors wait until the caller is signed in.
pub struct QueryParams<T>(pub Result<T, Error>);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let parsed = axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .map_err(|rejection| {
                // "Failed to deserialize query string: PATH: MESSAGE".
                let text = rejection.body_text();
                let detail = text.split_once(": ").map_or("", |(_, d)| d);
                let (path, message) = match detail.split_once(": ") {
                    Some((path, message)) if path_shaped(path) => (path, message),
                    _ => ("", detail),
                };
                ApiError::invalid(
                    "bad_query",
                    format!(
                        "the query string does not fit this route ({}); see /api/v1/openapi.json",
                        describe_data_error(path, message)
                    ),
                )
                .0
            });
        Ok(QueryParams(parsed))
    }
}

/// Where a request comes from, for the address throttle: the connection's
/// peer, or the client a trusted proxy names (see
/// [`crate::address_throttle::client_address`]).
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Set on every request by `listener::serve`.
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Err(ApiError(Error::Internal(
                "the request has no client address; serve the API with listener::serve".into(),
            )));
        };
        Ok(ClientAddress(client_address(
            peer.ip(),
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

/// The session token, from `Authorization: Bearer ...` or the session cookie.
pub struct Token(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Token {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            if let Some(token) = value.strip_prefix("Bearer ") {
                return Ok(Token(token.trim().to_string()));
            }
        }
        cookie(&parts.headers, SESSION_COOKIE)
            .map(|token| Token(token.to_string()))
            .ok_or(ApiError(Error::Unauthenticated))
    }
}

impl AppState {
    /// Runs `work` for the signed-in staff member, in one transaction on a
    /// blocking thread (the store is synchronous).
    pub async fn as_staff<T, F>(&self, token: Token, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>, &Actor) -> Result<T, Error> + Send + 'static,
    {
        self.blocking(move |store| {
            store.transact(|tx| {
                let actor = staff::authenticate(tx, &token.0)?;
                work(tx, &actor)
            })
        })
        .await
    }

    /// Runs `work` for the patron signed in with card and PIN, in one
    /// transaction.
    pub async fn as_patron<T, F>(&self, token: Token, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>, &PatronActor) -> Result<T, Error> + Send + 'static,
    {
        self.blocking(move |store| {
            store.transact(|tx| {
                let patron = patron_sessions::authenticate(tx, &token.0)?;
                work(tx, &patron)
            })
        })
        .await
    }

    /// [`Self::as_patron`], for work that is a guess at a secret (a minor's
    /// card number): once the session is checked, `client` takes a place
    /// in the address throttle, and keeps it if the guess is refused. `work`'s inner error is a
    /// refusal the transaction commits with its audit entry (see
    /// `online::minor_records`); the outer one rolls it back.
    pub async fn patron_guess<T, F>(
        &self,
        client: &ClientAddress,
        token: Token,
        work: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>, &PatronActor) -> Result<Result<T, Error>, Error> + Send + 'static,
    {
        // The session first: only a signed-in patron's guess takes a place
        // in the address's count, so requests with no session, however
        // many are in flight from a shared address, cannot use up the
        // guesses of the guardians there.
        let throttle = self.guesses.clone();
        let address = AddressKey::from(client.0);
        let (outcome, refusal) = self
            .blocking(move |store| {
                let mut place = None;
                let mut refusal = None;
                let outcome = store
                    .transact(|tx| {
                        let patron = patron_sessions::authenticate(tx, &token.0)?;
                        match throttle.reserve(address, tx.now().timestamp()) {
                            Ok(reserved) => place = Some(reserved),
                            Err(refused) => {
                                refusal = Some(refused);
                                return Err(Error::TooManyAttempts);
                            }
                        }
                        work(tx, &patron)
                    })
                    .and_then(|refusal_or_answer| refusal_or_answer);
                if let Some(place) = place {
                    place.settle(&outcome);
                }
                Ok((outcome, refusal))
            })
            .await?;
        if let Some(refusal) = refusal {
            self.note_refused_guess(refusal).await;
        }
        outcome.map_err(ApiError)
    }

    /// Runs blocking store work that needs no session (sign-in).
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, Error> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|_| {
                ApiError(Error::Internal(
                    "a request worker stopped unexpectedly".into(),
                ))
            })?
            .map_err(ApiError)
    }
}

/// The route's path parameters, for a route that needs a signed-in
/// caller. Like [`Body`], its error (a parameter that is not UTF-8 once
/// percent-decoded) waits until the session is checked (`let id = id?;`),
/// and is JSON like every other.
pub struct PathParam<T>(pub Result<T, Error>);

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let parsed = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| path.0)
            .map_err(|_| {
                ApiError::request(
                    RequestFault::Malformed,
                    "bad_path",
                    "the URL's path does not fit this route (a part of it is not text once decoded); see /api/v1/openapi.json",
                )
                .0
            });
        Ok(PathParam(parsed))
    }
}

/// A numeric id from the path, with a clear error otherwise. Called inside
/// `as_staff` or `as_patron`, after the session is checked, so a caller
/// who is not signed in learns nothing about which ids are well-formed.
pub fn path_id(what: &'static str, text: &str) -> Result<i64, Error> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::request(
                RequestFault::Malformed,
                "bad_id",
                format!("the {what} id in the URL must be a positive whole number"),
            )
            .0
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        amount_cents: i64,
    }

    #[test]
    fn json_errors_do_not_echo_values() {
        let err = parse_json::<Sample>(br#"{"amount_cents": "Ada Lovelace"}"#).unwrap_err();
        let text = err.0.to_string();
        assert!(!text.contains("Ada"), "{text}");
        assert!(text.contains("amount_cents"), "{text}");
        let err = parse_json::<Sample>(br#"{"amount_cents": 1, "Ada Lovelace": 2}"#).unwrap_err();
        assert!(err.0.to_string().contains("unknown field"));
        let err = parse_json::<Sample>(b"{not json").unwrap_err();
        assert_eq!(err.0.code(), "malformed_json");
    }

    #[test]
    fn json_errors_do_not_echo_keys_or_values_that_look_like_messages() {
        for body in [
            br#"{"amount_cents": "Zelda, expected Secretname"}"#.as_slice(),
            br#"{"Zelda Secretname": 1, "amount_cents": 1}"#,
            br#"{"zelda expected Secretname": 1}"#,
            br#"{"zelda`, expected Secretname": 1}"#,
        ] {
            let text = parse_json::<Sample>(body).unwrap_err().0.to_string();
            assert!(!text.contains("Secretname"), "{text}");
        }
        let text = parse_json::<Sample>(br#"{"note": 1}"#)
            .unwrap_err()
            .0
            .to_string();
        assert!(text.contains("unknown field 'note'"), "{text}");
    }
}

#[cfg(test)]
mod whole_number_tests {
    use super::{whole_number, whole_numbers_as_integers};

    #[test]
    fn only_numbers_exactly_whole_are_integers() {
        for (token, value) in [
            ("12.0", Some(12)),
            ("1.2e1", Some(12)),
            ("-300e-2", Some(-3)),
            ("-0.0", Some(0)),
            ("5E+2", Some(500)),
            ("9223372036854775807.0", Some(i64::MAX)),
            ("12", None),
            ("12.5", None),
            ("5e-1", None),
            ("0.99999999999999999", None),
            ("9223372036854775808.0", None),
            ("1e400", None),
            ("1.5e", None),
        ] {
            assert_eq!(whole_number(token.as_bytes()), value, "{token}");
        }
    }

    #[test]
    fn only_number_tokens_change() {
        let body = br#"{"a": 5.0, "a": "7.0", "b\"c": [1e2, 2.5, -0.0]}"#;
        let rewritten = whole_numbers_as_integers(body).unwrap();
        assert_eq!(
            String::from_utf8(rewritten).unwrap(),
            r#"{"a": 5, "a": "7.0", "b\"c": [100, 2.5, 0]}"#
        );
        assert_eq!(whole_numbers_as_integers(br#"{"a": 5, "b": "1.0"}"#), None);
    }
}
