//! Bad input gets a 4xx with a message saying what to fix, never echoes the
//! value sent, and writes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, Engine, TestApp};
use crate::on_both_engines;

async fn bad_input_is_refused_clearly_and_writes_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let counts = || {
        (
            app.raw_count("SELECT COUNT(*) FROM patrons"),
            app.raw_count("SELECT COUNT(*) FROM loans"),
            app.raw_count("SELECT COUNT(*) FROM fines"),
            app.raw_count("SELECT COUNT(*) FROM audit_log"),
        )
    };
    let before = counts();

    let (status, body) = app
        .post_raw(
            &token,
            "/api/v1/patrons",
            "application/json",
            b"{\"card_barcode\": ".to_vec(),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("line"));

    let (status, body) = app
        .post_raw(&token, "/api/v1/checkouts", "text/plain", b"hello".to_vec())
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );

    let (status, body) = app
        .post(&token, "/api/v1/checkouts", json!({"patron_barcode": patron.barcode, "item_barcode": "39000000000001", "note": "x"}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("note"),
        "{body}"
    );

    let marker = "Zanzibar-Quokka-Value";
    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/patrons/{}/fines", patron.id),
            json!({"amount_cents": marker, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount_cents"),
        "{body}"
    );
    assert!(
        !body.to_string().contains(marker),
        "the value sent is not echoed"
    );

    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": marker}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!body.to_string().contains(marker));

    let big = format!("{{\"card_barcode\": \"{}\"}}", "9".repeat(100 * 1024));
    let (status, body) = app
        .post_raw(
            &token,
            "/api/v1/patrons/lookup",
            "application/json",
            big.into_bytes(),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );

    for (patron_barcode, item_barcode, expected) in [
        ("12 34", "39000000000001", "bad_card_barcode"),
        ("abc", "39000000000001", "bad_card_barcode"),
        (patron.barcode.as_str(), "39-000/01", "bad_item_barcode"),
    ] {
        let (status, body) = app
            .post(
                &token,
                "/api/v1/checkouts",
                json!({"patron_barcode": patron_barcode, "item_barcode": item_barcode}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected)
        );
    }
    let (status, body) = app
        .post(
            &token,
            "/api/v1/patrons",
            json!({"card_barcode": "21234000099999", "category": 7}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_type")
    );

    for path in [
        "/api/v1/patrons/abc",
        "/api/v1/patrons/-1",
        "/api/v1/patrons/0",
    ] {
        let (status, body) = app.get(&token, path).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "bad_id"),
            "{path}"
        );
    }
    let (status, body) = app.get(&token, "/api/v1/no-such-thing").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "no_such_route")
    );
    let (status, body) = app
        .call(Some(&token), "PUT", "/api/v1/checkouts", None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );

    assert_eq!(counts(), before, "nothing was written by any of it");
    app.finish();
}

on_both_engines!(bad_input_is_refused_clearly_and_writes_nothing);
