//! The public privacy notice (N1, N2): `/privacy` renders the notice of
//! the policy the server enforces, made from the policy file
//! (`carrel_policy::notice`); `/privacy/versions` lists every version the
//! library has run under, and `/privacy/versions/{n}` shows version `n`
//! with what it changed from the one before. Public: no sign-in, nothing
//! personal.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use carrel_policy::notice::{changes, Change, Notice};
use carrel_store::policy_versions::{self, PolicyVersion};

use super::{local_date, not_found, render, Frame, Message};
use crate::api::{ApiError, AppState};

/// What a version changed from the one before it.
struct Changes {
    from: i64,
    lines: Vec<Change>,
}

#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage {
    frame: Frame,
    notice: Notice,
    version: PolicyVersion,
    in_force_from: String,
    current: bool,
    changes: Option<Changes>,
}

struct VersionLine {
    number: i64,
    label: String,
    from: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "notice_versions.html")]
struct VersionsPage {
    frame: Frame,
    versions: Vec<VersionLine>,
}

/// What the website does (cookies, counting failed sign-ins), with
/// Carrel's own figures.
pub fn website() -> carrel_policy::notice::Website {
    carrel_policy::notice::Website {
        session_minutes: carrel_store::patron_sessions::SESSION_MINUTES,
        device_days: carrel_store::known_devices::DEVICE_DAYS,
        throttle_minutes: carrel_store::attempts::THROTTLE_MINUTES,
    }
}

/// The notice of `policy` as a standalone page, for `carrel policy notice
/// --format html` (no server, no database: the version is the file's own).
pub fn standalone_html(policy: &carrel_policy::Policy) -> Result<String, askama::Error> {
    NoticePage {
        frame: Frame::standalone(&policy.library.name),
        notice: Notice::of(policy).with_website(website()),
        version: PolicyVersion {
            number: 0,
            label: policy.library.version.clone(),
            first_served_at: 0,
            sha256: String::new(),
        },
        in_force_from: "when the library adopts it (a draft, not yet served)".into(),
        current: true,
        changes: None,
    }
    .render()
}

fn unavailable(library: &str, path: &str) -> Response {
    Message::new(
        Frame::public(library, path),
        "The notice cannot be shown just now",
        &["The library's system could not read its records of the policy. Try again in a minute."],
    )
    .answer(StatusCode::SERVICE_UNAVAILABLE)
}

/// GET /privacy: the notice in force.
pub async fn current(State(state): State<AppState>) -> Response {
    let number = state.store.policy_version_id();
    version_page(state, number, "/privacy").await
}

/// GET /privacy/versions/{n}: version `n`, with what it changed.
pub async fn version(State(state): State<AppState>, Path(number): Path<String>) -> Response {
    let path = format!("/privacy/versions/{number}");
    match number.parse::<i64>() {
        Ok(n) if n > 0 => version_page(state, n, &path).await,
        _ => not_found(&state.store.policy().library.name, &path),
    }
}

async fn version_page(state: AppState, number: i64, path: &str) -> Response {
    let library = state.store.policy().library.name.clone();
    let current = number == state.store.policy_version_id();
    let found = state
        .blocking(move |store| {
            let Some((version, source)) = policy_versions::load(store, number)? else {
                return Ok(None);
            };
            let before = policy_versions::previous(store, number)?;
            Ok(Some((version, source, before)))
        })
        .await;
    let (version, source, before) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(&library, path),
        Err(ApiError(_)) => return unavailable(&library, path),
    };
    let file = format!("policy version {number}");
    // The version in force is the policy the server enforces; an older
    // text is parsed again. One this Carrel cannot read (written for an
    // older release) is shown as recorded.
    let policy = if current {
        Ok(state.store.policy().clone())
    } else {
        carrel_policy::parse(&file, &source)
    };
    let Ok(policy) = policy else {
        return Message::new(
            Frame::public(&library, path),
            &format!("Privacy notice, version {number}"),
            &[
                &format!("Version {number} ({}) was in force from {}.", version.label, local_date(version.first_served_at, state.store.policy().library.time_zone)),
                "It was written for an earlier release of the library's system, which read it differently, so it cannot be shown as a notice here. Ask at the library for a printed copy.",
            ],
        )
        .link("/privacy", "The notice in force today")
        .link("/privacy/versions", "Every version")
        .answer(StatusCode::OK);
    };
    let changes = before.map(|(old_version, old_source)| {
        let lines = carrel_policy::parse("previous version", &old_source)
            .map(|old| changes(&old, &policy))
            .unwrap_or_else(|_| {
                vec![Change {
                    about: "The policy".into(),
                    what: "The version before was written for an earlier release of the library's system; compare the two versions' texts at the library.".into(),
                }]
            });
        Changes {
            from: old_version.number,
            lines,
        }
    });
    let zone = state.store.policy().library.time_zone;
    render(
        StatusCode::OK,
        &NoticePage {
            frame: Frame::public(&library, path),
            notice: Notice::of(&policy).with_website(website()),
            in_force_from: local_date(version.first_served_at, zone),
            version,
            current,
            changes,
        },
    )
}

/// GET /privacy/versions: every version, newest first.
pub async fn versions(State(state): State<AppState>) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/privacy/versions";
    let zone = state.store.policy().library.time_zone;
    let current = state.store.policy_version_id();
    match state.blocking(policy_versions::list).await {
        Ok(list) => render(
            StatusCode::OK,
            &VersionsPage {
                frame: Frame::public(&library, path),
                versions: list
                    .into_iter()
                    .rev()
                    .map(|v| VersionLine {
                        number: v.number,
                        current: v.number == current,
                        from: local_date(v.first_served_at, zone),
                        label: v.label,
                    })
                    .collect(),
            },
        ),
        Err(_) => unavailable(&library, path),
    }
}
