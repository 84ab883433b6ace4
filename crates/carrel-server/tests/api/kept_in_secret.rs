//! Records kept in secret, attacked (an outside review of the change that
//! moved them out of their tables, issue 13): twin libraries that differ
//! only in a restricted case, compared on what a second restricted case's
//! package holds, on the packages a desk cancellation and the end of the
//! case's holds erase, on every read an outsider can make at three points
//! of the case's life; and the database file once the case is over. The
//! first three failed on that change, and pass since: a restricted
//! package holds only what its own holds kept, and a record set aside
//! takes with it what a destroyed one takes, no more.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::gag_twins::{alike_without_and_with_the_case, restricted_preservation};
use crate::helpers::{code, contains, database_bytes, Engine, TestApp};
use crate::on_both_engines;

/// Timeline steps (no times) and package summary of a request, as `token` sees it.
async fn request_as_seen(app: &TestApp, token: &str, reference: &str) -> (String, String) {
    let (status, r) = app
        .get(token, &format!("/api/v1/disclosures/{reference}"))
        .await;
    let steps: Vec<String> = r["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|e| format!("{}:{}", e["step"], e["outcome"]))
                .collect()
        })
        .unwrap_or_default();
    (
        format!("{status} package={}", r["package"]),
        steps.join(" | "),
    )
}

