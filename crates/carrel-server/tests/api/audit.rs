//! D7: every access is in the audit log, with no personal data, and the
//! log's chain catches editing, deleting, inserting and reordering.

use std::sync::Arc;

use carrel_store::audit;
use carrel_store::Store;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{contains, database_bytes, Engine, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

async fn verify(store: &Arc<Store>) -> audit::Verification {
    verify_with(store, None).await
}

async fn verify_with(store: &Arc<Store>, anchor: Option<audit::Anchor>) -> audit::Verification {
    let store = store.clone();
    tokio::task::spawn_blocking(move || audit::verify(&store, anchor.as_ref()))
        .await
        .unwrap()
        .unwrap()
}

/// Some traffic, so the log has entries of several kinds.
async fn busy_app(engine: Engine) -> TestApp {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let item = app.new_item().await;
    app.get(&token, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    app.post(
        &token,
        "/api/v1/checkouts",
        json!({"patron_barcode": patron.barcode, "item_barcode": item}),
    )
    .await;
    app.post(&token, "/api/v1/checkins", json!({"item_barcode": item}))
        .await;
    app
}

async fn d7_reads_and_writes_are_audited_without_personal_data(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.sign_in("clerk").await;
    let patron = app.new_patron(&token).await;
    let reads = || {
        app.raw_count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'read' AND record_class = 'registration' AND record_id = 'patron:{}' AND decision = 'granted' AND purpose = 'account'",
        patron.id
    ))
    };
    let before = reads();
    let (status, _) = app
        .get(&token, &format!("/api/v1/patrons/{}", patron.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reads(), before + 1, "a read is logged, not only changes");
    let created = app.raw_count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'create' AND record_id = 'patron:{}'",
        patron.id
    ));
    assert_eq!(created, 1);
    // A read that fails (no such patron) leaves no grant entry behind.
    let total = app.raw_count("SELECT COUNT(*) FROM audit_log");
    let (status, _) = app.get(&token, "/api/v1/patrons/987654").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.raw_count("SELECT COUNT(*) FROM audit_log"), total);

    let text = app.raw_audit_text();
    for secret in [&patron.name, &patron.barcode, &patron.email] {
        assert!(
            !text.contains(secret.as_str()),
            "the audit log holds no personal data"
        );
    }
    assert!(verify(&app.store).await.first_bad.is_none());
    app.finish();
}

/// One way of tampering with the log: the SQL (given the last seq), the
/// entry verify must name (given the last seq), and words in its reason.
struct Tampering {
    kind: &'static str,
    sql: fn(i64) -> String,
    bad_seq: fn(i64) -> i64,
    reason: &'static str,
}

async fn d7_tampering_is_detected(engine: Engine) {
    let tampering = [
        Tampering {
            kind: "edit",
            sql: |_| "UPDATE audit_log SET purpose = 'statistics' WHERE seq = 3".into(),
            bad_seq: |_| 3,
            reason: "altered",
        },
        Tampering {
            kind: "delete",
            sql: |_| "DELETE FROM audit_log WHERE seq = 4".into(),
            bad_seq: |_| 4,
            reason: "missing",
        },
        Tampering {
            kind: "insert",
            sql: |last| {
                format!(
                    "INSERT INTO audit_log (seq, at, actor, action, record_class, record_id, purpose, decision, detail, prev_hash, hash)
                     SELECT {}, at, actor, 'read', 'registration', 'patron:1', 'account', 'granted', NULL, hash, 'forged' FROM audit_log WHERE seq = {last}",
                    last + 1
                )
            },
            bad_seq: |last| last + 1,
            reason: "altered",
        },
        Tampering {
            kind: "reorder",
            sql: |_| {
                "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -2;".into()
            },
            bad_seq: |_| 2,
            reason: "does not follow",
        },
        Tampering {
            kind: "truncate",
            sql: |last| format!("DELETE FROM audit_log WHERE seq = {last}"),
            bad_seq: |last| last,
            reason: "removed from the end",
        },
    ];
    for Tampering {
        kind,
        sql,
        bad_seq,
        reason,
    } in tampering
    {
        let app = busy_app(engine).await;
        let intact = verify(&app.store).await;
        assert!(intact.first_bad.is_none(), "{kind}: {intact:?}");
        let last = app.raw_count("SELECT MAX(seq) FROM audit_log");
        assert!(last > 6);
        app.raw_execute(&sql(last));
        let report = verify(&app.store).await;
        let (seq, why) = report
            .first_bad
            .unwrap_or_else(|| panic!("{kind} was not detected"));
        assert_eq!(seq, bad_seq(last), "{kind}: {why}");
        assert!(why.contains(reason), "{kind}: {why}");
        app.finish();
    }
}

