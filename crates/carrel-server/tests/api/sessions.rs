use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, Engine, TestApp};
use crate::on_both_engines;

async fn d6_staff_sign_in_sign_out_and_expiry(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // Wrong password and unknown user look the same.
    for (user, pass) in [
        ("clerk", "not-the-password"),
        ("nobody", "whatever-password"),
    ] {
        let (status, body) = app
            .call(
                None,
                "POST",
                "/api/v1/session",
                Some(json!({"username": user, "password": pass})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&body), "unauthenticated");
    }
    // No token, no data.
    let (status, _) = app.call(None, "GET", "/api/v1/patrons/1", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let (status, _) = app
        .get(&token, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The session cookie works as well as the bearer token.
    let resp = app
        .client
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": "clerk", "password": crate::helpers::password("clerk")}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap().to_string();
    let resp = app
        .client
        .get(format!("{}/api/v1/patrons/{}", app.base, patron.id))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Sessions expire.
    app.advance(Duration::hours(carrel_store::staff::SESSION_HOURS) + Duration::minutes(1));
    let (status, _) = app
        .get(&token, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Signing out ends a session at once.
    let token = app.sign_in("clerk").await;
    let (status, _) = app
        .call(Some(&token), "DELETE", "/api/v1/session", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .get(&token, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.finish();
}

on_both_engines!(d6_staff_sign_in_sign_out_and_expiry);
