use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, Engine, TestApp};
use crate::on_both_engines;

async fn circulation_fines_assessed_paid_waived_and_blocking(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let (item, other) = (app.new_item().await, app.new_item().await);
    app.post(
        &token,
        "/api/v1/checkouts",
        json!({"patron_barcode": patron.barcode, "item_barcode": item}),
    )
    .await;
    // Due 23 March (Chicago); back on 2 April: ten library days late at the
    // policy's 10 cents a day.
    app.advance(Duration::days(31));
    let token = app.sign_in("clerk").await; // the old session has expired
    let (_, back) = app
        .post(&token, "/api/v1/checkins", json!({"item_barcode": item}))
        .await;
    assert_eq!(back["fine"]["amount_cents"], 100, "{back}");
    assert_eq!(back["fine"]["reason"], "overdue");

    // A fee that takes the balance to the policy's limit blocks borrowing.
    let (status, fee) = app
        .post(
            &token,
            &format!("/api/v1/patrons/{}/fines", patron.id),
            json!({"amount_cents": 900, "reason": "lost item"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": other}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "patron_owes"));

    let fee_id = fee["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/fines/{fee_id}/payments"),
            json!({"amount_cents": 901}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "overpayment"));
    let (status, paid) = app
        .post(
            &token,
            &format!("/api/v1/fines/{fee_id}/payments"),
            json!({"amount_cents": 400}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paid["outstanding_cents"], 500);
    assert!(paid["settled_at"].is_null());
    let (status, _) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": other}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "owing 600 of a 1000 limit");

    // A waiver needs a reason from the closed list: none, or free text, is
    // refused and changes nothing.
    for body in [json!(null), json!({}), json!({"reason": "she cried"})] {
        let (status, refused) = app
            .post(
                &token,
                &format!("/api/v1/fines/{fee_id}/waiver"),
                body.clone(),
            )
            .await;
        assert!(status.is_client_error(), "{body}: {status} {refused}");
        assert!(!refused.to_string().contains("she cried"));
    }
    assert_eq!(
        app.raw_count(&format!(
            "SELECT waived_cents FROM fines WHERE id = {fee_id}"
        )),
        0
    );
    let (status, waived) = app
        .post(
            &token,
            &format!("/api/v1/fines/{fee_id}/waiver"),
            json!({"reason": "hardship"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{waived}");
    assert_eq!(waived["waive_reason"], "hardship");
    assert_eq!(waived["waived_cents"], 500);
    assert_eq!(waived["outstanding_cents"], 0);
    assert!(waived["settled_at"].is_i64());
    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/fines/{fee_id}/payments"),
            json!({"amount_cents": 1}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "fine_settled")
    );
    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/patrons/{}/fines", patron.id),
            json!({"amount_cents": -5, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_amount")
    );
    let (_, fines) = app
        .get(&token, &format!("/api/v1/patrons/{}/fines", patron.id))
        .await;
    assert_eq!(fines.as_array().unwrap().len(), 2);
    app.finish();
}

on_both_engines!(circulation_fines_assessed_paid_waived_and_blocking);
