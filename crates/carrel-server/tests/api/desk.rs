//! The circulation desk's pages (issue 16): sign in and back, scan a card,
//! the mask and an audited reveal (D6), checkout, renew, the slip, and
//! checkin with a hold routed to the hold shelf.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Browser, Engine, Page, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

/// Scans `card` at the desk and lands on the patron's page.
async fn scan(browser: &Browser, card: &str) -> (String, Page) {
    let desk = browser.get("/staff/desk").await;
    assert_eq!(desk.status, StatusCode::OK, "{}", desk.html);
    let token = desk.form_token();
    let scanned = browser
        .post(
            "/staff/desk",
            &[("form_token", &token), ("card_barcode", card)],
        )
        .await;
    assert_eq!(scanned.status, StatusCode::SEE_OTHER, "{}", scanned.html);
    let path = scanned.location.clone().unwrap();
    assert!(
        !path.contains(card),
        "the card never goes into an address: {path}"
    );
    let page = browser.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    (path, page)
}

/// Issue 16 item 1: a staff page reached without a session sends the
/// browser to sign in, and back to that page after; the `next` it
/// carries names only a staff page of this site.
async fn d6_a_staff_page_without_a_session_signs_in_and_comes_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let browser = app.browser();
    let page = browser.get("/staff/desk").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location.as_deref(),
        Some("/staff/sign-in?next=/staff/desk")
    );
    let form = browser.follow(&page).await;
    assert!(form.html.contains("name=\"next\" value=\"/staff/desk\""));
    let token = form.form_token();
    let username = "clerk".to_string();
    let password = crate::helpers::password("clerk");
    let signed_in = browser
        .post(
            "/staff/sign-in",
            &[
                ("form_token", &token),
                ("username", &username),
                ("password", &password),
                ("next", "/staff/desk"),
            ],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location.as_deref(), Some("/staff/desk"));

    // Anywhere else is /staff: another host, a scheme, a query, a path
    // that climbs out.
    for next in [
        "//evil.example/staff",
        "https://evil.example/",
        "/staff/../my",
        "/staff?x=1",
        "/my",
        "/staff/sign-in",
    ] {
        let other = app.browser();
        let form = other.get("/staff/sign-in").await;
        let token = form.form_token();
        let page = other
            .post(
                "/staff/sign-in",
                &[
                    ("form_token", &token),
                    ("username", &username),
                    ("password", &password),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(page.location.as_deref(), Some("/staff"), "{next}");
        let shown = other
            .get(&format!("/staff/sign-in?next={}", next.replace('?', "%3F")))
            .await;
        assert!(!shown.html.contains("name=\"next\""), "{next}");
    }
    app.finish();
}

/// D6: the desk shows what lending needs, the name shortened and the card
/// masked as the policy's display rule says; the address, phone, e-mail
/// and birth date appear only when revealed for a purpose, on that answer
/// only, and the reveal is in the audit log with its purpose.
async fn d6_the_desk_masks_the_patron_until_a_purpose_reveals_more(engine: Engine) {
    for policy in [MISSOURI, COLORADO] {
        let app = TestApp::spawn_with(engine, policy).await;
        let clerk = app.sign_in("clerk").await;
        let patron = app
            .new_patron_with(
                &clerk,
                json!({"phone": "555-0100-4242", "birth_date": "1985-07-09"}),
            )
            .await;
        let browser = app.browser();
        browser.staff_sign_in("clerk").await;
        let (path, page) = scan(&browser, &patron.barcode).await;
        assert_eq!(path, format!("/staff/desk/patrons/{}", patron.id));
        let family = patron.name.split(' ').nth(1).unwrap();
        assert!(page.html.contains("Ottoline V."), "{}", page.html);
        let last_four = &patron.barcode[patron.barcode.len() - 4..];
        assert!(page.html.contains(&format!("••••{last_four}")));
        for hidden in [
            family,
            patron.barcode.as_str(),
            patron.email.as_str(),
            "555-0100-4242",
            "1985-07-09",
            "Quarry Rd",
        ] {
            assert!(
                !page.html.contains(hidden),
                "{hidden} shown before a reveal"
            );
        }
        assert!(page.html.contains("Valid through 2027-12-31"));

        // Reveal for notices: the phone and e-mail, nothing else.
        let token = page.form_token();
        let revealed = browser
            .post(
                &format!("{path}/reveal"),
                &[("form_token", &token), ("purpose", "account_notices")],
            )
            .await;
        assert_eq!(revealed.status, StatusCode::OK);
        assert!(revealed.html.contains(&patron.email));
        assert!(revealed.html.contains("555-0100-4242"));
        assert!(!revealed.html.contains("1985-07-09"));
        assert!(!revealed.html.contains(family));
        let audited = app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE record_id = 'patron:{}' AND purpose = 'account_notices' AND detail = 'revealed at the desk' AND decision = 'granted'",
            patron.id
        ));
        assert_eq!(audited, 1);

        // Gone on the next answer.
        let again = browser.get(&path).await;
        assert!(!again.html.contains(&patron.email));

        // No purpose, or one the policy does not declare for registrations:
        // nothing shown.
        for purpose in ["", "circulation", "curiosity"] {
            let refused = browser
                .post(
                    &format!("{path}/reveal"),
                    &[("form_token", &token), ("purpose", purpose)],
                )
                .await;
            assert_ne!(refused.status, StatusCode::OK, "{purpose}");
            assert!(!refused.html.contains(&patron.email), "{purpose}");
        }
        app.finish();
    }
}

