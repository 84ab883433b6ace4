//! Issue 15: the public notice, the patron's pages and the form guard, as
//! a browser meets them (cookies, forms, redirects), on both engines and
//! under both policies. The same pages run in a real browser in
//! `tests/browser`.

use reqwest::StatusCode;
use serde_json::json;

use crate::gag_twins::{alike_without_and_with_the_case, POLICIES};
use crate::helpers::{Engine, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

/// Text as the pages' templates write it (askama's HTML escaping).
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

const PIN: &str = crate::helpers::PATRON_PIN;

/// N1: the notice is public (no sign-in) and says every class, every
/// field with its reason, every retention rule, every ground for
/// disclosure with its law, and how to complain, from the policy the
/// server enforces.
async fn n1_the_notice_is_public_and_says_every_rule(engine: Engine) {
    for (name, source) in POLICIES {
        let app = TestApp::spawn_with(engine, source).await;
        let page = app.browser().get("/privacy").await;
        assert_eq!(page.status, StatusCode::OK, "{name}");
        let policy = carrel_policy::parse("policy", source).unwrap();
        let notice = carrel_policy::notice::Notice::of(&policy);
        for class in &notice.classes {
            assert!(
                page.html.contains(&escaped(&class.description)),
                "{name}: {}",
                class.name
            );
            if let Some(rule) = &class.retention {
                assert!(page.html.contains(&escaped(rule)), "{name}: {rule}");
            }
            for field in &class.fields {
                assert!(
                    page.html
                        .contains(&format!("data-field=\"{}\"", field.name)),
                    "{name}: {}.{}",
                    class.name,
                    field.name
                );
            }
            for (why, _) in class.by_reason() {
                assert!(page.html.contains(&escaped(&why)), "{name}: {why}");
            }
        }
        for basis in policy.disclosure.bases.values() {
            assert!(
                page.html.contains(&escaped(&basis.citation)),
                "{name}: {}",
                basis.citation
            );
        }
        assert!(
            page.html.contains(&escaped(&policy.patrons.complaints)),
            "{name}"
        );
        assert!(
            page.html.contains("<html lang=\"en\">") && page.html.contains("name=\"viewport\"")
        );
        app.finish();
    }
}

/// N2: a policy change served is a new version; the notice names it, the
/// version before stays readable, and the changes are listed.
async fn n2_a_changed_policy_is_a_new_version_and_the_old_one_stays(engine: Engine) {
    let mut app = TestApp::spawn(engine).await;
    let first = app.browser().get("/privacy").await;
    assert!(
        first.html.contains("Version <strong>1</strong>"),
        "{}",
        first.html
    );
    let changed = MISSOURI.replace(
        "retention = { clock = \"loan_returned\", keep = \"60 days\", dispose = \"delete\" }",
        "retention = { clock = \"loan_returned\", keep = \"30 days\", dispose = \"delete\" }",
    );
    assert_ne!(changed, MISSOURI);
    app.restart_with_policy(&changed).await;
    let browser = app.browser();
    let now = browser.get("/privacy").await;
    assert!(
        now.html.contains("Version <strong>2</strong>"),
        "{}",
        now.html
    );
    assert!(now
        .html
        .contains("Destroyed 30 days after the item is returned"));
    assert!(
        now.html.contains("id=\"changes\""),
        "the version in force lists its changes"
    );
    assert!(now
        .html
        .contains("was: Destroyed 60 days after the item is returned"));
    let old = browser.get("/privacy/versions/1").await;
    assert_eq!(old.status, StatusCode::OK);
    assert!(old.html.contains("not the notice in force today"));
    assert!(old
        .html
        .contains("Destroyed 60 days after the item is returned"));
    let list = browser.get("/privacy/versions").await;
    assert!(
        list.html.contains("href=\"/privacy/versions/1\"")
            && list.html.contains("href=\"/privacy/versions/2\"")
    );
    for missing in [
        "/privacy/versions/3",
        "/privacy/versions/0",
        "/privacy/versions/x",
    ] {
        assert_eq!(
            browser.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    app.finish();
}

/// C2, A1: a patron signs in on the page with card and PIN, and lands on
/// My account: a session cookie that is HttpOnly and SameSite=Strict, the
/// card masked, loans with a renew form. Signing out ends the session.
async fn c2_a_patron_signs_in_on_the_page_and_sees_the_account(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
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
    let browser = app.browser();
    let signed_in = browser.patron_sign_in(&patron.barcode, PIN).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.html
    );
    assert_eq!(signed_in.location.as_deref(), Some("/my"));
    let account = browser.get("/my").await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.html);
    assert!(
        !account.html.contains(&patron.barcode),
        "the card number is masked"
    );
    assert!(
        !account.html.contains(&patron.name),
        "no name in the page's frame or account view"
    );
    let last4 = &patron.barcode[patron.barcode.len() - 4..];
    assert!(account.html.contains(&format!("••••{last4}")));
    let loan_id = loan["id"].as_i64().unwrap();
    assert!(
        account
            .html
            .contains(&format!("/my/loans/{loan_id}/renewal")),
        "{}",
        account.html
    );
    let renewed = browser
        .post(
            &format!("/my/loans/{loan_id}/renewal"),
            &[("form_token", &account.form_token())],
        )
        .await;
    assert_eq!(renewed.status, StatusCode::SEE_OTHER, "{}", renewed.html);
    assert_eq!(
        app.raw_count(&format!("SELECT renewals FROM loans WHERE id = {loan_id}")),
        1
    );
    let out = browser
        .post("/my/sign-out", &[("form_token", &account.form_token())])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get("/my").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM patron_sessions WHERE patron_id = {}",
            patron.id
        )),
        0
    );
    app.finish();
}

