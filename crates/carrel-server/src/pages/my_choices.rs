//! My choices (C1, C3, C4, A2): the e-mail address (add, change, remove
//! at once), the account notices it carries, mailing lists (opt in, opt
//! out), reading history (offered only where the policy offers it), the
//! consents held with the notice version each was given under, and
//! corrections to send for verification. `/my/consents` asks again for
//! the consents a newer policy changed.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use carrel_policy::notice::{consent_covers, ConsentKind};
use carrel_store::consents::{Consent, Topic};
use carrel_store::gate::PatronActor;
use carrel_store::my_account::{self, ConsentRef, NoticeKind};
use carrel_store::{Error, Tx};

use super::patron::{session, SIGN_IN};
use super::{failure, field, local_date, record_id, render, see_other, words, Frame};
use crate::api::AppState;

struct NoticeLine {
    name: &'static str,
    label: &'static str,
    wanted: bool,
}

struct ListLine {
    id: i64,
    name: String,
    description: String,
    subscription: Option<i64>,
}

struct ConsentLine {
    topic: String,
    given: String,
    version: Option<i64>,
    current: bool,
}

struct PendingLine {
    field: String,
    value: String,
    sent: String,
}

struct DecidedLine {
    field: String,
    outcome: String,
    when: String,
}

struct Correctable {
    name: String,
    label: String,
    now: String,
}

#[derive(Template)]
#[template(path = "patron/choices.html")]
struct ChoicesPage {
    frame: Frame,
    form_token: String,
    done: Option<String>,
    stale: usize,
    email: Option<String>,
    notices: Vec<NoticeLine>,
    lists: Vec<ListLine>,
    reading_history: String,
    consents: Vec<ConsentLine>,
    pending: Vec<PendingLine>,
    decided: Vec<DecidedLine>,
    correctable: Vec<Correctable>,
}

fn topic_words(topic: &Topic) -> String {
    match topic {
        Topic::Email => "Keeping your e-mail address, for account notices".to_string(),
        Topic::MailingList { list, .. } => format!("The mailing list “{list}”"),
    }
}

fn notice_label(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Overdue => "An item is overdue",
        NoticeKind::Holds => "A hold is ready to collect",
        NoticeKind::Reminders => "An item is due soon",
    }
}

fn confirmation(done: Option<&String>) -> Option<String> {
    let text = match done?.as_str() {
        "email-saved" => {
            "Your e-mail address is saved, with your consent under the notice in force."
        }
        "email-removed" => {
            "Your e-mail address is deleted. The library no longer keeps it anywhere."
        }
        "notices-saved" => "Your notice choices are saved.",
        "joined" => "You are on the list.",
        "left" => "You are off the list.",
        "correction-sent" => {
            "Your correction is sent. It is pending until library staff verify it."
        }
        "consents-done" => "Thank you: your consents are up to date.",
        _ => return None,
    };
    Some(text.to_string())
}

/// GET /my/choices
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/my/choices";
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    let choices = match state.as_patron(token, my_account::choices).await {
        Ok(choices) => choices,
        Err(e) => return failure(Frame::patron(&library, path, &secret), e, SIGN_IN, ""),
    };
    let policy = state.store.policy();
    let zone = policy.library.time_zone;
    render(
        StatusCode::OK,
        &ChoicesPage {
            frame: Frame::patron(&library, path, &secret),
            form_token: super::form_token(&secret),
            done: confirmation(query.get("done")),
            stale: choices.consents.iter().filter(|c| !c.current).count(),
            email: choices.email,
            notices: NoticeKind::ALL
                .iter()
                .map(|kind| NoticeLine {
                    name: kind.name(),
                    label: notice_label(*kind),
                    wanted: choices.notices.contains(kind),
                })
                .collect(),
            lists: choices
                .lists
                .into_iter()
                .map(|l| ListLine {
                    id: l.id,
                    name: l.name,
                    description: l.description,
                    subscription: l.subscription,
                })
                .collect(),
            reading_history: policy.patrons.reading_history_not_offered.clone(),
            consents: choices
                .consents
                .iter()
                .map(|c| ConsentLine {
                    topic: topic_words(&c.topic),
                    given: c
                        .given_at
                        .map_or("before it was recorded".into(), |at| local_date(at, zone)),
                    version: c.policy_version,
                    current: c.current,
                })
                .collect(),
            pending: choices
                .pending
                .into_iter()
                .map(|p| PendingLine {
                    field: words(&p.field),
                    value: p.value.unwrap_or_default(),
                    sent: local_date(p.submitted_at, zone),
                })
                .collect(),
            decided: choices
                .decided
                .into_iter()
                .map(|d| DecidedLine {
                    field: words(&d.field),
                    outcome: match d.state {
                        carrel_store::corrections::CorrectionState::Approved => {
                            "verified and made".to_string()
                        }
                        _ => "refused by library staff; nothing was changed (ask at the desk why)"
                            .to_string(),
                    },
                    when: d
                        .decided_at
                        .map(|at| local_date(at, zone))
                        .unwrap_or_default(),
                })
                .collect(),
            correctable: choices
                .correctable
                .into_iter()
                .map(|(name, now)| Correctable {
                    label: words(&name),
                    now: now.unwrap_or_else(|| "not given".into()),
                    name,
                })
                .collect(),
        },
    )
}

