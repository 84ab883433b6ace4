//! The staff pages for disclosure requests (server-rendered): the queue,
//! one request's timeline, and the forms for its next steps (the
//! Director's approval and release among them). Forms post to
//! `/staff/disclosures/{reference}/{action}` and come back to the request;
//! the same store functions as the JSON API decide, so a form shown to the
//! wrong role would still be refused. Every form carries the session's
//! form token (`staff::form_token`) and a post without it is refused, as
//! one that is not a form is (`api::require_declared_body`): the session
//! cookie is SameSite=Strict too, but a browser that does not honour that
//! would otherwise post another site's form with it.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use carrel_policy::disclosure::{CounselFinding, RequestState, Step};
use carrel_store::disclosures::{
    self, alerts, Advice, DisclosureRequest, IdKind, NewDocument, Queue, QueueFilter,
};
use carrel_store::staff;
use chrono::DateTime;

use super::page::{self, escape, failure, html, STYLE};
use crate::api::{ApiError, AppState, Token};

fn when(at: i64, zone: chrono_tz::Tz) -> String {
    DateTime::from_timestamp(at, 0)
        .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn render_queue(
    queue: &Queue,
    alerts: &[alerts::Alert],
    library: &str,
    zone: chrono_tz::Tz,
) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Disclosure requests · {lib}</title><style>{STYLE}</style></head><body><h1>Disclosure requests</h1><p>{lib} · <a href=\"/staff/privacy\">privacy dashboard</a></p>",
        lib = escape(library)
    );
    let unread: Vec<_> = alerts.iter().filter(|a| a.read_at.is_none()).collect();
    if !unread.is_empty() {
        out.push_str("<section id=\"alerts\"><h2>Alerts</h2><ul>");
        for a in unread {
            let _ = write!(
                out,
                "<li class=\"over\">{} <a href=\"/staff/disclosures/{r}\">{r}</a> ({})</li>",
                escape(&a.message),
                when(a.created_at, zone),
                r = escape(&a.request)
            );
        }
        out.push_str("</ul></section>");
    }
    let _ = write!(
        out,
        "<p>Requests: <strong id=\"total\">{}</strong> · documents overdue: <strong id=\"overdue\">{}</strong></p><table><thead><tr>",
        queue.total, queue.overdue
    );
    for state in RequestState::ALL {
        let _ = write!(out, "<th>{state}</th>");
    }
    out.push_str("</tr></thead><tbody><tr>");
    for state in RequestState::ALL {
        let _ = write!(
            out,
            "<td id=\"count-{}\">{}</td>",
            state.name(),
            queue.by_state.get(state).copied().unwrap_or(0)
        );
    }
    out.push_str("</tr></tbody></table><table><thead><tr><th>Request</th><th>Received</th><th>Requester</th><th>Basis</th><th>Patron</th><th>State</th></tr></thead><tbody>");
    for r in &queue.requests {
        let _ = write!(
            out,
            "<tr class=\"request\"><td><a href=\"/staff/disclosures/{reference}\">{reference}</a>{gag}</td><td>{received}</td><td>{kind}</td><td>{basis}</td><td>{patron}</td><td>{state}{late}</td></tr>",
            reference = escape(&r.reference),
            gag = if r.gagged { " (restricted)" } else { "" },
            received = when(r.received_at, zone),
            kind = words(r.requester_kind.name()),
            basis = escape(&r.basis),
            patron = r.subject_patron_id.map_or("(destroyed)".into(), |p| format!("patron:{p}")),
            state = r.state,
            late = if r.document_overdue { " <span class=\"over\">document overdue</span>" } else { "" },
        );
    }
    out.push_str("</tbody></table></body></html>");
    out
}

pub async fn queue(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let token = match token {
        Ok(t) => t,
        Err(e) => return failure(e, ""),
    };
    let library = state.store.policy().library.name.clone();
    let zone = state.store.policy().library.time_zone;
    let result = state
        .as_staff(token, move |tx, actor| {
            let queue = disclosures::queue(tx, actor, &QueueFilter::default())?;
            let alerts = alerts::for_actor(tx, actor)?;
            Ok((queue, alerts))
        })
        .await;
    match result {
        Ok((queue, alerts)) => html(
            StatusCode::OK,
            render_queue(&queue, &alerts, &library, zone),
        ),
        Err(e) => failure(e, "Your role does not work disclosure requests."),
    }
}

