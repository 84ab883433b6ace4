use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, unique, Engine, TestApp};
use crate::on_both_engines;

async fn n4_registration_stores_only_declared_fields(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app
        .new_patron_with(&token, json!({"phone": "555-0100-1234", "pin": "4321"}))
        .await;
    let (status, record) = app
        .get(&token, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["fields"]["name"], patron.name.as_str());
    let (_, contact) = app
        .get(
            &token,
            &format!("/api/v1/patrons/{}?purpose=account_notices", patron.id),
        )
        .await;
    assert_eq!(contact["fields"]["email"], patron.email.as_str());
    assert_eq!(record["has_pin"], true);
    assert!(
        record.get("pin").is_none() && !record.to_string().contains("4321"),
        "the PIN is never shown"
    );

    // A field the policy does not declare is refused, and nothing is written.
    let before = app.raw_count("SELECT COUNT(*) FROM patrons");
    let n = unique();
    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({
            "card_barcode": format!("29{n:012}"), "category": "adult", "expires_on": "2027-12-31",
            "name": "Undeclared Person", "address": "1 Elm St", "religion": "none of your business",
        }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "undeclared_field");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'religion'"));
    assert!(!body.to_string().contains("none of your business"));
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM patrons"), before);

    // Fields the policy marks required must be there.
    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": format!("29{:012}", unique()), "category": "adult", "expires_on": "2027-12-31", "name": "No Address"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("address"));

    // Unknown category, duplicate barcode.
    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": format!("29{:012}", unique()), "category": "vip", "expires_on": "2027-12-31", "name": "A B", "address": "1 Elm St"}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_category")
    );
    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": patron.barcode, "category": "adult", "expires_on": "2027-12-31", "name": "A B", "address": "1 Elm St"}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "card_barcode_taken")
    );
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM patrons"), before);
    app.finish();
}

