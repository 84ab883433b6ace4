//! The URL map. One module per resource; find the handler from the URL.

mod circulation;
mod fines;
mod items;
mod patrons;
mod session;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::api::{AppState, MAX_BODY_BYTES};

/// The OpenAPI document, kept by hand beside the routes; a test checks that
/// every route below is in it and nothing else is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Every route, as (method, path) in axum's syntax, for the OpenAPI test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/health"),
    ("post", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("post", "/api/v1/patrons"),
    ("post", "/api/v1/patrons/lookup"),
    ("get", "/api/v1/patrons/{id}"),
    ("patch", "/api/v1/patrons/{id}"),
    ("get", "/api/v1/patrons/{id}/loans"),
    ("get", "/api/v1/patrons/{id}/holds"),
    ("get", "/api/v1/patrons/{id}/fines"),
    ("post", "/api/v1/patrons/{id}/fines"),
    ("post", "/api/v1/items"),
    ("get", "/api/v1/items/{id}"),
    ("get", "/api/v1/items/by-barcode/{barcode}"),
    ("post", "/api/v1/checkouts"),
    ("post", "/api/v1/checkins"),
    ("post", "/api/v1/loans/{id}/renewal"),
    ("post", "/api/v1/holds"),
    ("delete", "/api/v1/holds/{id}"),
    ("post", "/api/v1/fines/{id}/payments"),
    ("post", "/api/v1/fines/{id}/waiver"),
];

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/health", get(health))
        .route(
            "/api/v1/session",
            post(session::sign_in).delete(session::sign_out),
        )
        .route("/api/v1/patrons", post(patrons::register))
        .route("/api/v1/patrons/lookup", post(patrons::lookup))
        .route(
            "/api/v1/patrons/{id}",
            get(patrons::read).merge(patch(patrons::update)),
        )
        .route("/api/v1/patrons/{id}/loans", get(patrons::loans))
        .route("/api/v1/patrons/{id}/holds", get(patrons::holds))
        .route(
            "/api/v1/patrons/{id}/fines",
            get(patrons::fines).post(fines::assess),
        )
        .route("/api/v1/items", post(items::create))
        .route("/api/v1/items/{id}", get(items::read))
        .route("/api/v1/items/by-barcode/{barcode}", get(items::by_barcode))
        .route("/api/v1/checkouts", post(circulation::checkout))
        .route("/api/v1/checkins", post(circulation::checkin))
        .route("/api/v1/loans/{id}/renewal", post(circulation::renew))
        .route("/api/v1/holds", post(circulation::place_hold))
        .route("/api/v1/holds/{id}", delete(circulation::cancel_hold))
        .route("/api/v1/fines/{id}/payments", post(fines::pay))
        .route("/api/v1/fines/{id}/waiver", post(fines::waive))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            // Log the route template, never the concrete URL: a URL may
            // carry an id or a barcode.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or("(unmatched)", MatchedPath::as_str);
                tracing::info_span!("request", method = %req.method(), route)
            }),
        )
        .with_state(state)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    Json(json!({
        "status": "ok",
        "engine": state.store.engine().to_string(),
        "library": state.store.policy().library.name,
        "policy_version": state.store.policy_version_id(),
    }))
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(
            json!({"error": {"code": "no_such_route", "message": "no such API route; see /api/v1/openapi.json"}}),
        ),
    )
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(
            json!({"error": {"code": "method_not_allowed", "message": "this route does not take that method; see /api/v1/openapi.json"}}),
        ),
    )
}
