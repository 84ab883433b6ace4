//! Bad input gets a 4xx with a message saying what to fix, never echoes the
//! value sent, and writes nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{code, unique, Engine, TestApp};
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

/// Errors name the field and the rule, never the value: a distinctive
/// value sent in every field an error can be about comes back in no
/// answer and reaches no log. A key is input too: one that is not shaped
/// like a field name (a name, an address) is not repeated either, and a
/// value shaped like serde's own message does not slip through the
/// message's parser.
async fn error_messages_name_the_field_never_the_value(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let patron = app.new_patron(&clerk).await;
    let secret = format!("Secretname{}", unique());
    let marker = format!("Zelda {secret}");
    let tricky = format!("Zelda, expected {secret}");
    app.note_personal(&[&secret]);

    // One request to attach documents to, and one ILL request to change.
    let disclosure = |changes: Value| {
        let mut body = json!({
            "requester_kind": "law_enforcement", "requester": "Det. Quince",
            "subject_patron_id": patron.id, "basis": "court_order",
            "classes": ["circulation"], "from_date": "2026-01-01", "to_date": "2026-12-31",
        });
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let (status, recorded) = app
        .post(&clerk, "/api/v1/disclosures", disclosure(json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let reference = recorded["reference"].as_str().unwrap().to_string();
    let (status, ill) = app
        .post(
            &clerk,
            "/api/v1/ill-requests",
            json!({"patron_id": patron.id, "lender": "Denver Public Library", "title": "A Title"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ill}");
    let registration = |key: &str, value: &str| {
        let mut body = json!({
            "card_barcode": format!("29{:012}", unique()), "category": "adult",
            "expires_on": "2027-12-31", "name": "A Reader", "address": "1 Elm St",
        });
        body[key] = json!(value);
        body
    };
    let counts = || {
        (
            app.raw_count("SELECT COUNT(*) FROM disclosure_requests"),
            app.raw_count("SELECT COUNT(*) FROM disclosure_documents"),
            app.raw_count("SELECT COUNT(*) FROM patrons"),
            app.raw_count("SELECT COUNT(*) FROM legal_holds"),
            app.raw_count("SELECT COUNT(*) FROM loans"),
            app.raw_count("SELECT COUNT(*) FROM fines"),
        )
    };
    let before = counts();

    let m = marker.as_str();
    let q = marker.replace(' ', "+");
    let cases = [
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure(json!({"basis": m})),
            "unknown_basis",
            "basis",
        ),
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure(json!({"classes": [m]})),
            "bad_record_class",
            "classes",
        ),
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure(json!({"documents": [{"kind": m}]})),
            "unknown_document",
            "kind",
        ),
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure(json!({"requester_kind": m})),
            "unknown_requester_kind",
            "requester_kind",
        ),
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure(json!({"from_date": m})),
            "bad_date",
            "from_date",
        ),
        Case::post(
            &clerk,
            &format!("/api/v1/disclosures/{reference}/documents"),
            json!({"kind": m}),
            "unknown_document",
            "kind",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration(m, "x"),
            "undeclared_field",
            "not declared",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("category", m),
            "unknown_category",
            "category",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("status", m),
            "bad_status",
            "status",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("email", m),
            "bad_email",
            "email",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("card_barcode", m),
            "bad_card_barcode",
            "card_barcode",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("expires_on", m),
            "bad_date",
            "expires_on",
        ),
        Case::patch(
            &clerk,
            &format!("/api/v1/patrons/{}", patron.id),
            json!({"birth_date": m}),
            "bad_date",
            "birth_date",
        ),
        Case::post(
            &clerk,
            "/api/v1/checkouts",
            json!({"patron_barcode": m, "item_barcode": "39000000000001"}),
            "bad_card_barcode",
            "card_barcode",
        ),
        Case::post(
            &clerk,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": "39000000000001", m: 1}),
            "invalid_body",
            "unknown field",
        ),
        Case::post(
            &clerk,
            &format!("/api/v1/patrons/{}/fines", patron.id),
            json!({"amount_cents": tricky, "reason": "x"}),
            "invalid_body",
            "amount_cents",
        ),
        Case::patch(
            &clerk,
            &format!("/api/v1/ill-requests/{}", ill["id"]),
            json!({"status": m}),
            "bad_status",
            "status",
        ),
        Case::post(
            &director,
            "/api/v1/legal-holds",
            json!({"reference": "PR-1", "record_class": m, "patron_id": patron.id, "from_date": "2026-01-01", "to_date": "2026-12-31"}),
            "bad_record_class",
            "record_class",
        ),
        Case::get(
            &clerk,
            &format!("/api/v1/disclosures?{q}=1"),
            "bad_query",
            "query string",
        ),
        Case::get(
            &clerk,
            &format!("/api/v1/disclosures?state={q}"),
            "bad_state",
            "state",
        ),
        Case::get(
            &director,
            &format!("/api/v1/statistics/circulation?from={q}"),
            "bad_month",
            "from",
        ),
        Case::get(
            &director,
            &format!("/api/v1/statistics/circulation?by={q}"),
            "bad_dimension",
            "by",
        ),
        Case::get(
            &director,
            &format!("/api/v1/statistics/{secret}"),
            "bad_record_class",
            "record class",
        ),
        // A sign-in says only that it failed, whatever was wrong.
        Case::post(
            "",
            "/api/v1/patron-session",
            json!({"card_barcode": m, "pin": "1234"}),
            "unauthenticated",
            "sign in",
        ),
        Case::post(
            "",
            "/api/v1/session",
            json!({"username": m, "password": m}),
            "unauthenticated",
            "sign in",
        ),
    ];
    for case in cases {
        let token = (!case.token.is_empty()).then_some(case.token.as_str());
        let (status, answer) = app.call(token, case.method, &case.path, case.body).await;
        let what = format!("{} {}", case.method, case.path);
        assert!(status.is_client_error(), "{what}: {status} {answer}");
        assert_eq!(code(&answer), case.code, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.names), "{what}: {message}");
        assert!(
            !answer.to_string().contains(&secret),
            "{what} echoed the value sent: {answer}"
        );
    }
    assert_eq!(counts(), before, "no refused request wrote anything");
    assert!(
        !app.raw_audit_text().contains(&secret),
        "the audit log holds no value sent"
    );
    app.finish();
}

