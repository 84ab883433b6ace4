//! Issue 16 item 3: patrons on the staff pages: registered from the
//! policy's form (N4), changed in person with the kind of photo ID
//! recorded (A2), found by name only for a purpose (D6), cards renewed,
//! expired, blocked and unblocked with a reason.

use reqwest::StatusCode;

use crate::helpers::{Browser, Engine, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

async fn supervisor(app: &TestApp) -> Browser {
    let browser = app.browser();
    browser.staff_sign_in("supervisor").await;
    browser
}

/// N4: the form asks for what the policy declares and nothing else; a
/// field it does not declare is refused, with nothing written.
async fn n4_a_patron_is_registered_from_the_policys_form(engine: Engine) {
    for policy in [MISSOURI, COLORADO] {
        let app = TestApp::spawn_with(engine, policy).await;
        let browser = supervisor(&app).await;
        let form = browser.get("/staff/patrons/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let parsed = carrel_policy::parse("p", policy).unwrap();
        let declared = carrel_store::patrons::declared_inputs(&parsed);
        for input in declared.iter().filter(|i| i.key != "status") {
            assert!(
                form.html.contains(&format!("name=\"{}\"", input.key)),
                "{}",
                input.key
            );
        }
        assert!(!form.html.contains("name=\"status\""));
        let token = form.form_token();
        let before = app.raw_count("SELECT COUNT(*) FROM patrons");
        let mut fields = vec![
            ("form_token", token.as_str()),
            ("card_barcode", "29990000000042"),
            ("category", "adult"),
            ("expires_on", "2028-01-31"),
            ("name", "Perpetua Ngata"),
            ("address", "3 Mill Row, Hillsboro"),
        ];
        let mut extra = fields.clone();
        extra.push(("religion", "none of your business"));
        let refused = browser.post("/staff/patrons/new", &extra).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.html
        );
        assert!(refused.html.contains("not declared by the library"));
        assert!(!refused.html.contains("none of your business"));
        assert_eq!(app.raw_count("SELECT COUNT(*) FROM patrons"), before);
        // A required field missing: said on the form, nothing written.
        let missing: Vec<_> = fields
            .iter()
            .filter(|(k, _)| *k != "address")
            .cloned()
            .collect();
        let refused = browser.post("/staff/patrons/new", &missing).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.html.contains("id=\"form-problem\""));
        assert_eq!(app.raw_count("SELECT COUNT(*) FROM patrons"), before);
        fields.push(("phone", "555-0100-3131"));
        let done = browser.post("/staff/patrons/new", &fields).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        let page = browser.follow(&done).await;
        assert!(page.html.contains("Registered."));
        assert!(page.html.contains("Perpetua N."));
        assert!(!page.html.contains("Ngata"));
        assert_eq!(app.raw_count("SELECT COUNT(*) FROM patrons"), before + 1);
        app.finish();
    }
}

