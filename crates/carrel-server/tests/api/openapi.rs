//! The OpenAPI document describes exactly the routes the server answers.

use std::collections::BTreeSet;

use carrel_server::routes::{OPENAPI, ROUTES};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Engine, TestApp};

#[test]
fn openapi_document_lists_exactly_the_routes() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut documented = BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listed_route_is_served() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{id}", "1")
            .replace("{barcode}", "39000000000001")
            .replace("{reference}", "D-1");
        let (status, body) = app
            .call(None, &method.to_uppercase(), &concrete, None)
            .await;
        assert_ne!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let (status, doc) = app.call(None, "GET", "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
}
