//! D6: over HTTP, every role gets exactly what the policy table gives it,
//! under both policies; a denial is a 403 with the reason and no data, and
//! is written to the audit log (L7: refused attempts are on the record).

use carrel_policy::{Action, RecordClass};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{code, Engine, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

/// An API operation and the (action, class, purpose) grants it needs.
struct Operation {
    name: &'static str,
    needs: &'static [(Action, RecordClass, &'static str)],
}

const OPERATIONS: &[Operation] = &[
    Operation {
        name: "register patron",
        needs: &[(Action::Create, RecordClass::Registration, "account")],
    },
    Operation {
        name: "read patron",
        needs: &[(Action::Read, RecordClass::Registration, "account")],
    },
    Operation {
        name: "update patron",
        needs: &[(Action::Update, RecordClass::Registration, "account")],
    },
    Operation {
        name: "read loans",
        needs: &[(Action::Read, RecordClass::Circulation, "circulation")],
    },
    Operation {
        name: "read fines",
        needs: &[(Action::Read, RecordClass::Fines, "fines_and_fees")],
    },
    Operation {
        name: "assess fine",
        needs: &[(Action::Create, RecordClass::Fines, "fines_and_fees")],
    },
    Operation {
        name: "create item",
        needs: &[(Action::Create, RecordClass::Catalogue, "collection")],
    },
    Operation {
        name: "checkout",
        needs: &[
            (Action::Read, RecordClass::Registration, "account"),
            (Action::Read, RecordClass::Fines, "fines_and_fees"),
            (Action::Read, RecordClass::Catalogue, "circulation"),
            (Action::Create, RecordClass::Circulation, "circulation"),
        ],
    },
    Operation {
        name: "read statistics",
        needs: &[(Action::Read, RecordClass::Statistics, "statistics")],
    },
];

async fn attempt(app: &TestApp, token: &str, op: &str, setup: &str) -> (StatusCode, Value) {
    let patron = app.new_patron(setup).await;
    let item = app.new_item().await;
    let n = crate::helpers::unique();
    match op {
        "register patron" => {
            app.post(token, "/api/v1/patrons", json!({"card_barcode": format!("29{n:012}"), "category": "adult", "expires_on": "2027-12-31", "name": "Matrix Person", "address": "1 Elm St"}))
                .await
        }
        "read patron" => app.get(token, &format!("/api/v1/patrons/{}", patron.id)).await,
        "update patron" => {
            app.call(Some(token), "PATCH", &format!("/api/v1/patrons/{}", patron.id), Some(json!({"phone": "555-0100-0000", "photo_id": "driver_license"})))
                .await
        }
        "read loans" => app.get(token, &format!("/api/v1/patrons/{}/loans", patron.id)).await,
        "read fines" => app.get(token, &format!("/api/v1/patrons/{}/fines", patron.id)).await,
        "assess fine" => app.post(token, &format!("/api/v1/patrons/{}/fines", patron.id), json!({"amount_cents": 50, "reason": "damaged"})).await,
        "create item" => app.post(token, "/api/v1/items", json!({"barcode": format!("39{n:012}"), "title": "Matrix"})).await,
        "read statistics" => app.get(token, "/api/v1/statistics/circulation").await,
        "checkout" => app.post(token, "/api/v1/checkouts", json!({"patron_barcode": patron.barcode, "item_barcode": item})).await,
        other => panic!("unknown operation {other}"),
    }
}

