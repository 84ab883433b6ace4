//! Forms, and the one check every posted form passes before any handler
//! runs ([`guard`]): it must be a form, it must not come from another
//! origin, and it must carry a form token that only a page Carrel served
//! to this browser could hold.
//!
//! The token (`carrel_store::form_tokens`) is derived from a secret the
//! browser keeps in an HttpOnly cookie: the staff or patron session once
//! someone is signed in, and before that the browser secret
//! ([`BROWSER_COOKIE`]) the sign-in pages set. Cookies are SameSite=Strict
//! as well, and a browser names the origin of a form it posts (`Origin`,
//! `Sec-Fetch-Site`); each of the three would stop a forged form alone,
//! and a browser that honours none of the headers still cannot forge the
//! token.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use carrel_store::form_tokens;

use super::{Frame, Message};
use crate::api::{cookie, AppState, PATRON_COOKIE, SESSION_COOKIE};

/// The name of every form's token field.
pub const FORM_TOKEN: &str = "form_token";

/// The cookie holding the browser secret of a browser not signed in yet,
/// set by the pages whose forms sign in.
pub const BROWSER_COOKIE: &str = "carrel_form";

/// The forms that sign in, the only ones a browser posts before it holds
/// a session (their token comes from the browser secret).
const SIGN_IN_FORMS: [&str; 2] = ["/my/sign-in", "/staff/sign-in"];

/// The forms that upload a file (`multipart/form-data`), and the largest
/// body each takes; every other form is urlencoded and small.
const UPLOAD_FORMS: [(&str, usize); 1] = [(super::catalogue::IMPORT, 32 * 1024 * 1024)];

/// The largest body a form posted to `path` may have, if it uploads a
/// file.
pub fn upload_limit(path: &str) -> Option<usize> {
    UPLOAD_FORMS
        .iter()
        .find(|(form, _)| *form == path)
        .map(|(_, limit)| *limit)
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// How far into an upload the form token is looked for: browsers send a
/// form's fields in the order of the page, and the token comes first.
const TOKEN_WITHIN: usize = 64 * 1024;

/// The form token of a multipart form: the `form_token` part among the
/// first [`TOKEN_WITHIN`] bytes (read here, as a text field, without
/// loading anything else).
fn multipart_token(headers: &HeaderMap, bytes: &[u8]) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = content_type
        .split(';')
        .find_map(|part| part.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    if boundary.is_empty() {
        return None;
    }
    let head = &bytes[..bytes.len().min(TOKEN_WITHIN)];
    let text = String::from_utf8_lossy(head);
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str()).find_map(|part| {
        let (headers, body) = part.split_once("\r\n\r\n")?;
        let named = headers.lines().any(|line| {
            let line = line.to_ascii_lowercase();
            line.starts_with("content-disposition:")
                && line.contains("name=\"form_token\"")
                && !line.contains("filename=")
        });
        named.then(|| body.trim_end_matches("\r\n").to_string())
    })
}

/// Uploads read at once, at most: each holds up to its form's limit in
/// memory, and it is read before the handler checks the session.
static UPLOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The answer when [`UPLOADS`] are all in use.
fn uploads_busy() -> Response {
    let mut answer = refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "Busy loading another file",
        "Another catalogue file is being loaded. Try again in a minute.",
    );
    answer.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("30"),
    );
    answer
}

/// The form token of forms served to the browser holding `secret` (a
/// session token or the browser secret).
pub fn form_token(secret: &str) -> String {
    form_tokens::form_token(secret)
}

/// A page with a form posted before sign-in (the two sign-in pages):
/// `page` is made with the form token of the browser's secret, and the
/// answer gives the browser that secret (an HttpOnly cookie) when it has
/// none yet.
pub fn before_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    page: impl FnOnce(String) -> Response,
) -> Response {
    if let Some(secret) = cookie(headers, BROWSER_COOKIE).filter(|s| s.len() == 64) {
        return page(form_token(secret));
    }
    // Without randomness no cookie is set: the form is then refused when
    // posted (no secret of the browser's matches), which says what to do.
    let Ok(secret) = form_tokens::new_browser_secret() else {
        return page(String::new());
    };
    let set = crate::api::carrel_cookie(
        BROWSER_COOKIE,
        secret.clone(),
        "/",
        24 * 3600,
        state.secure_cookies,
    );
    (
        axum::response::AppendHeaders([(header::SET_COOKIE, set)]),
        page(form_token(&secret)),
    )
        .into_response()
}

