//! The staff pages for disclosure requests (server-rendered): the queue,
//! one request's timeline, and the forms for its next steps (the
//! Director's approval and release among them). Forms post to
//! `/staff/disclosures/{reference}/{action}` and come back to the request;
//! the same store functions as the JSON API decide, so a form shown to the
//! wrong role would still be refused. Every form carries the session's
//! form token, checked before the handler runs (`forms::guard`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use carrel_policy::disclosure::{CounselFinding, RequestState, Step};
use carrel_store::disclosures::{
    self, alerts, Advice, DisclosureRequest, IdKind, NewDocument, Queue, QueueFilter,
};

use super::{failure, local_time, render, words, Frame};
use crate::api::{ApiError, AppState, Token};

struct AlertLine {
    message: String,
    request: String,
    when: String,
}

struct StateCount {
    name: &'static str,
    label: String,
    count: i64,
}

struct RequestLine {
    reference: String,
    gagged: bool,
    received: String,
    requester: String,
    basis: String,
    patron: String,
    state: String,
    document_overdue: bool,
}

#[derive(Template)]
#[template(path = "staff/disclosures.html")]
struct QueuePage {
    frame: Frame,
    alerts: Vec<AlertLine>,
    total: i64,
    overdue: i64,
    counts: Vec<StateCount>,
    requests: Vec<RequestLine>,
}

fn queue_page(
    frame: Frame,
    queue: &Queue,
    alerts: &[alerts::Alert],
    zone: chrono_tz::Tz,
) -> QueuePage {
    QueuePage {
        frame,
        alerts: alerts
            .iter()
            .filter(|a| a.read_at.is_none())
            .map(|a| AlertLine {
                message: a.message.clone(),
                request: a.request.clone(),
                when: local_time(a.created_at, zone),
            })
            .collect(),
        total: queue.total,
        overdue: queue.overdue,
        counts: RequestState::ALL
            .iter()
            .map(|state| StateCount {
                name: state.name(),
                label: state.to_string(),
                count: queue.by_state.get(state).copied().unwrap_or(0),
            })
            .collect(),
        requests: queue
            .requests
            .iter()
            .map(|r| RequestLine {
                reference: r.reference.clone(),
                gagged: r.gagged,
                received: local_time(r.received_at, zone),
                requester: words(r.requester_kind.name()),
                basis: r.basis.clone(),
                patron: r
                    .subject_patron_id
                    .map_or("(destroyed)".into(), |p| format!("patron:{p}")),
                state: r.state.to_string(),
                document_overdue: r.document_overdue,
            })
            .collect(),
    }
}

pub async fn queue(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let library = state.store.policy().library.name.clone();
    let zone = state.store.policy().library.time_zone;
    let path = "/staff/disclosures";
    let token = match token {
        Ok(t) => t,
        Err(e) => return failure(Frame::public(&library, path), e, "/staff/sign-in", ""),
    };
    let session = token.0.clone();
    let result = state
        .as_staff(token, move |tx, actor| {
            let queue = disclosures::queue(tx, actor, &QueueFilter::default())?;
            let alerts = alerts::for_actor(tx, actor)?;
            Ok((queue, alerts, actor.role().to_string()))
        })
        .await;
    match result {
        Ok((queue, alerts, role)) => render(
            StatusCode::OK,
            &queue_page(
                Frame::staff(state.store.policy(), path, &role, &session),
                &queue,
                &alerts,
                zone,
            ),
        ),
        Err(e) => failure(
            Frame::public(&library, path),
            e,
            "/staff/sign-in",
            "Your role does not work disclosure requests.",
        ),
    }
}

