//! Issue 14, item 5: a library's database upgrades in place. The database
//! here was made and used by the previous release (`fixtures/previous-
//! release`: its demo library, then every kind of record and every step of
//! a disclosure request's life, through its API), then opened by this one,
//! which migrates it. Everything it wrote reads back, typed, through the
//! API; a purge runs; new writes go on; and the audit chain the earlier
//! release began still verifies, with its key.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Engine, TestApp, PREVIOUS_RELEASE_PASSWORD};
use crate::on_both_engines;

async fn sign_in(app: &TestApp, username: &str) -> String {
    let (status, body) = app
        .call(
            None,
            "POST",
            "/api/v1/session",
            Some(json!({"username": username, "password": PREVIOUS_RELEASE_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{username}: {body}");
    body["token"].as_str().unwrap().to_string()
}

fn steps(request: &Value) -> Vec<&str> {
    request["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect()
}

async fn n14_a_database_of_the_previous_release_upgrades_in_place(engine: Engine) {
    let app = TestApp::spawn_on_previous_release(engine).await;
    let director = sign_in(&app, "director").await;
    let clerk = sign_in(&app, "clerk").await;

    // Every request it recorded reads back, with its documents and timeline.
    // Migrated: the audit log has the columns migration 18 added.
    assert!(app.raw_count("SELECT COUNT(*) FROM audit_log WHERE floor_seq IS NULL") > 100);

    let (status, queue) = app.get(&director, "/api/v1/disclosures").await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let references: Vec<String> = queue["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap().to_string())
        .collect();
    assert!(references.len() >= 5, "{queue}");
    for reference in &references {
        let (status, request) = app
            .get(&director, &format!("/api/v1/disclosures/{reference}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{reference}: {request}");
    }
    let (_, released) = app.get(&director, "/api/v1/disclosures/D-1").await;
    assert_eq!(released["state"], "closed", "{released}");
    for step in [
        "record",
        "preserve",
        "counsel_review",
        "counsel_confirmed",
        "approve",
        "release",
        "close",
    ] {
        assert!(steps(&released).contains(&step), "{step}: {released}");
    }
    assert_eq!(released["timeline"][0]["actor"], "staff:1", "{released}");
    let (_, refused) = app.get(&director, "/api/v1/disclosures/D-2").await;
    assert_eq!(refused["state"], "refused", "{refused}");
    let (_, exigent) = app.get(&director, "/api/v1/disclosures/D-3").await;
    assert!(steps(&exigent).contains(&"exigent_release"), "{exigent}");
    assert!(steps(&exigent).contains(&"document_received"), "{exigent}");
    let (_, guardian) = app.get(&director, "/api/v1/disclosures/D-5").await;
    assert!(
        guardian["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id_kind"] == "driver_license"),
        "{guardian}"
    );
    // The restricted case, seen by the clerk who took it (its number is
    // random, so it is found in the clerk's queue).
    let (_, clerks_queue) = app.get(&clerk, "/api/v1/disclosures").await;
    let case = clerks_queue["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .find(|r| r.starts_with("R-"))
        .unwrap_or_else(|| panic!("no restricted case: {clerks_queue}"))
        .to_string();
    let (status, restricted) = app
        .get(&clerk, &format!("/api/v1/disclosures/{case}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{restricted}");
    assert_eq!(restricted["gagged"], true);

    let (status, holds) = app.get(&director, "/api/v1/legal-holds").await;
    assert_eq!(status, StatusCode::OK, "{holds}");
    assert!(!holds.as_array().unwrap().is_empty(), "{holds}");
    let (status, alerts) = app.get(&director, "/api/v1/alerts").await;
    assert_eq!(status, StatusCode::OK, "{alerts}");
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "search_warrant"),
        "{alerts}"
    );

    // A patron's records of every kind read back.
    let (status, alice) = app
        .post(
            &clerk,
            "/api/v1/patrons/lookup",
            json!({"card_barcode": "20000000900001"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{alice}");
    assert_eq!(alice["status"], "active");
    assert_eq!(alice["expires_on"], "2030-01-01");
    let id = alice["id"].as_i64().unwrap();
    for list in [
        "loans",
        "holds",
        "fines",
        "ill-requests",
        "deliveries",
        "program-registrations",
        "computer-sessions",
        "subscriptions",
    ] {
        let (status, body) = app
            .get(&clerk, &format!("/api/v1/patrons/{id}/{list}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}: {body}");
    }
    let (_, carol) = app
        .post(
            &clerk,
            "/api/v1/patrons/lookup",
            json!({"card_barcode": "20000000900003"}),
        )
        .await;
    assert_eq!(carol["status"], "blocked", "{carol}");

    // The patron signs in online with the PIN the earlier release stored.
    let (status, session) = app
        .call(
            None,
            "POST",
            "/api/v1/patron-session",
            Some(json!({"card_barcode": "20000000900001", "pin": "1234"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");

    // The plan and a purge run; new writes go on after the old ones.
    let (status, plan) = app.get(&director, "/api/v1/retention").await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let (status, summary) = app
        .call(Some(&director), "POST", "/api/v1/retention/runs", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let (status, review) = app
        .post(&director, "/api/v1/disclosures/D-4/review", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");

    // The chain the earlier release began verifies on, with its key.
    let store = app.store.clone();
    let verified = tokio::task::spawn_blocking(move || carrel_store::audit::verify(&store, None))
        .await
        .unwrap()
        .unwrap();
    assert!(verified.first_bad.is_none(), "{:?}", verified.first_bad);
    assert!(
        verified.entries_checked > 100,
        "{}",
        verified.entries_checked
    );
}

on_both_engines!(n14_a_database_of_the_previous_release_upgrades_in_place);