/// Where a request page's forms post to, and the session's form token
/// each carries (`staff::form_token`).
struct FormTarget<'a> {
    reference: &'a str,
    form_token: &'a str,
}

fn form(to: &FormTarget<'_>, action: &str, label: &str, fields: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/staff/disclosures/{r}/{action}\"><input type=\"hidden\" name=\"{FORM_TOKEN}\" value=\"{t}\">{fields}<button type=\"submit\">{label}</button></form>",
        r = escape(to.reference),
        t = escape(to.form_token),
    )
}

/// The name of the form token's field.
const FORM_TOKEN: &str = "form_token";

fn render_request(
    r: &DisclosureRequest,
    library: &str,
    zone: chrono_tz::Tz,
    form_token: &str,
) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{reference} · {lib}</title><style>{STYLE}</style></head><body><p><a href=\"/staff/disclosures\">Disclosure requests</a></p><h1>Request {reference}{gag}</h1><table>",
        reference = escape(&r.reference),
        lib = escape(library),
        gag = if r.gagged { " (restricted: non-disclosure order)" } else { "" },
    );
    let rows = [
        ("State", format!("<span id=\"state\">{}</span>", r.state)),
        (
            "Requester",
            format!(
                "{}{}",
                words(r.requester_kind.name()),
                r.requester
                    .as_deref()
                    .map(|q| format!(": {}", escape(q)))
                    .unwrap_or_default()
            ),
        ),
        (
            "Records of",
            r.subject_patron_id
                .map_or("(destroyed under the retention policy)".into(), |p| {
                    format!("patron:{p}")
                }),
        ),
        (
            "Basis",
            format!("{} ({})", escape(&r.basis), escape(&r.citation)),
        ),
        (
            "Classes",
            r.classes
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("Dates", format!("{} to {}", r.from_date, r.to_date)),
        (
            "Reason",
            r.reason
                .as_deref()
                .map(escape)
                .unwrap_or_else(|| "–".into()),
        ),
        ("Received", when(r.received_at, zone)),
    ];
    for (name, value) in rows {
        let _ = write!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    if let Some(due) = r.document_due_at {
        let _ = write!(
            out,
            "<tr><th>Document owed by</th><td id=\"document-due\"{}>{}{}</td></tr>",
            if r.document_overdue {
                " class=\"over\""
            } else {
                ""
            },
            when(due, zone),
            if r.document_overdue { " (overdue)" } else { "" }
        );
    }
    out.push_str("</table><h2>Documents</h2><ul id=\"documents\">");
    for d in &r.documents {
        let _ = write!(
            out,
            "<li>{}{}{}{}{}</li>",
            words(d.kind.name()),
            d.id_kind
                .map(|k| format!(" ({})", words(k.name())))
                .unwrap_or_default(),
            d.reference
                .as_deref()
                .map(|k| format!(", ref. {}", escape(k)))
                .unwrap_or_default(),
            // What counsel confirms the jurisdiction of.
            d.issuing_court
                .as_deref()
                .map(|c| format!(", issued by {}", escape(c)))
                .unwrap_or_default(),
            d.jurisdiction
                .as_deref()
                .map(|j| format!(" ({})", escape(j)))
                .unwrap_or_default(),
        );
    }
    out.push_str("</ul>");
    if !r.missing.is_empty() {
        let _ = write!(
            out,
            "<p id=\"missing\" class=\"over\">Still required by law: {}</p>",
            escape(&r.missing.join("; "))
        );
    }
    if !r.legal_holds.is_empty() {
        out.push_str("<h2>Legal holds</h2><ul id=\"holds\">");
        for h in &r.legal_holds {
            let _ = write!(
                out,
                "<li>{} held until {} ({} renewals left)</li>",
                words(h.record_class.name()),
                when(h.expires_at, zone),
                h.renewals_left
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("<h2>Timeline</h2><ol id=\"timeline\">");
    for step in &r.timeline {
        let _ = write!(
            out,
            "<li>{} · {} · {}{}{}</li>",
            when(step.at, zone),
            step.actor,
            words((&step.step).into()),
            step.outcome
                .as_deref()
                .map(|o| format!(": {}", escape(o)))
                .unwrap_or_default(),
            step.note
                .as_deref()
                .map(|n| format!(" — {}", escape(n)))
                .unwrap_or_default(),
        );
    }
    out.push_str("</ol>");
    if r.package.as_ref().is_some_and(|p| p.available) {
        let _ = write!(
            out,
            "<p>Package: <a href=\"/api/v1/disclosures/{r}/package\">JSON</a> · <a href=\"/api/v1/disclosures/{r}/package.html\">HTML</a></p>",
            r = escape(&r.reference)
        );
    }
    // The next steps. Shown to everyone who can see the request; the store
    // refuses the ones a role may not take.
    out.push_str("<h2>Next steps</h2><fieldset id=\"actions\">");
    let to = &FormTarget {
        reference: &r.reference,
        form_token,
    };
    let note = "<input name=\"note\" placeholder=\"note (optional)\">";
    // Offered as the request's life allows (the store's own table,
    // `Step::from_states`); the store still refuses what a role may not do.
    let may = |step: Step| step.allowed_from(r.state);
    if may(Step::BeginReview) {
        out.push_str(&form(to, "review", "Take up for review", ""));
    }
    if may(Step::CounselReview) {
        let confirms: String = CounselFinding::ALL
            .iter()
            .map(|f| {
                format!(
                    "<label><input type=\"checkbox\" name=\"confirm_{}\"> {}</label><br>",
                    f.name(),
                    f.describe()
                )
            })
            .collect();
        let advice: String = <Advice as strum::VariantArray>::VARIANTS
            .iter()
            .map(|a| {
                format!(
                    "<option value=\"{}\">{}</option>",
                    a.name(),
                    words(a.name())
                )
            })
            .collect();
        out.push_str(&form(
            to,
            "counsel-review",
            "Record counsel's review",
            &format!("<select name=\"advice\" aria-label=\"counsel's advice\">{advice}</select><fieldset><legend>Counsel confirms (to advise release)</legend>{confirms}</fieldset>{note}"),
        ));
    }
    if may(Step::Approve) {
        out.push_str(&form(
            to,
            "approval",
            "Approve",
            &format!("{note}<input name=\"override_reason\" aria-label=\"reason to approve against counsel's advice\" placeholder=\"only if counsel advised refusal: why approve\">"),
        ));
    }
    if may(Step::ExigentRelease) {
        out.push_str(&form(
            to,
            "exigent-release",
            "Release now (exigent threat)",
            note,
        ));
    }
    if may(Step::Release) {
        out.push_str(&form(to, "release", "Release records", ""));
    }
    if may(Step::Refuse) {
        out.push_str(&form(
            to,
            "refusal",
            "Refuse",
            "<input name=\"reason\" required placeholder=\"reason\">",
        ));
    }
    if r.state.may_preserve() {
        out.push_str(&form(
            to,
            "preservation",
            "Preserve the records (legal holds)",
            "",
        ));
    }
    if may(Step::Close) {
        out.push_str(&form(to, "closure", "Close", note));
    }
    if may(Step::AttachDocument) {
        let kinds: String = carrel_policy::disclosure::DocumentKind::ALL
            .iter()
            .filter(|k| k.staff_may_record())
            .map(|k| {
                format!(
                    "<option value=\"{}\">{}</option>",
                    k.name(),
                    k.name().replace('_', " ")
                )
            })
            .collect();
        let ids: String = std::iter::once("<option value=\"\">(not photo ID)</option>".to_string())
            .chain(<IdKind as strum::VariantArray>::VARIANTS.iter().map(|k| {
                format!(
                    "<option value=\"{}\">{}</option>",
                    k.name(),
                    words(k.name())
                )
            }))
            .collect();
        out.push_str(&form(
            to,
            "documents",
            "Attach document",
            &format!("<select name=\"kind\">{kinds}</select><select name=\"id_kind\">{ids}</select><input name=\"reference\" placeholder=\"docket or case number (legal process)\"><input name=\"issuing_court\" aria-label=\"issuing court (legal process)\" placeholder=\"issuing court\"><input name=\"jurisdiction\" aria-label=\"the court's jurisdiction (legal process)\" placeholder=\"jurisdiction\">"),
        ));
    }
    out.push_str("</fieldset></body></html>");
    out
}

pub async fn request(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(reference): Path<String>,
) -> Response {
    let token = match token {
        Ok(t) => t,
        Err(e) => return failure(e, ""),
    };
    let library = state.store.policy().library.name.clone();
    let zone = state.store.policy().library.time_zone;
    let form_token = staff::form_token(&token.0);
    match state
        .as_staff(token, move |tx, actor| {
            disclosures::load(tx, actor, &reference)
        })
        .await
    {
        Ok(r) => html(
            StatusCode::OK,
            render_request(&r, &library, zone, &form_token),
        ),
        Err(e) => failure(e, "Your role does not work disclosure requests."),
    }
}

fn field(form: &HashMap<String, String>, name: &str) -> Option<String> {
    form.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// POST /staff/disclosures/{reference}/{action}: one step from a form.
pub async fn act(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path((reference, action)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let token = match token {
        Ok(t) => t,
        Err(e) => return failure(e, ""),
    };
    let carries_token = form
        .get(FORM_TOKEN)
        .is_some_and(|given| staff::form_token_matches(&token.0, given));
    if !carries_token {
        tracing::info!("a staff form without this session's form token was refused");
        return page::form_token_missing();
    }
    let back = format!("/staff/disclosures/{reference}");
    let result = state
        .as_staff(token, move |tx, actor| {
            let note = field(&form, "note");
            let r = reference.as_str();
            match action.as_str() {
                "review" => disclosures::begin_review(tx, actor, r).map(drop),
                "counsel-review" => {
                    let confirms: Vec<String> = CounselFinding::ALL
                        .iter()
                        .filter(|f| field(&form, &format!("confirm_{}", f.name())).is_some())
                        .map(|f| f.name().to_string())
                        .collect();
                    disclosures::counsel_review(
                        tx,
                        actor,
                        r,
                        &field(&form, "advice").unwrap_or_default(),
                        note.as_deref(),
                        &confirms,
                    )
                    .map(drop)
                }
                "approval" => disclosures::approve(
                    tx,
                    actor,
                    r,
                    note.as_deref(),
                    field(&form, "override_reason").as_deref(),
                )
                .map(drop),
                "refusal" => {
                    disclosures::refuse(tx, actor, r, &field(&form, "reason").unwrap_or_default())
                        .map(drop)
                }
                "release" => disclosures::release(tx, actor, r).map(drop),
                "exigent-release" => {
                    disclosures::exigent_release(tx, actor, r, note.as_deref()).map(drop)
                }
                "preservation" => disclosures::preserve(tx, actor, r).map(drop),
                "closure" => disclosures::close(tx, actor, r, note.as_deref()).map(drop),
                "documents" => disclosures::attach_document(
                    tx,
                    actor,
                    r,
                    NewDocument {
                        kind: field(&form, "kind").unwrap_or_default(),
                        reference: field(&form, "reference"),
                        id_kind: field(&form, "id_kind"),
                        issuing_court: field(&form, "issuing_court"),
                        jurisdiction: field(&form, "jurisdiction"),
                    },
                )
                .map(drop),
                _ => Err(carrel_store::Error::NotFound { what: "step" }),
            }
        })
        .await;
    match result {
        Ok(()) => (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response(),
        Err(e) => failure(
            e,
            "Your role may not take this step on this request; it is on the record that you tried.",
        ),
    }
}

/// A vocabulary's name as words: "under_review" as "under review".
fn words(name: &str) -> String {
    name.replace('_', " ")
}
