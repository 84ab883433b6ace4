//! Issue 16 items 3, 4 and 6: the catalogue searched and edited, and
//! patrons found by name only for a stated purpose.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, Engine, TestApp};
use crate::on_both_engines;

async fn items_are_searched_and_edited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let supervisor = app.sign_in("supervisor").await;
    let (status, item) = app
        .post(
            &supervisor,
            "/api/v1/items",
            json!({"barcode": "39100000000001", "title": "The 50% Solution_", "author": "Ida Quill", "material_type": "book"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    assert_eq!(item["material_type"], "book");
    let id = item["id"].as_i64().unwrap();
    let clerk = app.sign_in("clerk").await;
    for (query, found) in [
        ("50%25 sol", true),
        ("quill", true),
        ("39100000000001", true),
        // LIKE's wildcards are searched for as themselves.
        ("%25%25", false),
        ("__", false),
    ] {
        let (status, list) = app.get(&clerk, &format!("/api/v1/items?q={query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        let hit = list
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"].as_i64() == Some(id));
        assert_eq!(hit, found, "{query}: {list}");
    }
    let (status, _) = app.get(&clerk, "/api/v1/items?q=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A clerk may not edit the catalogue (the policy's roles); a supervisor
    // may, and null clears a field.
    let path = format!("/api/v1/items/{id}");
    let (status, _) = app
        .call(Some(&clerk), "PATCH", &path, Some(json!({"title": "X"})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, changed) = app
        .call(
            Some(&supervisor),
            "PATCH",
            &path,
            Some(json!({"title": "The Whole Solution", "author": null, "call_number": "FIC QUI"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["title"], "The Whole Solution");
    assert!(changed["author"].is_null());
    assert_eq!(changed["call_number"], "FIC QUI");
    assert_eq!(changed["material_type"], "book");
    // A barcode that is taken is refused.
    app.new_item().await;
    let other = app.raw_strings("SELECT barcode FROM items WHERE title = 'The Quiet Atlas'");
    let (status, body) = app
        .call(
            Some(&supervisor),
            "PATCH",
            &path,
            Some(json!({"barcode": other[0]})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "item_barcode_taken")
    );
    app.finish();
}

/// D6: a search by name must state a purpose; each patron found is an
/// audited read for it, with only that purpose's fields; the name searched
/// for is recorded nowhere.
async fn d6_patrons_are_found_by_name_only_for_a_purpose(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let family = patron.name.split(' ').nth(1).unwrap().to_string();
    let (status, body) = app
        .post(&clerk, "/api/v1/patrons/search", json!({"name": family}))
        .await;
    assert!(status.is_client_error(), "no purpose: {body}");
    let (status, found) = app
        .post(
            &clerk,
            "/api/v1/patrons/search",
            json!({"name": family.to_lowercase(), "purpose": "account_notices"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], patron.id);
    assert_eq!(found[0]["fields"]["email"], patron.email.as_str());
    assert!(found[0]["fields"].get("name").is_none());
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE record_id = 'patron:{}' AND purpose = 'account_notices'",
            patron.id
        )),
        1
    );
    let details = app.raw_strings("SELECT COALESCE(detail, '') FROM audit_log");
    assert!(details
        .iter()
        .all(|d| !d.to_lowercase().contains(&family.to_lowercase())));
    let (status, _) = app
        .post(
            &clerk,
            "/api/v1/patrons/search",
            json!({"name": family, "purpose": "curiosity"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The auditor's role reads no registrations, whatever the purpose.
    let auditor = app.sign_in("auditor").await;
    let (status, _) = app
        .post(
            &auditor,
            "/api/v1/patrons/search",
            json!({"name": family, "purpose": "account"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.finish();
}

on_both_engines!(
    items_are_searched_and_edited,
    d6_patrons_are_found_by_name_only_for_a_purpose
);
