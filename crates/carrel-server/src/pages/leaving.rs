//! `/leaving?to=...` (D8): before a link takes a patron to a site the
//! library does not control, this page says the library's privacy
//! protection ends there. Only the sites the policy lists
//! (`[patrons] external_sites`) are offered, so the page is no open
//! redirect: any other address is "not one of the library's links", and
//! nothing sends the browser anywhere by itself.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{render, Frame, Message};
use crate::api::AppState;

#[derive(Template)]
#[template(path = "leaving.html")]
struct Leaving {
    frame: Frame,
    name: String,
    host: String,
    url: String,
}

/// The exit page's address for `url`.
pub fn link_to(url: &str) -> String {
    let encoded: String = url
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("/leaving?to={encoded}")
}

/// GET /leaving?to=URL
pub async fn page(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let policy = state.store.policy();
    let library = &policy.library.name;
    let wanted = query.get("to").map(String::as_str).unwrap_or_default();
    let Some(site) = policy
        .patrons
        .external_sites
        .iter()
        .find(|s| s.url == wanted)
    else {
        return Message::new(
            Frame::public(library, "/leaving"),
            "Not one of the library's links",
            &["The library's site links only to the sites its policy lists, and this address is not one of them. Nothing was opened."],
        )
        .link("/", "Home")
        .answer(StatusCode::NOT_FOUND);
    };
    let host = site
        .url
        .trim_start_matches("https://")
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_string();
    render(
        StatusCode::OK,
        &Leaving {
            frame: Frame::public(library, "/leaving"),
            name: site.name.clone(),
            host,
            url: site.url.clone(),
        },
    )
}
