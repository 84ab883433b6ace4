//! `/`: the home page, linking the privacy notice and the two sign-ins.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{render, Frame};
use crate::api::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    frame: Frame,
    /// Sites the library links to but does not control, each through
    /// the exit page: (name, exit page address).
    elsewhere: Vec<(String, String)>,
}

pub async fn page(State(state): State<AppState>) -> Response {
    let policy = state.store.policy();
    render(
        StatusCode::OK,
        &Home {
            frame: Frame::public(&policy.library.name, "/"),
            elsewhere: policy
                .patrons
                .external_sites
                .iter()
                .map(|site| (site.name.clone(), super::leaving::link_to(&site.url)))
                .collect(),
        },
    )
}
