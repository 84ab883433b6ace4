//! Issue 15 items 5 and 6: the patron's choices (C1, C3, C4) and
//! corrections (A2), from the pages, on both engines.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{contains, database_bytes, Browser, Engine, TestApp, MISSOURI};
use crate::on_both_engines;

const PIN: &str = crate::helpers::PATRON_PIN;

async fn signed_in(app: &TestApp, card: &str) -> (Browser, String) {
    let browser = app.browser();
    let answer = browser.patron_sign_in(card, PIN).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.html);
    let token = browser.get("/my/choices").await.form_token();
    (browser, token)
}

/// C3: a patron adds, changes and removes their e-mail address online;
/// removal takes effect at once, and the old address is nowhere Carrel
/// keeps it: not in the tables, not in the audit log, and (SQLite) not
/// in the database files within seconds.
async fn c3_an_email_removed_online_is_gone_at_once(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let (browser, token) = signed_in(&app, &patron.barcode).await;
    let changed = format!("changed.{}", patron.email);
    app.note_personal(&[&changed]);
    let saved = browser
        .post("/my/email", &[("form_token", &token), ("email", &changed)])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let page = browser.get("/my/choices").await;
    assert!(page.html.contains(&changed));
    // Account notices by e-mail: only those chosen.
    let noticed = browser
        .post("/my/notices", &[("form_token", &token), ("overdue", "on")])
        .await;
    assert_eq!(noticed.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.raw_strings(&format!(
            "SELECT notices FROM patrons WHERE id = {}",
            patron.id
        )),
        ["overdue"]
    );
    // Reading history: neither seed offers it, and the page says so.
    assert!(page.html.contains("id=\"reading-history\">Not offered."));
    let removed = browser
        .post("/my/email/removal", &[("form_token", &token)])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let page = browser.get("/my/choices").await;
    assert!(page.html.contains("No e-mail address is kept."));
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM patrons WHERE id = {} AND notices IS NOT NULL",
            patron.id
        )),
        0,
        "the notices chosen go with the address"
    );
    for sql in [
        format!("SELECT COUNT(*) FROM patron_fields WHERE patron_id = {} AND name = 'email'", patron.id),
        format!("SELECT COUNT(*) FROM patrons WHERE id = {} AND (email_consent_at IS NOT NULL OR email_consent_covers IS NOT NULL)", patron.id),
    ] {
        assert_eq!(app.raw_count(&sql), 0, "{sql}");
    }
    let audit = app.raw_audit_text();
    for address in [&patron.email, &changed] {
        assert!(
            !audit.contains(address.as_str()),
            "the audit log names no address"
        );
    }
    if let Some(path) = app.sqlite_path() {
        let started = Instant::now();
        while [&patron.email, &changed]
            .iter()
            .any(|a| contains(&database_bytes(&path), a))
        {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "a removed address is still in the database files after 15 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    app.finish();
}

/// C1, C4: joining a list online is opt-in and records the consent with
/// the policy version; a policy change to what it covers asks the patron
/// again at sign-in, and until they answer nothing is sent under it (the
/// list's recipients leave them out). Keeping it records the new version;
/// the e-mail consent, whose coverage did not change, is not asked again.
async fn c1_a_consent_is_asked_again_when_the_policy_changes_what_it_covers(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let (status, list) = app
        .post(
            &clerk,
            "/api/v1/mailing-lists",
            json!({"name": "Story time news", "description": "Programs for children"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    let list_id = list["id"].as_i64().unwrap();
    let (browser, token) = signed_in(&app, &patron.barcode).await;
    let joined = browser
        .post(
            &format!("/my/lists/{list_id}/subscription"),
            &[("form_token", &token)],
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.html);
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM list_subscriptions WHERE patron_id = {} AND consent_policy_version = 1 AND consent_covers IS NOT NULL",
            patron.id
        )),
        1
    );
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM patrons WHERE id = {} AND email_consent_policy_version = 1",
            patron.id
        )),
        1,
        "the e-mail given at registration carries its consent"
    );
    let (_, seen) = app
        .get(&clerk, &format!("/api/v1/mailing-lists/{list_id}"))
        .await;
    assert_eq!(
        (seen["subscribers"].as_i64(), seen["recipients"].as_i64()),
        (Some(1), Some(1))
    );

    let changed = MISSOURI.replace(
        "retention = { clock = \"list_last_active\", keep = \"6 months\", dispose = \"delete\" }",
        "retention = { clock = \"list_last_active\", keep = \"12 months\", dispose = \"delete\" }",
    );
    assert_ne!(changed, MISSOURI);
    app.restart_with_policy(&changed).await;
    let clerk = app.sign_in("clerk").await;
    let (_, seen) = app
        .get(&clerk, &format!("/api/v1/mailing-lists/{list_id}"))
        .await;
    assert_eq!(
        (seen["subscribers"].as_i64(), seen["recipients"].as_i64()),
        (Some(1), Some(0)),
        "nothing is sent under a consent the policy changed"
    );
    let browser = app.browser();
    let answer = browser.patron_sign_in(&patron.barcode, PIN).await;
    assert_eq!(
        answer.location.as_deref(),
        Some("/my/consents"),
        "asked again at sign-in"
    );
    let page = browser.get("/my/consents").await;
    assert!(page.html.contains("Story time news"), "{}", page.html);
    assert!(page.html.contains("12 months"), "what it covers now");
    assert!(
        !page.html.contains("/my/consents/email"),
        "the e-mail consent did not change"
    );
    let subscription = app.raw_count(&format!(
        "SELECT id FROM list_subscriptions WHERE patron_id = {}",
        patron.id
    ));
    let kept = browser
        .post(
            &format!("/my/consents/subscriptions/{subscription}"),
            &[("form_token", &page.form_token()), ("answer", "keep")],
        )
        .await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.html);
    assert_eq!(
        app.raw_count(&format!(
            "SELECT consent_policy_version FROM list_subscriptions WHERE id = {subscription}"
        )),
        2
    );
    let (_, seen) = app
        .get(&clerk, &format!("/api/v1/mailing-lists/{list_id}"))
        .await;
    assert_eq!(seen["recipients"].as_i64(), Some(1));
    assert_eq!(
        browser
            .patron_sign_in(&patron.barcode, PIN)
            .await
            .location
            .as_deref(),
        Some("/my")
    );
    app.finish();
}