/// Cutting entries off the end and rewinding the head to match leaves a
/// log that is consistent in itself; only an anchor kept outside the
/// database shows what was lost.
async fn d7_an_anchor_catches_a_log_cut_back_with_its_head(engine: Engine) {
    let app = busy_app(engine).await;
    let report = verify(&app.store).await;
    let anchor = audit::Anchor {
        seq: report.last_seq,
        hash: report.last_hash.clone(),
    };
    assert!(verify_with(&app.store, Some(anchor.clone()))
        .await
        .first_bad
        .is_none());

    let keep = anchor.seq - 2;
    app.raw_execute(&format!(
        "DELETE FROM audit_log WHERE seq > {keep};
         UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_log WHERE seq = {keep}) WHERE id = 1;"
    ));
    assert!(
        verify(&app.store).await.first_bad.is_none(),
        "consistent in itself"
    );
    let (seq, why) = verify_with(&app.store, Some(anchor.clone()))
        .await
        .first_bad
        .expect("the anchor catches it");
    assert_eq!(seq, keep + 1);
    assert!(why.contains("cut off"), "{why}");

    // A wrong hash for an entry that is there means the log was rewritten.
    let forged = audit::Anchor {
        seq: 2,
        hash: "0".repeat(64),
    };
    let (seq, why) = verify_with(&app.store, Some(forged))
        .await
        .first_bad
        .unwrap();
    assert_eq!(seq, 2);
    assert!(why.contains("rewritten"), "{why}");
    app.finish();
}

