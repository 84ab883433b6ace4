//! Requests another site could make a signed-in browser send. Every
//! request that changes something must say it is JSON (the API) or a form
//! carrying the session's form token (the staff pages), even where the
//! route reads no body; anything else is refused before it does anything.

use carrel_server::routes::api_operations;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{code, Engine, TestApp};
use crate::on_both_engines;

/// What a page on another site can make a browser send without asking
/// Carrel first (a "simple" request), and a request with no type at all.
const NOT_JSON: [Option<&str>; 4] = [
    None,
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=carrel"),
];

/// Sends `body` with `content_type` (none: no Content-Type header).
async fn send(
    app: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method.parse().unwrap(), format!("{}{path}", app.base))
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every route that changes something refuses a request that is not JSON,
/// before anything else (signed in or not), and nothing is written.
async fn every_change_route_refuses_a_request_that_is_not_json(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let entries = app.raw_count("SELECT COUNT(*) FROM audit_log");
    let mut checked = 0;
    for (method, path) in api_operations().iter().filter(|(m, _)| m != "get") {
        let concrete = path.replace("{id}", "1").replace("{reference}", "D-1");
        for content_type in NOT_JSON {
            for token in [None, Some(clerk.as_str())] {
                let (status, answer) = send(
                    &app,
                    token,
                    &method.to_uppercase(),
                    &concrete,
                    content_type,
                    "x=1",
                )
                .await;
                assert_eq!(
                    (status, code(&answer)),
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                    "{method} {path} with {content_type:?}: {answer}"
                );
                assert!(answer["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Content-Type: application/json"));
            }
        }
        checked += 1;
    }
    assert!(
        checked > 40,
        "every route that changes something: {checked}"
    );
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM audit_log"),
        entries,
        "no refused request did anything"
    );
    app.finish();
}