/// C2: a failed sign-in says the same whatever was wrong (no such card, a
/// wrong PIN, a blocked card), and never whether the card exists.
async fn c2_a_failed_sign_in_never_says_whether_the_card_exists(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let mut answers = Vec::new();
    for (card, pin) in [
        (patron.barcode.as_str(), "0000"),
        ("29999999999999", PIN),
        ("bad card!", PIN),
    ] {
        let page = app.browser().patron_sign_in(card, pin).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{card}");
        let problem = page
            .html
            .split("id=\"sign-in-problem\"")
            .nth(1)
            .and_then(|rest| rest.split("</div>").next())
            .unwrap()
            .to_string();
        answers.push(problem);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    app.finish();
}

/// CSRF: a form is refused, and nothing done, when it comes from another
/// site (Sec-Fetch-Site, or an Origin naming another host), carries no
/// token or another browser's, or is not a form; the sign-in form too.
async fn csrf_forms_from_elsewhere_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let browser = app.browser();
    assert_eq!(
        browser.patron_sign_in(&patron.barcode, PIN).await.status,
        StatusCode::SEE_OTHER
    );
    let account = browser.get("/my").await;
    let token = account.form_token();
    let stranger = app.browser();
    let stranger_token = stranger.get("/my/sign-in").await.form_token();
    let own_browser_token = browser.get("/my/sign-in").await.form_token();
    for (fields, headers, why) in [
        (
            vec![("form_token", token.as_str())],
            vec![("sec-fetch-site", "cross-site")],
            "another site",
        ),
        (
            vec![("form_token", token.as_str())],
            vec![("sec-fetch-site", "same-site")],
            "a sibling site",
        ),
        (
            vec![("form_token", token.as_str())],
            vec![("origin", "https://evil.example")],
            "another origin",
        ),
        (vec![], vec![], "no token"),
        (vec![("form_token", "0000")], vec![], "a made-up token"),
        (
            vec![("form_token", stranger_token.as_str())],
            vec![],
            "another browser's token",
        ),
        (
            vec![("form_token", own_browser_token.as_str())],
            vec![],
            "this browser's sign-in token, not its session's",
        ),
    ] {
        let page = browser.post_with("/my/sign-out", &fields, &headers).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{why}");
        assert!(page.html.contains("Nothing was done"), "{why}");
    }
    assert_eq!(
        browser.get("/my").await.status,
        StatusCode::OK,
        "still signed in"
    );
    // The sign-in form, from another site, does not sign anyone in.
    let sign_in = stranger
        .post_with(
            "/my/sign-in",
            &[
                ("form_token", &stranger_token),
                ("card_barcode", &patron.barcode),
                ("pin", PIN),
            ],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(sign_in.status, StatusCode::FORBIDDEN);
    // An empty secret is no secret: the token made from it opens nothing.
    let empty = reqwest::Client::new()
        .post(format!("{}/my/sign-in", browser.base))
        .header("cookie", "carrel_form=")
        .form(&[
            ("form_token", carrel_server::pages::form_token("").as_str()),
            ("card_barcode", patron.barcode.as_str()),
            ("pin", PIN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), StatusCode::FORBIDDEN);
    // Not a form at all.
    let json = browser
        .client
        .post(format!("{}/my/sign-out", browser.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        browser.get("/my").await.status,
        StatusCode::OK,
        "still signed in"
    );
    app.finish();
}

/// A1: a patron's forms reach only their own records: renewing another
/// patron's loan or cancelling their hold is "not found", and changes
/// nothing.
async fn a1_a_patron_cannot_touch_another_patrons_loans_or_holds(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let mallory = app.online_patron(&clerk).await;
    let victim = app.new_patron(&clerk).await;
    let item = app.new_item().await;
    let (_, loan) = app
        .post(
            &clerk,
            "/api/v1/checkouts",
            json!({"patron_barcode": victim.barcode, "item_barcode": item}),
        )
        .await;
    let loan_id = loan["id"].as_i64().unwrap();
    let other = app.new_item().await;
    let (status, hold) = app
        .post(
            &clerk,
            "/api/v1/holds",
            json!({"patron_barcode": victim.barcode, "item_barcode": other}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    let hold_id = hold["id"].as_i64().unwrap();
    let browser = app.browser();
    browser.patron_sign_in(&mallory.barcode, PIN).await;
    let token = browser.get("/my").await.form_token();
    for path in [
        format!("/my/loans/{loan_id}/renewal"),
        format!("/my/holds/{hold_id}/cancellation"),
        "/my/loans/999999999/renewal".to_string(),
        "/my/loans/nope/renewal".to_string(),
    ] {
        let page = browser.post(&path, &[("form_token", &token)]).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
    }
    assert_eq!(
        app.raw_count(&format!("SELECT renewals FROM loans WHERE id = {loan_id}")),
        0
    );
    assert_eq!(
        app.raw_strings(&format!("SELECT status FROM holds WHERE id = {hold_id}")),
        ["waiting"],
        "the hold waits for the item to be pulled from the shelf, and stays so"
    );
    app.finish();
}

/// A1, A3, D7: My data shows the patron's records with when each will be
/// destroyed, who used them (the staff role and purpose, never a name),
/// and opening it is itself audited under the patron.
async fn a3_my_data_shows_records_and_who_looked_by_role_never_name(engine: Engine) {
    let app = TestApp::spawn_with(engine, COLORADO).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let item = app.new_item().await;
    app.lend_and_return(&clerk, &patron.barcode, &item).await;
    let (status, _) = app
        .get(&clerk, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let browser = app.browser();
    browser.patron_sign_in(&patron.barcode, PIN).await;
    let entries = app.raw_count("SELECT COUNT(*) FROM audit_log");
    let page = browser.get("/my/data").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("data-kind=\"loans\""));
    assert!(
        // Colorado keeps a returned loan 0 days: it is due at the next purge.
        page.html.contains("due now: at the next scheduled purge"),
        "a returned loan's destruction date: {}",
        page.html
            .split("data-kind=\"loans\"")
            .nth(1)
            .unwrap_or("")
            .split("</table>")
            .next()
            .unwrap_or("")
    );
    assert!(page.html.contains("id=\"looks\""));
    assert!(
        page.html.contains("Public services staff at the desk"),
        "the clerk's role, as the policy describes it"
    );
    assert!(!page.html.contains("clerk</td>"), "never the account name");
    assert!(
        app.raw_count("SELECT COUNT(*) FROM audit_log") > entries,
        "opening My data is audited"
    );
    assert!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'patron:{}' AND action = 'read'",
            patron.id
        )) > 0
    );
    app.finish();
}

/// L6 with A3: what a patron sees of their own record (My data: who
/// looked, requests for their records) is the same whether or not a case
/// under a non-disclosure order concerns them.
async fn l6_my_data_is_alike_without_and_with_a_gagged_case(engine: Engine) {
    alike_without_and_with_the_case(
        "the patron's My data tells the libraries apart in {} ways:{}",
        |policy, gag| async move {
            let app = TestApp::spawn_with(engine, policy).await;
            let clerk = app.sign_in("clerk").await;
            let patron = app.online_patron(&clerk).await;
            if gag {
                crate::gag_twins::restricted_preservation(
                    &app,
                    &clerk,
                    patron.id,
                    &["circulation"],
                )
                .await;
            }
            let browser = app.browser();
            browser.patron_sign_in(&patron.barcode, PIN).await;
            let page = browser.get("/my/data").await;
            let section = |id: &str| {
                page.html
                    .split(&format!("id=\"{id}\""))
                    .nth(1)
                    .and_then(|rest| rest.split("</section>").next())
                    .unwrap_or("")
                    .to_string()
            };
            let seen = vec![
                ("status".to_string(), page.status.to_string()),
                ("who looked".to_string(), section("looks-heading")),
                ("requests".to_string(), section("disclosures-heading")),
            ];
            app.finish();
            seen
        },
    )
    .await;
}

/// C2: a PIN change needs the PIN now; a wrong one is refused, audited and
/// counted; a right one changes it and ends every session of the card.
async fn c2_a_pin_change_needs_the_current_pin_and_ends_the_sessions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let browser = app.browser();
    browser.patron_sign_in(&patron.barcode, PIN).await;
    let token = browser.get("/my/pin").await.form_token();
    let wrong = browser
        .post(
            "/my/pin",
            &[
                ("form_token", &token),
                ("current_pin", "1111"),
                ("new_pin", "97531"),
                ("new_pin_again", "97531"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'patron:{}' AND decision = 'denied' AND detail = 'wrong_pin'",
            patron.id
        )),
        1
    );
    let differ = browser
        .post(
            "/my/pin",
            &[
                ("form_token", &token),
                ("current_pin", PIN),
                ("new_pin", "97531"),
                ("new_pin_again", "97532"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = browser
        .post(
            "/my/pin",
            &[
                ("form_token", &token),
                ("current_pin", PIN),
                ("new_pin", "97531"),
                ("new_pin_again", "97531"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.html);
    assert_eq!(browser.get("/my").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.browser()
            .patron_sign_in(&patron.barcode, PIN)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "the old PIN no longer opens the account"
    );
    assert_eq!(
        app.browser()
            .patron_sign_in(&patron.barcode, "97531")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    app.finish();
}

/// Issue 15 item 9: a page that does not exist is a page, not the API's
/// JSON; the API's own 404 stays JSON.
async fn pages_that_do_not_exist_are_pages(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let page = app.browser().get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.html.contains("No such page"));
    let (status, body) = app.call(None, "GET", "/api/v1/no-such-route", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "no_such_route");
    let home = app.browser().get("/").await;
    for link in [
        "href=\"/privacy\"",
        "href=\"/my/sign-in\"",
        "href=\"/staff/sign-in\"",
    ] {
        assert!(home.html.contains(link), "{link}");
    }
    app.finish();
}

/// D8: links to sites the library does not control go through the exit
/// page, which says where the library's protection ends; it serves only
/// the sites the policy lists, and sends the browser nowhere by itself
/// (no open redirect).
async fn d8_leaving_the_site_is_announced_and_only_for_listed_sites(engine: Engine) {
    for (name, source) in POLICIES {
        let app = TestApp::spawn_with(engine, source).await;
        let policy = carrel_policy::parse("policy", source).unwrap();
        let browser = app.browser();
        let home = browser.get("/").await;
        for site in &policy.patrons.external_sites {
            let link = carrel_server::pages::leaving::link_to(&site.url);
            assert!(
                home.html.contains(&format!("href=\"{}\"", escaped(&link))),
                "{name}: {link}"
            );
            let page = browser.get(&link).await;
            assert_eq!(page.status, StatusCode::OK, "{name}: {link}");
            assert!(page.location.is_none());
            assert!(page.html.contains("privacy protection ends there"));
            assert!(page.html.contains(&format!(
                "href=\"{}\" rel=\"noreferrer noopener\"",
                escaped(&site.url)
            )));
        }
        let listed = &policy.patrons.external_sites[0].url;
        for stranger in [
            "https://evil.example/".to_string(),
            "//evil.example".to_string(),
            "javascript:alert(1)".to_string(),
            format!("{listed}.evil.example"),
            format!("{listed}/../../x"),
            String::new(),
        ] {
            let page = browser
                .get(&carrel_server::pages::leaving::link_to(&stranger))
                .await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{name}: {stranger}");
            assert!(page.location.is_none());
            assert!(
                !page.html.contains("evil.example"),
                "{name}: the address is not echoed"
            );
        }
        app.finish();
    }
}

/// C2: a wrong PIN on the PIN-change form is a guess like a sign-in's:
/// counted on the client's address (5, then 429) and on the card, so an
/// open session does not give the PIN away.
async fn c2_guesses_on_the_pin_form_are_counted(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let browser = app.browser();
    browser.patron_sign_in(&patron.barcode, PIN).await;
    let token = browser.get("/my/pin").await.form_token();
    let mut statuses = Vec::new();
    for pin in ["1000", "1001", "1002", "1003", "1004", "1005", PIN] {
        let page = browser
            .post(
                "/my/pin",
                &[
                    ("form_token", &token),
                    ("current_pin", pin),
                    ("new_pin", "97531"),
                    ("new_pin_again", "97531"),
                ],
            )
            .await;
        statuses.push(page.status);
    }
    assert_eq!(
        &statuses[..4],
        &[StatusCode::UNPROCESSABLE_ENTITY; 4],
        "{statuses:?}"
    );
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(
        statuses[6],
        StatusCode::TOO_MANY_REQUESTS,
        "the right PIN is refused unchecked once the address has used its guesses"
    );
    assert!(
        app.raw_count(&format!(
            "SELECT failures FROM failed_attempts WHERE account_kind = 'patron' AND account_id = {}",
            patron.id
        )) >= 4,
        "the guesses count on the card too"
    );
    app.finish();
}

/// A1: a patron places a hold online on an item by its barcode, and
/// cancels it; nothing the page offered is refused.
async fn a1_a_patron_places_and_cancels_a_hold_online(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let item = app.new_item().await;
    let browser = app.browser();
    browser.patron_sign_in(&patron.barcode, PIN).await;
    let token = browser.get("/my").await.form_token();
    let placed = browser
        .post(
            "/my/holds",
            &[("form_token", &token), ("item_barcode", &item)],
        )
        .await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.html);
    let account = browser.get("/my").await;
    let hold_id = app.raw_count(&format!(
        "SELECT id FROM holds WHERE patron_id = {}",
        patron.id
    ));
    assert!(account
        .html
        .contains(&format!("/my/holds/{hold_id}/cancellation")));
    let cancelled = browser
        .post(
            &format!("/my/holds/{hold_id}/cancellation"),
            &[("form_token", &token)],
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.raw_strings(&format!("SELECT status FROM holds WHERE id = {hold_id}")),
        ["cancelled"]
    );
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'patron:{}' AND decision = 'denied'",
            patron.id
        )),
        0,
        "nothing the page offered was refused"
    );
    app.finish();
}

/// A1, D1: My data says what keeps a record past its day: a loan returned
/// late keeps while its fine is unpaid, and the page says so rather than
/// "due now".
async fn a1_my_data_says_what_keeps_a_record_past_its_day(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let item = app.new_item().await;
    let (status, _) = app
        .post(
            &clerk,
            "/api/v1/checkouts",
            json!({"patron_barcode": patron.barcode, "item_barcode": item}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.advance(chrono::Duration::days(30));
    // Staff sessions end after hours: a new one, a month later.
    let clerk = app.sign_in("clerk").await;
    let (status, back) = app
        .post(&clerk, "/api/v1/checkins", json!({"item_barcode": item}))
        .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    app.advance(chrono::Duration::days(70));
    let browser = app.browser();
    browser.patron_sign_in(&patron.barcode, PIN).await;
    let page = browser.get("/my/data").await;
    let loans = page
        .html
        .split("data-kind=\"loans\"")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_default()
        .to_string();
    assert!(loans.contains("kept while needed: unpaid fine"), "{loans}");
    app.finish();
}

/// C2: behind an https address the pages' cookies are Secure too: the
/// browser secret of the sign-in form, and the patron's session and device
/// cookies, each HttpOnly and SameSite=Strict.
async fn c2_the_pages_cookies_are_secure_behind_https(engine: Engine) {
    let config = carrel_server::Config {
        secure_cookies: true,
        ..carrel_server::Config::default()
    };
    let app = TestApp::spawn_configured(engine, MISSOURI, config).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.online_patron(&clerk).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{}/my/sign-in", app.base))
        .send()
        .await
        .unwrap();
    let set_cookies = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    let mut cookies = set_cookies(&form);
    let secret = cookies[0]
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("carrel_form=")
        .to_string();
    let signed_in = client
        .post(format!("{}/my/sign-in", app.base))
        .header("cookie", format!("carrel_form={secret}"))
        .form(&[
            (
                "form_token",
                carrel_server::pages::form_token(&secret).as_str(),
            ),
            ("card_barcode", patron.barcode.as_str()),
            ("pin", PIN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    cookies.extend(set_cookies(&signed_in));
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    for cookie in &cookies {
        for wanted in ["Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(
                cookie.split("; ").any(|a| a == wanted),
                "{wanted} missing: {cookie}"
            );
        }
    }
    app.finish();
}

on_both_engines!(
    c2_the_pages_cookies_are_secure_behind_https,
    a1_my_data_says_what_keeps_a_record_past_its_day,
    c2_guesses_on_the_pin_form_are_counted,
    a1_a_patron_places_and_cancels_a_hold_online,
    d8_leaving_the_site_is_announced_and_only_for_listed_sites,
    n1_the_notice_is_public_and_says_every_rule,
    n2_a_changed_policy_is_a_new_version_and_the_old_one_stays,
    c2_a_patron_signs_in_on_the_page_and_sees_the_account,
    c2_a_failed_sign_in_never_says_whether_the_card_exists,
    csrf_forms_from_elsewhere_are_refused,
    a1_a_patron_cannot_touch_another_patrons_loans_or_holds,
    a3_my_data_shows_records_and_who_looked_by_role_never_name,
    l6_my_data_is_alike_without_and_with_a_gagged_case,
    c2_a_pin_change_needs_the_current_pin_and_ends_the_sessions,
    pages_that_do_not_exist_are_pages,
);