/// One field of a step's form.
enum Field {
    Text {
        name: &'static str,
        label: &'static str,
        required: bool,
    },
    Select {
        name: &'static str,
        label: &'static str,
        options: Vec<(String, String)>,
    },
    Checks {
        legend: &'static str,
        boxes: Vec<(String, String)>,
    },
    /// A box that must be ticked: the step cannot be undone.
    Confirm { text: &'static str },
}

/// The form field of [`Field::Confirm`].
const CONFIRM: &str = "confirm";

/// A step that cannot be undone (records released) is taken only with
/// its confirmation box ticked; the page's `required` is a convenience,
/// this is the rule.
fn confirmed(form: &HashMap<String, String>) -> Result<(), carrel_store::Error> {
    if field(form, CONFIRM).as_deref() == Some("yes") {
        Ok(())
    } else {
        Err(carrel_store::Error::invalid(
            "confirm_required",
            "tick the box to confirm: a release cannot be undone",
        ))
    }
}

/// A next step, as a form posting to `/staff/disclosures/{reference}/{action}`.
struct StepForm {
    action: &'static str,
    label: &'static str,
    fields: Vec<Field>,
}

fn note() -> Field {
    Field::Text {
        name: "note",
        label: "Note (optional)",
        required: false,
    }
}

/// The forms for the steps the request's life allows now (the store's own
/// table, `Step::allowed_from`) and the policy gives this role (a form
/// the role may not use is not offered: pressing it would only be refused,
/// and the attempt recorded). The store still decides each one.
fn next_steps(r: &DisclosureRequest, policy: &carrel_policy::Policy, role: &str) -> Vec<StepForm> {
    let basis = policy.disclosure.basis(&r.basis);
    let may = |step: Step| {
        step.allowed_from(r.state)
            && basis.is_some_and(|basis| policy.disclosure.may(role, step, basis))
    };
    let mut steps = Vec::new();
    if may(Step::BeginReview) {
        steps.push(StepForm {
            action: "review",
            label: "Take up for review",
            fields: vec![],
        });
    }
    if may(Step::CounselReview) {
        steps.push(StepForm {
            action: "counsel-review",
            label: "Record counsel's review",
            fields: vec![
                Field::Select {
                    name: "advice",
                    label: "Counsel's advice",
                    options: <Advice as strum::VariantArray>::VARIANTS
                        .iter()
                        .map(|a| (a.name().to_string(), words(a.name())))
                        .collect(),
                },
                Field::Checks {
                    legend: "Counsel confirms (to advise release)",
                    boxes: CounselFinding::ALL
                        .iter()
                        .map(|f| (format!("confirm_{}", f.name()), f.describe().to_string()))
                        .collect(),
                },
                note(),
            ],
        });
    }
    if may(Step::Approve) {
        steps.push(StepForm {
            action: "approval",
            label: "Approve",
            fields: vec![
                note(),
                Field::Text {
                    name: "override_reason",
                    label: "Only if counsel advised refusal: why approve",
                    required: false,
                },
            ],
        });
    }
    if may(Step::ExigentRelease) {
        steps.push(StepForm {
            action: "exigent-release",
            label: "Release now (exigent threat)",
            fields: vec![
                note(),
                Field::Confirm {
                    text: "The threat is imminent and the records go to the requester now, before any court order. This cannot be undone.",
                },
            ],
        });
    }
    if may(Step::Release) {
        steps.push(StepForm {
            action: "release",
            label: "Release records",
            fields: vec![Field::Confirm {
                text: "The records go to the requester. This cannot be undone.",
            }],
        });
    }
    if may(Step::Refuse) {
        steps.push(StepForm {
            action: "refusal",
            label: "Refuse",
            fields: vec![Field::Text {
                name: "reason",
                label: "Reason",
                required: true,
            }],
        });
    }
    if r.state.may_preserve() && policy.legal_holds.may_place(role) {
        steps.push(StepForm {
            action: "preservation",
            label: "Preserve the records (legal holds)",
            fields: vec![],
        });
    }
    if may(Step::Close) {
        steps.push(StepForm {
            action: "closure",
            label: "Close",
            fields: vec![note()],
        });
    }
    if may(Step::AttachDocument) {
        steps.push(StepForm {
            action: "documents",
            label: "Attach document",
            fields: vec![
                Field::Select {
                    name: "kind",
                    label: "Kind of document",
                    options: carrel_policy::disclosure::DocumentKind::ALL
                        .iter()
                        .filter(|k| k.staff_may_record())
                        .map(|k| (k.name().to_string(), words(k.name())))
                        .collect(),
                },
                Field::Select {
                    name: "id_kind",
                    label: "Kind of photo ID (never its number)",
                    options: std::iter::once((String::new(), "(not photo ID)".to_string()))
                        .chain(
                            <IdKind as strum::VariantArray>::VARIANTS
                                .iter()
                                .map(|k| (k.name().to_string(), words(k.name()))),
                        )
                        .collect(),
                },
                Field::Text {
                    name: "reference",
                    label: "Docket or case number (legal process)",
                    required: false,
                },
                Field::Text {
                    name: "issuing_court",
                    label: "Issuing court (legal process)",
                    required: false,
                },
                Field::Text {
                    name: "jurisdiction",
                    label: "The court's jurisdiction (legal process)",
                    required: false,
                },
            ],
        });
    }
    steps
}

#[derive(Template)]
#[template(path = "staff/disclosure.html")]
struct RequestPage {
    frame: Frame,
    r: DisclosureRequest,
    state: String,
    requester: String,
    subject: String,
    classes: String,
    received: String,
    document_due: Option<String>,
    documents: Vec<String>,
    holds: Vec<String>,
    timeline: Vec<String>,
    package_available: bool,
    steps: Vec<StepForm>,
    form_token: String,
}

fn request_page(
    frame: Frame,
    r: DisclosureRequest,
    names: &std::collections::HashMap<i64, String>,
    policy: &carrel_policy::Policy,
    role: &str,
) -> RequestPage {
    let zone = policy.library.time_zone;
    let form_token = frame
        .signed_in
        .as_ref()
        .map(|s| s.form_token.clone())
        .unwrap_or_default();
    let documents = r
        .documents
        .iter()
        .map(|d| {
            let mut line = words(d.kind.name());
            if let Some(kind) = d.id_kind {
                line.push_str(&format!(" ({})", words(kind.name())));
            }
            if let Some(reference) = &d.reference {
                line.push_str(&format!(", ref. {reference}"));
            }
            // What counsel confirms the jurisdiction of.
            if let Some(court) = &d.issuing_court {
                line.push_str(&format!(", issued by {court}"));
            }
            if let Some(jurisdiction) = &d.jurisdiction {
                line.push_str(&format!(" ({jurisdiction})"));
            }
            line
        })
        .collect();
    let holds = r
        .legal_holds
        .iter()
        .map(|h| {
            format!(
                "{} held until {} ({} renewals left)",
                words(h.record_class.name()),
                local_time(h.expires_at, zone),
                h.renewals_left
            )
        })
        .collect();
    let timeline = r
        .timeline
        .iter()
        .map(|step| {
            // Staff by name (staff see their colleagues'); a patron online
            // as such, never by name.
            let who = match step.actor {
                carrel_store::principal::Principal::Staff(id) => names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| step.actor.to_string()),
                carrel_store::principal::Principal::Patron(_) => "the patron, online".to_string(),
                other => other.to_string(),
            };
            let mut line = format!(
                "{} · {} · {}",
                local_time(step.at, zone),
                who,
                words((&step.step).into())
            );
            if let Some(outcome) = &step.outcome {
                line.push_str(&format!(": {outcome}"));
            }
            if let Some(note) = &step.note {
                line.push_str(&format!(" — {note}"));
            }
            line
        })
        .collect();
    RequestPage {
        frame,
        state: r.state.to_string(),
        requester: match &r.requester {
            Some(who) => format!("{}: {who}", words(r.requester_kind.name())),
            None => words(r.requester_kind.name()),
        },
        subject: r
            .subject_patron_id
            .map_or("(destroyed under the retention policy)".into(), |p| {
                format!("patron:{p}")
            }),
        classes: r
            .classes
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", "),
        received: local_time(r.received_at, zone),
        document_due: r.document_due_at.map(|due| local_time(due, zone)),
        documents,
        holds,
        timeline,
        package_available: r.package.as_ref().is_some_and(|p| p.available),
        steps: next_steps(&r, policy, role),
        form_token,
        r,
    }
}