/// A2: a change in person to a detail the patron could only send as a
/// correction needs the kind of photo ID checked; without it, nothing is
/// changed (the step's write is rolled back, not kept).
async fn a2_details_change_in_person_only_with_a_photo_id(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk_token = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk_token).await;
    let browser = app.browser();
    browser.staff_sign_in("clerk").await;
    let path = format!("/staff/patrons/{}/edit", patron.id);
    let form = browser.get(&path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert!(
        !form.html.contains("Quarry Rd"),
        "the form shows nothing held"
    );
    let token = form.form_token();
    let address = || {
        app.raw_strings(&format!(
            "SELECT value FROM patron_fields WHERE patron_id = {} AND name = 'address'",
            patron.id
        ))
    };
    let before = address();
    let refused = browser
        .post(
            &path,
            &[("form_token", &token), ("address", "8 New Street, Arnold")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.html
    );
    assert!(refused.html.contains("photo ID"));
    assert_eq!(address(), before, "nothing changed");
    let done = browser
        .post(
            &path,
            &[
                ("form_token", &token),
                ("address", "8 New Street, Arnold"),
                ("photo_id", "passport"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(address(), ["8 New Street, Arnold"]);
    assert_eq!(
        app.raw_strings(&format!(
            "SELECT id_kind FROM corrections WHERE patron_id = {}",
            patron.id
        )),
        ["passport"]
    );
    // A new PIN, e-mail address, card or guardian would hand the account
    // (or a minor's records) to whoever asked: each needs a photo ID too.
    let pin = || {
        app.raw_strings(&format!(
            "SELECT COALESCE(pin_hash, '-') FROM patrons WHERE id = {}",
            patron.id
        ))
    };
    let before = pin();
    for (key, value) in [
        ("pin", "97531"),
        ("email", "someone.else@example.org"),
        ("card_barcode", "29770000000001"),
    ] {
        let refused = browser
            .post(&path, &[("form_token", &token), (key, value)])
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{key}");
        assert!(refused.html.contains("photo ID"), "{key}");
    }
    assert_eq!(pin(), before);
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM patron_fields WHERE patron_id = {} AND value = 'someone.else@example.org'",
            patron.id
        )),
        0
    );
    // What Carrel keeps itself cannot be written through an update: a
    // free-text "block reason", a made-up consent.
    let api = app.sign_in("clerk").await;
    for key in ["block_reason", "email_consent", "notices", "corrections"] {
        let (status, body) = app
            .call(
                Some(&api),
                "PATCH",
                &format!("/api/v1/patrons/{}", patron.id),
                Some(serde_json::json!({ key: "free text about the patron" })),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {body}");
        assert_eq!(body["error"]["code"], "kept_by_carrel", "{key}");
    }
    assert_eq!(
        app.raw_count(
            "SELECT COUNT(*) FROM patron_fields WHERE value = 'free text about the patron'"
        ),
        0
    );
    app.finish();
}

/// Cards are blocked with a reason from a closed list and unblocked,
/// renewed, and expired only with a confirmation.
async fn cards_are_blocked_renewed_and_expired_at_the_desk(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk_token = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk_token).await;
    let browser = app.browser();
    browser.staff_sign_in("clerk").await;
    let page = browser
        .get(&format!("/staff/desk/patrons/{}", patron.id))
        .await;
    let token = page.form_token();
    let status = || {
        app.raw_strings(&format!(
            "SELECT status || ' ' || COALESCE(block_reason, '-') || ' ' || expires_on FROM patrons WHERE id = {}",
            patron.id
        ))[0]
            .clone()
    };
    let block = format!("/staff/patrons/{}/block", patron.id);
    let refused = browser
        .post(
            &block,
            &[("form_token", &token), ("reason", "looked shifty")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(status().starts_with("active -"));
    let done = browser
        .post(&block, &[("form_token", &token), ("reason", "card_lost")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(status().starts_with("blocked card_lost"), "{}", status());
    let page = browser.follow(&done).await;
    assert!(page.html.contains("Blocked</span> (card lost)"));
    browser
        .post(&block, &[("form_token", &token), ("reason", "unblock")])
        .await;
    assert!(status().starts_with("active -"), "{}", status());

    let card = format!("/staff/patrons/{}/card", patron.id);
    // A renewal into the past would expire the card unconfirmed: refused.
    for date in ["2001-01-01", "2200-12-31", "soon"] {
        let refused = browser
            .post(
                &card,
                &[
                    ("form_token", &token),
                    ("action", "renew"),
                    ("expires_on", date),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{date}");
        assert!(status().ends_with("2027-12-31"), "{date}: {}", status());
    }
    let done = browser
        .post(
            &card,
            &[
                ("form_token", &token),
                ("action", "renew"),
                ("expires_on", "2029-03-31"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(status().ends_with("2029-03-31"));
    let refused = browser
        .post(&card, &[("form_token", &token), ("action", "expire")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(status().ends_with("2029-03-31"));
    let done = browser
        .post(
            &card,
            &[
                ("form_token", &token),
                ("action", "expire"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(!status().ends_with("2029-03-31"));
    app.finish();
}

/// D6: the patrons page finds by name only with a purpose, lists the
/// found masked, and the search is an audited read.
async fn d6_the_patrons_page_finds_by_name_only_for_a_purpose(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk_token = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk_token).await;
    let browser = app.browser();
    browser.staff_sign_in("clerk").await;
    let page = browser.get("/staff/patrons").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page.form_token();
    let family = patron.name.split(' ').nth(1).unwrap();
    let refused = browser
        .post(
            "/staff/patrons/search",
            &[("form_token", &token), ("name", family)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let found = browser
        .post(
            "/staff/patrons/search",
            &[
                ("form_token", &token),
                ("name", family),
                ("purpose", "account"),
            ],
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.html);
    assert!(found
        .html
        .contains(&format!("href=\"/staff/desk/patrons/{}\"", patron.id)));
    assert!(found.html.contains("Ottoline V."));
    assert!(!found.html.contains(family));
    app.finish();
}

on_both_engines!(
    n4_a_patron_is_registered_from_the_policys_form,
    a2_details_change_in_person_only_with_a_photo_id,
    cards_are_blocked_renewed_and_expired_at_the_desk,
    d6_the_patrons_page_finds_by_name_only_for_a_purpose
);
