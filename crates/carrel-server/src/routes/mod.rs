//! The URL map. One module per resource; find the handler from the URL.

mod alerts;
mod circulation;
mod computer_sessions;
mod deliveries;
mod disclosure_pages;
mod disclosures;
mod fines;
mod ill;
mod items;
mod legal_holds;
mod mailing_lists;
mod my_records;
pub(crate) mod page;
mod patrons;
mod privacy_page;
mod programs;
mod retention;
mod session;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

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
    ("post", "/api/v1/ill-requests"),
    ("get", "/api/v1/ill-requests/{id}"),
    ("patch", "/api/v1/ill-requests/{id}"),
    ("get", "/api/v1/patrons/{id}/ill-requests"),
    ("post", "/api/v1/deliveries"),
    ("post", "/api/v1/deliveries/{id}/completion"),
    ("get", "/api/v1/patrons/{id}/deliveries"),
    ("post", "/api/v1/programs"),
    ("get", "/api/v1/programs/{id}"),
    ("get", "/api/v1/programs/{id}/registrations"),
    ("post", "/api/v1/programs/{id}/registrations"),
    ("delete", "/api/v1/program-registrations/{id}"),
    ("get", "/api/v1/patrons/{id}/program-registrations"),
    ("post", "/api/v1/computer-sessions"),
    ("post", "/api/v1/computer-sessions/{id}/end"),
    ("get", "/api/v1/patrons/{id}/computer-sessions"),
    ("post", "/api/v1/mailing-lists"),
    ("get", "/api/v1/mailing-lists/{id}"),
    ("post", "/api/v1/mailing-lists/{id}/mailings"),
    ("post", "/api/v1/mailing-lists/{id}/subscriptions"),
    ("delete", "/api/v1/subscriptions/{id}"),
    ("get", "/api/v1/patrons/{id}/subscriptions"),
    ("get", "/api/v1/legal-holds"),
    ("post", "/api/v1/legal-holds"),
    ("get", "/api/v1/legal-holds/{id}"),
    ("post", "/api/v1/legal-holds/{id}/renewal"),
    ("post", "/api/v1/legal-holds/{id}/release"),
    ("get", "/api/v1/retention"),
    ("post", "/api/v1/retention/runs"),
    ("get", "/api/v1/statistics/{class}"),
    ("get", "/api/v1/disclosures"),
    ("post", "/api/v1/disclosures"),
    ("get", "/api/v1/disclosures/{reference}"),
    ("post", "/api/v1/disclosures/{reference}/documents"),
    ("post", "/api/v1/disclosures/{reference}/review"),
    ("post", "/api/v1/disclosures/{reference}/counsel-review"),
    ("post", "/api/v1/disclosures/{reference}/approval"),
    ("post", "/api/v1/disclosures/{reference}/refusal"),
    ("post", "/api/v1/disclosures/{reference}/release"),
    ("post", "/api/v1/disclosures/{reference}/exigent-release"),
    ("post", "/api/v1/disclosures/{reference}/preservation"),
    ("post", "/api/v1/disclosures/{reference}/closure"),
    ("get", "/api/v1/disclosures/{reference}/package"),
    ("get", "/api/v1/disclosures/{reference}/package.html"),
    ("get", "/api/v1/alerts"),
    ("post", "/api/v1/alerts/{id}/read"),
    ("post", "/api/v1/patron-session"),
    ("delete", "/api/v1/patron-session"),
    ("get", "/api/v1/my/records"),
    ("post", "/api/v1/my/minor-records"),
];