pub async fn request(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(reference): Path<String>,
) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = format!("/staff/disclosures/{reference}");
    let token = match token {
        Ok(t) => t,
        Err(e) => return failure(Frame::public(&library, &path), e, "/staff/sign-in", ""),
    };
    let session = token.0.clone();
    match state
        .as_staff(token, move |tx, actor| {
            let r = disclosures::load(tx, actor, &reference)?;
            let staff_ids: Vec<i64> = r
                .timeline
                .iter()
                .filter_map(|step| match step.actor {
                    carrel_store::principal::Principal::Staff(id) => Some(id),
                    _ => None,
                })
                .collect();
            let names = carrel_store::staff::usernames(tx, actor, &staff_ids)?;
            Ok((r, names, actor.role().to_string()))
        })
        .await
    {
        Ok((r, names, role)) => render(
            StatusCode::OK,
            &request_page(
                Frame::staff(state.store.policy(), &path, &role, &session),
                r,
                &names,
                state.store.policy(),
                &role,
            ),
        ),
        Err(e) => failure(
            Frame::public(&library, &path),
            e,
            "/staff/sign-in",
            "Your role does not work disclosure requests.",
        ),
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
    let library = state.store.policy().library.name.clone();
    let token = match token {
        Ok(t) => t,
        Err(e) => return failure(Frame::public(&library, ""), e, "/staff/sign-in", ""),
    };
    // The form token was checked before this ran (`forms::guard`).
    let back = format!("/staff/disclosures/{reference}");
    let back_on_failure = back.clone();
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
                "release" => {
                    confirmed(&form)?;
                    disclosures::release(tx, actor, r).map(drop)
                }
                "exigent-release" => {
                    confirmed(&form)?;
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
            Frame::public(&library, &back_on_failure),
            e,
            "/staff/sign-in",
            "Your role may not take this step on this request; it is on the record that you tried.",
        ),
    }
}
