//! Second outside review of records kept in secret (commits 0e857f5..f1b4f2c):
//! twin libraries that differ only in a restricted case A, compared on
//! what staff outside A's circle see (a second restricted case's taker,
//! the auditor), and a desk deletion racing a hold being placed. All
//! failed on f1b4f2c: setting a record aside erased only ordinary
//! requests' packages (not another restricted case's), pins of ended
//! holds still tied a set-aside record to their requests, and a desk
//! deletion did not wait for a hold being placed.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::gag_twins::{alike_without_and_with_the_case, restricted_preservation};
use crate::helpers::{code, Engine, TestApp, MISSOURI};
use crate::on_both_engines;

fn doc(kind: &str) -> Value {
    json!({"kind": kind, "reference": "CR-2026-0412", "issuing_court": "Circuit Court of Jefferson County", "jurisdiction": "23rd Judicial Circuit, Missouri"})
}

/// Registers `patron` for a new program held on 5 March 2026; returns the
/// registration.
async fn registered(app: &TestApp, clerk: &str, patron: i64) -> Value {
    let (status, program) = app
        .post(
            clerk,
            "/api/v1/programs",
            json!({"title": "Seed swap", "starts_at": "2026-03-05T12:30:00-06:00", "ends_at": "2026-03-05T14:00:00-06:00"}),
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
    registration
}

/// A law-enforcement request for `patron`'s program registrations taken
/// by `taker` (restricted if `gagged`), with its preservation if
/// `preserve`. Returns its reference.
async fn law_enforcement_request(
    app: &TestApp,
    policy: &str,
    taker: &str,
    patron: i64,
    gagged: bool,
    preserve: bool,
) -> String {
    // Court process for an ordinary request, a national-security letter
    // for a restricted one.
    let (basis, document) = match (gagged, policy == MISSOURI) {
        (true, _) => ("federal_order", "national_security_letter"),
        (false, true) => ("court_order", "court_order"),
        (false, false) => ("legal_process", "court_order"),
    };
    let (status, request) = app
        .post(
            taker,
            "/api/v1/disclosures",
            json!({
                "requester_kind": "law_enforcement", "requester": "Detective Oda Marr",
                "subject_patron_id": patron, "basis": basis,
                "classes": ["program_registration"], "from_date": "2026-01-01", "to_date": "2026-12-31",
                "gagged": gagged,
                "documents": [doc(document), doc("preservation_request")],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{request}");
    let reference = request["reference"].as_str().unwrap().to_string();
    if preserve {
        let director = app.sign_in("director").await;
        let (status, body) = app
            .post(
                &director,
                &format!("/api/v1/disclosures/{reference}/preservation"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    reference
}

/// The Director (with counsel) releases `reference`; its package is kept.
async fn release(app: &TestApp, reference: &str, confirms: &[&str]) {
    let director = app.sign_in("director").await;
    let counsel = app.sign_in("legal_counsel").await;
    for (token, step, body) in [
        (&director, "review", json!({})),
        (
            &counsel,
            "counsel-review",
            json!({"advice": "release", "confirms": confirms}),
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
}

/// What `token` sees of a request: status and package summary, timeline
/// steps (no times), and the package download's status.
async fn seen_of(app: &TestApp, who: &str, token: &str, reference: &str) -> Vec<(String, String)> {
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
    let (download, _) = app
        .get(token, &format!("/api/v1/disclosures/{reference}/package"))
        .await;
    vec![
        (
            format!("{who} GET /api/v1/disclosures/{{request}}"),
            // (Digests differ anyway: names are unique per library.)
            format!(
                "{status} package available={} records={}",
                r["package"]["available"], r["package"]["records"]
            ),
        ),
        (format!("{who} timeline of the request"), steps.join(" | ")),
        (format!("{who} GET .../package"), download.to_string()),
    ]
}

/// Case B (restricted, taken by clerk-b, no supervisor: A's circle does
/// not include clerk-b) asks for a patron's program registrations and is
/// released, its package kept. Then case A (restricted, taken by the
/// clerk) preserves them, or (twin) does not exist. Then the registration
/// goes: cancelled at the desk (`desk`) or, the program over, by a purge.
/// What clerk-b sees of B.
async fn another_restricted_package(
    engine: Engine,
    policy: &str,
    gag_a: bool,
    desk: bool,
) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    app.add_staff("clerk-b", "clerk", None).await;
    let clerk = app.sign_in("clerk").await;
    let clerk_b = app.sign_in_user("clerk-b").await;
    let patron = app.new_patron(&clerk).await;
    let registration = registered(&app, &clerk, patron.id).await;
    let b = law_enforcement_request(&app, policy, &clerk_b, patron.id, true, false).await;
    release(&app, &b, &["proper_form"]).await;
    let clerk = app.sign_in("clerk").await;
    if gag_a {
        restricted_preservation(&app, &clerk, patron.id, &["program_registration"]).await;
    } else {
        app.sign_in("director").await;
    }
    let mut seen = Vec::new();
    if desk {
        let (status, body) = app
            .call(
                Some(&clerk),
                "DELETE",
                &format!("/api/v1/program-registrations/{}", registration["id"]),
                None,
            )
            .await;
        seen.push((
            "clerk DELETE /api/v1/program-registrations/{id}".to_string(),
            format!("{status} {}", code(&body)),
        ));
    } else {
        app.advance(Duration::days(10));
        let summary = app.purge().await;
        seen.push((
            "purge: program registrations destroyed".to_string(),
            TestApp::destroyed(&summary, "program registrations").to_string(),
        ));
    }
    let clerk_b = app.sign_in_user("clerk-b").await;
    seen.extend(seen_of(&app, "clerk-b", &clerk_b, &b).await);
    app.finish();
    seen
}

async fn twins_of_another_restricted_package(engine: Engine, desk: bool) {
    alike_without_and_with_the_case(
        "clerk-b (outside A's circle) tells the libraries apart by {} observations:{}",
        |policy, gag| another_restricted_package(engine, policy, gag, desk),
    )
    .await;
}

/// L6, D1/D2: a record set aside for restricted case A must erase every
/// package that copied it but A's own, as its deletion would. It erased
/// only ordinary requests' packages: restricted case B's released package
/// (B's holds keep nothing) still held a copy of the cancelled
/// registration, downloadable, with no `package_erased` step, while
/// without A the desk deletion erased it. B's taker told the libraries
/// apart, and B's requester could still receive a record destroyed for B.
async fn l6_a_desk_cancellation_set_aside_for_one_case_erases_another_cases_package(
    engine: Engine,
) {
    twins_of_another_restricted_package(engine, true).await;
}

/// The same at a purge (`set_aside_in_secret` -> `set_aside`): the
/// registration's time is up, A's hold sets it aside, B's package stays.
async fn l6_a_purge_set_aside_for_one_case_erases_another_cases_package(engine: Engine) {
    twins_of_another_restricted_package(engine, false).await;
}

/// An ordinary request O preserves a patron's program registrations;
/// 50 days on restricted case A does too (or, twin, does not exist); 45
/// days on O's hold has ended (90 days) but no purge has run, so its pins
/// are still there. The patron cancels the registration at the desk: only
/// A's hold is in force, so it is set aside. What the auditor sees of the
/// retention plan; then O is released (its package built without the
/// record), A's hold ends, a purge; what the auditor sees of O.
async fn ended_ordinary_pins(engine: Engine, policy: &str, gag_a: bool) -> Vec<(String, String)> {
    let app = TestApp::spawn_with(engine, policy).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let registration = registered(&app, &clerk, patron.id).await;
    let o = law_enforcement_request(&app, policy, &clerk, patron.id, false, true).await;
    app.advance(Duration::days(50));
    let clerk = app.sign_in("clerk").await;
    if gag_a {
        restricted_preservation(&app, &clerk, patron.id, &["program_registration"]).await;
    } else {
        app.sign_in("director").await;
    }
    app.advance(Duration::days(45));
    let clerk = app.sign_in("clerk").await;
    let (status, body) = app
        .call(
            Some(&clerk),
            "DELETE",
            &format!("/api/v1/program-registrations/{}", registration["id"]),
            None,
        )
        .await;
    let mut seen = vec![(
        "clerk DELETE /api/v1/program-registrations/{id}".to_string(),
        format!("{status} {}", code(&body)),
    )];
    let auditor = app.sign_in("auditor").await;
    let (status, plan) = app.get(&auditor, "/api/v1/retention").await;
    let target = plan["classes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["targets"].as_array().cloned().unwrap_or_default())
        .find(|t| t["kind"] == "program_registration")
        .unwrap_or(Value::Null);
    seen.push((
        "auditor GET /api/v1/retention: program registrations".to_string(),
        format!(
            "{status} held={} legal_hold={} kept={}",
            target["held"], target["legal_hold"], target["kept"]
        ),
    ));
    release(
        &app,
        &o,
        &["competent_jurisdiction", "good_cause", "proper_form"],
    )
    .await;
    app.advance(Duration::days(50));
    app.purge().await;
    let auditor = app.sign_in("auditor").await;
    seen.extend(seen_of(&app, "auditor", &auditor, &o).await);
    app.finish();
    seen
}

/// L6: pins of ENDED holds stay until the next purge, and `pins_of` (the
/// desk) ignores them, but `kept_in_secret::shown_to` (the plan) and
/// `destroy_released` (which packages go) follow them: a record set aside
/// for A while an ordinary request's ended hold still pins it is shown in
/// the plan to everyone who sees ordinary requests, and the end of A's
/// hold erases O's package (built after the record was gone). Without A:
/// nothing in the plan, O's package stays.
async fn l6_pins_of_an_ended_ordinary_hold_link_it_to_what_a_restricted_case_keeps(engine: Engine) {
    alike_without_and_with_the_case(
        "the auditor tells the libraries apart by {} observations:{}",
        |policy, gag| ended_ordinary_pins(engine, policy, gag),
    )
    .await;
}

on_both_engines!(
    l6_a_desk_cancellation_set_aside_for_one_case_erases_another_cases_package,
    l6_a_purge_set_aside_for_one_case_erases_another_cases_package,
    l6_pins_of_an_ended_ordinary_hold_link_it_to_what_a_restricted_case_keeps,
);

/// L5 on PostgreSQL: a desk deletion waits while a legal hold is being
/// placed (`legal_holds::place` holds the purge lock while it pins). It
/// does not: `delete_at_desk` reads the pins (`pins_of`) on READ COMMITTED
/// without any lock, so a hold whose pinning INSERT ... SELECT has read the
/// registration but not committed sees it deleted under it (the hold says
/// it pinned 1 record; the record is gone, and no package has it), or, with
/// an ordinary hold being placed while a restricted one is in force, the
/// record is set aside out of the ordinary hold's reach. Here the placing
/// is stood in for by a transaction holding the purge lock, as in
/// `l5_placing_a_hold_waits_for_a_purge_in_progress`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l5_a_desk_deletion_waits_for_a_hold_being_placed() {
    if crate::helpers::skip_postgres() {
        return;
    }
    let app = TestApp::spawn(Engine::Postgres).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let registration = registered(&app, &clerk, patron.id).await;

    let schema = app.postgres_schema().expect("a PostgreSQL test");
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (finish_tx, finish) = std::sync::mpsc::channel::<()>();
    let placing = std::thread::spawn(move || {
        let mut client =
            postgres::Client::connect(&crate::helpers::postgres_url(), postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .unwrap();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({})",
            carrel_store::retention::PURGE_LOCK
        ))
        .unwrap();
        locked_tx.send(()).unwrap();
        finish.recv().unwrap();
        tx.commit().unwrap();
    });
    locked.recv().unwrap();
    let path = format!("/api/v1/program-registrations/{}", registration["id"]);
    let went_ahead = {
        let deleting = app.call(Some(&clerk), "DELETE", &path, None);
        tokio::pin!(deleting);
        match tokio::time::timeout(std::time::Duration::from_millis(500), &mut deleting).await {
            Ok(_) => {
                finish_tx.send(()).unwrap();
                true
            }
            Err(_) => {
                finish_tx.send(()).unwrap();
                deleting.await;
                false
            }
        }
    };
    placing.join().unwrap();
    app.finish();
    assert!(
        !went_ahead,
        "a desk deletion went ahead while a legal hold was being placed"
    );
}