/// Every route, with the layers every request passes: the body limits
/// (size, and `body_timeout` for it to arrive) and the request log.
pub fn router(state: AppState, body_timeout: std::time::Duration) -> Router {
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
        .route("/api/v1/ill-requests", post(ill::create))
        .route(
            "/api/v1/ill-requests/{id}",
            get(ill::read).merge(patch(ill::update)),
        )
        .route("/api/v1/patrons/{id}/ill-requests", get(ill::of_patron))
        .route("/api/v1/deliveries", post(deliveries::create))
        .route(
            "/api/v1/deliveries/{id}/completion",
            post(deliveries::complete),
        )
        .route(
            "/api/v1/patrons/{id}/deliveries",
            get(deliveries::of_patron),
        )
        .route("/api/v1/programs", post(programs::create))
        .route("/api/v1/programs/{id}", get(programs::read))
        .route(
            "/api/v1/programs/{id}/registrations",
            get(programs::roster).post(programs::register),
        )
        .route(
            "/api/v1/program-registrations/{id}",
            delete(programs::cancel),
        )
        .route(
            "/api/v1/patrons/{id}/program-registrations",
            get(programs::of_patron),
        )
        .route("/api/v1/computer-sessions", post(computer_sessions::start))
        .route(
            "/api/v1/computer-sessions/{id}/end",
            post(computer_sessions::end),
        )
        .route(
            "/api/v1/patrons/{id}/computer-sessions",
            get(computer_sessions::of_patron),
        )
        .route("/api/v1/mailing-lists", post(mailing_lists::create))
        .route("/api/v1/mailing-lists/{id}", get(mailing_lists::read))
        .route(
            "/api/v1/mailing-lists/{id}/mailings",
            post(mailing_lists::mailing),
        )
        .route(
            "/api/v1/mailing-lists/{id}/subscriptions",
            post(mailing_lists::subscribe),
        )
        .route(
            "/api/v1/subscriptions/{id}",
            delete(mailing_lists::unsubscribe),
        )
        .route(
            "/api/v1/patrons/{id}/subscriptions",
            get(mailing_lists::of_patron),
        )
        .route(
            "/api/v1/legal-holds",
            get(legal_holds::list).post(legal_holds::place),
        )
        .route("/api/v1/legal-holds/{id}", get(legal_holds::read))
        .route("/api/v1/legal-holds/{id}/renewal", post(legal_holds::renew))
        .route(
            "/api/v1/legal-holds/{id}/release",
            post(legal_holds::release),
        )
        .route("/api/v1/retention", get(retention::plan))
        .route("/api/v1/retention/runs", post(retention::run))
        .route("/api/v1/statistics/{class}", get(retention::statistics))
        .route(
            "/api/v1/disclosures",
            get(disclosures::queue).post(disclosures::record),
        )
        .route("/api/v1/disclosures/{reference}", get(disclosures::read))
        .route(
            "/api/v1/disclosures/{reference}/documents",
            post(disclosures::attach_document),
        )
        .route(
            "/api/v1/disclosures/{reference}/review",
            post(disclosures::begin_review),
        )
        .route(
            "/api/v1/disclosures/{reference}/counsel-review",
            post(disclosures::counsel_review),
        )
        .route(
            "/api/v1/disclosures/{reference}/approval",
            post(disclosures::approve),
        )
        .route(
            "/api/v1/disclosures/{reference}/refusal",
            post(disclosures::refuse),
        )
        .route(
            "/api/v1/disclosures/{reference}/release",
            post(disclosures::release),
        )
        .route(
            "/api/v1/disclosures/{reference}/exigent-release",
            post(disclosures::exigent_release),
        )
        .route(
            "/api/v1/disclosures/{reference}/preservation",
            post(disclosures::preserve),
        )
        .route(
            "/api/v1/disclosures/{reference}/closure",
            post(disclosures::close),
        )
        .route(
            "/api/v1/disclosures/{reference}/package",
            get(disclosures::package_json),
        )
        .route(
            "/api/v1/disclosures/{reference}/package.html",
            get(disclosures::package_html),
        )
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}/read", post(alerts::mark_read))
        .route(
            "/api/v1/patron-session",
            post(my_records::sign_in).delete(session::sign_out),
        )
        .route("/api/v1/my/records", get(my_records::own))
        .route("/api/v1/my/minor-records", post(my_records::minor))
        .route("/staff/privacy", get(privacy_page::page))
        .route("/staff/disclosures", get(disclosure_pages::queue))
        .route(
            "/staff/disclosures/{reference}",
            get(disclosure_pages::request),
        )
        .route(
            "/staff/disclosures/{reference}/{action}",
            post(disclosure_pages::act),
        )
        .route_layer(axum::middleware::from_fn(crate::api::require_declared_body))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(crate::api::refuse_oversized_body))
        .layer(axum::middleware::from_fn_with_state(
            body_timeout,
            crate::listener::body_deadline,
        ))
        .layer(
            // Log the route template, never the concrete URL: a URL may
            // carry an id or a barcode.
            // Failures are logged by `ApiError` (refusals now and then,
            // see `quiet_log`), not once more here for every response.
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("(unmatched)", MatchedPath::as_str);
                    tracing::info_span!("request", method = %req.method(), route)
                }),
        )
        // Outermost, so that every answer the router gives, the body
        // layers' refusals included, carries them.
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Nearly every answer carries personal data (JSON as much as
        // pages), and the rest (the OpenAPI document) loses nothing by
        // not being cached: no answer is kept by a browser or a proxy.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        // No script, font, frame or style from anywhere (DESIGN: no third
        // parties in any page); forms post only here; no page in a frame.
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .with_state(state)
}

/// The one Content-Security-Policy of every answer (see `router`).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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
