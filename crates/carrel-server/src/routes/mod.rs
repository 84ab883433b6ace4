//! The URL map. One module per resource; find the handler from the URL.

mod alerts;
mod circulation;
mod computer_sessions;
mod deliveries;
pub(crate) mod disclosures;
mod fines;
mod ill;
mod items;
mod legal_holds;
mod mailing_lists;
mod my_records;
pub(crate) mod patrons;
mod programs;
mod retention;
mod session;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{AppState, MAX_BODY_BYTES};
use crate::description::{Description, Health};

/// Every route of the JSON API, each with its description: a route is
/// served only as its `#[utoipa::path]` describes it.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::description::ApiDoc::openapi())
        .routes(routes!(openapi))
        .routes(routes!(health))
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(patrons::register))
        .routes(routes!(patrons::lookup))
        .routes(routes!(patrons::search))
        .routes(routes!(patrons::read, patrons::update))
        .routes(routes!(patrons::loans))
        .routes(routes!(patrons::holds))
        .routes(routes!(patrons::fines, fines::assess))
        .routes(routes!(items::create, items::search))
        .routes(routes!(items::read, items::update))
        .routes(routes!(items::by_barcode))
        .routes(routes!(circulation::checkout))
        .routes(routes!(circulation::checkin))
        .routes(routes!(circulation::renew))
        .routes(routes!(circulation::place_hold))
        .routes(routes!(circulation::cancel_hold))
        .routes(routes!(circulation::pull_list))
        .routes(routes!(fines::pay))
        .routes(routes!(fines::waive))
        .routes(routes!(ill::create))
        .routes(routes!(ill::read, ill::update))
        .routes(routes!(ill::of_patron))
        .routes(routes!(deliveries::create))
        .routes(routes!(deliveries::complete))
        .routes(routes!(deliveries::of_patron))
        .routes(routes!(programs::create))
        .routes(routes!(programs::read))
        .routes(routes!(programs::roster, programs::register))
        .routes(routes!(programs::cancel))
        .routes(routes!(programs::of_patron))
        .routes(routes!(computer_sessions::start))
        .routes(routes!(computer_sessions::end))
        .routes(routes!(computer_sessions::of_patron))
        .routes(routes!(mailing_lists::create))
        .routes(routes!(mailing_lists::read))
        .routes(routes!(mailing_lists::mailing))
        .routes(routes!(mailing_lists::subscribe))
        .routes(routes!(mailing_lists::unsubscribe))
        .routes(routes!(mailing_lists::of_patron))
        .routes(routes!(legal_holds::list, legal_holds::place))
        .routes(routes!(legal_holds::read))
        .routes(routes!(legal_holds::renew))
        .routes(routes!(legal_holds::release))
        .routes(routes!(retention::plan))
        .routes(routes!(retention::run))
        .routes(routes!(retention::statistics))
        .routes(routes!(disclosures::queue, disclosures::record))
        .routes(routes!(disclosures::read))
        .routes(routes!(disclosures::attach_document))
        .routes(routes!(disclosures::begin_review))
        .routes(routes!(disclosures::counsel_review))
        .routes(routes!(disclosures::approve))
        .routes(routes!(disclosures::refuse))
        .routes(routes!(disclosures::release))
        .routes(routes!(disclosures::exigent_release))
        .routes(routes!(disclosures::preserve))
        .routes(routes!(disclosures::close))
        .routes(routes!(disclosures::package_json))
        .routes(routes!(disclosures::package_html))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::mark_read))
        .routes(routes!(my_records::sign_in, session::sign_out_patron))
        .routes(routes!(my_records::own))
        .routes(routes!(my_records::minor))
}

/// The API's description as the code alone gives it (the served document
/// adds what the policy decides, see [`Description::new`]).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    described_api().1
}

/// Every (method, path) of the JSON API, in axum's syntax.
pub fn api_operations() -> Vec<(String, String)> {
    crate::description::operations(&openapi_document())
}

/// The API's routes and their description, completed with what the
/// derives cannot say (see [`crate::description::complete`]).
fn described_api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut document) = api_routes().split_for_parts();
    crate::description::complete(&mut document);
    (routes, document)
}