/// D6: "Staff see only what their role and the task need." A read states
/// its purpose, and returns the personal fields the policy declares for
/// that purpose and no others, on the API as on the desk's pages.
async fn d6_a_read_returns_only_the_personal_fields_of_its_purpose(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app
        .new_patron_with(
            &token,
            json!({"phone": "555-0100-7777", "birth_date": "1990-04-02"}),
        )
        .await;
    let read = |purpose: &'static str| {
        let path = if purpose.is_empty() {
            format!("/api/v1/patrons/{}", patron.id)
        } else {
            format!("/api/v1/patrons/{}?purpose={purpose}", patron.id)
        };
        let app = &app;
        let token = token.clone();
        async move {
            let (status, record) = app.get(&token, &path).await;
            assert_eq!(status, StatusCode::OK, "{purpose}: {record}");
            record
        }
    };
    let keys = |record: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = record["fields"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for top in ["card_barcode", "birth_date"] {
            if record.get(top).is_some() {
                keys.push(top.to_string());
            }
        }
        keys.sort();
        keys
    };

    // Keeping the account (the default): who they are and where they live.
    let account = read("").await;
    assert_eq!(keys(&account), ["address", "card_barcode", "name"]);
    assert_eq!(account, read("account").await);
    assert!(!account.to_string().contains(&patron.email));
    assert!(!account.to_string().contains("555-0100-7777"));
    assert!(!account.to_string().contains("1990-04-02"));
    // Not personal: shown whatever the purpose.
    assert_eq!(account["category"], "adult");

    // Notices: how to reach them, not who they are or where they live.
    let notices = read("account_notices").await;
    let contact = keys(&notices);
    assert!(
        contact
            .iter()
            .all(|k| ["email", "email_consent", "notices", "phone"].contains(&k.as_str())),
        "{contact:?}"
    );
    assert_eq!(notices["fields"]["phone"], "555-0100-7777");
    assert_eq!(notices["fields"]["email"], patron.email.as_str());
    assert!(!notices.to_string().contains(&patron.name));

    // Guardianship: the birth date, nothing else personal.
    let guardianship = read("guardianship").await;
    assert_eq!(keys(&guardianship), ["birth_date"]);
    assert_eq!(guardianship["birth_date"], "1990-04-02");

    // A purpose the policy does not declare for registrations is refused.
    let (status, body) = app
        .get(
            &token,
            &format!("/api/v1/patrons/{}?purpose=circulation", patron.id),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Text that is not one of the policy's purposes (it could carry a
    // name) is refused and recorded nowhere, in the audit log or the logs.
    let (status, _) = app
        .get(
            &token,
            &format!(
                "/api/v1/patrons/{}?purpose=Quentin_Marlowe_asked",
                patron.id
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.note_personal(&["Quentin_Marlowe"]);
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM audit_log WHERE purpose LIKE '%Quentin%' OR detail LIKE '%Quentin%'"),
        0
    );
    assert_eq!(
        app.raw_count("SELECT COUNT(*) FROM audit_log WHERE purpose = '(not a purpose of the policy)' AND decision = 'denied'"),
        1
    );

    // Each read is audited with its purpose.
    let purposes = app.raw_strings(&format!(
        "SELECT purpose FROM audit_log WHERE record_id = 'patron:{}' AND action = 'read' AND decision = 'granted'",
        patron.id
    ));
    for purpose in ["account", "account_notices", "guardianship"] {
        assert!(purposes.iter().any(|p| p == purpose), "{purposes:?}");
    }

    // The desk's lookup takes a purpose too; an update answers with what
    // its purpose may see and the fields it sent.
    let (_, found) = app
        .post(
            &token,
            "/api/v1/patrons/lookup",
            json!({"card_barcode": patron.barcode, "purpose": "account_notices"}),
        )
        .await;
    assert_eq!(found["fields"]["phone"], "555-0100-7777");
    assert!(found.get("card_barcode").is_none());
    let (status, changed) = app
        .call(
            Some(&token),
            "PATCH",
            &format!("/api/v1/patrons/{}", patron.id),
            Some(json!({"phone": "555-0100-8888", "photo_id": "driver_license"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["fields"]["phone"], "555-0100-8888");
    assert!(changed["fields"].get("email").is_none(), "{changed}");
    assert!(changed.get("birth_date").is_none(), "{changed}");
    app.finish();
}

async fn c3_email_is_optional_and_removable(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let path = format!("/api/v1/patrons/{}", patron.id);
    let (status, record) = app
        .call(Some(&token), "PATCH", &path, Some(json!({"email": null})))
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert!(record["fields"].get("email").is_none());
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM patron_fields WHERE patron_id = {} AND name = 'email'",
            patron.id
        )),
        0
    );
    // A required field cannot be removed; a bad e-mail is refused.
    let (status, _) = app
        .call(Some(&token), "PATCH", &path, Some(json!({"name": null})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .call(
            Some(&token),
            "PATCH",
            &path,
            Some(json!({"email": "not-an-address"})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_email")
    );
    // Lookup by card barcode (a POST: barcodes stay out of URLs).
    let (status, found) = app
        .post(
            &token,
            "/api/v1/patrons/lookup",
            json!({"card_barcode": patron.barcode}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["id"], patron.id);
    let (status, _) = app
        .post(
            &token,
            "/api/v1/patrons/lookup",
            json!({"card_barcode": "29000000000000"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.finish();
}

async fn r3_minor_needs_an_adult_guardian(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let parent = app.new_patron(&token).await;
    let before = app.raw_count("SELECT COUNT(*) FROM patrons");
    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": format!("29{:012}", unique()), "category": "juvenile", "expires_on": "2027-12-31", "name": "Kid A", "address": "1 Elm St", "birth_date": "2016-05-01"}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "guardian_required")
    );
    // A guardian that does not exist: the whole registration is refused.
    let (status, _) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": format!("29{:012}", unique()), "category": "juvenile", "expires_on": "2027-12-31", "name": "Kid A", "address": "1 Elm St", "guardian_card_barcode": "29999999999999"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM patrons"), before);
    let child = app
        .new_patron_with(&token, json!({"category": "juvenile", "birth_date": "2016-05-01", "guardian_card_barcode": parent.barcode}))
        .await;
    let (_, record) = app
        .get(
            &token,
            &format!("/api/v1/patrons/{}?purpose=guardianship", child.id),
        )
        .await;
    assert_eq!(record["guardian_id"], parent.id);
    // A minor cannot be a guardian; a birth date in the future is refused.
    let (status, body) = app
        .post(&token, "/api/v1/patrons", json!({"card_barcode": format!("29{:012}", unique()), "category": "juvenile", "expires_on": "2027-12-31", "name": "Kid B", "address": "1 Elm St", "guardian_card_barcode": child.barcode}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_guardian")
    );
    let (status, _) = app
        .call(
            Some(&token),
            "PATCH",
            &format!("/api/v1/patrons/{}", child.id),
            Some(json!({"birth_date": "2099-01-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.finish();
}

/// Two desks register the same new card at the same moment: one gets the
/// card, the other the answer a taken card gets (409 `card_barcode_taken`),
/// never a server error. On PostgreSQL both see the card free, and the
/// second's insert breaks the unique index: that must be read back as the
/// conflict it is (issue 14: SQLSTATE kept), not as a 500. Two different
/// cards at once both register: the second no longer takes the first's
/// patron id (a 500 before, too).
async fn n2_two_desks_registering_one_card_at_once_get_201_and_409(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (a, b) = (app.sign_in("clerk").await, app.sign_in("clerk").await);
    let mut answers = Vec::new();
    for _ in 0..20 {
        let n = unique();
        let body = json!({
            "card_barcode": format!("29{n:012}"), "category": "adult", "expires_on": "2027-12-31",
            "name": "Twin Desk", "address": "1 Elm St",
        });
        let (first, second) = tokio::join!(
            app.post(&a, "/api/v1/patrons", body.clone()),
            app.post(&b, "/api/v1/patrons", body.clone())
        );
        let mut pair = vec![
            (first.0, code(&first.1).to_string()),
            (second.0, code(&second.1).to_string()),
        ];
        pair.sort();
        answers.push(pair);
    }
    for pair in &answers {
        assert_eq!(
            pair,
            &vec![
                (StatusCode::CREATED, String::new()),
                (StatusCode::CONFLICT, "card_barcode_taken".to_string())
            ],
            "{answers:?}"
        );
    }
    // Two different cards at once both register, with ids of their own
    // (the second desk waits for the first's id, and takes the next).
    for _ in 0..10 {
        let body = |n: u64| {
            json!({
                "card_barcode": format!("29{n:012}"), "category": "adult", "expires_on": "2027-12-31",
                "name": "Twin Desk", "address": "1 Elm St",
            })
        };
        let (first, second) = tokio::join!(
            app.post(&a, "/api/v1/patrons", body(unique())),
            app.post(&b, "/api/v1/patrons", body(unique()))
        );
        assert_eq!(
            (first.0, second.0),
            (StatusCode::CREATED, StatusCode::CREATED),
            "{} {}",
            first.1,
            second.1
        );
        assert_ne!(first.1["id"], second.1["id"]);
    }
    app.finish();
}

/// A3, D6: each list of a patron's records answers 404 "patron not found"
/// for a patron who is not there, as the patron's own record does, not
/// an empty list that says nothing (issue 14: all eight answered 200 []).
async fn a3_a_missing_patrons_lists_are_not_found(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let missing = patron.id + 1_000_000;
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
            .get(&clerk, &format!("/api/v1/patrons/{}/{list}", patron.id))
            .await;
        assert_eq!(status, StatusCode::OK, "{list}: {body}");
        let (status, body) = app
            .get(&clerk, &format!("/api/v1/patrons/{missing}/{list}"))
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{list}: {body}"
        );
    }
    app.finish();
}

on_both_engines!(
    a3_a_missing_patrons_lists_are_not_found,
    d6_a_read_returns_only_the_personal_fields_of_its_purpose,
    n2_two_desks_registering_one_card_at_once_get_201_and_409,
    n4_registration_stores_only_declared_fields,
    c3_email_is_optional_and_removable,
    r3_minor_needs_an_adult_guardian
);