/// Runs one choice from a form, then back to My choices with `done`.
async fn choose<F>(state: AppState, headers: &HeaderMap, back: &str, work: F) -> Response
where
    F: FnOnce(&mut Tx<'_>, &PatronActor) -> Result<(), Error> + Send + 'static,
{
    let library = state.store.policy().library.name.clone();
    let token = match session(headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, "/my/choices"), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    match state.as_patron(token, work).await {
        Ok(()) => see_other(back),
        Err(e) => failure(
            Frame::patron(&library, "/my/choices", &secret),
            e,
            SIGN_IN,
            "",
        ),
    }
}

/// POST /my/email: add or change the address.
pub async fn set_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let email = field(&form, "email");
    choose(
        state,
        &headers,
        "/my/choices?done=email-saved",
        move |tx, patron| {
            if email.is_empty() {
                return Err(Error::invalid(
                    "empty_email",
                    "give an e-mail address, or use \"Remove my e-mail address\"",
                ));
            }
            my_account::set_email(tx, patron, Some(&email))
        },
    )
    .await
}

/// POST /my/email/removal: remove it, at once (C3).
pub async fn remove_email(State(state): State<AppState>, headers: HeaderMap) -> Response {
    choose(
        state,
        &headers,
        "/my/choices?done=email-removed",
        |tx, patron| my_account::set_email(tx, patron, None),
    )
    .await
}

/// POST /my/notices
pub async fn set_notices(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let wanted: Vec<NoticeKind> = NoticeKind::ALL
        .iter()
        .copied()
        .filter(|kind| form.contains_key(kind.name()))
        .collect();
    choose(
        state,
        &headers,
        "/my/choices?done=notices-saved",
        move |tx, patron| my_account::set_notices(tx, patron, &wanted),
    )
    .await
}

/// POST /my/lists/{id}/subscription: opt in (C4).
pub async fn join_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    choose(
        state,
        &headers,
        "/my/choices?done=joined",
        move |tx, patron| my_account::join_list(tx, patron, record_id(&id, "mailing list")?),
    )
    .await
}

/// POST /my/subscriptions/{id}/removal: opt out.
pub async fn leave_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    choose(
        state,
        &headers,
        "/my/choices?done=left",
        move |tx, patron| my_account::leave_list(tx, patron, record_id(&id, "subscription")?),
    )
    .await
}

/// POST /my/corrections: send a correction for verification (A2).
pub async fn propose_correction(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (name, value) = (field(&form, "field"), field(&form, "value"));
    choose(
        state,
        &headers,
        "/my/choices?done=correction-sent",
        move |tx, patron| my_account::propose_correction(tx, patron, &name, &value).map(drop),
    )
    .await
}

struct StaleLine {
    topic: String,
    covers: Vec<String>,
    action: String,
    is_email: bool,
}

#[derive(Template)]
#[template(path = "patron/consents.html")]
struct ConsentsPage {
    frame: Frame,
    form_token: String,
    version: i64,
    stale: Vec<StaleLine>,
}

/// GET /my/consents: the consents a newer policy changed, asked again.
pub async fn consents(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let library = state.store.policy().library.name.clone();
    let path = "/my/consents";
    let token = match session(&headers) {
        Ok(token) => token,
        Err(e) => return failure(Frame::public(&library, path), e, SIGN_IN, ""),
    };
    let secret = token.0.clone();
    let stale = match state.as_patron(token, my_account::stale_consents).await {
        Ok(stale) => stale,
        Err(e) => return failure(Frame::patron(&library, path, &secret), e, SIGN_IN, ""),
    };
    let policy = state.store.policy();
    let lines = |kind| -> Vec<String> {
        consent_covers(policy, kind)
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    };
    render(
        StatusCode::OK,
        &ConsentsPage {
            frame: Frame::patron(&library, path, &secret),
            form_token: super::form_token(&secret),
            version: state.store.policy_version_id(),
            stale: stale
                .iter()
                .map(|c: &Consent| match &c.topic {
                    Topic::Email => StaleLine {
                        topic: topic_words(&c.topic),
                        covers: lines(ConsentKind::Email),
                        action: "/my/consents/email".into(),
                        is_email: true,
                    },
                    Topic::MailingList { subscription, .. } => StaleLine {
                        topic: topic_words(&c.topic),
                        covers: lines(ConsentKind::MailingList),
                        action: format!("/my/consents/subscriptions/{subscription}"),
                        is_email: false,
                    },
                })
                .collect(),
        },
    )
}

/// The patron's answer about one consent asked again: keep it (under the
/// notice in force) or withdraw it.
async fn answer(
    state: AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    which: Result<ConsentRef, Error>,
) -> Response {
    let keep = match form.get("answer").map(String::as_str) {
        Some("keep") => true,
        Some("withdraw") => false,
        _ => {
            let library = state.store.policy().library.name.clone();
            return failure(
                Frame::public(&library, "/my/consents"),
                crate::api::ApiError(Error::invalid(
                    "bad_answer",
                    "answer must be keep or withdraw",
                )),
                SIGN_IN,
                "",
            );
        }
    };
    choose(
        state,
        headers,
        "/my/consents?done=1",
        move |tx, patron| match (which?, keep) {
            (which, true) => my_account::renew_consent(tx, patron, which),
            (ConsentRef::Email, false) => my_account::set_email(tx, patron, None),
            (ConsentRef::Subscription(id), false) => my_account::leave_list(tx, patron, id),
        },
    )
    .await
}

/// POST /my/consents/email
pub async fn answer_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    answer(state, &headers, &form, Ok(ConsentRef::Email)).await
}

/// POST /my/consents/subscriptions/{id}
pub async fn answer_subscription(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let which = record_id(&id, "subscription").map(ConsentRef::Subscription);
    answer(state, &headers, &form, which).await
}
