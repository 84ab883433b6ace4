use chrono::{Duration, TimeZone};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, Engine, TestApp, MISSOURI};
use crate::on_both_engines;

/// The Missouri policy with small limits, so limits can be reached.
fn tight_policy() -> String {
    MISSOURI
        .replacen("max_items = 50", "max_items = 2", 1)
        .replacen("max_holds = 25", "max_holds = 2", 1)
        .replacen("renewals = 2", "renewals = 1", 1)
}

async fn circulation_checkout_due_date_and_checkin(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let item = app.new_item().await;
    let (status, loan) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{loan}");
    // 21 days (the policy's adult loan period) counted in Chicago time,
    // due at the end of that library day (across the DST change on 8 March).
    let expected = chrono_tz::America::Chicago
        .with_ymd_and_hms(2026, 3, 23, 23, 59, 59)
        .unwrap();
    assert_eq!(loan["due_at"].as_i64().unwrap(), expected.timestamp());
    assert_eq!(loan["patron_id"], patron.id);
    let (_, record) = app
        .get(&token, &format!("/api/v1/items/by-barcode/{item}"))
        .await;
    assert_eq!(record["status"], "on_loan");

    // Not twice.
    let other = app.new_patron(&token).await;
    let (status, body) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": other.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "item_on_loan")
    );

    app.advance(Duration::days(3));

    let token = app.sign_in("clerk").await; // the old session has expired
    let (status, back) = app
        .post(&token, "/api/v1/checkins", json!({"item_barcode": item}))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(
        back["loan"]["returned_at"].as_i64().unwrap(),
        app.now().timestamp()
    );
    assert!(back["fine"].is_null(), "returned on time: no fine");
    assert_eq!(back["item"]["status"], "available");
    let (status, body) = app
        .post(&token, "/api/v1/checkins", json!({"item_barcode": item}))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "not_on_loan"));

    let (_, loans) = app
        .get(&token, &format!("/api/v1/patrons/{}/loans", patron.id))
        .await;
    assert_eq!(loans.as_array().unwrap().len(), 1);
    app.finish();
}