async fn d6_every_role_gets_exactly_what_the_policy_gives(engine: Engine) {
    for policy_text in [MISSOURI, COLORADO] {
        let app = TestApp::spawn_with(engine, policy_text).await;
        let policy = app.store.policy().clone();
        let setup = app.sign_in("director").await;
        let mut allowed_seen = 0;
        let mut denied_seen = 0;
        for role in policy.roles.keys() {
            let token = app.sign_in(role).await;
            for op in OPERATIONS {
                let expected = op
                    .needs
                    .iter()
                    .all(|(a, c, p)| policy.decide(role, *a, *c, p).is_allowed());
                let denied_before =
                    app.raw_count("SELECT COUNT(*) FROM audit_log WHERE decision = 'denied'");
                let (status, body) = attempt(&app, &token, op.name, &setup).await;
                if expected {
                    allowed_seen += 1;
                    assert!(
                        status.is_success(),
                        "{role} should be able to {}: {status} {body}",
                        op.name
                    );
                } else {
                    denied_seen += 1;
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role} must not {}: {body}",
                        op.name
                    );
                    assert_eq!(code(&body), "denied");
                    assert!(
                        body["error"]["message"]
                            .as_str()
                            .unwrap()
                            .contains("policy"),
                        "{body}"
                    );
                    assert!(
                        body.get("fields").is_none() && body.get("id").is_none(),
                        "a denial carries no data"
                    );
                    let denied_after =
                        app.raw_count("SELECT COUNT(*) FROM audit_log WHERE decision = 'denied'");
                    assert_eq!(
                        denied_after,
                        denied_before + 1,
                        "the refused attempt is audited"
                    );
                }
            }
        }
        assert!(allowed_seen > 0 && denied_seen > 0);
        // Nothing a refused checkout started was kept.
        let loans = app.raw_count("SELECT COUNT(*) FROM loans");
        let granted_checkouts = policy
            .roles
            .keys()
            .filter(|r| {
                OPERATIONS[7]
                    .needs
                    .iter()
                    .all(|(a, c, p)| policy.decide(r, *a, *c, p).is_allowed())
            })
            .count() as i64;
        assert_eq!(loans, granted_checkouts);
        app.finish();
    }
}

async fn d6_auditor_and_administrator_never_see_patrons(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let clerk = app.sign_in("clerk").await;
    let patron = app.new_patron(&clerk).await;
    for role in ["auditor", "administrator"] {
        let token = app.sign_in(role).await;
        let (status, body) = app
            .post(
                &token,
                "/api/v1/patrons/lookup",
                json!({"card_barcode": patron.barcode}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(!body.to_string().contains(&patron.name));
    }
    app.finish();
}

/// Colorado's volunteers (C.R.S. 24-90-119(3) names them) find items in
/// the catalogue and reach no patron record: not a registration, loan,
/// fine, program roster or any service record; each refusal is audited.
async fn d6_colorado_volunteer_reads_the_catalogue_and_no_patron_record(engine: Engine) {
    let app = TestApp::spawn_with(engine, COLORADO).await;
    let clerk = app.sign_in("clerk").await;
    let volunteer = app.sign_in("volunteer").await;
    let patron = app.new_patron(&clerk).await;
    let item = app.new_item().await;
    let (status, program) = app
        .post(
            &clerk,
            "/api/v1/programs",
            json!({"title": "Story time", "starts_at": "2026-03-10T17:00:00Z", "ends_at": "2026-03-10T18:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let (status, found) = app
        .get(&volunteer, &format!("/api/v1/items/by-barcode/{item}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let p = patron.id;
    let reads = [
        format!("/api/v1/patrons/{p}"),
        format!("/api/v1/patrons/{p}/loans"),
        format!("/api/v1/patrons/{p}/holds"),
        format!("/api/v1/patrons/{p}/fines"),
        format!("/api/v1/patrons/{p}/ill-requests"),
        format!("/api/v1/patrons/{p}/deliveries"),
        format!("/api/v1/patrons/{p}/program-registrations"),
        format!("/api/v1/patrons/{p}/computer-sessions"),
        format!("/api/v1/patrons/{p}/subscriptions"),
        format!("/api/v1/programs/{}/registrations", program["id"]),
    ];
    for path in &reads {
        let denied = app.raw_count("SELECT COUNT(*) FROM audit_log WHERE decision = 'denied'");
        let (status, body) = app.get(&volunteer, path).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "denied"),
            "{path}: {body}"
        );
        assert!(!body.to_string().contains(&patron.name));
        assert_eq!(
            app.raw_count("SELECT COUNT(*) FROM audit_log WHERE decision = 'denied'"),
            denied + 1,
            "{path}: the refusal is audited"
        );
    }
    let (status, _) = app
        .post(
            &volunteer,
            "/api/v1/patrons/lookup",
            json!({"card_barcode": patron.barcode}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.finish();
}

on_both_engines!(
    d6_every_role_gets_exactly_what_the_policy_gives,
    d6_auditor_and_administrator_never_see_patrons,
    d6_colorado_volunteer_reads_the_catalogue_and_no_patron_record
);
