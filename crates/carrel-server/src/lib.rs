//! # carrel-server
//!
//! Carrel's HTTP face: the JSON API under `/api/v1` (described by the
//! OpenAPI document at `/api/v1/openapi.json`). Handlers are thin: parse
//! the request, ask the gate for grants, call the store, shape the answer.
//! They cannot reach personal data any other way; see `carrel_store::gate`.
//!
//! Not here: access decisions (the policy and the gate), SQL (the store).

pub mod api;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use carrel_store::Store;
use tokio::net::TcpListener;

pub use api::AppState;

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = routes::router(AppState { store });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
