//! Library services (program registrations, public computers, interlibrary
//! loan, home delivery, mailing lists) under both policy files.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{code, Engine, TestApp, COLORADO, MISSOURI};
use crate::on_both_engines;

/// N3: "Information the library may gather and retain is limited to current
/// and valid library users." A card that has expired or is blocked gets no
/// new record of any service, with a clear error and nothing written; a
/// valid card gets each one. (Loans and holds: see circulation.rs.)
async fn n3_services_only_for_current_valid_cards(engine: Engine) {
    for policy in [MISSOURI, COLORADO] {
        let app = TestApp::spawn_with(engine, policy).await;
        let clerk = app.sign_in("clerk").await;
        let expired = app.expired_patron(&clerk).await;
        let blocked = app.blocked_patron(&clerk).await;
        let valid = app.new_patron(&clerk).await;
        let (status, program) = app
            .post(
                &clerk,
                "/api/v1/programs",
                json!({"title": "Story time", "starts_at": "2026-03-10T17:00:00Z", "ends_at": "2026-03-10T18:00:00Z"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{program}");
        let (status, list) = app
            .post(
                &clerk,
                "/api/v1/mailing-lists",
                json!({"name": "Events", "description": "What is on at the library"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{list}");

        let services = [
            Service {
                name: "program registration",
                table: "program_registrations",
                path: format!("/api/v1/programs/{}/registrations", program["id"]),
                body: |p| json!({"patron_id": p}),
            },
            Service {
                name: "computer session",
                table: "computer_sessions",
                path: "/api/v1/computer-sessions".into(),
                body: |p| json!({"patron_id": p, "terminal": format!("PC-{p}")}),
            },
            Service {
                name: "interlibrary loan",
                table: "ill_requests",
                path: "/api/v1/ill-requests".into(),
                body: |p| json!({"patron_id": p, "lender": "Denver Public Library", "title": "A Title"}),
            },
            Service {
                name: "home delivery",
                table: "deliveries",
                path: "/api/v1/deliveries".into(),
                body: |p| json!({"patron_id": p, "route": "North", "scheduled_on": "2026-03-05"}),
            },
            Service {
                name: "list subscription",
                table: "list_subscriptions",
                path: format!("/api/v1/mailing-lists/{}/subscriptions", list["id"]),
                body: |p| json!({"patron_id": p}),
            },
        ];
        let count = |table: &str| app.raw_count(&format!("SELECT COUNT(*) FROM {table}"));
        for Service {
            name: service,
            table,
            path,
            body,
        } in &services
        {
            let before = count(table);
            for (who, refusal) in [(&expired, "patron_expired"), (&blocked, "patron_blocked")] {
                let (status, answer) = app.post(&clerk, path, body(who.id)).await;
                assert_eq!(
                    (status, code(&answer)),
                    (StatusCode::CONFLICT, refusal),
                    "{service} for a card that is {refusal}: {answer}"
                );
                assert!(
                    answer["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("card") || m.contains("account")),
                    "{answer}"
                );
            }
            assert_eq!(count(table), before, "no {service} was written for them");
            let (status, answer) = app.post(&clerk, path, body(valid.id)).await;
            assert_eq!(
                status,
                StatusCode::CREATED,
                "{service} for a valid card: {answer}"
            );
            assert_eq!(count(table), before + 1);
        }
        app.finish();
    }
}

on_both_engines!(n3_services_only_for_current_valid_cards);

/// One service of [`n3_services_only_for_current_valid_cards`]: the table
/// its records go to, and the request that makes one for a patron.
struct Service {
    name: &'static str,
    table: &'static str,
    path: String,
    body: fn(i64) -> Value,
}
