//! # carrel-server
//!
//! Carrel's HTTP face: the JSON API under `/api/v1` (described by the
//! OpenAPI document at `/api/v1/openapi.json`). Handlers are thin: parse
//! the request, ask the gate for grants, call the store, shape the answer.
//! They cannot reach personal data any other way; see `carrel_store::gate`.
//!
//! Not here: access decisions (the policy and the gate), SQL (the store).

pub mod address_throttle;
pub mod api;
pub mod catalogue_import;
pub mod description;
pub mod listener;
pub mod pages;
pub mod patron_import;
pub mod routes;

use std::net::IpAddr;
use std::sync::Arc;

use carrel_store::audit::AnchorFile;
use carrel_store::Store;
use tokio::net::TcpListener;

pub use api::AppState;
pub use listener::Limits;

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

/// Chases documents owed after exigent releases and, with `command`, hands
/// each new alert to the e-mail hook: the command runs under `sh -c` with
/// the message (a Subject line, a blank line, the body; no personal data)
/// on its standard input and `CARREL_ALERT_ROLE` naming the role it is
/// for, e.g. `sendmail director@library.example`. An alert is marked sent
/// only when the command succeeds, so a failure is retried next time.
pub fn spawn_alert_hook(store: Arc<Store>, command: Option<String>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let store = store.clone();
            let command = command.clone();
            let outcome =
                tokio::task::spawn_blocking(move || send_alerts(&store, command.as_deref())).await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e @ carrel_store::Error::Busy)) => {
                    tracing::warn!(error = %e, "alert hook waited in vain for the database; retrying at the next tick")
                }
                Ok(Err(e)) => tracing::error!(error = %e, "alert hook failed"),
                Err(_) => tracing::error!("alert hook stopped unexpectedly"),
            }
        }
    });
}

fn send_alerts(store: &Store, command: Option<&str>) -> Result<(), carrel_store::Error> {
    use carrel_store::disclosures::alerts;
    use std::io::Write;
    alerts::chase_overdue(store)?;
    let Some(command) = command else {
        return Ok(());
    };
    for mail in alerts::unmailed(store)? {
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("CARREL_ALERT_ROLE", &mail.role)
            .stdin(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            tracing::error!("the alert command could not be started");
            return Ok(());
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = write!(stdin, "Subject: {}\n\n{}", mail.subject, mail.body);
        }
        match child.wait() {
            Ok(status) if status.success() => alerts::mark_mailed(store, mail.id)?,
            _ => {
                tracing::error!(alert = mail.id, "the alert command failed; retrying later");
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Records an anchor of the audit log (its newest entry's seq and hash) in
/// `file`, outside the database, now and then every `every`: wiping or
/// rewriting the log, head included, is then found by the next start and
/// by `carrel audit verify`, which read the file. Failures are logged and
/// retried at the next tick.
pub fn spawn_anchor_schedule(store: Arc<Store>, file: AnchorFile, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (store, file) = (store.clone(), file.clone());
            let outcome = tokio::task::spawn_blocking(move || file.record(&store)).await;
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "could not record an audit anchor (if the log no longer holds an earlier one, it was wiped or rewound while the server ran)")
                }
                Err(_) => tracing::error!("recording an audit anchor stopped unexpectedly"),
            }
        }
    });
}

/// How a server is set up, beyond its database.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Time, connection and sign-in limits.
    pub limits: Limits,
    /// Reverse proxies in front of Carrel whose `X-Forwarded-For` header
    /// names the client (`carrel serve --trusted-proxy`). Empty (the
    /// default): the header is ignored and every request counts as coming
    /// from the address that connected; see [`address_throttle`].
    pub trusted_proxies: Vec<IpAddr>,
    /// The address people use reaches Carrel over https (`carrel serve
    /// --public-url https://...`, TLS ended by a proxy in front): session
    /// cookies are then marked `Secure`, so a browser never sends them
    /// over plain http.
    pub secure_cookies: bool,
}

/// Serves the API on `listener` until `shutdown` resolves, with the
/// default [`Config`].
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_configured(listener, store, Config::default(), shutdown).await
}

/// Serves the API on `listener` until `shutdown` resolves, with these
/// limits and no trusted proxy.
pub async fn serve_with(
    listener: TcpListener,
    store: Arc<Store>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = Config {
        limits,
        ..Config::default()
    };
    serve_configured(listener, store, config, shutdown).await
}

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve_configured(
    listener: TcpListener,
    store: Arc<Store>,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = routes::router(AppState::new(store, &config), config.limits.body);
    listener::serve(listener, app, config.limits, shutdown).await
}