/// C4: a patron leaves a list online: the subscription is deleted.
async fn c4_a_patron_leaves_a_mailing_list_online(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let other = app.new_patron(&clerk).await;
    let (_, list) = app
        .post(
            &clerk,
            "/api/v1/mailing-lists",
            json!({"name": "Book club", "description": "Monthly"}),
        )
        .await;
    let list_id = list["id"].as_i64().unwrap();
    let (_, theirs) = app
        .post(
            &clerk,
            &format!("/api/v1/mailing-lists/{list_id}/subscriptions"),
            json!({"patron_id": other.id}),
        )
        .await;
    let (browser, token) = signed_in(&app, &patron.barcode).await;
    browser
        .post(
            &format!("/my/lists/{list_id}/subscription"),
            &[("form_token", &token)],
        )
        .await;
    let mine = app.raw_count(&format!(
        "SELECT id FROM list_subscriptions WHERE patron_id = {}",
        patron.id
    ));
    let refused = browser
        .post(
            &format!("/my/subscriptions/{}/removal", theirs["id"]),
            &[("form_token", &token)],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::NOT_FOUND,
        "another patron's subscription"
    );
    let left = browser
        .post(
            &format!("/my/subscriptions/{mine}/removal"),
            &[("form_token", &token)],
        )
        .await;
    assert_eq!(left.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM list_subscriptions WHERE list_id = {list_id}"
        )),
        1
    );
    app.finish();
}