/// The audit log's own rule (2 years after an entry is written, in both
/// policies): the purge cuts the due prefix, records the new floor in its
/// entry, and the kept log still verifies; cutting further and moving the
/// floor to match is caught, because no purge recorded that floor.
async fn d1_audit_entries_are_destroyed_after_two_years_and_the_rest_still_verifies(
    engine: Engine,
) {
    let app = busy_app(engine).await;
    let before = verify(&app.store).await;
    assert!(before.first_bad.is_none(), "{:?}", before.first_bad);
    assert_eq!(before.floor, 0);
    let written_on_day_one = before.last_seq;
    let anchor = audit::Anchor {
        seq: before.last_seq,
        hash: before.last_hash.clone(),
    };

    // Written on 2 March 2026 (Chicago): kept through 1 March 2028, to
    // 23:59 that night in Chicago (05:59 UTC on the 2nd).
    let at = |instant: &str| instant.parse::<DateTime<Utc>>().unwrap() - app.now();
    app.advance(at("2028-03-02T05:59:00Z"));
    let summary = app.purge().await;
    assert_eq!(TestApp::destroyed(&summary, "audit log entries"), 0);
    assert_eq!(verify(&app.store).await.floor, 0);

    app.advance(at("2028-03-02T06:01:00Z"));
    let director = app.sign_in("director").await;
    let (status, plan) = app.get(&director, "/api/v1/retention").await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let audit_plan = &plan["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "audit")
        .unwrap_or_else(|| panic!("no audit class in {plan}"))["targets"][0];
    assert_eq!(audit_plan["due"], written_on_day_one, "{audit_plan}");

    let summary = app.purge().await;
    assert_eq!(
        TestApp::destroyed(&summary, "audit log entries"),
        written_on_day_one,
        "exactly the entries of 2 March 2026 go: {summary}"
    );
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE seq <= {written_on_day_one}"
        )),
        0
    );
    let after = verify(&app.store).await;
    assert!(after.first_bad.is_none(), "{:?}", after.first_bad);
    assert_eq!(after.floor, written_on_day_one);
    assert!(after.entries_checked > 0);
    assert_eq!(after.last_seq, after.floor + after.entries_checked);
    // The purge's one entry for the class names the floor.
    assert_eq!(
        app.raw_count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'system:retention' AND record_class = 'audit' AND detail LIKE '%floor={written_on_day_one}:{}%'",
            anchor.hash
        )),
        1
    );
    // An anchor on the floor entry still checks against the recorded floor;
    // a wrong one does not pass.
    assert!(verify_with(&app.store, Some(anchor.clone()))
        .await
        .first_bad
        .is_none());
    let forged = audit::Anchor {
        seq: anchor.seq,
        hash: "0".repeat(64),
    };
    let (_, why) = verify_with(&app.store, Some(forged))
        .await
        .first_bad
        .expect("a wrong anchor on the floor is caught");
    assert!(why.contains("rewritten"), "{why}");

    // Someone with the database but not the key cuts one more entry and
    // moves the floor to match: the chain from there is consistent, but no
    // purge recorded that floor.
    app.raw_execute(
        "UPDATE audit_head SET floor_seq = floor_seq + 1,
             floor_hash = (SELECT hash FROM audit_log WHERE seq = audit_head.floor_seq + 1);
         DELETE FROM audit_log WHERE seq = (SELECT floor_seq FROM audit_head)",
    );
    let (seq, why) = verify(&app.store)
        .await
        .first_bad
        .expect("moving the floor is caught");
    assert_eq!(seq, written_on_day_one + 2);
    assert!(why.contains("no retention purge recorded"), "{why}");
    app.finish();
}

/// Operations (entries of one instant) that name both records: what the
/// review joined to rebuild who borrowed what from the audit log.
fn operations_naming_both(app: &TestApp, a: &str, b: &str) -> i64 {
    app.raw_count(&format!(
        "SELECT COUNT(*) FROM audit_log x JOIN audit_log y ON x.at = y.at
         WHERE x.record_id = '{a}' AND y.record_id = '{b}'"
    ))
}