async fn circulation_no_checkout_to_expired_blocked_or_over_limit(engine: Engine) {
    let app = TestApp::spawn_with(engine, &tight_policy()).await;
    let token = app.sign_in("clerk").await;
    let expired = app.expired_patron(&token).await;
    let blocked = app.blocked_patron(&token).await;
    let patron = app.new_patron(&token).await;
    let items = [
        app.new_item().await,
        app.new_item().await,
        app.new_item().await,
    ];
    let before = app.raw_count("SELECT COUNT(*) FROM loans");
    for (who, expected) in [(&expired, "patron_expired"), (&blocked, "patron_blocked")] {
        let (status, body) = app
            .post(
                &token,
                "/api/v1/checkouts",
                json!({"patron_barcode": who.barcode, "item_barcode": items[0]}),
            )
            .await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, expected));
    }
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM loans"),
        before,
        "a refused checkout writes nothing"
    );
    for item in &items[..2] {
        let (status, _) = app
            .post(
                &token,
                "/api/v1/checkouts",
                json!({"patron_barcode": patron.barcode, "item_barcode": item}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": items[2]}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "loan_limit"));
    // Renewing the expired card lets the patron borrow again.
    let (status, _) = app
        .call(
            Some(&token),
            "PATCH",
            &format!("/api/v1/patrons/{}", expired.id),
            Some(json!({"expires_on": "2028-01-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": expired.barcode, "item_barcode": items[2]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Unknown patron or item.
    let (status, _) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": "29000000000001", "item_barcode": items[2]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.finish();
}

async fn circulation_held_item_goes_only_to_the_holder(engine: Engine) {
    let app = TestApp::spawn_with(engine, &tight_policy()).await;
    let token = app.sign_in("clerk").await;
    let (first, second, third) = (
        app.new_patron(&token).await,
        app.new_patron(&token).await,
        app.new_patron(&token).await,
    );
    let item = app.new_item().await;
    app.post(
        &token,
        "/api/v1/checkouts",
        json!({"patron_barcode": first.barcode, "item_barcode": item}),
    )
    .await;

    app.advance(Duration::minutes(1));
    let (status, hold2) = app
        .post(
            &token,
            "/api/v1/holds",
            json!({"patron_barcode": second.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold2}");
    assert_eq!(hold2["status"], "waiting");
    app.advance(Duration::minutes(1));
    let (_, hold3) = app
        .post(
            &token,
            "/api/v1/holds",
            json!({"patron_barcode": third.barcode, "item_barcode": item}),
        )
        .await;
    let (status, body) = app
        .post(
            &token,
            "/api/v1/holds",
            json!({"patron_barcode": third.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "already_holding")
    );
    // The borrower cannot renew while others wait.
    let (_, loans) = app
        .get(&token, &format!("/api/v1/patrons/{}/loans", first.id))
        .await;
    let loan_id = loans[0]["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &token,
            &format!("/api/v1/loans/{loan_id}/renewal"),
            json!(null),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "item_on_hold")
    );

    let (_, back) = app
        .post(&token, "/api/v1/checkins", json!({"item_barcode": item}))
        .await;
    assert_eq!(back["hold_ready"], hold2["id"]);
    assert_eq!(back["item"]["status"], "on_hold_shelf");
    // Only the first in the queue may take it.
    for who in [&first, &third] {
        let (status, body) = app
            .post(
                &token,
                "/api/v1/checkouts",
                json!({"patron_barcode": who.barcode, "item_barcode": item}),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, "item_on_hold")
        );
    }
    // The first holder cancels; the item passes to the next.
    let (status, cancelled) = app
        .call(
            Some(&token),
            "DELETE",
            &format!("/api/v1/holds/{}", hold2["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "cancelled");
    let (status, body) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": second.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "item_on_hold")
    );
    let (status, _) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": third.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, holds) = app
        .get(&token, &format!("/api/v1/patrons/{}/holds", third.id))
        .await;
    assert_eq!(holds[0]["id"], hold3["id"]);
    assert_eq!(holds[0]["status"], "fulfilled");

    // A hold on an item on the shelf waits on the pull list until staff
    // fetch it and scan it in, which traps it for the patron; the hold
    // limit holds.
    let (a, b, c) = (
        app.new_item().await,
        app.new_item().await,
        app.new_item().await,
    );
    let (_, pulled) = app
        .post(
            &token,
            "/api/v1/holds",
            json!({"patron_barcode": first.barcode, "item_barcode": a}),
        )
        .await;
    assert_eq!(pulled["status"], "waiting", "nobody has fetched it yet");
    let (status, list) = app.get(&token, "/api/v1/holds/pull-list").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line["item_barcode"] == a.as_str() && line["title"] == "The Quiet Atlas"));
    assert!(
        !list.to_string().contains(&first.barcode),
        "no patron on the list"
    );
    let (status, trapped) = app
        .post(&token, "/api/v1/checkins", json!({"item_barcode": a}))
        .await;
    assert_eq!(status, StatusCode::OK, "{trapped}");
    assert_eq!(trapped["hold_ready"], pulled["id"]);
    assert!(trapped["loan"].is_null());
    assert_eq!(trapped["item"]["status"], "on_hold_shelf");
    let (_, list) = app.get(&token, "/api/v1/holds/pull-list").await;
    assert!(!list.to_string().contains(&a), "pulled: off the list");
    app.post(
        &token,
        "/api/v1/holds",
        json!({"patron_barcode": first.barcode, "item_barcode": b}),
    )
    .await;
    let (status, body) = app
        .post(
            &token,
            "/api/v1/holds",
            json!({"patron_barcode": first.barcode, "item_barcode": c}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "hold_limit"));
    app.finish();
}

async fn circulation_renewals_follow_the_policy(engine: Engine) {
    let app = TestApp::spawn_with(engine, &tight_policy()).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let item = app.new_item().await;
    let (_, loan) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": item}),
        )
        .await;
    let id = loan["id"].as_i64().unwrap();
    assert_eq!(loan["title"], "The Quiet Atlas", "a loan carries its title");
    assert_eq!(loan["item_barcode"], item.as_str());
    // Renewing on the day of the loan would not move the due date: refused,
    // and no renewal is used up.
    let (status, body) = app
        .post(&token, &format!("/api/v1/loans/{id}/renewal"), json!(null))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "renewal_too_soon")
    );
    assert_eq!(
        app.raw_count(&format!("SELECT renewals FROM loans WHERE id = {id}")),
        0
    );
    app.advance(Duration::days(20));
    let token = app.sign_in("clerk").await; // the old session has expired
    let (status, renewed) = app
        .post(&token, &format!("/api/v1/loans/{id}/renewal"), json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["renewals"], 1);
    assert!(renewed["due_at"].as_i64() > loan["due_at"].as_i64());
    let (status, body) = app
        .post(&token, &format!("/api/v1/loans/{id}/renewal"), json!(null))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "renewal_limit")
    );
    let (status, _) = app
        .post(&token, "/api/v1/loans/999999/renewal", json!(null))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.finish();
}

/// Issue 16 item 6: calls name a patron by card or by record id alike
/// (other answers name patrons by id), one of them and not both.
async fn circulation_a_patron_is_named_by_card_or_by_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let (a, b) = (app.new_item().await, app.new_item().await);
    let (status, loan) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_id": patron.id, "item_barcode": a}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{loan}");
    assert_eq!(loan["patron_id"], patron.id);
    let (status, hold) = app
        .post(
            &token,
            "/api/v1/holds",
            json!({"patron_id": patron.id, "item_barcode": b}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    for body in [
        json!({"item_barcode": b}),
        json!({"patron_id": patron.id, "patron_barcode": patron.barcode, "item_barcode": b}),
    ] {
        let (status, refused) = app.post(&token, "/api/v1/checkouts", body.clone()).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, "patron_required"),
            "{body}"
        );
    }
    let (status, _) = app
        .post(
            &token,
            "/api/v1/checkouts",
            json!({"patron_id": 999_999_999, "item_barcode": b}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.finish();
}

on_both_engines!(
    circulation_a_patron_is_named_by_card_or_by_id,
    circulation_checkout_due_date_and_checkin,
    circulation_no_checkout_to_expired_blocked_or_over_limit,
    circulation_held_item_goes_only_to_the_holder,
    circulation_renewals_follow_the_policy
);

/// Many desks scan the same item at once: exactly one loan results, on
/// either engine (PostgreSQL runs these transactions concurrently).
async fn circulation_concurrent_checkouts_lend_an_item_once(engine: Engine) {
    let app = std::sync::Arc::new(TestApp::spawn(engine).await);
    let token = app.sign_in("clerk").await;
    let mut patrons = Vec::new();
    for _ in 0..8 {
        patrons.push(app.new_patron(&token).await.barcode);
    }
    for round in 0..3 {
        let item = app.new_item().await;
        let attempts: Vec<_> = patrons
            .iter()
            .map(|barcode| {
                let (app, token, item, barcode) =
                    (app.clone(), token.clone(), item.clone(), barcode.clone());
                tokio::spawn(async move {
                    app.post(
                        &token,
                        "/api/v1/checkouts",
                        json!({"patron_barcode": barcode, "item_barcode": item}),
                    )
                    .await
                })
            })
            .collect();
        let mut created = 0;
        for attempt in attempts {
            let (status, body) = attempt.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => assert_eq!(code(&body), "item_on_loan", "{body}"),
                other => panic!("round {round}: unexpected {other}: {body}"),
            }
        }
        assert_eq!(
            created, 1,
            "round {round}: the item was lent {created} times"
        );
    }
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM loans WHERE returned_at IS NULL"),
        3
    );
    std::sync::Arc::try_unwrap(app)
        .ok()
        .expect("no other references")
        .finish();
}

on_both_engines!(circulation_concurrent_checkouts_lend_an_item_once);
