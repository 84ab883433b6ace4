//! A review of issue 14's first changes (security headers on every answer,
//! `null` in typed optional body fields). Each test failed on 2682800: a
//! 413 for a declared oversized body and the listener's own 503 went out
//! without the security headers, and `null` was refused for a program's
//! `capacity` and a sign-in's `device`, where the API's description (and
//! clients) take it for "none".

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{code, Engine, TestApp, MISSOURI};
use crate::on_both_engines;

fn assert_security_headers(seen: &str, header: impl Fn(&str) -> String) {
    assert_eq!(header("cache-control"), "no-store", "{seen}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{seen}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{seen}");
    let csp = header("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{seen}: csp {csp:?}"
    );
}

/// D6, issue 14 item 7: a body declared larger than the API takes is
/// refused with 413 by `api::refuse_oversized_body`, a layer outside the
/// security-header layers: the answer carries none of them.
async fn review14_an_oversized_body_refusal_carries_the_security_headers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let response = app
        .client
        .post(format!("{}/api/v1/patrons", app.base))
        .bearer_auth(&clerk)
        .header("content-type", "application/json")
        .body(vec![b' '; carrel_server::api::MAX_BODY_BYTES + 1])
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let headers = response.headers().clone();
    assert_security_headers(&format!("POST /api/v1/patrons ({status})"), |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    });
    app.finish();
}

/// D6, issue 14 item 7: the listener's own answer to a connection over the
/// limit (503, written by `listener::refuse`) carries no security header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review14_the_listeners_busy_answer_carries_the_security_headers() {
    let limits = carrel_server::Limits {
        header_read: Duration::from_secs(2),
        max_connections: 2,
        ..carrel_server::Limits::default()
    };
    let app = TestApp::spawn_limited(Engine::Sqlite, MISSOURI, limits).await;
    let address = app.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut one_more = tokio::net::TcpStream::connect(&address).await.unwrap();
    let _ = one_more
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: carrel\r\n\r\n")
        .await;
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), one_more.read_to_end(&mut received)).await;
    let sent = String::from_utf8_lossy(&received).to_string();
    assert!(sent.starts_with("HTTP/1.1 503"), "{sent}");
    let head = sent
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    assert_security_headers("the listener's 503", |name| {
        head.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
            .unwrap_or("")
            .to_string()
    });
    drop(idle);
    // One request the router serves, so the log check in `finish` has a
    // request's log to look at when this test runs alone (nextest),
    // once the server has seen the idle connections close.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = app.call(None, "GET", "/api/v1/health", None).await;
    assert_eq!(status, StatusCode::OK);
    app.finish();
}

/// Issue 14 item 6 (d6e55f0): the OpenAPI document types a new program's
/// `capacity` as `["integer", "null"]` (null: no limit), but `null` is now
/// refused with 400 invalid_body.
async fn review14_a_program_with_capacity_null_is_created_as_documented(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let doc: serde_json::Value =
        serde_json::to_value(carrel_server::routes::openapi_document()).unwrap();
    let body = &doc["paths"]["/api/v1/programs"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    let body = doc
        .pointer(body.as_str().unwrap().trim_start_matches('#'))
        .unwrap();
    let capacity = &body["properties"]["capacity"];
    assert_eq!(
        capacity["type"],
        json!(["integer", "null"]),
        "the document allows null"
    );
    let clerk = app.sign_in("clerk").await;
    let (status, program) = app
        .post(
            &clerk,
            "/api/v1/programs",
            json!({"title": "Story time", "starts_at": "2026-03-10T17:00:00Z", "ends_at": "2026-03-10T18:00:00Z", "capacity": null}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{} {program}", code(&program));
    app.finish();
}

/// Issue 14 item 6 (d6e55f0): a client with no known-device token yet that
/// sends `"device": null` (what it held before the first sign-in) could
/// sign in before; now it gets 400, which the OpenAPI document does not
/// list for POST /api/v1/session (200, 429, 401, 415 only).
async fn review14_staff_sign_in_with_device_null_still_signs_in(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (status, body) = app
        .call(
            None,
            "POST",
            "/api/v1/session",
            Some(json!({"username": "clerk", "password": crate::helpers::password("clerk"), "device": null})),
        )
        .await;
    let doc: serde_json::Value =
        serde_json::to_value(carrel_server::routes::openapi_document()).unwrap();
    let documented = doc["paths"]["/api/v1/session"]["post"]["responses"]
        .as_object()
        .unwrap()
        .contains_key(status.as_str());
    assert!(
        documented,
        "{status} is not documented for POST /api/v1/session: {body}"
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish();
}

on_both_engines!(
    review14_an_oversized_body_refusal_carries_the_security_headers,
    review14_a_program_with_capacity_null_is_created_as_documented,
    review14_staff_sign_in_with_device_null_still_signs_in,
);
