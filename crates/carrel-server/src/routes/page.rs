//! What the server-rendered staff pages share: the response (its
//! security headers are the router's, for every answer), escaping, and
//! the answers for a missing session or a refused role.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use carrel_store::Error;

use crate::api::ApiError;

pub use crate::package_page::escape_html as escape;

pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f}table{border-collapse:collapse;margin:1rem 0}th,td{border-bottom:1px solid #ddd;padding:.35rem .7rem;text-align:right}th:first-child,td:first-child{text-align:left}.over{color:#b00020;font-weight:600}.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}form{margin:.5rem 0}fieldset{margin:1rem 0;border:1px solid #ccc}";

/// A page. Its security headers (CSP, nosniff, no-referrer, no-store)
/// come from the router's layers, as every answer's do.
pub fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The answer to a staff-page request that changes something but is not
/// a form (see `api::require_declared_body`).
pub fn form_required() -> Response {
    html(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("<!doctype html><title>Not a form</title><style>{STYLE}</style><p>Staff pages take their forms as application/x-www-form-urlencoded, as a browser sends them. Nothing was done.</p><p><a href=\"/staff/disclosures\">Back to the queue</a></p>"),
    )
}

/// The answer to a form posted without this session's form token: it did
/// not come from a page Carrel served in this session (another site's, or
/// one from before the last sign-in).
pub fn form_token_missing() -> Response {
    html(
        StatusCode::FORBIDDEN,
        format!("<!doctype html><title>Form not accepted</title><style>{STYLE}</style><p>This form did not come from a Carrel page of your current session. Nothing was done. Reload the page and try again.</p><p><a href=\"/staff/disclosures\">Back to the queue</a></p>"),
    )
}

/// A page for a failed request: sign in, not allowed, not found, or the
/// store's own message (which names what was wrong, never personal data).
pub fn failure(error: ApiError, not_allowed: &str) -> Response {
    match error {
        ApiError(Error::Unauthenticated) => html(
            StatusCode::UNAUTHORIZED,
            "<!doctype html><title>Sign in</title><p>Sign in as staff first (POST /api/v1/session), then reload this page.</p>".into(),
        ),
        ApiError(Error::Denied { reason, .. }) if reason.code() == "denied" => html(
            StatusCode::FORBIDDEN,
            format!("<!doctype html><title>Not allowed</title><p>{}</p>", escape(not_allowed)),
        ),
        other @ ApiError(
            Error::Denied { .. }
            | Error::NotFound { .. }
            | Error::Invalid { .. }
            | Error::Refused { .. }
            | Error::Request { .. }
            | Error::Conflict { .. },
        ) => {
            let message = other.0.to_string();
            let status = other.into_response().status();
            html(
                status,
                format!("<!doctype html><title>Could not do that</title><style>{STYLE}</style><p>{}</p><p><a href=\"/staff/disclosures\">Back to the queue</a></p>", escape(&message)),
            )
        }
        other => other.into_response(),
    }
}
