//! L6 by twin libraries (an outside review's tests, issue 13): each builds
//! two libraries that differ only in whether a restricted (gagged) case
//! preserved a patron's records, and compares what staff outside the
//! case's circle can observe. Everything they see must be the same.
//!
//! Records a purge sets aside in secret leave their tables
//! (`retention/kept_in_secret.rs`), so reads by id, rosters, counts, the
//! needs that keep a registration and the ids new records get are what
//! they are in the library without the case; a desk cancellation of a
//! record only a restricted hold pins is answered as a deletion.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{code, Engine, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

pub(crate) const POLICIES: [(&str, &str); 2] = [("missouri", MISSOURI), ("colorado", COLORADO)];

fn doc(kind: &str) -> Value {
    json!({"kind": kind, "reference": "CR-2026-0412", "issuing_court": "Circuit Court of Jefferson County", "jurisdiction": "23rd Judicial Circuit, Missouri"})
}

/// Registers `patron` for a new program "Seed swap" held at the given
/// times (RFC 3339); returns (program, registration).
async fn program_registration(
    app: &TestApp,
    clerk: &str,
    patron: i64,
    (starts_at, ends_at): (&str, &str),
) -> (Value, Value) {
    let (status, program) = app
        .post(
            clerk,
            "/api/v1/programs",
            json!({"title": "Seed swap", "starts_at": starts_at, "ends_at": ends_at}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let (status, registration) = app
        .post(
            clerk,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
            json!({"patron_id": patron}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registration}");
    (program, registration)
}

/// Subscribes `patron` to a new mailing list "Program news"; returns the
/// subscription.
async fn subscription(app: &TestApp, clerk: &str, patron: i64) -> Value {
    let (status, list) = app
        .post(
            clerk,
            "/api/v1/mailing-lists",
            json!({"name": "Program news", "description": "What is on"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    let (status, subscription) = app
        .post(
            clerk,
            &format!("/api/v1/mailing-lists/{}/subscriptions", list["id"]),
            json!({"patron_id": patron}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    subscription
}

const MARCH_PROGRAM: (&str, &str) = ("2026-03-05T12:30:00-06:00", "2026-03-05T14:00:00-06:00");
const JUNE_PROGRAM: (&str, &str) = ("2026-06-20T12:30:00-06:00", "2026-06-20T14:00:00-06:00");

/// A restricted (gagged) request for `patron`, taken by `clerk`, whose
/// holds the Director places at once. Returns its reference.
pub(crate) async fn restricted_preservation(
    app: &TestApp,
    clerk: &str,
    patron: i64,
    classes: &[&str],
) -> String {
    let director = app.sign_in("director").await;
    let (status, gagged) = app
        .post(
            clerk,
            "/api/v1/disclosures",
            json!({
                "requester_kind": "law_enforcement", "requester": "Special Agent Ione Vesk, FBI",
                "subject_patron_id": patron, "basis": "federal_order",
                "classes": classes, "from_date": "2026-01-01", "to_date": "2026-12-31",
                "gagged": true,
                "documents": [doc("national_security_letter"), doc("preservation_request")],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{gagged}");
    let reference = gagged["reference"].as_str().unwrap();
    let (status, body) = app
        .post(
            &director,
            &format!("/api/v1/disclosures/{reference}/preservation"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    reference.to_string()
}

/// A page with its form tokens blanked: each is derived from the viewer's
/// random session token, so the twins' pages differ there by design.
pub(crate) fn without_form_tokens(html: &str) -> String {
    let marker = "name=\"form_token\" value=\"";
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find(marker) {
        let (before, after) = rest.split_at(at + marker.len());
        out.push_str(before);
        out.push_str("(token)");
        rest = after.find('"').map_or("", |end| &after[end..]);
    }
    out.push_str(rest);
    out
}

pub(crate) fn differences(a: &[(String, String)], b: &[(String, String)]) -> Vec<String> {
    a.iter()
        .zip(b)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| {
            format!(
                "\n  {}:\n    without the case: {}\n    with the case:    {}",
                x.0, x.1, y.1
            )
        })
        .collect()
}

/// Builds, under each policy, the library without the case and the
/// library with it (`library(policy, gag)` returns what is observed), and
/// fails listing every observation that tells them apart; `message` has
/// two `{}`: how many, and the list.
pub(crate) async fn alike_without_and_with_the_case<F, Fut>(message: &str, library: F)
where
    F: Fn(&'static str, bool) -> Fut,
    Fut: std::future::Future<Output = Vec<(String, String)>>,
{
    let mut all = Vec::new();
    for (name, policy) in POLICIES {
        let without = library(policy, false).await;
        let with = library(policy, true).await;
        assert_eq!(
            without.len(),
            with.len(),
            "[{name}] observations differ in number"
        );
        for d in differences(&without, &with) {
            all.push(format!("[{name}] {d}"));
        }
    }
    let message =
        message
            .replacen("{}", &all.len().to_string(), 1)
            .replacen("{}", &all.join(""), 1);
    assert!(all.is_empty(), "{message}");
}

fn without_ids(mut v: Value) -> String {
    // Random hold ids and timestamps are not what we compare.
    if let Some(o) = v.as_object_mut() {
        o.remove("today");
    }
    v.to_string()
}

/// A patron with a returned loan, a closed interlibrary loan and a program
/// registration; optionally a restricted case preserves all three classes;
/// the card lapses; 61 days on, a purge. Then what clerk-b (a clerk outside
/// the circle), the auditor and the supervisor see.
async fn after_purge(engine: Engine, policy: &str, gag: bool) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    app.add_staff("clerk-b", "clerk", None).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app
        .new_patron_with(&clerk, json!({"pin": "2468013579"}))
        .await;
    let p = patron.id;
    let item = app.new_item().await;
    let loan = app.lend_and_return(&clerk, &patron.barcode, &item).await;
    let spare = app.new_item().await;
    let (status, ill) = app
        .post(
            &clerk,
            "/api/v1/ill-requests",
            json!({"patron_id": p, "lender": "Denver Public Library", "title": "Beekeeping at Altitude"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ill}");
    let (status, ill) = app
        .call(
            Some(&clerk),
            "PATCH",
            &format!("/api/v1/ill-requests/{}", ill["id"]),
            Some(json!({"status": "returned"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ill}");
    let (program, _) = program_registration(&app, &clerk, p, MARCH_PROGRAM).await;
    if gag {
        restricted_preservation(
            &app,
            &clerk,
            p,
            &["circulation", "interlibrary_loan", "program_registration"],
        )
        .await;
    } else {
        // The same sign-in, so the audit log's figures match.
        app.sign_in("director").await;
    }
    let (status, _) = app
        .call(
            Some(&clerk),
            "PATCH",
            &format!("/api/v1/patrons/{p}"),
            Some(json!({"expires_on": "2026-03-10"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.advance(Duration::days(61));
    let summary = app.purge().await;

    let clerk_b = app.sign_in_user("clerk-b").await;
    let auditor = app.sign_in("auditor").await;
    let mut seen = vec![(
        "purge summary (POST /api/v1/retention/runs)".to_string(),
        summary["targets"].to_string(),
    )];
    let (status, _) = app.get(&clerk_b, &format!("/api/v1/patrons/{p}")).await;
    seen.push((
        "clerk-b GET /api/v1/patrons/{id}".into(),
        status.to_string(),
    ));
    let (status, body) = app
        .get(
            &clerk_b,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
        )
        .await;
    seen.push((
        "clerk-b GET /api/v1/programs/{id}/registrations (roster)".into(),
        format!("{status} {body}"),
    ));
    let (status, body) = app
        .get(&clerk_b, &format!("/api/v1/programs/{}", program["id"]))
        .await;
    seen.push((
        "clerk-b GET /api/v1/programs/{id}".into(),
        format!("{status} {body}"),
    ));
    let (status, body) = app
        .get(&clerk_b, &format!("/api/v1/ill-requests/{}", ill["id"]))
        .await;
    seen.push((
        "clerk-b GET /api/v1/ill-requests/{id}".into(),
        format!("{status} {body}"),
    ));
    let (status, body) = app
        .post(
            &clerk_b,
            &format!("/api/v1/loans/{}/renewal", loan["id"]),
            json!({}),
        )
        .await;
    seen.push((
        "clerk-b POST /api/v1/loans/{id}/renewal".into(),
        format!("{status} {}", code(&body)),
    ));
    let (_, plan) = app.get(&auditor, "/api/v1/retention").await;
    for class in plan["classes"].as_array().unwrap() {
        seen.push((
            format!("auditor GET /api/v1/retention, class {}", class["class"]),
            without_ids(class.clone()),
        ));
    }
    // New records made at the desk afterwards: the ids they get.
    let newcomer = app.new_patron(&clerk_b).await;
    let (_, loan) = app
        .post(
            &clerk_b,
            "/api/v1/checkouts",
            json!({"patron_barcode": newcomer.barcode, "item_barcode": spare}),
        )
        .await;
    seen.push((
        "clerk-b's next checkout: loan id".into(),
        loan["id"].to_string(),
    ));
    let (_, ill) = app
        .post(
            &clerk_b,
            "/api/v1/ill-requests",
            json!({"patron_id": newcomer.id, "lender": "Arapahoe Libraries", "title": "Local history"}),
        )
        .await;
    seen.push((
        "clerk-b's next interlibrary loan: id".into(),
        ill["id"].to_string(),
    ));
    app.finish();
    seen
}

/// L6: records only a restricted case keeps must be, outside its circle,
/// as if destroyed. Failed before they left their tables: the lapsed
/// registration was kept for "records of other classes still kept", the
/// program roster and the interlibrary loan read by id still showed them,
/// and a renewal by id answered 409 instead of 404.
async fn l6_twin_libraries_after_a_purge_look_the_same(engine: Engine) {
    alike_without_and_with_the_case(
        "outside the circle, {} observations tell the libraries apart:{}",
        |policy, gag| after_purge(engine, policy, gag),
    )
    .await;
}

/// L6: before any purge, a clerk outside the circle who cancels a
/// patron's program registration or mailing-list subscription (as the
/// patron asks at the desk) was told `record_preserved` ("preserved under
/// a legal hold"): the refusal revealed a secret preservation on that
/// patron. Now the desk is answered as for a deletion.
async fn l6_desk_cancellation_reveals_no_restricted_hold(engine: Engine) {
    let mut leaks = Vec::new();
    for (name, policy) in POLICIES {
        let app = TestApp::spawn_with(engine, policy).await;
        app.add_staff("clerk-b", "clerk", None).await;
        let clerk = app.sign_in("clerk").await;
        let patron = app.new_patron(&clerk).await;
        let p = patron.id;
        let (_, registration) = program_registration(&app, &clerk, p, JUNE_PROGRAM).await;
        let subscription = subscription(&app, &clerk, p).await;
        restricted_preservation(&app, &clerk, p, &["program_registration", "mailing_list"]).await;
        let clerk_b = app.sign_in_user("clerk-b").await;
        for path in [
            format!("/api/v1/program-registrations/{}", registration["id"]),
            format!("/api/v1/subscriptions/{}", subscription["id"]),
        ] {
            let (status, body) = app.call(Some(&clerk_b), "DELETE", &path, None).await;
            if status == StatusCode::CONFLICT || code(&body) == "record_preserved" {
                leaks.push(format!("[{name}] clerk-b DELETE {path}: {status} {body}"));
            }
        }
        app.finish();
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// A patron with a valid card and a returned loan; optionally a restricted
/// case preserves circulation; 61 days on, a purge (the loan is set aside
/// in secret); then an ORDINARY law-enforcement request for the same
/// patron, preserved by the Director. What the auditor (outside the gag
/// circle, but seeing ordinary requests) reads of the plan afterwards.
async fn later_ordinary_hold(engine: Engine, policy: &str, gag: bool) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let item = app.new_item().await;
    app.lend_and_return(&clerk, &patron.barcode, &item).await;
    if gag {
        restricted_preservation(&app, &clerk, patron.id, &["circulation"]).await;
    } else {
        app.sign_in("director").await;
    }
    app.advance(Duration::days(61));
    app.purge().await;
    let clerk = app.sign_in("clerk").await;
    let director = app.sign_in("director").await;
    let basis = if policy == MISSOURI {
        "court_order"
    } else {
        "legal_process"
    };
    let document = if policy == MISSOURI {
        "court_order"
    } else {
        "subpoena"
    };
    let (status, request) = app
        .post(
            &clerk,
            "/api/v1/disclosures",
            json!({
                "requester_kind": "law_enforcement",
                "requester": "Det. Marlow Quince, County Sheriff",
                "subject_patron_id": patron.id, "basis": basis,
                "classes": ["circulation"],
                "from_date": "2026-01-01", "to_date": "2026-12-31",
                "documents": [doc(document), doc("preservation_request")],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let reference = request["reference"].as_str().unwrap();
    let (status, preserved) = app
        .post(
            &director,
            &format!("/api/v1/disclosures/{reference}/preservation"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preserved}");
    let auditor = app.sign_in("auditor").await;
    let (_, plan) = app.get(&auditor, "/api/v1/retention").await;
    let mut seen = Vec::new();
    for class in plan["classes"].as_array().unwrap() {
        if class["class"] == "audit" {
            continue;
        }
        seen.push((
            format!("auditor GET /api/v1/retention, class {}", class["class"]),
            without_ids(class.clone()),
        ));
    }
    // The ordinary request's holds as its own view shows them (to the Director).
    let holds: Vec<i64> = preserved["legal_holds"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|h| h["records"].as_i64().unwrap_or(-1))
                .collect()
        })
        .unwrap_or_default();
    seen.push((
        "ordinary request's legal_holds[].records".into(),
        format!("{holds:?}"),
    ));
    app.finish();
    seen
}

/// L6: a hold placed later, for an ordinary request, pins records kept in
/// secret, and from then on everyone who sees that ordinary request counted
/// them in the plan. (Records kept in secret have since left their
/// tables, so no later hold can pin them.)
async fn l6_a_later_ordinary_hold_pins_no_record_kept_in_secret(engine: Engine) {
    alike_without_and_with_the_case("{} differences:{}", |policy, gag| {
        later_ordinary_hold(engine, policy, gag)
    })
    .await;
}

on_both_engines!(l6_a_later_ordinary_hold_pins_no_record_kept_in_secret);

on_both_engines!(l6_twin_libraries_after_a_purge_look_the_same);
on_both_engines!(l6_desk_cancellation_reveals_no_restricted_hold);

/// L5 with L6: what a restricted case keeps leaves its tables, and its
/// circle can still release it. A patron's card lapses; a clerk outside
/// the circle cancels their mailing-list subscription at the desk; a purge
/// sets aside their registration, loan and program registration. The
/// registration is gone from `patrons`, yet the Director releases a
/// package holding all four, under the patron's number. When the case's
/// holds end, the next purge destroys them for good, and the package with
/// them (D1, D2).
async fn l5_a_restricted_case_releases_what_it_set_aside(engine: Engine) {
    for (name, policy) in POLICIES {
        let app = TestApp::spawn_with(engine, policy).await;
        app.add_staff("clerk-b", "clerk", None).await;
        let clerk = app.sign_in("clerk").await;
        let patron = app.new_patron(&clerk).await;
        let p = patron.id;
        let item = app.new_item().await;
        app.lend_and_return(&clerk, &patron.barcode, &item).await;
        program_registration(&app, &clerk, p, MARCH_PROGRAM).await;
        let subscription = subscription(&app, &clerk, p).await;
        let reference = restricted_preservation(
            &app,
            &clerk,
            p,
            &[
                "registration",
                "circulation",
                "program_registration",
                "mailing_list",
            ],
        )
        .await;
        let clerk_b = app.sign_in_user("clerk-b").await;
        let (status, body) = app
            .call(
                Some(&clerk_b),
                "DELETE",
                &format!("/api/v1/subscriptions/{}", subscription["id"]),
                None,
            )
            .await;
        assert!(status.is_success(), "{name}: {status} {body}");
        let (status, _) = app
            .call(
                Some(&clerk),
                "PATCH",
                &format!("/api/v1/patrons/{p}"),
                Some(json!({"expires_on": "2026-03-10"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app.advance(Duration::days(61));
        app.purge().await;
        for table in [
            "patrons",
            "loans",
            "program_registrations",
            "list_subscriptions",
        ] {
            let column = if table == "patrons" {
                "id"
            } else {
                "patron_id"
            };
            assert_eq!(
                app.raw_count(&format!(
                    "SELECT COUNT(*) FROM {table} WHERE {column} = {p}"
                )),
                0,
                "{name}: {table} still holds the patron's row"
            );
        }
        assert_eq!(
            app.raw_strings("SELECT kind FROM kept_in_secret ORDER BY kind"),
            [
                "list_subscription",
                "loan",
                "patron",
                "program_registration"
            ],
            "{name}"
        );
        let clerk_b = app.sign_in_user("clerk-b").await;
        let (status, _) = app.get(&clerk_b, &format!("/api/v1/patrons/{p}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");

        // The circle releases it.
        let director = app.sign_in("director").await;
        let counsel = app.sign_in("legal_counsel").await;
        let step = |token: &str, step: &str, body: Value| {
            let path = format!("/api/v1/disclosures/{reference}/{step}");
            let token = token.to_string();
            let app = &app;
            async move { app.post(&token, &path, body).await }
        };
        let (status, body) = step(&director, "review", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, body) = step(
            &counsel,
            "counsel-review",
            json!({"advice": "release", "confirms": ["proper_form"]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, body) = step(&director, "approval", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        let (status, released) = step(&director, "release", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {released}");
        let records = &released["package"]["records"];
        assert_eq!(released["package"]["cover_sheet"]["patron"], p, "{name}");
        assert_eq!(
            records["registration"]["registration"]["card_barcode"], patron.barcode,
            "{name}: {records}"
        );
        let loans = records["circulation"]["loans"].as_array().unwrap();
        assert_eq!(loans.len(), 1, "{name}: {records}");
        assert_eq!(loans[0]["item_barcode"], item.as_str(), "{name}: {records}");
        assert!(
            loans[0]["returned_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-")),
            "{name}: times are shown in the library's zone: {records}"
        );
        assert_eq!(
            records["program_registration"]["program_registrations"][0]["program"], "Seed swap",
            "{name}: {records}"
        );
        let subscription = &records["mailing_list"]["mailing_list_subscriptions"][0];
        assert_eq!(subscription["list"], "Program news", "{name}: {records}");
        // The circle must not pass a cancelled subscription off as a live
        // one: each record set aside says why and when.
        assert_eq!(
            subscription["set_aside_because"], "cancelled at the desk on the patron's word",
            "{name}: {records}"
        );
        assert_eq!(
            loans[0]["set_aside_because"], "its retention period ended",
            "{name}: {records}"
        );
        assert!(
            subscription["set_aside_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-")),
            "{name}: {records}"
        );
        let (status, html) = app
            .get_text(
                &director,
                &format!("/api/v1/disclosures/{reference}/package.html"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(
            html.contains("cancelled at the desk on the patron"),
            "{name}: the page shows why too"
        );

        // The holds end (90 days, not renewed): the next purge destroys
        // what they kept, and the package that copied it.
        app.advance(Duration::days(120));
        app.purge().await;
        assert_eq!(
            app.raw_count("SELECT COUNT(*) FROM kept_in_secret"),
            0,
            "{name}"
        );
        assert_eq!(
            app.raw_count(
                "SELECT COUNT(*) FROM disclosure_requests WHERE package_json IS NOT NULL"
            ),
            0,
            "{name}"
        );
        app.note_personal(&[&patron.barcode]);
        app.finish();
    }
}

on_both_engines!(l5_a_restricted_case_releases_what_it_set_aside);