/// Issue 16 item 2: a day at the desk: scan a card, scan items out (with
/// titles and due dates in the list), a refusal shown on the page ready for
/// the next scan with nothing written, renew, print the slip, and check in
/// with a hold routed to the hold shelf for the next patron.
async fn a_day_at_the_desk(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let first = app.new_patron(&clerk).await;
    let second = app.new_patron(&clerk).await;
    let item = app.new_item().await;
    let browser = app.browser();
    browser.staff_sign_in("clerk").await;
    let (path, page) = scan(&browser, &first.barcode).await;
    assert!(page.html.contains("id=\"no-loans\""));
    let token = page.form_token();

    // Checkout.
    let lent = browser
        .post(
            &format!("{path}/checkout"),
            &[("form_token", &token), ("item_barcode", &item)],
        )
        .await;
    assert_eq!(lent.status, StatusCode::SEE_OTHER, "{}", lent.html);
    let page = browser.follow(&lent).await;
    assert!(page.html.contains("Checked out"));
    assert!(page.html.contains("The Quiet Atlas"));
    assert!(page.html.contains(&item));

    // A refusal: an unknown item, then the same item again. The page says
    // why and nothing is written.
    let loans = app.raw_count("SELECT COUNT(*) FROM loans");
    for (barcode, status, says) in [
        (
            "39999999999999",
            StatusCode::NOT_FOUND,
            "No item has that barcode",
        ),
        (item.as_str(), StatusCode::CONFLICT, "already on loan"),
    ] {
        let refused = browser
            .post(
                &format!("{path}/checkout"),
                &[("form_token", &token), ("item_barcode", barcode)],
            )
            .await;
        assert_eq!(refused.status, status, "{}", refused.html);
        assert!(refused.html.contains(says), "{}", refused.html);
        assert!(refused.html.contains("id=\"item_barcode\""));
    }
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM loans"), loans);

    // The slip lists today's item and its due date, and no name.
    let slip = browser.get(&format!("{path}/slip")).await;
    assert_eq!(slip.status, StatusCode::OK);
    assert!(slip.html.contains("The Quiet Atlas"));
    assert!(!slip.html.contains("Ottoline"));

    // Renew (a day later, so the due date moves).
    app.advance(chrono::Duration::days(1));
    browser.staff_sign_in("clerk").await;
    let page = browser.get(&path).await;
    let token = page.form_token();
    let loan_id = app.raw_count(&format!(
        "SELECT id FROM loans WHERE patron_id = {} AND returned_at IS NULL",
        first.id
    ));
    let renewed = browser
        .post(
            &format!("{path}/renewal"),
            &[("form_token", &token), ("loan_id", &loan_id.to_string())],
        )
        .await;
    assert_eq!(renewed.status, StatusCode::SEE_OTHER, "{}", renewed.html);
    assert_eq!(
        app.raw_count(&format!("SELECT renewals FROM loans WHERE id = {loan_id}")),
        1
    );
    // Another patron's page cannot renew this loan.
    let (other_path, other) = scan(&browser, &second.barcode).await;
    let refused = browser
        .post(
            &format!("{other_path}/renewal"),
            &[
                ("form_token", &other.form_token()),
                ("loan_id", &loan_id.to_string()),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.raw_count(&format!("SELECT renewals FROM loans WHERE id = {loan_id}")),
        1
    );

    // The second patron places a hold; the return routes the item to the
    // hold shelf for them, named by masked card and short name.
    let clerk = app.sign_in("clerk").await;
    let (status, body) = app
        .post(
            &clerk,
            "/api/v1/holds",
            json!({"patron_barcode": second.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let form = browser.get("/staff/desk/checkin").await;
    assert_eq!(form.status, StatusCode::OK);
    let back = browser
        .post(
            "/staff/desk/checkin",
            &[("form_token", &form.form_token()), ("item_barcode", &item)],
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.html);
    assert!(
        back.html.contains("put it on the hold shelf"),
        "{}",
        back.html
    );
    let last_four = &second.barcode[second.barcode.len() - 4..];
    assert!(back.html.contains(&format!("••••{last_four} Ottoline V.")));
    assert!(!back.html.contains(&second.name));
    // The second patron's page shows it ready.
    let (_, page) = scan(&browser, &second.barcode).await;
    assert!(page.html.contains("id=\"holds-ready\""));
    assert!(page.html.contains("The Quiet Atlas"));
    // Checked in again: not on loan, said so.
    let again = browser
        .post(
            "/staff/desk/checkin",
            &[("form_token", &form.form_token()), ("item_barcode", &item)],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.html.contains("not on loan"));

    // A hold on an item on the shelf: on the pull list (no patron named)
    // until scanned in, which traps it.
    let shelf = app.new_item().await;
    let (status, _) = app
        .post(
            &clerk,
            "/api/v1/holds",
            json!({"patron_id": first.id, "item_barcode": shelf}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let list = browser.get("/staff/desk/pull-list").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.html.contains(&shelf));
    assert!(!list.html.contains("Ottoline"));
    let trapped = browser
        .post(
            "/staff/desk/checkin",
            &[("form_token", &form.form_token()), ("item_barcode", &shelf)],
        )
        .await;
    assert_eq!(trapped.status, StatusCode::OK, "{}", trapped.html);
    assert!(trapped.html.contains("Pulled from the shelf"));
    assert!(trapped.html.contains("put it on the hold shelf"));
    let list = browser.get("/staff/desk/pull-list").await;
    assert!(!list.html.contains(&shelf));
    app.finish();
}

/// Issue 16 item 1: the menu offers the desk only to roles that may lend,
/// and a role that may not cannot reach it, or the Director's pages, by
/// address.
async fn d6_roles_reach_only_their_pages(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.browser();
    clerk.staff_sign_in("clerk").await;
    let home = clerk.get("/staff").await;
    assert!(home.html.contains("href=\"/staff/desk\""));
    assert!(!home.html.contains("href=\"/staff/privacy\""));
    assert_eq!(
        clerk.get("/staff/privacy").await.status,
        StatusCode::FORBIDDEN
    );

    let auditor = app.browser();
    auditor.staff_sign_in("auditor").await;
    let home = auditor.get("/staff").await;
    assert!(!home.html.contains("href=\"/staff/desk\""));
    assert_eq!(
        auditor.get("/staff/desk").await.status,
        StatusCode::FORBIDDEN
    );
    let patron = app.new_patron(&app.sign_in("clerk").await).await;
    let denied = || app.raw_count("SELECT COUNT(*) FROM audit_log WHERE decision = 'denied'");
    let before = denied();
    let page = auditor
        .get(&format!("/staff/desk/patrons/{}", patron.id))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.html.contains("Ottoline"));
    assert!(denied() > before, "a page's refusal is in the audit log");

    // Counsel reads registrations for the requests it reviews, but does
    // not browse patrons at the desk.
    let counsel = app.browser();
    counsel.staff_sign_in("legal_counsel").await;
    let form = counsel.get("/staff/patrons").await;
    let scanned = counsel
        .post(
            "/staff/desk",
            &[
                ("form_token", &form.form_token()),
                ("card_barcode", &patron.barcode),
            ],
        )
        .await;
    assert_eq!(scanned.status, StatusCode::FORBIDDEN, "{}", scanned.html);
    for path in [
        format!("/staff/desk/patrons/{}", patron.id),
        "/staff/desk/checkin".to_string(),
        "/staff/desk/pull-list".to_string(),
    ] {
        assert_eq!(
            counsel.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    app.finish();
}

on_both_engines!(
    d6_a_staff_page_without_a_session_signs_in_and_comes_back,
    d6_the_desk_masks_the_patron_until_a_purpose_reveals_more,
    a_day_at_the_desk,
    d6_roles_reach_only_their_pages
);