/// The patron's own (ordinary) request for their program registrations,
/// recorded at the desk and released, its package kept for download;
/// returns its reference.
async fn own_program_registrations_released(app: &TestApp, clerk: &str, patron: i64) -> String {
    let (status, request) = app
        .post(
            clerk,
            "/api/v1/disclosures",
            json!({
                "requester_kind": "patron", "subject_patron_id": patron, "basis": "own_records",
                "classes": ["program_registration"], "from_date": "2026-01-01", "to_date": "2026-12-31",
                "documents": [{"kind": "photo_id", "id_kind": "driver_license"}, {"kind": "written_request"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let reference = request["reference"].as_str().unwrap().to_string();
    for step in ["review", "approval", "release"] {
        let (status, body) = app
            .post(
                clerk,
                &format!("/api/v1/disclosures/{reference}/{step}"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    reference
}

/// A patron registered for a program; the patron's own (ordinary) request
/// for their program registrations is released, its package kept for
/// download; optionally a restricted case preserves program registrations;
/// then clerk-b cancels the registration at the desk, as the patron asks.
/// What the auditor (sees ordinary requests, outside the gag circle) and
/// clerk-b see of the ordinary request afterwards.
async fn desk_cancel_after_ordinary_package(
    engine: Engine,
    policy: &str,
    gag: bool,
) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    app.add_staff("clerk-b", "clerk", None).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let p = patron.id;
    let (_, program) = app.post(&clerk, "/api/v1/programs", json!({"title": "Seed swap", "starts_at": "2026-06-20T12:30:00-06:00", "ends_at": "2026-06-20T14:00:00-06:00"})).await;
    let (status, registration) = app
        .post(
            &clerk,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
            json!({"patron_id": p}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registration}");
    let reference = own_program_registrations_released(&app, &clerk, p).await;
    if gag {
        restricted_preservation(&app, &clerk, p, &["program_registration"]).await;
    } else {
        app.sign_in("director").await;
    }
    let clerk_b = app.sign_in_user("clerk-b").await;
    let (status, body) = app
        .call(
            Some(&clerk_b),
            "DELETE",
            &format!("/api/v1/program-registrations/{}", registration["id"]),
            None,
        )
        .await;
    let mut seen = vec![(
        "clerk-b DELETE /api/v1/program-registrations/{id}".to_string(),
        format!("{status} {}", code(&body)),
    )];
    let auditor = app.sign_in("auditor").await;
    for (who, token) in [("auditor", &auditor), ("clerk-b", &clerk_b)] {
        let (package, timeline) = request_as_seen(&app, token, &reference).await;
        seen.push((
            format!("{who} GET /api/v1/disclosures/{{ordinary}}: package"),
            package,
        ));
        seen.push((
            format!("{who} GET /api/v1/disclosures/{{ordinary}}: timeline"),
            timeline,
        ));
        let (status, _) = app
            .get(token, &format!("/api/v1/disclosures/{reference}/package"))
            .await;
        seen.push((format!("{who} GET .../package"), status.to_string()));
    }
    app.finish();
    seen
}

/// L6: a desk cancellation of a record only a restricted hold pins sets it
/// aside, and setting aside erased the ordinary packages that held it, with
/// a `package_erased` step on their timeline, while a plain desk deletion
/// (no case) erased none: anyone who sees ordinary requests (the auditor,
/// every clerk) saw the package go only in the library with the case. Now
/// both erase it (D1).
async fn l6_desk_cancellation_erases_an_ordinary_package_only_with_the_case(engine: Engine) {
    alike_without_and_with_the_case(
        "outside the circle, {} observations tell the libraries apart:{}",
        |policy, gag| desk_cancel_after_ordinary_package(engine, policy, gag),
    )
    .await;
}

on_both_engines!(l6_desk_cancellation_erases_an_ordinary_package_only_with_the_case);

/// Case B (restricted, taken by clerk-b, no supervisor) preserves a
/// patron's circulation, or (twin) does not exist; 61 days on a purge sets
/// the returned loan aside for B. Then case A (restricted, taken by the
/// clerk, whose circle does not include B's taker) asks for the same
/// patron's circulation and is released. What A's taker sees of A.
async fn second_restricted_case(
    engine: Engine,
    policy: &str,
    gag_b: bool,
) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    app.add_staff("clerk-b", "clerk", None).await;
    let clerk = app.sign_in("clerk").await;
    let clerk_b = app.sign_in_user("clerk-b").await;
    let patron = app.new_patron(&clerk).await;
    let item = app.new_item().await;
    app.lend_and_return(&clerk, &patron.barcode, &item).await;
    if gag_b {
        restricted_preservation(&app, &clerk_b, patron.id, &["circulation"]).await;
    } else {
        app.sign_in("director").await;
    }
    app.advance(Duration::days(61));
    app.purge().await;
    // Case A: restricted too, taken by the clerk; the Director preserves
    // and releases it.
    let clerk = app.sign_in("clerk").await;
    let reference = restricted_preservation(&app, &clerk, patron.id, &["circulation"]).await;
    let director = app.sign_in("director").await;
    let counsel = app.sign_in("legal_counsel").await;
    for (token, step, body) in [
        (&director, "review", json!({})),
        (
            &counsel,
            "counsel-review",
            json!({"advice": "release", "confirms": ["proper_form"]}),
        ),
        (&director, "approval", json!({})),
        (&director, "release", json!({})),
    ] {
        let (status, body) = app
            .post(
                token,
                &format!("/api/v1/disclosures/{reference}/{step}"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    let clerk = app.sign_in("clerk").await;
    let (_, a) = app
        .get(&clerk, &format!("/api/v1/disclosures/{reference}"))
        .await;
    let (_, package) = app
        .get(
            &director,
            &format!("/api/v1/disclosures/{reference}/package"),
        )
        .await;
    let seen = vec![
        (
            "case A's package record count, as its taker sees it".to_string(),
            a["package"]["records"].to_string(),
        ),
        (
            "case A's released loans (what A's requester receives)".to_string(),
            package["records"]["circulation"]["loans"].to_string(),
        ),
    ];
    app.finish();
    seen
}

/// L6 (and D1): records a restricted case B kept in secret go into the
/// package of ANY restricted request about the same patron
/// (`kept_in_secret::records_of` filters by patron and dates, not by the
/// request's own pins). Case A's taker (outside B's circle) sees A's
/// package count a loan that, without B, was destroyed 60 days after its
/// return, and A's requester receives it.
async fn l6_a_restricted_package_holds_only_what_its_own_case_kept(engine: Engine) {
    alike_without_and_with_the_case(
        "outside case B's circle, {} observations tell the libraries apart:{}",
        |policy, gag| second_restricted_case(engine, policy, gag),
    )
    .await;
}

on_both_engines!(l6_a_restricted_package_holds_only_what_its_own_case_kept);

fn drop_today(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("today");
            for x in o.values_mut() {
                drop_today(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(drop_today),
        _ => {}
    }
}

/// Every GET an outsider (clerk-b, the auditor, the administrator, the
/// patron online) can make about the patron and the library, as text.
async fn sweep(
    app: &TestApp,
    at: &str,
    patron: &crate::helpers::Patron,
    ids: &[(&str, String)],
    seen: &mut Vec<(String, String)>,
) {
    // Each library's patron and item have their own unique numbers, and
    // the patron's made-up name, e-mail and address one more.
    let name_number: String = patron.name.chars().filter(char::is_ascii_digit).collect();
    let masks: Vec<String> = [&patron.barcode, &ids[0].1]
        .iter()
        .map(|b| b[b.len() - 10..].to_string())
        .chain(std::iter::once(name_number))
        .collect();
    let start = seen.len();
    sweep_raw(app, at, patron, ids, seen).await;
    for (k, v) in &mut seen[start..] {
        for m in &masks {
            *k = k.replace(m.as_str(), "#");
            *v = v.replace(m.as_str(), "#");
        }
    }
}

async fn sweep_raw(
    app: &TestApp,
    at: &str,
    patron: &crate::helpers::Patron,
    ids: &[(&str, String)],
    seen: &mut Vec<(String, String)>,
) {
    let clerk_b = app.sign_in_user("clerk-b").await;
    let auditor = app.sign_in("auditor").await;
    let admin = app.sign_in("administrator").await;
    let p = patron.id;
    let mut paths: Vec<String> = [
        "",
        "/loans",
        "/holds",
        "/fines",
        "/ill-requests",
        "/deliveries",
        "/program-registrations",
        "/computer-sessions",
        "/subscriptions",
    ]
    .iter()
    .map(|s| format!("/api/v1/patrons/{p}{s}"))
    .collect();
    for (prefix, id) in ids {
        paths.push(format!("{prefix}{id}"));
    }
    paths.extend(
        [
            "/api/v1/legal-holds",
            "/api/v1/retention",
            "/api/v1/disclosures",
            "/api/v1/alerts",
            "/api/v1/statistics/circulation",
            "/api/v1/statistics/fines",
            "/api/v1/statistics/interlibrary_loan",
            "/api/v1/statistics/program_registration",
            "/api/v1/statistics/electronic_access",
            "/api/v1/statistics/mailing_list",
            "/api/v1/statistics/registration",
        ]
        .map(String::from),
    );
    for (who, token) in [
        ("clerk-b", &clerk_b),
        ("auditor", &auditor),
        ("administrator", &admin),
    ] {
        for path in &paths {
            let (status, mut body) = app.get(token, path).await;
            drop_today(&mut body);
            seen.push((
                format!("{at}: {who} GET {path}"),
                format!("{status} {body}"),
            ));
        }
        for page in ["/staff/privacy", "/staff/disclosures"] {
            let (status, html) = app.get_text(token, page).await;
            seen.push((
                format!("{at}: {who} GET {page}"),
                format!("{status} {}", crate::gag_twins::without_form_tokens(&html)),
            ));
        }
    }
    let (status, session) = app
        .call(
            None,
            "POST",
            "/api/v1/patron-session",
            Some(json!({"card_barcode": patron.barcode, "pin": "2468013579"})),
        )
        .await;
    seen.push((format!("{at}: patron sign-in"), status.to_string()));
    if let Some(token) = session["token"].as_str() {
        let (status, body) = app.get(token, "/api/v1/my/records").await;
        seen.push((
            format!("{at}: patron GET /api/v1/my/records"),
            format!("{status} {body}"),
        ));
    }
}

/// A patron (card valid throughout) with a returned loan, a paid fine, a
/// closed interlibrary loan, an ended computer session, a program
/// registration and a subscription; optionally a restricted case preserves
/// every class. Sweeps what outsiders see: right after, after a purge 61
/// days on (records set aside), and after a purge once the holds ended.
async fn sweep_library(engine: Engine, policy: &str, gag: bool) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    app.add_staff("clerk-b", "clerk", None).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app
        .new_patron_with(&clerk, json!({"pin": "2468013579"}))
        .await;
    let p = patron.id;
    let item = app.new_item().await;
    app.lend_and_return(&clerk, &patron.barcode, &item).await;
    let (status, fine) = app
        .post(
            &clerk,
            &format!("/api/v1/patrons/{p}/fines"),
            json!({"amount_cents": 300, "reason": "damaged"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fine}");
    let (status, body) = app
        .post(
            &clerk,
            &format!("/api/v1/fines/{}/payments", fine["id"]),
            json!({"amount_cents": 300}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (_, ill) = app
        .post(&clerk, "/api/v1/ill-requests", json!({"patron_id": p, "lender": "Denver Public Library", "title": "Beekeeping at Altitude"}))
        .await;
    let (status, body) = app
        .call(
            Some(&clerk),
            "PATCH",
            &format!("/api/v1/ill-requests/{}", ill["id"]),
            Some(json!({"status": "returned"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, session) = app
        .post(
            &clerk,
            "/api/v1/computer-sessions",
            json!({"patron_id": p, "terminal": "PAC-02"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let (status, body) = app
        .post(
            &clerk,
            &format!("/api/v1/computer-sessions/{}/end", session["id"]),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (_, program) = app.post(&clerk, "/api/v1/programs", json!({"title": "Seed swap", "starts_at": "2026-03-05T12:30:00-06:00", "ends_at": "2026-03-05T14:00:00-06:00"})).await;
    let (status, body) = app
        .post(
            &clerk,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
            json!({"patron_id": p}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, list) = app
        .post(
            &clerk,
            "/api/v1/mailing-lists",
            json!({"name": "Program news", "description": "What is on"}),
        )
        .await;
    let (status, body) = app
        .post(
            &clerk,
            &format!("/api/v1/mailing-lists/{}/subscriptions", list["id"]),
            json!({"patron_id": p}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    if gag {
        restricted_preservation(
            &app,
            &clerk,
            p,
            &[
                "circulation",
                "fines",
                "interlibrary_loan",
                "electronic_access",
                "program_registration",
                "mailing_list",
            ],
        )
        .await;
    } else {
        app.sign_in("director").await;
    }
    let ids = [
        ("/api/v1/items/by-barcode/", item.clone()),
        ("/api/v1/ill-requests/", ill["id"].to_string()),
        ("/api/v1/programs/", program["id"].to_string()),
        ("/api/v1/mailing-lists/", list["id"].to_string()),
    ];
    let roster = [(
        "/api/v1/programs/",
        format!("{}/registrations", program["id"]),
    )];
    let all: Vec<(&str, String)> = ids.iter().cloned().chain(roster.iter().cloned()).collect();
    let mut seen = Vec::new();
    sweep(&app, "day 0", &patron, &all, &mut seen).await;
    app.advance(Duration::days(61));
    let summary = app.purge().await;
    seen.push((
        "day 61 purge summary".into(),
        summary["targets"].to_string(),
    ));
    sweep(&app, "day 61", &patron, &all, &mut seen).await;
    app.advance(Duration::days(140));
    let summary = app.purge().await;
    seen.push((
        "day 201 purge summary".into(),
        summary["targets"].to_string(),
    ));
    sweep(&app, "day 201", &patron, &all, &mut seen).await;
    app.finish();
    seen
}

/// L6: a sweep of every GET outsiders can make, in twin libraries, at three
/// points of a restricted case's life.
async fn l6_twin_sweep_of_every_outside_read(engine: Engine) {
    alike_without_and_with_the_case(
        "outside the circle, {} observations tell the libraries apart:{}",
        |policy, gag| sweep_library(engine, policy, gag),
    )
    .await;
}

on_both_engines!(l6_twin_sweep_of_every_outside_read);

/// D2 with L5/L6 (SQLite): what a restricted case kept in secret, and the
/// package its circle released, are gone from the database files once the
/// case's holds end and a purge destroys them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_records_kept_in_secret_are_gone_from_the_files_once_destroyed() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let path = app.sqlite_path().unwrap();
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let p = patron.id;
    let title = "Zyzzyva Quillwort Compendium";
    let (status, ill) = app
        .post(
            &clerk,
            "/api/v1/ill-requests",
            json!({"patron_id": p, "lender": "Denver Public Library", "title": title}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ill}");
    let (status, _) = app
        .call(
            Some(&clerk),
            "PATCH",
            &format!("/api/v1/ill-requests/{}", ill["id"]),
            Some(json!({"status": "returned"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reference =
        restricted_preservation(&app, &clerk, p, &["registration", "interlibrary_loan"]).await;
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
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM kept_in_secret"), 2);
    let director = app.sign_in("director").await;
    let counsel = app.sign_in("legal_counsel").await;
    for (token, step, body) in [
        (&director, "review", json!({})),
        (
            &counsel,
            "counsel-review",
            json!({"advice": "release", "confirms": ["proper_form"]}),
        ),
        (&director, "approval", json!({})),
        (&director, "release", json!({})),
    ] {
        let (status, body) = app
            .post(
                token,
                &format!("/api/v1/disclosures/{reference}/{step}"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    let secrets = [
        patron.barcode.as_str(),
        patron.name.as_str(),
        patron.email.as_str(),
        title,
    ];
    let before = database_bytes(&path);
    for secret in secrets {
        assert!(
            contains(&before, secret),
            "the test can see '{secret}' before"
        );
    }
    app.advance(Duration::days(120));
    app.purge().await;
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM kept_in_secret"), 0);
    let after = database_bytes(&path);
    let left: Vec<&str> = secrets
        .into_iter()
        .filter(|s| contains(&after, s))
        .collect();
    assert!(left.is_empty(), "still in the database files: {left:?}");
    app.finish();
}

/// A patron registered for a program; optionally a restricted case
/// preserves program registrations; clerk-b cancels the registration at
/// the desk (set aside, in the case library). Then the patron's own
/// (ordinary) request for their program registrations is released and its
/// package kept. 100 days on (the case's hold has ended, 90 days) a purge.
/// What the auditor and clerk-b see of the ordinary request.
async fn ordinary_package_after_release_of_set_aside(
    engine: Engine,
    policy: &str,
    gag: bool,
) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    app.add_staff("clerk-b", "clerk", None).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let p = patron.id;
    let (_, program) = app.post(&clerk, "/api/v1/programs", json!({"title": "Seed swap", "starts_at": "2026-09-20T12:30:00-06:00", "ends_at": "2026-09-20T14:00:00-06:00"})).await;
    let (status, registration) = app
        .post(
            &clerk,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
            json!({"patron_id": p}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registration}");
    if gag {
        restricted_preservation(&app, &clerk, p, &["program_registration"]).await;
    } else {
        app.sign_in("director").await;
    }
    let clerk_b = app.sign_in_user("clerk-b").await;
    let (status, body) = app
        .call(
            Some(&clerk_b),
            "DELETE",
            &format!("/api/v1/program-registrations/{}", registration["id"]),
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let reference = own_program_registrations_released(&app, &clerk, p).await;
    app.advance(Duration::days(100));
    let summary = app.purge().await;
    let mut seen = vec![("purge summary".to_string(), summary["targets"].to_string())];
    let auditor = app.sign_in("auditor").await;
    let clerk_b = app.sign_in_user("clerk-b").await;
    for (who, token) in [("auditor", &auditor), ("clerk-b", &clerk_b)] {
        let (package, timeline) = request_as_seen(&app, token, &reference).await;
        seen.push((
            format!("{who} GET /api/v1/disclosures/{{ordinary}}: package"),
            package,
        ));
        seen.push((
            format!("{who} GET /api/v1/disclosures/{{ordinary}}: timeline"),
            timeline,
        ));
    }
    app.finish();
    seen
}

/// L6: when a restricted case's hold ends, `destroy_released` erases the
/// packages of ALL requests (`Requests::All`) of the patron and class,
/// ordinary ones included, whatever their dates: an ordinary package
/// released after the record was set aside (so not holding it) goes, with
/// a `package_erased` step, only in the library that had the case.
async fn l6_the_end_of_a_restricted_hold_erases_no_ordinary_package(engine: Engine) {
    alike_without_and_with_the_case(
        "outside the circle, {} observations tell the libraries apart:{}",
        |policy, gag| ordinary_package_after_release_of_set_aside(engine, policy, gag),
    )
    .await;
}

on_both_engines!(l6_the_end_of_a_restricted_hold_erases_no_ordinary_package);