/// Every route, with the layers every request passes: the body limits
/// (size, and `body_timeout` for it to arrive) and the request log.
pub fn router(state: AppState, body_timeout: std::time::Duration) -> Router {
    let (api, description) = described_api();
    let description = Description::new(description, state.store.policy());
    api.merge(page_routes())
        .route_layer(axum::middleware::from_fn(crate::api::require_declared_body))
        .layer(axum::Extension(description))
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

/// The server-rendered pages (see [`crate::pages`]).
fn page_routes() -> Router<AppState> {
    use crate::pages::{
        catalogue, desk, home, leaving, my_choices, my_data, notice, patron, staff_corrections,
        staff_disclosures, staff_patrons, staff_privacy, staff_sign_in,
    };
    Router::new()
        .route("/", get(home::page))
        .route(
            patron::SIGN_IN,
            get(patron::sign_in_form).post(patron::sign_in),
        )
        .route("/my/sign-out", post(patron::sign_out))
        .route("/my", get(patron::account))
        .route("/my/loans/{id}/renewal", post(patron::renew))
        .route("/my/holds", post(patron::place_hold))
        .route("/my/holds/{id}/cancellation", post(patron::cancel_hold))
        .route("/my/pin", get(patron::pin_form).post(patron::change_pin))
        .route("/my/data", get(my_data::page))
        .route("/my/data/download", post(my_data::download))
        .route("/my/choices", get(my_choices::page))
        .route("/my/email", post(my_choices::set_email))
        .route("/my/email/removal", post(my_choices::remove_email))
        .route("/my/notices", post(my_choices::set_notices))
        .route("/my/lists/{id}/subscription", post(my_choices::join_list))
        .route(
            "/my/subscriptions/{id}/removal",
            post(my_choices::leave_list),
        )
        .route("/my/corrections", post(my_choices::propose_correction))
        .route("/my/consents", get(my_choices::consents))
        .route("/my/consents/email", post(my_choices::answer_email))
        .route(
            "/my/consents/subscriptions/{id}",
            post(my_choices::answer_subscription),
        )
        .route(desk::DESK, get(desk::scan_card_form).post(desk::scan_card))
        .route("/staff/desk/patrons/{id}", get(desk::patron))
        .route("/staff/desk/patrons/{id}/checkout", post(desk::checkout))
        .route("/staff/desk/patrons/{id}/renewal", post(desk::renew))
        .route("/staff/desk/patrons/{id}/reveal", post(desk::reveal))
        .route("/staff/desk/patrons/{id}/slip", get(desk::slip))
        .route("/staff/desk/pull-list", get(desk::pull_list))
        .route(
            "/staff/desk/checkin",
            get(desk::checkin_form).post(desk::checkin),
        )
        .route(catalogue::ITEMS, get(catalogue::page).post(catalogue::add))
        .route(
            catalogue::IMPORT,
            get(catalogue::import_form)
                .post(catalogue::import)
                .layer(DefaultBodyLimit::max(32 * 1024 * 1024)),
        )
        .route(
            "/staff/items/{id}",
            get(catalogue::item).post(catalogue::change),
        )
        .route("/staff/patrons", get(staff_patrons::page))
        .route("/staff/patrons/search", post(staff_patrons::search))
        .route(
            "/staff/patrons/new",
            get(staff_patrons::new_form).post(staff_patrons::register),
        )
        .route(
            "/staff/patrons/{id}/edit",
            get(staff_patrons::edit_form).post(staff_patrons::edit),
        )
        .route("/staff/patrons/{id}/card", post(staff_patrons::card))
        .route("/staff/patrons/{id}/block", post(staff_patrons::block))
        .route("/staff/corrections", get(staff_corrections::queue))
        .route("/staff/corrections/{id}", post(staff_corrections::decide))
        .route("/privacy", get(notice::current))
        .route("/leaving", get(leaving::page))
        .route("/privacy/versions", get(notice::versions))
        .route("/privacy/versions/{number}", get(notice::version))
        .route(
            staff_sign_in::SIGN_IN,
            get(staff_sign_in::sign_in_form).post(staff_sign_in::sign_in),
        )
        .route("/staff/sign-out", post(staff_sign_in::sign_out))
        .route("/staff", get(staff_sign_in::home))
        .route("/staff/privacy", get(staff_privacy::page))
        .route("/staff/disclosures", get(staff_disclosures::queue))
        .route(
            "/staff/disclosures/{reference}",
            get(staff_disclosures::request),
        )
        .route(
            "/staff/disclosures/{reference}/{action}",
            post(staff_disclosures::act),
        )
}

/// The one Content-Security-Policy of every answer (see `router`).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The description of this API, generated from the code and the policy
/// when the server starts (see [`crate::description`]).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    summary = "This document",
    security(()),
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
async fn openapi(axum::Extension(description): axum::Extension<Description>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        description.json(),
    )
}

#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health",
    summary = "Health and which library and policy version is served",
    security(()),
    responses((status = 200, description = "Up", body = Health)),
)]
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        engine: state.store.engine().to_string(),
        library: state.store.policy().library.name.clone(),
        policy_version: state.store.policy_version_id(),
    })
}

/// No such route: a JSON error under the API's path, a page elsewhere.
async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    uri: axum::http::Uri,
) -> axum::response::Response {
    if !uri.path().starts_with("/api/") {
        return crate::pages::not_found(&state.store.policy().library.name, uri.path());
    }
    (
        StatusCode::NOT_FOUND,
        Json(crate::description::ErrorBody::new(
            "no_such_route",
            "no such API route; see /api/v1/openapi.json",
        )),
    )
        .into_response()
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(crate::description::ErrorBody::new(
            "method_not_allowed",
            "this route does not take that method; see /api/v1/openapi.json",
        )),
    )
}
