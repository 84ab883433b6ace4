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
}

pub async fn page(State(state): State<AppState>) -> Response {
    let library = &state.store.policy().library.name;
    render(
        StatusCode::OK,
        &Home {
            frame: Frame::public(library, "/"),
        },
    )
}
