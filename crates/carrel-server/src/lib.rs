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

/// Runs the retention purge now and then every `every`, on a blocking
/// thread, for as long as the runtime lives. Failures are logged (without
/// personal data: errors carry none) and retried at the next tick.
pub fn spawn_purge_schedule(store: Arc<Store>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let store = store.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                let options = carrel_store::retention::PurgeOptions {
                    started_by: "schedule".into(),
                    ..Default::default()
                };
                carrel_store::retention::purge(&store, &options, &mut |_| {})
            })
            .await;
            match outcome {
                Ok(Ok(summary)) => tracing::info!(
                    run = summary.run_id,
                    destroyed = summary.total(),
                    "scheduled retention purge finished"
                ),
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled retention purge failed"),
                Err(_) => tracing::error!("scheduled retention purge stopped unexpectedly"),
            }
        }
    });
}

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
