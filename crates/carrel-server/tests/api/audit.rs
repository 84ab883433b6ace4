//! D7: every access is in the audit log, with no personal data, and the
//! log's chain catches editing, deleting, inserting and reordering.

use std::sync::Arc;

use carrel_store::audit;
use carrel_store::Store;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Engine, TestApp};
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

on_both_engines!(
    d1_audit_entries_are_destroyed_after_two_years_and_the_rest_still_verifies,
    d7_reads_and_writes_are_audited_without_personal_data,
    d7_tampering_is_detected,
    d7_an_anchor_catches_a_log_cut_back_with_its_head
);