/// A2: a correction sent online is pending (and shown so) until staff
/// verify it; approving needs the kind of photo ID checked, and records it
/// (never a number) with who decided; the value asked for is then
/// cleared. Fields the policy does not open to online correction are
/// refused.
async fn a2_a_correction_waits_for_staff_who_record_the_kind_of_photo_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let (browser, token) = signed_in(&app, &patron.barcode).await;
    let new_address = format!("9 Willow Lane, De Soto {}", patron.id);
    app.note_personal(&[&new_address]);
    let refused = browser
        .post(
            "/my/corrections",
            &[
                ("form_token", &token),
                ("field", "card_barcode"),
                ("value", "29000000000001"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let sent = browser
        .post(
            "/my/corrections",
            &[
                ("form_token", &token),
                ("field", "address"),
                ("value", &new_address),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    let page = browser.get("/my/choices").await;
    assert!(page.html.contains("pending verification") && page.html.contains(&new_address));
    let (_, record) = app
        .get(&clerk, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_ne!(
        record["fields"]["address"],
        new_address.as_str(),
        "not applied before verification"
    );

    let counsel = app.sign_in("legal_counsel").await;
    assert_eq!(
        app.get_text(&counsel, "/staff/corrections").await.0,
        StatusCode::FORBIDDEN,
        "a role that may only read registrations has no task in the queue"
    );
    let auditor = app.sign_in("auditor").await;
    assert_eq!(
        app.get_text(&auditor, "/staff/corrections").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, queue) = app.get_text(&clerk, "/staff/corrections").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains(&new_address));
    // D6: the patron shows masked, as at the desk.
    assert!(queue.contains("Ottoline V."), "{queue}");
    assert!(!queue.contains(&patron.name), "{queue}");
    assert!(!queue.contains(&patron.barcode), "{queue}");
    let id = app.raw_count(&format!(
        "SELECT id FROM corrections WHERE patron_id = {}",
        patron.id
    ));
    let path = format!("/staff/corrections/{id}");
    let (status, _) = app
        .post_form(&clerk, &path, &[("decision", "approve"), ("id_kind", "")])
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "approval needs the kind of photo ID"
    );
    let (status, _) = app
        .post_form(
            &clerk,
            &path,
            &[("decision", "approve"), ("id_kind", "driver_license")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "back on the queue, which follows the form"
    );
    let (_, record) = app
        .get(&clerk, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(record["fields"]["address"], new_address.as_str());
    assert_eq!(
        app.raw_strings(&format!("SELECT state || ',' || id_kind || ',' || COALESCE(value, 'cleared') FROM corrections WHERE id = {id}")),
        ["approved,driver_license,cleared"]
    );
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM corrections WHERE id = {id} AND decided_by IS NOT NULL"
        )),
        1
    );
    let (status, _) = app
        .post_form(&clerk, &path, &[("decision", "reject")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "decided once");

    // A correction changed after staff opened it: the one they saw is no
    // longer pending, so approving it approves nothing unseen.
    let token = browser.get("/my/choices").await.form_token();
    let mut seen = Vec::new();
    for value in ["1 First St, Herculaneum", "2 Second St, Herculaneum"] {
        app.note_personal(&[value]);
        browser
            .post(
                "/my/corrections",
                &[
                    ("form_token", &token),
                    ("field", "address"),
                    ("value", value),
                ],
            )
            .await;
        // What staff would see now: the one waiting.
        seen.push(app.raw_count(&format!(
            "SELECT id FROM corrections WHERE patron_id = {} AND state = 'pending'",
            patron.id
        )));
    }
    let first = seen[0];
    let (status, _) = app
        .post_form(
            &clerk,
            &format!("/staff/corrections/{first}"),
            &[("decision", "approve"), ("id_kind", "passport")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the value staff saw was replaced"
    );
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM corrections WHERE patron_id = {} AND state = 'pending'",
            patron.id
        )),
        1,
        "one correction waits per field, the newest"
    );
    app.finish();
}

/// A2: a desk change to a patron's identity details needs the kind of
/// photo ID checked, and is recorded with it and who made it.
async fn a2_an_in_person_update_needs_the_kind_of_photo_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let path = format!("/api/v1/patrons/{}", patron.id);
    let (status, body) = app
        .call(
            Some(&clerk),
            "PATCH",
            &path,
            Some(json!({"address": "5 Oak Ct, Arnold"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "photo_id_required");
    let (status, body) = app
        .call(
            Some(&clerk),
            "PATCH",
            &path,
            Some(json!({"address": "5 Oak Ct, Arnold", "photo_id": "wallet"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .call(
            Some(&clerk),
            "PATCH",
            &path,
            Some(json!({"address": "5 Oak Ct, Arnold", "photo_id": "passport"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.raw_strings(&format!("SELECT field || ',' || id_kind || ',' || CAST(online AS TEXT) FROM corrections WHERE patron_id = {}", patron.id)),
        ["address,passport,0"]
    );
    // An e-mail change is the patron's choice, not an identity change.
    let (status, _) = app
        .call(Some(&clerk), "PATCH", &path, Some(json!({"email": null})))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.finish();
}

on_both_engines!(
    c3_an_email_removed_online_is_gone_at_once,
    c1_a_consent_is_asked_again_when_the_policy_changes_what_it_covers,
    c4_a_patron_leaves_a_mailing_list_online,
    a2_a_correction_waits_for_staff_who_record_the_kind_of_photo_id,
    a2_an_in_person_update_needs_the_kind_of_photo_id,
);
