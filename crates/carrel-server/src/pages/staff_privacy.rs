//! The privacy dashboard for staff: a server-rendered page showing, per
//! record class, how many records are held and due, why any past their time
//! are kept, the oldest record's age against its limit, and legal holds in
//! force, with a small inline SVG chart. No scripts, fonts or styles from
//! anywhere else (DESIGN: no third parties in any page).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use carrel_policy::purpose;
use carrel_store::disclosures::{self, Queue, QueueFilter};
use carrel_store::gate::{authorize, AuditLog, Read};
use carrel_store::retention::{self, Plan};

use super::{failure, render, Frame};
use crate::api::{ApiError, AppState, Token};

/// Colours of the chart's parts: due, kept (need or hold), not yet due, in use.
const PARTS: [(&str, &str); 4] = [
    ("due now", "#c0392b"),
    ("kept past time", "#e67e22"),
    ("within limit", "#2e86c1"),
    ("in use", "#95a5a6"),
];

struct ChartPart {
    x: String,
    width: String,
    colour: &'static str,
}

struct ChartBar {
    y: String,
    text_y: String,
    label: String,
    parts: Vec<ChartPart>,
    total_x: String,
    total: i64,
}

struct Chart {
    width: String,
    height: String,
    bars: Vec<ChartBar>,
}

struct Row {
    kind: &'static str,
    class: String,
    label: String,
    rule: String,
    held: i64,
    due: i64,
    why: String,
    legal_hold: i64,
    within: i64,
    in_use_means: String,
    in_use: i64,
    oldest: String,
    oldest_over: bool,
}

#[derive(Template)]
#[template(path = "staff/privacy.html")]
struct Dashboard {
    frame: Frame,
    today: String,
    holds_in_force: i64,
    total_due: i64,
    disclosures_open: i64,
    disclosures_overdue: i64,
    chart: Chart,
    legend: [(&'static str, &'static str); 4],
    rows: Vec<Row>,
}

fn dashboard(
    frame: Frame,
    plan: &Plan,
    queue: &Queue,
    policy: &carrel_policy::Policy,
) -> Dashboard {
    let open = queue.total
        - queue
            .by_state
            .get(&carrel_policy::disclosure::RequestState::Closed)
            .copied()
            .unwrap_or(0);
    let targets: Vec<_> = plan
        .classes
        .iter()
        .flat_map(|c| c.targets.iter().map(move |t| (c, t)))
        .collect();
    let max = targets
        .iter()
        .map(|(_, t)| t.held)
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_w, bar_w, row_h) = (230.0, 420.0, 22.0);
    let bars = targets
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            let y = i as f64 * row_h + 5.0;
            let kept: i64 = t.legal_hold + t.kept.iter().map(|(_, n)| n).sum::<i64>();
            let mut x = label_w;
            let mut parts = Vec::new();
            for (n, (_, colour)) in [t.due, kept, t.not_yet_due, t.in_use].iter().zip(PARTS) {
                let w = bar_w * (*n as f64) / (max as f64);
                if w > 0.0 {
                    parts.push(ChartPart {
                        x: format!("{x:.1}"),
                        width: format!("{w:.1}"),
                        colour,
                    });
                }
                x += w;
            }
            ChartBar {
                y: format!("{y:.1}"),
                text_y: format!("{}", y + 14.0),
                label: t.label.clone(),
                parts,
                total_x: format!("{:.1}", x + 6.0),
                total: t.held,
            }
        })
        .collect();
    let rows = targets
        .iter()
        .map(|(c, t)| {
            let why: Vec<String> = t
                .kept
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| format!("{n} {r}"))
                .collect();
            let (oldest, oldest_over) = match (t.oldest_age_days, t.oldest_limit_days) {
                (Some(age), Some(limit)) => (format!("{age} / {limit}"), age > limit),
                _ => ("–".to_string(), false),
            };
            Row {
                kind: t.kind.name(),
                class: super::words(c.class.name()),
                label: t.label.clone(),
                // The policy's rule in words, not the clock's code name.
                rule: policy
                    .class(c.class)
                    .and_then(|spec| spec.retention.as_ref())
                    .map_or_else(|| c.rule.clone(), carrel_policy::notice::rule_in_words),
                held: t.held,
                due: t.due,
                why: if why.is_empty() {
                    "–".into()
                } else {
                    why.join(", ")
                },
                legal_hold: t.legal_hold,
                within: t.not_yet_due,
                in_use_means: t.in_use_means.clone(),
                in_use: t.in_use,
                oldest,
                oldest_over,
            }
        })
        .collect();
    let width = label_w + bar_w + 80.0;
    let height = row_h * targets.len() as f64 + 10.0;
    Dashboard {
        frame,
        today: plan.today.to_string(),
        holds_in_force: plan.legal_holds_in_force,
        total_due: plan.total_due(),
        disclosures_open: open,
        disclosures_overdue: queue.overdue,
        chart: Chart {
            width: format!("{width}"),
            height: format!("{height}"),
            bars,
        },
        legend: PARTS,
        rows,
    }
}

pub async fn page(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/staff/privacy";
    let token = match token {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, "/staff/sign-in", ""),
    };
    let session = token.0.clone();
    let result = state
        .as_staff(token, move |tx, actor| {
            let grant = authorize::<Read, AuditLog>(tx, actor, purpose::ACCOUNTABILITY)?;
            let plan = retention::plan_for(tx, &grant, actor)?;
            let queue = disclosures::queue(tx, actor, &QueueFilter::default())?;
            Ok((plan, queue, actor.role().to_string()))
        })
        .await;
    match result {
        Ok((plan, queue, role)) => render(
            StatusCode::OK,
            &dashboard(
                Frame::staff(state.store.policy(), path, &role, &session),
                &plan,
                &queue,
                state.store.policy(),
            ),
        ),
        Err(e) => failure(
            Frame::public(&library, path),
            e,
            "/staff/sign-in",
            "Your role may not see the privacy dashboard; the library's policy gives it to the roles that oversee the audit log.",
        ),
    }
}
