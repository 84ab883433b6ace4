//! The OpenAPI document describes exactly the routes the server answers.

use std::collections::BTreeSet;

use carrel_server::routes::{api_operations, openapi_document};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Engine, TestApp};

/// The routes are registered with their descriptions (`utoipa_axum`), so
/// the document cannot lose one; this pins that every operation has what
/// a caller needs: a summary, a success answer with a schema, and the
/// shared error answers by reference to descriptions that exist.
#[test]
fn every_operation_is_described_fully() {
    let doc: Value = serde_json::to_value(openapi_document()).unwrap();
    let operations = api_operations();
    assert!(operations.len() >= 70, "{} operations", operations.len());
    let mut seen = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (method, path) in &operations {
        assert!(seen.insert((method, path)), "{method} {path} twice");
        let operation = &doc["paths"][path][method];
        let id = operation["operationId"].as_str().unwrap_or("");
        assert!(
            !id.is_empty() && operation_ids.insert(id),
            "{method} {path}: operationId {id:?} missing or not unique"
        );
        // Any route may be unable to answer now, or be sent a body too
        // large or too slowly; only one that takes a body can be sent one
        // that is not JSON.
        let listed = |code: &str| operation["responses"][code].is_object();
        assert!(listed("503"), "{method} {path}: 503");
        assert!(
            listed("408") && listed("413"),
            "{method} {path}: 408 and 413"
        );
        if !operation["requestBody"].is_object() {
            assert!(!listed("415"), "{method} {path}: 415 without a body");
        }
        let summary = operation["summary"].as_str().unwrap_or("");
        assert!(!summary.is_empty(), "{method} {path} has no summary");
        let responses = operation["responses"].as_object().unwrap();
        let success: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
        assert_eq!(success.len(), 1, "{method} {path}: one success answer");
        for (code, response) in responses {
            if let Some(reference) = response["$ref"].as_str() {
                let target = doc.pointer(reference.trim_start_matches('#'));
                assert!(
                    target.is_some(),
                    "{method} {path} {code}: {reference} is not in the document"
                );
            } else if code != "204" {
                assert!(
                    response["content"]
                        .as_object()
                        .is_some_and(|c| !c.is_empty()),
                    "{method} {path} {code} has no content"
                );
            }
        }
        for parameter in path.split('/').filter(|s| s.starts_with('{')) {
            let name = parameter.trim_matches(|c| c == '{' || c == '}');
            let described = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
            assert!(described, "{method} {path}: {name} is not described");
        }
        if method != "get" {
            assert!(
                operation["requestBody"]["content"]["application/json"].is_object(),
                "{method} {path} does not say what body it takes"
            );
        }
    }
    // Every schema a reference names is in the document.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let pointer = &reference[..reference.find('"').unwrap()];
        assert!(
            doc.pointer(pointer.trim_start_matches('#')).is_some(),
            "{pointer} is missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listed_route_is_served() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for (method, path) in api_operations() {
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

/// N4 and the bases, in the served document: a registration may carry
/// exactly the fields the library's policy declares, each required one
/// listed, and a request names one of the policy's bases. Colorado and
/// Missouri declare different fields and bases, so each library's
/// document differs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_the_served_document_carries_the_policys_fields_and_bases() {
    // The two shipped policies declare the same registration fields; a
    // third, Missouri's without phone and with its minors' category
    // renamed, tells a document built from the wrong policy apart.
    let variant = crate::helpers::MISSOURI
        .replace(
            "fields.phone = { personal = true, purpose = \"account_notices\" }\n",
            "",
        )
        .replace(
            "online_corrections = [\"name\", \"address\", \"phone\", \"birth_date\"]",
            "online_corrections = [\"name\", \"address\", \"birth_date\"]",
        )
        .replace("[loans.categories.juvenile]", "[loans.categories.teen]");
    assert_ne!(variant, crate::helpers::MISSOURI);
    for (name, source) in [
        ("mo", crate::helpers::MISSOURI),
        ("co", crate::helpers::COLORADO),
        ("mo-variant", variant.as_str()),
    ] {
        let policy = carrel_policy::parse::parse(name, source).unwrap();
        let app = TestApp::spawn_with(Engine::Sqlite, source).await;
        let (status, doc) = app.call(None, "GET", "/api/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["NewDisclosureRequest"]["properties"]["basis"]["$ref"],
            "#/components/schemas/PolicyBasis"
        );
        let bases: BTreeSet<&str> = schemas["PolicyBasis"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        let policy_bases: BTreeSet<&str> =
            policy.disclosure.bases.keys().map(String::as_str).collect();
        assert_eq!(bases, policy_bases, "{name}");

        let kinds: BTreeSet<&str> = schemas["PolicyRequesterKind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        for kind in carrel_policy::disclosure::RequesterKind::ALL {
            let admitted = policy.disclosure.bases.values().any(|b| b.admits(*kind));
            assert_eq!(
                kinds.contains(kind.name()),
                admitted,
                "{name}: {}",
                kind.name()
            );
        }
        let categories: BTreeSet<&str> = schemas["NewPatronFields"]["properties"]["category"]
            ["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let policy_categories: BTreeSet<&str> =
            policy.loans.categories.keys().map(String::as_str).collect();
        assert_eq!(categories, policy_categories, "{name}");
        let inputs = carrel_store::patrons::declared_inputs(&policy);
        for schema in ["NewPatronFields", "PatronFields"] {
            let fields = &schemas[schema];
            assert_eq!(fields["additionalProperties"], false, "{name} {schema}");
            let described: BTreeSet<&str> = fields["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut declared: BTreeSet<&str> = inputs.iter().map(|i| i.key.as_str()).collect();
            // A desk update also names the kind of photo ID checked (A2).
            if schema == "PatronFields" {
                declared.insert("photo_id");
            }
            assert_eq!(described, declared, "{name} {schema}");
        }
        let required: BTreeSet<&str> = schemas["NewPatronFields"]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        for field in ["card_barcode", "category", "expires_on"] {
            assert!(required.contains(field), "{name}: {field}");
        }
        assert_eq!(
            schemas["NewPatronFields"]["properties"]["phone"].is_object(),
            name != "mo-variant",
            "{name}: phone"
        );
        let registration = policy
            .class(carrel_policy::RecordClass::Registration)
            .unwrap();
        // The library's own fields it requires (Carrel's columns have
        // their own rule: a new card's status is active unless given).
        for (field, spec) in &registration.fields {
            let library_field = inputs.iter().any(|i| {
                &i.key == field
                    && matches!(
                        i.shape,
                        carrel_store::patrons::InputShape::Text(_)
                            | carrel_store::patrons::InputShape::Email
                    )
            });
            if spec.required && library_field {
                assert!(required.contains(field.as_str()), "{name}: {field}");
            }
        }
        // A registration carrying a field the document does not describe
        // is refused, as the document says.
        let clerk = app.sign_in("clerk").await;
        let (status, body) = app
            .post(
                &clerk,
                "/api/v1/patrons",
                serde_json::json!({"shoe_size": "9"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(crate::helpers::code(&body), "undeclared_field");
        app.finish();
    }
}

/// The body layers answer whatever the method: a GET sent a body over the
/// limit is refused 413, and its route's description lists 413 (the
/// answer is checked against it, `described.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_sent_a_body_too_large_gets_the_described_413() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let big = serde_json::json!({ "padding": "x".repeat(70 * 1024) });
    let (status, body) = app.call(None, "GET", "/api/v1/health", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    app.finish();
}