/// D1, D2, D7: a checkout writes `read registration patron:P`, `read
/// catalogue item:I` and `create circulation loan:L` in one instant, and
/// the audit log outlives the loan by years. Once the loan is destroyed
/// (and a program registration is cancelled), no entry of its checkout,
/// renewal or return names the patron, the item or the loan, the erased
/// ids and their salts are gone from the database files, nothing else
/// links the patron to the item, and the chain still verifies. The live
/// loan's trail, and the patron's own, stay.
async fn d1_a_destroyed_loan_leaves_no_link_between_patron_and_item_in_the_audit_log(
    engine: Engine,
) {
    for policy in [MISSOURI, COLORADO] {
        let app = TestApp::spawn_with(engine, policy).await;
        // The test clock stands still: move it a second between operations, as
        // a desk would, so operations are told apart by their instant.
        let tick = || app.advance(Duration::seconds(1));
        let clerk = app.sign_in("clerk").await;
        tick();
        let patron = app.new_patron(&clerk).await;
        tick();
        let (returned, still_out) = (app.new_item().await, app.new_item().await);
        tick();
        // The desk scans the card, then the item, then checks out: three
        // operations a second apart.
        let (status, found) = app
            .post(
                &clerk,
                "/api/v1/patrons/lookup",
                json!({"card_barcode": patron.barcode}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        tick();
        let (status, _) = app
            .get(&clerk, &format!("/api/v1/items/by-barcode/{returned}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        tick();
        let (status, loan) = app
            .post(
                &clerk,
                "/api/v1/checkouts",
                json!({"patron_barcode": patron.barcode, "item_barcode": returned}),
            )
            .await;
        tick();
        assert_eq!(status, StatusCode::CREATED, "{loan}");
        // A day on, so that the renewal moves the due date.
        // (The salts are picked by the time of the loan's entries: the
        // sign-in gets a second of its own.)
        app.advance(Duration::days(1));
        let clerk = app.sign_in("clerk").await;
        tick();
        let (status, renewed) = app
            .post(
                &clerk,
                &format!("/api/v1/loans/{}/renewal", loan["id"]),
                json!({}),
            )
            .await;
        tick();
        assert_eq!(status, StatusCode::OK, "{renewed}");
        app.post(
            &clerk,
            "/api/v1/checkins",
            json!({"item_barcode": returned}),
        )
        .await;
        tick();
        let (status, live) = app
            .post(
                &clerk,
                "/api/v1/checkouts",
                json!({"patron_barcode": patron.barcode, "item_barcode": still_out}),
            )
            .await;
        tick();
        assert_eq!(status, StatusCode::CREATED, "{live}");
        // A program registration, cancelled: destroyed at once.
        let (status, program) = app.post(&clerk, "/api/v1/programs", json!({"title": "Seed swap", "starts_at": "2026-03-20T12:30:00-06:00", "ends_at": "2026-03-20T14:00:00-06:00"})).await;
        tick();
        assert_eq!(status, StatusCode::CREATED, "{program}");
        let (status, registration) = app
            .post(
                &clerk,
                &format!("/api/v1/programs/{}/registrations", program["id"]),
                json!({"patron_id": patron.id}),
            )
            .await;
        tick();
        assert_eq!(status, StatusCode::CREATED, "{registration}");
        let registration_ref = format!("program_registration:{}", registration["id"]);
        let naming_registration =
            format!("SELECT COUNT(*) FROM audit_log WHERE record_id = '{registration_ref}'");
        assert_eq!(app.raw_count(&naming_registration), 1);
        let (status, _) = app
            .call(
                Some(&clerk),
                "DELETE",
                &format!("/api/v1/program-registrations/{}", registration["id"]),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.raw_count(&naming_registration),
            1,
            "only the cancellation names the destroyed registration, not its creation"
        );
        let who = format!("patron:{}", patron.id);
        let gone_loan = format!("loan:{}", loan["id"]);
        let gone_item = format!("item:{}", loan["item_id"]);
        let live_loan = format!("loan:{}", live["id"]);
        assert!(
            operations_naming_both(&app, &who, &gone_loan) > 0,
            "the test sees the link before"
        );
        // Reads of the catalogue never name the item: beside the card's
        // lookup a second earlier, it would say who borrowed what.
        assert_eq!(
            app.raw_count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'read' AND record_id LIKE 'item:%'"
            ),
            0
        );
        let salts = app.raw_strings(&format!(
            "SELECT record_salt FROM audit_log WHERE record_salt IS NOT NULL AND at IN
               (SELECT at FROM audit_log WHERE record_id = '{gone_loan}')"
        ));
        assert!(salts.len() >= 3, "checkout, renewal and return: {salts:?}");

        // 61 days later the returned loan is destroyed; the other is still out.
        app.advance(Duration::days(61));
        let summary = app.purge().await;
        assert_eq!(TestApp::destroyed(&summary, "loans"), 1);

        assert_eq!(operations_naming_both(&app, &who, &gone_item), 0);
        assert_eq!(operations_naming_both(&app, &who, &gone_loan), 0);
        assert_eq!(
            app.raw_count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE record_id = '{gone_loan}'"
            )),
            0
        );
        // Nothing else joins them: no subject row of the destroyed loan's
        // operations is left, and no other table names the loan.
        assert_eq!(
            app.raw_count(
                "SELECT COUNT(*) FROM audit_subjects s JOIN audit_log a ON a.seq BETWEEN s.first_seq AND s.last_seq
                 WHERE a.record_id IS NULL AND a.record_ref IS NOT NULL"
            ),
            0,
            "an erased entry is still listed under a subject"
        );
        assert_eq!(
            app.raw_count(&format!(
                "SELECT COUNT(*) FROM loans WHERE id = {}",
                loan["id"]
            )),
            0
        );
        if let Some(path) = app.sqlite_path() {
            let bytes = database_bytes(&path);
            for salt in &salts {
                assert!(
                    !contains(&bytes, salt),
                    "an erased entry's salt is still in the database files"
                );
            }
        }
        // The live loan's trail stays, and so does the patron's own.
        assert!(operations_naming_both(&app, &who, &live_loan) > 0);
        assert!(
            app.raw_count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE record_id = '{who}' AND action = 'create'"
            )) > 0,
            "the patron's registration is still on the record"
        );
        assert_eq!(
            app.raw_count(
                "SELECT COUNT(*) FROM audit_log WHERE record_id IS NULL AND record_ref IS NOT NULL AND erased_tag IS NULL"
            ),
            0,
            "every erasure Carrel made carries its tag"
        );
        let report = verify(&app.store).await;
        assert!(report.first_bad.is_none(), "{report:?}");
        assert!(report.entries_checked > 10);
        app.finish();
    }
}