on_both_engines!(error_messages_name_the_field_never_the_value);

/// Dates outside 1900-01-01..2200-12-31 (0000-01-01 registered a patron
/// the next purge destroyed; 9999 kept a program's registrations for good),
/// a card registered already expired, a birth date in the future, and
/// amounts of money over 1,000,000.00 (i64::MAX cents was accepted) are
/// refused with a clear error, in every field that takes one, and nothing
/// is written. The bounds themselves are accepted.
async fn out_of_range_dates_and_amounts_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let patron = app.new_patron(&clerk).await;
    let (status, fine) = app
        .post(
            &clerk,
            &format!("/api/v1/patrons/{}/fines", patron.id),
            json!({"amount_cents": 500, "reason": "lost item"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fine}");
    let (status, ill) = app
        .post(
            &clerk,
            "/api/v1/ill-requests",
            json!({"patron_id": patron.id, "lender": "Denver Public Library", "title": "A Title"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ill}");
    let counts = || {
        [
            "patrons",
            "fines",
            "ill_requests",
            "deliveries",
            "programs",
            "disclosure_requests",
            "legal_holds",
        ]
        .map(|t| app.raw_count(&format!("SELECT COUNT(*) FROM {t}")))
    };
    let money = || {
        app.raw_count(&format!(
            "SELECT paid_cents + amount_cents FROM fines WHERE id = {}",
            fine["id"]
        )) + app.raw_count(&format!(
            "SELECT fees_cents + fees_paid_cents FROM ill_requests WHERE id = {}",
            ill["id"]
        ))
    };
    let before = (counts(), money());
    let registration = |key: &str, value: &str| {
        let mut body = json!({
            "card_barcode": format!("29{:012}", unique()), "category": "adult",
            "expires_on": "2027-12-31", "name": "A Reader", "address": "1 Elm St",
        });
        body[key] = json!(value);
        body
    };
    let disclosure = |from: &str, to: &str| {
        json!({
            "requester_kind": "law_enforcement", "requester": "Det. Quince",
            "subject_patron_id": patron.id, "basis": "court_order",
            "classes": ["circulation"], "from_date": from, "to_date": to,
        })
    };
    let hold = |from: &str, to: &str| json!({"reference": "PR-1", "record_class": "circulation", "patron_id": patron.id, "from_date": from, "to_date": to});
    let program = |starts: &str, ends: &str| json!({"title": "Story time", "starts_at": starts, "ends_at": ends});
    let delivery = |on: &str| json!({"patron_id": patron.id, "route": "North", "scheduled_on": on});
    let patron_path = format!("/api/v1/patrons/{}", patron.id);
    let fines_path = format!("/api/v1/patrons/{}/fines", patron.id);
    let payment_path = format!("/api/v1/fines/{}/payments", fine["id"]);
    let ill_path = format!("/api/v1/ill-requests/{}", ill["id"]);
    let too_much = 100_000_001i64;
    let cases = [
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("expires_on", "0000-01-01"),
            "date_out_of_range",
            "expires_on",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("expires_on", "9999-12-31"),
            "date_out_of_range",
            "expires_on",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("expires_on", "2201-01-01"),
            "date_out_of_range",
            "expires_on",
        ),
        // Yesterday: a card registered already expired.
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("expires_on", "2026-03-01"),
            "date_out_of_range",
            "expires_on",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("birth_date", "1899-12-31"),
            "date_out_of_range",
            "birth_date",
        ),
        Case::post(
            &clerk,
            "/api/v1/patrons",
            registration("birth_date", "2026-03-03"),
            "date_out_of_range",
            "birth_date",
        ),
        Case::patch(
            &clerk,
            &patron_path,
            json!({"expires_on": "0000-01-01"}),
            "date_out_of_range",
            "expires_on",
        ),
        Case::patch(
            &clerk,
            &patron_path,
            json!({"expires_on": "9999-12-31"}),
            "date_out_of_range",
            "expires_on",
        ),
        Case::patch(
            &clerk,
            &patron_path,
            json!({"birth_date": "0000-01-01"}),
            "date_out_of_range",
            "birth_date",
        ),
        Case::post(
            &clerk,
            "/api/v1/deliveries",
            delivery("9999-12-31"),
            "date_out_of_range",
            "scheduled_on",
        ),
        Case::post(
            &clerk,
            "/api/v1/deliveries",
            delivery("0000-01-01"),
            "date_out_of_range",
            "scheduled_on",
        ),
        Case::post(
            &clerk,
            "/api/v1/programs",
            program("2026-03-10T18:00:00Z", "9999-12-31T20:00:00Z"),
            "date_out_of_range",
            "ends_at",
        ),
        Case::post(
            &clerk,
            "/api/v1/programs",
            program("0001-01-01T18:00:00Z", "2026-03-10T20:00:00Z"),
            "date_out_of_range",
            "starts_at",
        ),
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure("0000-01-01", "2026-12-31"),
            "date_out_of_range",
            "from_date",
        ),
        Case::post(
            &clerk,
            "/api/v1/disclosures",
            disclosure("2026-01-01", "9999-12-31"),
            "date_out_of_range",
            "to_date",
        ),
        Case::post(
            &director,
            "/api/v1/legal-holds",
            hold("0000-01-01", "2026-12-31"),
            "date_out_of_range",
            "from_date",
        ),
        Case::post(
            &director,
            "/api/v1/legal-holds",
            hold("2026-01-01", "9999-12-31"),
            "date_out_of_range",
            "to_date",
        ),
        Case::post(
            &clerk,
            &fines_path,
            json!({"amount_cents": i64::MAX, "reason": "x"}),
            "amount_out_of_range",
            "amount_cents",
        ),
        Case::post(
            &clerk,
            &fines_path,
            json!({"amount_cents": too_much, "reason": "x"}),
            "amount_out_of_range",
            "amount_cents",
        ),
        Case::post(
            &clerk,
            &fines_path,
            json!({"amount_cents": i64::MIN, "reason": "x"}),
            "bad_amount",
            "amount_cents",
        ),
        Case::post(
            &clerk,
            &payment_path,
            json!({"amount_cents": i64::MAX}),
            "amount_out_of_range",
            "amount_cents",
        ),
        Case::post(
            &clerk,
            "/api/v1/ill-requests",
            json!({"patron_id": patron.id, "lender": "L", "title": "T", "fees_cents": i64::MAX}),
            "amount_out_of_range",
            "fees_cents",
        ),
        Case::patch(
            &clerk,
            &ill_path,
            json!({"fees_cents": i64::MAX}),
            "amount_out_of_range",
            "fees_cents",
        ),
        Case::patch(
            &clerk,
            &ill_path,
            json!({"fees_cents": too_much, "fees_paid_cents": too_much}),
            "amount_out_of_range",
            "fees_cents",
        ),
    ];
    for case in cases {
        let (status, answer) = app
            .call(
                Some(&case.token),
                case.method,
                &case.path,
                case.body.clone(),
            )
            .await;
        let what = format!(
            "{} {} {}",
            case.method,
            case.path,
            case.body.unwrap_or_default()
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {answer}");
        assert_eq!(code(&answer), case.code, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.names), "{what}: {message}");
    }
    assert_eq!((counts(), money()), before, "nothing refused was written");

    // The bounds themselves are fine: a card valid from today, a birth on
    // the first day Carrel knows, a fine of exactly 1,000,000.00.
    let (status, body) = app
        .post(
            &clerk,
            "/api/v1/patrons",
            registration("expires_on", "2026-03-02"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &clerk,
            "/api/v1/patrons",
            registration("birth_date", "1900-01-01"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &clerk,
            &fines_path,
            json!({"amount_cents": 100_000_000, "reason": "rare book lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .call(
            Some(&clerk),
            "PATCH",
            &patron_path,
            Some(json!({"expires_on": "2200-12-31"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish();
}

on_both_engines!(out_of_range_dates_and_amounts_are_refused);

/// One request of [`error_messages_name_the_field_never_the_value`], the
/// error code it must get, and what its message must name.
struct Case {
    token: String,
    method: &'static str,
    path: String,
    body: Option<Value>,
    code: &'static str,
    names: &'static str,
}

impl Case {
    fn new(
        token: &str,
        method: &'static str,
        path: &str,
        body: Option<Value>,
        code: &'static str,
        names: &'static str,
    ) -> Case {
        Case {
            token: token.to_string(),
            method,
            path: path.to_string(),
            body,
            code,
            names,
        }
    }
    fn get(token: &str, path: &str, code: &'static str, names: &'static str) -> Case {
        Case::new(token, "GET", path, None, code, names)
    }
    fn post(token: &str, path: &str, body: Value, code: &'static str, names: &'static str) -> Case {
        Case::new(token, "POST", path, Some(body), code, names)
    }
    fn patch(
        token: &str,
        path: &str,
        body: Value,
        code: &'static str,
        names: &'static str,
    ) -> Case {
        Case::new(token, "PATCH", path, Some(body), code, names)
    }
}

/// A route that takes no body refuses one, before doing anything: a
/// newcomer's `{"dry_run": true}` to the purge route ran a real purge, and
/// a renewal with an undeclared field went through. Nothing, or `{}`, is
/// still accepted.
async fn a_route_that_takes_no_body_refuses_one(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let director = app.sign_in("director").await;
    let (status, body) = app
        .call(
            Some(&director),
            "POST",
            "/api/v1/retention/runs",
            Some(json!({"dry_run": true})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "body_not_taken"),
        "{body}"
    );
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM purge_runs"), 0);
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
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
    let renewal = format!("/api/v1/loans/{}/renewal", loan["id"]);
    let (status, body) = app.post(&clerk, &renewal, json!({"days": 90})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "body_not_taken"),
        "{body}"
    );
    assert_eq!(app.raw_count("SELECT MAX(renewals) FROM loans"), 0);
    let (status, body) = app.post(&clerk, &renewal, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.finish();
}

on_both_engines!(a_route_that_takes_no_body_refuses_one);

/// A patron's download in a format Carrel does not make is refused before
/// anything is recorded: a download is a release of records, and a
/// refused one was logged as a request opened, released and closed.
async fn a_download_in_an_unknown_format_records_no_release(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let pin = "3826150947";
    let patron = app.new_patron_with(&clerk, json!({"pin": pin})).await;
    let (status, session) = app
        .call(
            None,
            "POST",
            "/api/v1/patron-session",
            Some(json!({"card_barcode": patron.barcode, "pin": pin})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let token = session["token"].as_str().unwrap();
    let (status, body) = app.get(token, "/api/v1/my/records?format=pdf").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_format"),
        "{body}"
    );
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM disclosure_requests"), 0);
    app.note_personal(&[pin]);
    app.finish();
}

on_both_engines!(a_download_in_an_unknown_format_records_no_release);

/// `null` where the API's description types a field as an integer or a
/// string is refused as the wrong type, naming the field, and changes
/// nothing (issue 14: an interlibrary loan's `fees_paid_cents: null` and
/// a note of `null` were taken as if left out). Leaving the field out is
/// still fine.
async fn null_for_a_typed_field_is_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let (status, ill) = app
        .post(
            &clerk,
            "/api/v1/ill-requests",
            json!({"patron_id": patron.id, "lender": "Denver Public Library", "title": "Local history", "fees_cents": 500}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ill}");
    let path = format!("/api/v1/ill-requests/{}", ill["id"]);
    for body in [
        json!({"fees_paid_cents": null}),
        json!({"status": null}),
        json!({"fees_cents": null, "status": "returned"}),
    ] {
        let (status, refused) = app
            .call(Some(&clerk), "PATCH", &path, Some(body.clone()))
            .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::BAD_REQUEST, "invalid_body"),
            "{body}: {refused}"
        );
        let field = body
            .as_object()
            .unwrap()
            .keys()
            .find(|k| body[*k].is_null())
            .unwrap()
            .clone();
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&field),
            "{refused}"
        );
    }
    let (_, unchanged) = app.get(&clerk, &path).await;
    assert_eq!(unchanged["fees_cents"], 500, "{unchanged}");
    assert_eq!(unchanged["status"], ill["status"], "{unchanged}");
    let (status, changed) = app
        .call(
            Some(&clerk),
            "PATCH",
            &path,
            Some(json!({"fees_paid_cents": 500})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    app.finish();
}

on_both_engines!(null_for_a_typed_field_is_refused);

/// Issue 14, item 6: the session is checked before anything the caller
/// sent. A caller without a session (here, a token that opens none) gets
/// 401 for a malformed id in the path, a body of the wrong shape, an
/// unknown query parameter, a malformed barcode, a body sent to a route
/// that takes none or a path that is not text, and so learns nothing
/// about what a well-formed request is; signed in, the same requests get
/// the errors that say what is wrong. (Before, the path, body and query
/// were checked first: 400 and 422 to anyone.)
async fn the_session_is_checked_before_the_request(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let nobody = "a-token-that-opens-no-session";
    let requests: [(&str, &str, &str, Option<Value>, StatusCode); 9] = [
        (
            "clerk",
            "GET",
            "/api/v1/patrons/%FF/loans",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "clerk",
            "POST",
            "/api/v1/loans/1/renewal",
            Some(json!({"x": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "clerk",
            "GET",
            "/api/v1/patrons/not-a-number",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "clerk",
            "GET",
            "/api/v1/patrons/-3/loans",
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "clerk",
            "GET",
            "/api/v1/items/by-barcode/x",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "clerk",
            "POST",
            "/api/v1/checkouts",
            Some(json!({"patron": 1})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "clerk",
            "PATCH",
            "/api/v1/ill-requests/0",
            Some(json!({})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "director",
            "GET",
            "/api/v1/disclosures?unknown=1",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "director",
            "GET",
            "/api/v1/statistics/nonsense",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (role, method, path, body, signed_in) in requests {
        let (status, answer) = app.call(Some(nobody), method, path, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert_eq!(
            code(&answer),
            "unauthenticated",
            "{method} {path}: {answer}"
        );
        let token = if role == "clerk" { &clerk } else { &director };
        let (status, answer) = app.call(Some(token), method, path, body).await;
        assert_eq!(status, signed_in, "{method} {path} signed in: {answer}");
    }
    app.finish();
}

on_both_engines!(the_session_is_checked_before_the_request);

/// JSON has one kind of number, and the API's description (JSON Schema)
/// counts `500.0` as the integer 500: a whole number written with a
/// fraction is read as that integer; a number with a real fraction is
/// still refused, naming the field, and writes nothing.
async fn whole_numbers_written_with_a_fraction_are_integers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let fines = format!("/api/v1/patrons/{}/fines", patron.id);
    let (status, fine) = app
        .post(
            &clerk,
            &fines,
            json!({"amount_cents": 500.0, "reason": "lost item"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fine}");
    assert_eq!(fine["amount_cents"], 500);
    let before = app.raw_count("SELECT COUNT(*) FROM fines");
    for amount in [json!(500.5), json!(1e300), json!("500")] {
        let (status, body) = app
            .post(
                &clerk,
                &fines,
                json!({"amount_cents": amount, "reason": "lost item"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{amount}: {body}");
        assert_eq!(code(&body), "invalid_body");
        assert!(body.to_string().contains("amount_cents"), "{body}");
    }
    // Only the numbers change: a key given twice is still refused (the
    // last one does not quietly win), a number a float would round to a
    // whole one is not whole, and a body wrong in another way too is
    // refused for that.
    let twice = r#"{"amount_cents": 500, "amount_cents": 1500.0, "reason": "lost item"}"#;
    let (status, body) = app
        .post_raw(&clerk, &fines, "application/json", twice.into())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "invalid_body");
    let nearly = r#"{"amount_cents": 0.99999999999999999, "reason": "lost item"}"#;
    let (status, body) = app
        .post_raw(&clerk, &fines, "application/json", nearly.into())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("amount_cents"), "{body}");
    let (status, body) = app
        .post(
            &clerk,
            &fines,
            json!({"amount_cents": 5.0, "reason": "lost item", "shoe_size": 9}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("shoe_size"), "{body}");
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM fines"), before);
    app.finish();
}
on_both_engines!(whole_numbers_written_with_a_fraction_are_integers);
