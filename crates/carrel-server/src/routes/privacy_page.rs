//! The privacy dashboard for staff: a server-rendered page showing, per
//! record class, how many records are held and due, why any past their time
//! are kept, the oldest record's age against its limit, and legal holds in
//! force, with a small inline SVG chart. No scripts, fonts or styles from
//! anywhere else (DESIGN: no third parties in any page).

use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use carrel_policy::purpose;
use carrel_store::disclosures::{self, Queue, QueueFilter};
use carrel_store::gate::{authorize, AuditLog, Read};
use carrel_store::retention::{self, Plan};

use super::page::{escape, failure, html, STYLE};
use crate::api::{ApiError, AppState, Token};

/// Colours of the chart's parts: due, kept (need or hold), not yet due, in use.
const PARTS: [(&str, &str); 4] = [
    ("due now", "#c0392b"),
    ("kept past time", "#e67e22"),
    ("within limit", "#2e86c1"),
    ("in use", "#95a5a6"),
];

pub(crate) fn render(plan: &Plan, queue: &Queue, library: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Privacy dashboard · {lib}</title><style>{STYLE}</style></head><body><h1>Privacy dashboard</h1><p>{lib} · today {today} · legal holds in force: <strong id=\"holds-in-force\">{holds}</strong> · due for destruction now: <strong id=\"total-due\">{due}</strong></p>",
        lib = escape(library),
        today = plan.today,
        holds = plan.legal_holds_in_force,
        due = plan.total_due(),
    );
    let open = queue.total
        - queue
            .by_state
            .get(&carrel_policy::disclosure::RequestState::Closed)
            .copied()
            .unwrap_or(0);
    let _ = write!(
        out,
        "<p>Disclosure requests open: <strong id=\"disclosures-open\">{open}</strong> · documents overdue after an exigent release: <strong id=\"disclosures-overdue\">{overdue}</strong> · <a href=\"/staff/disclosures\">queue</a></p>",
        overdue = queue.overdue,
    );
    // Chart: one bar per kind of record, split into its parts.
    let rows: Vec<_> = plan
        .classes
        .iter()
        .flat_map(|c| c.targets.iter().map(move |t| (c, t)))
        .collect();
    let max = rows.iter().map(|(_, t)| t.held).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (230.0, 420.0, 22.0);
    let height = row_h * rows.len() as f64 + 10.0;
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"Records held per kind, by retention state\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        w = label_w + bar_w + 80.0
    );
    for (i, (_, t)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 5.0;
        let kept: i64 = t.legal_hold + t.kept.iter().map(|(_, n)| n).sum::<i64>();
        let parts = [t.due, kept, t.not_yet_due, t.in_use];
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14.0,
            escape(&t.label)
        );
        let mut x = label_w;
        for (n, (_, colour)) in parts.iter().zip(PARTS) {
            let w = bar_w * (*n as f64) / (max as f64);
            if w > 0.0 {
                let _ = write!(
                    out,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"/>"
                );
            }
            x += w;
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 6.0,
            y + 14.0,
            t.held
        );
    }
    out.push_str("</svg><p class=\"legend\">");
    for (name, colour) in PARTS {
        let _ = write!(out, "<span style=\"background:{colour}\"></span>{name}");
    }
    out.push_str("</p><table><thead><tr><th>Class</th><th>Kind</th><th>Rule</th><th>Held</th><th>Due now</th><th>Kept past time (why)</th><th>Legal hold</th><th>Within limit</th><th>In use</th><th>Oldest / limit (days)</th></tr></thead><tbody>");
    for (c, t) in &rows {
        let why: Vec<String> = t
            .kept
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{n} {}", escape(r)))
            .collect();
        let oldest = match (t.oldest_age_days, t.oldest_limit_days) {
            (Some(age), Some(limit)) if age > limit => {
                format!("<span class=\"over\">{age} / {limit}</span>")
            }
            (Some(age), Some(limit)) => format!("{age} / {limit}"),
            _ => "–".into(),
        };
        let _ = write!(
            out,
            "<tr data-kind=\"{kind}\"><td>{class}</td><td>{label}</td><td>{rule}</td><td>{held}</td><td class=\"due\">{due}</td><td>{why}</td><td>{hold}</td><td>{within}</td><td title=\"{in_use_means}\">{in_use}</td><td>{oldest}</td></tr>",
            kind = escape(t.kind.name()),
            class = c.class.name(),
            label = escape(&t.label),
            rule = escape(&c.rule),
            held = t.held,
            due = t.due,
            why = if why.is_empty() { "–".into() } else { why.join(", ") },
            hold = t.legal_hold,
            within = t.not_yet_due,
            in_use_means = escape(&t.in_use_means),
            in_use = t.in_use,
        );
    }
    out.push_str("</tbody></table><p>Records are destroyed by the scheduled purge (or <code>carrel purge</code>); statistics keep only anonymous counts.</p></body></html>");
    out
}

pub async fn page(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let token = match token {
        Ok(token) => token,
        Err(e) => return failure(e, ""),
    };
    let library = state.store.policy().library.name.clone();
    let result = state
        .as_staff(token, move |tx, actor| {
            let grant = authorize::<Read, AuditLog>(tx, actor, purpose::ACCOUNTABILITY)?;
            let plan = retention::plan_for(tx, &grant, actor)?;
            let queue = disclosures::queue(tx, actor, &QueueFilter::default())?;
            Ok((plan, queue))
        })
        .await;
    match result {
        Ok((plan, queue)) => html(StatusCode::OK, render(&plan, &queue, &library)),
        Err(e) => failure(
            e,
            "Your role may not see the privacy dashboard; the library's policy gives it to the roles that oversee the audit log.",
        ),
    }
}