/// D7: an erased entry is told from a tampered one: an id put back, an id
/// changed, or a salt erased without its id, all fail verification; so
/// does an id and salt erased together by hand, with the operation's
/// subject rows deleted (the erasure Carrel makes, but without the key),
/// and an erasure tag copied from an entry Carrel did erase.
async fn d7_erasing_record_ids_by_hand_is_detected(engine: Engine) {
    let app = busy_app(engine).await;
    // The checkout's entry for the loan, which is returned but not yet
    // destroyed: its record id says whose loan a clerk handled.
    let target = app.raw_count(
        "SELECT MIN(seq) FROM audit_log WHERE record_id LIKE 'loan:%' AND record_salt IS NOT NULL",
    );
    let its_subjects =
        format!("DELETE FROM audit_subjects WHERE first_seq <= {target} AND last_seq >= {target}");
    for (kind, sql, expected) in [
        (
            "id changed",
            format!("UPDATE audit_log SET record_id = 'patron:999999' WHERE seq = {target}"),
            "altered",
        ),
        (
            "salt erased alone",
            format!("UPDATE audit_log SET record_salt = NULL WHERE seq = {target}"),
            "altered",
        ),
        (
            "id erased alone",
            format!("UPDATE audit_log SET record_id = NULL WHERE seq = {target}"),
            "altered",
        ),
        (
            "commitment dropped",
            format!(
                "UPDATE audit_log SET record_ref = NULL, record_salt = NULL WHERE seq = {target}"
            ),
            "altered",
        ),
        (
            "id and salt erased together, subject rows deleted",
            format!(
                "UPDATE audit_log SET record_id = NULL, record_salt = NULL WHERE seq = {target}; {its_subjects}"
            ),
            "erased by hand (no erasure by Carrel recorded)",
        ),
        (
            "erasure tag copied from an entry Carrel erased",
            format!(
                "UPDATE audit_log SET record_id = NULL, record_salt = NULL,
                   erased_tag = (SELECT MIN(erased_tag) FROM audit_log WHERE erased_tag IS NOT NULL)
                 WHERE seq = {target}; {its_subjects}"
            ),
            "erased by hand (its erasure tag is not one Carrel made for it)",
        ),
    ] {
        let app = busy_app(engine).await;
        cancel_a_registration(&app).await;
        assert!(
            app.raw_count("SELECT COUNT(*) FROM audit_log WHERE erased_tag IS NOT NULL") > 0,
            "the test has an erasure by Carrel to copy a tag from"
        );
        let before = verify(&app.store).await;
        assert!(before.first_bad.is_none(), "{kind}: {before:?}");
        app.raw_execute(&sql);
        let (seq, why) = verify(&app.store)
            .await
            .first_bad
            .unwrap_or_else(|| panic!("{kind} was not detected"));
        assert_eq!(seq, target, "{kind}: {why}");
        assert!(why.contains(expected), "{kind}: {why}");
        app.finish();
    }
    app.finish();
}