/// Routes that take no body (a renewal, marking an alert read, cancelling
/// a hold, a waiver, taking up a request, a purge, signing out) change
/// nothing when another site's page sends them as a form or text, and work
/// as JSON with no body or with `{}`.
async fn bodiless_changes_need_json_and_change_nothing_otherwise(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let waiting = app.new_patron(&clerk).await;
    let item = app.new_item().await;
    let (status, loan) = app
        .post(
            &clerk,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{loan}");
    // A day on, so that a renewal moves the due date.
    app.advance(chrono::Duration::days(1));
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let (status, hold) = app
        .post(
            &clerk,
            "/api/v1/holds",
            json!({"patron_barcode": waiting.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    let (status, fine) = app
        .post(
            &clerk,
            &format!("/api/v1/patrons/{}/fines", patron.id),
            json!({"amount_cents": 250, "reason": "damaged case"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fine}");
    let (status, request) = app
        .post(
            &clerk,
            "/api/v1/disclosures",
            json!({
                "requester_kind": "law_enforcement", "requester": "Det. Quince",
                "subject_patron_id": patron.id, "basis": "court_order",
                "classes": ["circulation"], "from_date": "2026-01-01", "to_date": "2026-12-31",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let reference = request["reference"].as_str().unwrap().to_string();
    let (_, alerts) = app.get(&director, "/api/v1/alerts").await;
    let alert = alerts[0]["id"].as_i64().expect("the Director is alerted");

    // (token, method, path, the JSON body that then works)
    let routes = [
        // (The hold goes first: an item someone waits for is not renewed.)
        (
            &clerk,
            "DELETE",
            format!("/api/v1/holds/{}", hold["id"]),
            "",
        ),
        (
            &director,
            "POST",
            format!("/api/v1/alerts/{alert}/read"),
            "{}",
        ),
        (
            &clerk,
            "POST",
            format!("/api/v1/loans/{}/renewal", loan["id"]),
            "",
        ),
        (
            &clerk,
            "POST",
            format!("/api/v1/fines/{}/waiver", fine["id"]),
            "{\"reason\":\"goodwill\"}",
        ),
        (
            &director,
            "POST",
            format!("/api/v1/disclosures/{reference}/review"),
            "",
        ),
        (
            &director,
            "POST",
            "/api/v1/retention/runs".to_string(),
            "{}",
        ),
        (&clerk, "DELETE", "/api/v1/session".to_string(), ""),
    ];
    let state = || {
        [
            "SELECT COUNT(*) FROM audit_log",
            "SELECT CAST(COALESCE(SUM(renewals), 0) AS BIGINT) FROM loans",
            "SELECT COUNT(*) FROM staff_alerts WHERE read_at IS NOT NULL",
            "SELECT COUNT(*) FROM holds WHERE status = 'cancelled'",
            "SELECT CAST(COALESCE(SUM(waived_cents), 0) AS BIGINT) FROM fines",
            "SELECT COUNT(*) FROM disclosure_requests WHERE state = 'under_review'",
            "SELECT COUNT(*) FROM purge_runs",
            "SELECT COUNT(*) FROM staff_sessions",
        ]
        .map(|sql| app.raw_count(sql))
    };
    let before = state();
    for (token, method, path, _) in &routes {
        for content_type in NOT_JSON {
            let (status, answer) = send(&app, Some(token), method, path, content_type, "x=1").await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                "{method} {path} with {content_type:?}: {answer}"
            );
        }
    }
    assert_eq!(state(), before, "nothing changed");

    for (token, method, path, body) in &routes {
        let (status, answer) = send(
            &app,
            Some(token),
            method,
            path,
            Some("application/json; charset=utf-8"),
            body,
        )
        .await;
        assert!(
            status.is_success(),
            "{method} {path} as JSON: {status} {answer}"
        );
    }
    let after = state();
    assert_eq!(after[1], before[1] + 1, "renewed");
    assert_eq!(after[2], before[2] + 1, "alert read");
    assert_eq!(after[3], before[3] + 1, "hold cancelled");
    assert_eq!(after[4], before[4] + 250, "fine waived");
    assert_eq!(after[5], before[5] + 1, "request under review");
    assert_eq!(after[6], before[6] + 1, "purge run");
    assert_eq!(after[7], before[7] - 1, "signed out");
    app.finish();
}

/// The staff pages' forms carry the session's form token and a form
/// without it (another site's, or one from another session) is refused, as
/// is a post that is not a form; the page's own form works.
async fn staff_forms_need_the_form_token_and_a_form(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let other_session = app.sign_in("director").await;
    let patron = app.new_patron(&clerk).await;
    let (status, request) = app
        .post(
            &clerk,
            "/api/v1/disclosures",
            json!({
                "requester_kind": "law_enforcement", "requester": "Det. Quince",
                "subject_patron_id": patron.id, "basis": "court_order",
                "classes": ["circulation"], "from_date": "2026-01-01", "to_date": "2026-12-31",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let reference = request["reference"].as_str().unwrap().to_string();
    let page_path = format!("/staff/disclosures/{reference}");
    let (status, page) = app.get_text(&director, &page_path).await;
    assert_eq!(status, StatusCode::OK);
    let page_token = page
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's forms carry a form token")
        .to_string();
    let review = format!("{page_path}/review");
    let state = || {
        app.raw_strings(&format!(
            "SELECT state FROM disclosure_requests WHERE series || '-' || CAST(number AS TEXT) = '{reference}'"
        ))
    };
    let entries = app.raw_count("SELECT COUNT(*) FROM audit_log");
    let other_token = carrel_server::pages::form_token(&other_session);
    let form = "application/x-www-form-urlencoded";
    for (content_type, body, expected) in [
        (Some(form), String::new(), StatusCode::FORBIDDEN),
        (Some(form), "note=x".to_string(), StatusCode::FORBIDDEN),
        (Some(form), format!("form_token={other_token}"), StatusCode::FORBIDDEN),
        (Some("text/plain"), format!("form_token={page_token}"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (None, format!("form_token={page_token}"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            Some("multipart/form-data; boundary=carrel"),
            format!("--carrel\r\nContent-Disposition: form-data; name=\"form_token\"\r\n\r\n{page_token}\r\n--carrel--\r\n"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let (status, answer) = send(&app, Some(&director), "POST", &review, content_type, &body).await;
        assert_eq!(status, expected, "{content_type:?} {body}: {answer}");
        assert!(answer.to_string().contains("Nothing was done"), "{answer}");
    }
    assert_eq!(state(), ["received"], "nothing was done");
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM audit_log"),
        entries,
        "nothing was read or written"
    );
    let (status, page) = send(
        &app,
        Some(&director),
        "POST",
        &review,
        Some(form),
        &format!("form_token={page_token}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(state(), ["under_review"]);
    app.finish();
}

/// D2, D6: every answer, whatever produced it (a handler's JSON, a page,
/// a refusal, the framework's 404 and 405, the OpenAPI document), tells
/// the browser not to keep it (`no-store`: nearly all carry personal
/// data), not to guess its type, not to send where it came from to
/// another site, and to load nothing from anywhere. One layer sets them
/// (issue 14): before, JSON answers carried none of them.
async fn d6_every_answer_carries_the_security_headers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let patron = app.new_patron(&clerk).await;
    let requests: Vec<(&str, String, Option<&str>, Option<Value>)> = vec![
        (
            "GET",
            format!("/api/v1/patrons/{}", patron.id),
            Some(&clerk),
            None,
        ),
        ("GET", format!("/api/v1/patrons/{}", patron.id), None, None),
        ("GET", "/api/v1/no-such-route".into(), None, None),
        ("PUT", "/api/v1/session".into(), None, None),
        ("GET", "/api/v1/openapi.json".into(), None, None),
        ("GET", "/staff/privacy".into(), Some(&director), None),
        (
            "POST",
            "/api/v1/session".into(),
            None,
            Some(json!({"username": "clerk", "password": "not the password"})),
        ),
    ];
    for (method, path, token, body) in requests {
        let mut request = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let seen = format!("{method} {path} ({})", response.status());
        assert_eq!(header("cache-control"), "no-store", "{seen}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{seen}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{seen}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{seen}: {csp}"
        );
    }
    app.finish();
}

on_both_engines!(
    d6_every_answer_carries_the_security_headers,
    every_change_route_refuses_a_request_that_is_not_json,
    bodiless_changes_need_json_and_change_nothing_otherwise,
    staff_forms_need_the_form_token_and_a_form,
);