fn has_form_media_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether the browser says the form came from a page of another origin.
/// `Sec-Fetch-Site` decides where a browser sends it (every current one
/// does). `Origin` is weaker: under Carrel's `Referrer-Policy:
/// no-referrer` a browser sends `Origin: null` even for Carrel's own
/// forms, so only an origin naming another host counts. A request that
/// names no origin (a client that is not a browser, an old browser) is
/// left to the token.
fn from_another_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match text("origin") {
        None | Some("null") => false,
        Some(origin) => {
            // Carrel's own origin is the host the browser asked for; a
            // proxy in front passes the Host header on unchanged.
            let host = text("host").unwrap_or_default();
            let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
            origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host)
        }
    }
}

fn refused(status: StatusCode, title: &str, why: &str) -> Response {
    // The library's name is not at hand in a middleware without state;
    // the page says "the library" instead.
    Message::new(
        Frame::public("the library", ""),
        title,
        &[why, "Nothing was done."],
    )
    .link("/", "Home")
    .answer(status)
}

/// The answer to a page request that changes something but is not a form.
pub fn form_required() -> Response {
    refused(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Not a form",
        "Pages take their forms as application/x-www-form-urlencoded, as a browser sends them.",
    )
}

/// The answer to a form posted without a form token of this browser's.
pub fn form_token_missing() -> Response {
    refused(
        StatusCode::FORBIDDEN,
        "Form not accepted",
        "This form did not come from a page Carrel served to this browser in its current session (or it came from another site). Go back, reload the page and try again.",
    )
}

/// Checks every posted form (any method but GET, HEAD and OPTIONS, on a
/// page route): a form, from this origin, with a form token of this
/// browser's. Anything else is refused before a handler runs.
pub async fn guard(request: Request, next: Next) -> Response {
    let upload = upload_limit(request.uri().path());
    let multipart = upload.is_some() && is_multipart(request.headers());
    if !has_form_media_type(request.headers()) && !multipart {
        return form_required();
    }
    // Held until the handler is done with the file.
    let _upload_slot = match upload {
        Some(_) => match UPLOADS.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return uploads_busy(),
        },
        None => None,
    };
    if from_another_origin(request.headers()) {
        tracing::info!("a form posted from another origin was refused");
        return form_token_missing();
    }
    let (parts, body) = request.into_parts();
    // Read as an extractor would, under the router's body limits (kept in
    // the request's extensions).
    let mut reading = Request::new(body);
    *reading.extensions_mut() = parts.extensions.clone();
    let read = match upload {
        // An upload is read under its own limit, not the router's.
        Some(limit) => axum::body::to_bytes(reading.into_body(), limit)
            .await
            .map_err(|e| {
                // Too large, or too slow to arrive (the body deadline):
                // each said as it is.
                let too_large = format!("{e:?} {e}").contains("length limit");
                if too_large {
                    crate::api::body_too_large_for_upload(limit)
                } else {
                    crate::api::body_read_error_for_upload()
                }
            }),
        None => axum::body::Bytes::from_request(reading, &())
            .await
            .map_err(|rejection| crate::api::body_read_error(rejection).into_response()),
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(answer) => return answer,
    };
    let given: Option<String> = if multipart {
        multipart_token(&parts.headers, &bytes)
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find(|(name, _)| name == FORM_TOKEN)
                    .map(|(_, value)| value)
            })
    };
    // The secrets this browser holds: its cookies, and a session token it
    // sends as `Authorization: Bearer` (a client that is not a browser;
    // the token extractor takes it the same way).
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    // The browser secret opens only the sign-in forms: once someone is
    // signed in, a form must carry their session's token.
    let secrets: &[&str] = if SIGN_IN_FORMS.contains(&parts.uri.path()) {
        &[SESSION_COOKIE, PATRON_COOKIE, BROWSER_COOKIE]
    } else {
        &[SESSION_COOKIE, PATRON_COOKIE]
    };
    let carries_token = given.is_some_and(|given| {
        secrets
            .iter()
            .filter_map(|name| cookie(&parts.headers, name))
            .chain(bearer)
            // An empty secret is no secret: its token anyone can make.
            .filter(|secret| !secret.is_empty())
            .any(|secret| form_tokens::form_token_matches(secret, &given))
    });
    if !carries_token {
        tracing::info!("a form without a form token of this browser's was refused");
        return form_token_missing();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