/// A program registration made and cancelled: Carrel erases the record ids
/// of the registration's entries at once.
async fn cancel_a_registration(app: &TestApp) {
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    let (status, program) = app.post(&clerk, "/api/v1/programs", json!({"title": "Seed swap", "starts_at": "2026-03-20T12:30:00-06:00", "ends_at": "2026-03-20T14:00:00-06:00"})).await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let (status, registration) = app
        .post(
            &clerk,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
            json!({"patron_id": patron.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registration}");
    let (status, _) = app
        .call(
            Some(&clerk),
            "DELETE",
            &format!("/api/v1/program-registrations/{}", registration["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// D7: `audit_subjects` (which entries an operation wrote, and which
/// destroyable records it named) is outside the chain. Someone who can
/// write to the database but has no audit key adds a row saying the
/// clerk's read of patron P was part of an operation on a program
/// registration of their own making, then cancels that registration at the
/// desk. Before subject rows carried a MAC (migration 16), Carrel erased
/// patron P's id from the read, tagged the erasure with the key, and
/// `carrel audit verify` passed. (An outside review's test.)
async fn d7_a_subject_row_written_behind_carrels_back_erases_nothing(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let victim = app.new_patron(&clerk).await;
    let accomplice = app.new_patron(&clerk).await;
    // The snooping read the insider wants gone.
    let (status, _) = app
        .get(&clerk, &format!("/api/v1/patrons/{}", victim.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let snoop = app.raw_count(&format!(
        "SELECT MAX(seq) FROM audit_log WHERE record_id = 'patron:{}'",
        victim.id
    ));
    let (_, program) = app.post(&clerk, "/api/v1/programs", json!({"title": "Seed swap", "starts_at": "2026-06-20T12:30:00-06:00", "ends_at": "2026-06-20T14:00:00-06:00"})).await;
    let (status, registration) = app
        .post(
            &clerk,
            &format!("/api/v1/programs/{}/registrations", program["id"]),
            json!({"patron_id": accomplice.id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registration}");
    // Behind Carrel's back: one row, no key needed.
    app.raw_execute(&format!(
        "INSERT INTO audit_subjects (kind, id, first_seq, last_seq) VALUES ('program_registration', {}, {snoop}, {snoop})",
        registration["id"]
    ));
    let (status, body) = app
        .call(
            Some(&clerk),
            "DELETE",
            &format!("/api/v1/program-registrations/{}", registration["id"]),
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let store = app.store.clone();
    let verification =
        tokio::task::spawn_blocking(move || carrel_store::audit::verify(&store, None).unwrap())
            .await
            .unwrap();
    let still_named = app.raw_count(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE seq = {snoop} AND record_id = 'patron:{}'",
        victim.id
    ));
    assert!(
        still_named == 1 || verification.first_bad.is_some(),
        "entry {snoop} no longer says whose record the clerk read, and verify passes ({:?})",
        verification.first_bad
    );
    app.finish();
}

on_both_engines!(
    d7_a_subject_row_written_behind_carrels_back_erases_nothing,
    d1_a_destroyed_loan_leaves_no_link_between_patron_and_item_in_the_audit_log,
    d7_erasing_record_ids_by_hand_is_detected,
    d1_audit_entries_are_destroyed_after_two_years_and_the_rest_still_verifies,
    d7_reads_and_writes_are_audited_without_personal_data,
    d7_tampering_is_detected,
    d7_an_anchor_catches_a_log_cut_back_with_its_head
);
