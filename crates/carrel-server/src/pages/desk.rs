//! The circulation desk (`/staff/desk`), built for a barcode scanner that
//! types like a keyboard: every page has one input with focus, Enter
//! submits it, and nothing needs a script.
//!
//! Scan a card and the patron's page shows their standing with the name
//! and card masked as the policy's `display` rule says for the role
//! (D6); the patron is then named in addresses by their opaque record id,
//! never by card or name. Scan items to lend them; renew; print a
//! due-date slip. The address, phone, e-mail or birth date appear only
//! after "Show details" with a purpose from the policy: a read the gate
//! decides and the audit log records, shown on that answer alone (a POST,
//! not cached, not in any address).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use carrel_store::circulation::{self, Borrower, CheckoutGrants, RenewGrants};
use carrel_store::desk::{self, DeskCheckin, DeskPatron, Revealed};
use carrel_store::validate::{CardBarcode, ItemBarcode};
use carrel_store::Error;

use super::{
    as_staff_page, field, local_date, record_id, render, see_other, session_of, staff_frame,
    staff_step, words, Frame, Step,
};
use crate::api::{ApiError, AppState, Token};

/// The desk's first page: scan a card.
pub const DESK: &str = "/staff/desk";

const NOT_ALLOWED: &str = "Your role does not work at the circulation desk under the library's policy: it may not lend items.";

#[derive(Template)]
#[template(path = "staff/desk.html")]
struct ScanCardPage {
    frame: Frame,
    form_token: String,
    problem: Option<String>,
}

/// GET /staff/desk
pub async fn scan_card_form(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
) -> Response {
    match as_staff_page(&state, token, DESK, NOT_ALLOWED, |tx, actor| {
        desk::must_be_at_the_desk(tx, actor)
    })
    .await
    {
        Ok(((), frame)) => scan_card_page(frame, StatusCode::OK, None),
        Err(answer) => answer,
    }
}

fn scan_card_page(frame: Frame, status: StatusCode, problem: Option<String>) -> Response {
    let form_token = frame.form_token();
    render(
        status,
        &ScanCardPage {
            frame,
            form_token,
            problem,
        },
    )
}

/// POST /staff/desk: a card was scanned.
pub async fn scan_card(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let card = field(&form, "card_barcode");
    let session = session_of(&token);
    match staff_step(&state, token, DESK, NOT_ALLOWED, move |tx, actor| {
        // The role first: a refusal is audited whatever was scanned.
        desk::must_be_at_the_desk(tx, actor)?;
        let card = CardBarcode::parse(&card)?;
        desk::find_by_card(tx, actor, &card)
    })
    .await
    {
        Step::Done(id) => see_other(&patron_path(id)),
        Step::Problem(status, problem) => {
            let frame = staff_frame(&state, &session, DESK).await;
            scan_card_page(frame, status, Some(desk_words(problem)))
        }
        Step::Answer(answer) => answer,
    }
}

fn patron_path(id: i64) -> String {
    format!("{DESK}/patrons/{id}")
}

/// A problem as the desk says it: an unknown card or item with what to
/// do about it.
fn desk_words(problem: String) -> String {
    match problem.as_str() {
        "Patron not found." => {
            "No patron has that card. Check the number, or register the patron.".into()
        }
        "Item not found." => {
            "No item has that barcode. Check the number, or add the item to the catalogue.".into()
        }
        _ => problem,
    }
}

struct LoanLine {
    id: i64,
    title: String,
    barcode: String,
    due: String,
    overdue: bool,
    renewals_left: i64,
}

#[derive(Template)]
#[template(path = "staff/desk_patron.html")]
struct PatronPage {
    frame: Frame,
    form_token: String,
    patron: DeskPatron,
    owed: String,
    loans: Vec<LoanLine>,
    done: Option<String>,
    problem: Option<String>,
    purposes: Vec<(String, String)>,
    revealed: Option<(String, Vec<(String, String)>)>,
    path: String,
    /// Whether the role may change registrations (the card's forms).
    may_update: bool,
    block_reasons: Vec<(&'static str, String)>,
    block_reason: Option<String>,
    /// What the renewal form offers: a year from today.
    renew_until: String,
}

/// What the patron page shows besides the patron: the outcome of the last
/// step, and details revealed on this answer.
#[derive(Default)]
struct Outcome {
    done: Option<String>,
    problem: Option<(StatusCode, String)>,
    revealed: Option<(String, Vec<Revealed>)>,
}

async fn patron_page(
    state: &AppState,
    token: Result<Token, ApiError>,
    id: String,
    outcome: Outcome,
) -> Response {
    let path = patron_path_of(&id);
    let zone = state.store.policy().library.time_zone;
    let found = as_staff_page(state, token, &path, NOT_ALLOWED, move |tx, actor| {
        let id = record_id(&id, "patron")?;
        Ok((
            desk::patron(tx, actor, id)?,
            tx.now().timestamp(),
            tx.today(),
        ))
    })
    .await;
    let ((patron, now, today), frame) = match found {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let policy = state.store.policy();
    let loans = patron
        .loans
        .iter()
        .map(|l| LoanLine {
            id: l.loan.id,
            title: l.item.title.clone(),
            barcode: l.item.barcode.clone(),
            due: local_date(l.loan.due_at, zone),
            overdue: l.loan.due_at < now,
            renewals_left: (patron.renewals_allowed - l.loan.renewals).max(0),
        })
        .collect();
    let status = outcome
        .problem
        .as_ref()
        .map_or(StatusCode::OK, |(status, _)| *status);
    let revealed = outcome.revealed.map(|(purpose, fields)| {
        let words = policy.purposes.get(&purpose).cloned().unwrap_or(purpose);
        let shown = fields
            .into_iter()
            .map(|r| (super::capitalised(&words_of(&r.field)), r.value))
            .collect();
        (words, shown)
    });
    let may_update = frame.role.as_deref().is_some_and(|role| {
        policy.roles.get(role).is_some_and(|r| {
            r.may(
                carrel_policy::Action::Update,
                carrel_policy::RecordClass::Registration,
            )
        })
    });
    render(
        status,
        &PatronPage {
            form_token: frame.form_token(),
            frame,
            may_update,
            block_reasons: <carrel_store::patrons::BlockReason as strum::VariantArray>::VARIANTS
                .iter()
                .map(|r| (r.name(), super::capitalised(&words(r.name()))))
                .collect(),
            block_reason: patron.block_reason.map(|r| words(r.name())),
            renew_until: today
                .checked_add_months(chrono::Months::new(12))
                .unwrap_or(today)
                .to_string(),
            owed: money(patron.owed_cents),
            loans,
            done: outcome.done,
            problem: outcome.problem.map(|(_, text)| text),
            purposes: desk::reveal_purposes(policy),
            revealed,
            path: patron_path(patron.id),
            patron,
        },
    )
}

fn words_of(field: &str) -> String {
    match field {
        "card_barcode" => "card number".into(),
        "birth_date" => "birth date".into(),
        "email" => "e-mail address".into(),
        other => words(other),
    }
}

/// Cents as dollars: "3.50".
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// GET /staff/desk/patrons/{id}
pub async fn patron(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let done = [
        ("out", "Checked out. The due date is in the list below."),
        ("renewed", "Renewed. The new due date is in the list below."),
        ("registered", "Registered. The card may be used at once."),
        ("updated", "The details are changed."),
        ("card", "The card is changed: see its standing below."),
    ]
    .into_iter()
    .find(|(key, _)| query.contains_key(*key))
    .map(|(_, text)| text.to_string());
    patron_page(
        &state,
        token,
        id,
        Outcome {
            done,
            ..Outcome::default()
        },
    )
    .await
}

/// POST /staff/desk/patrons/{id}/checkout: an item was scanned.
pub async fn checkout(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let item = field(&form, "item_barcode");
    let path = patron_path_of(&id);
    let session = session_of(&token);
    let patron = id.clone();
    let lent = staff_step(&state, token, &path, NOT_ALLOWED, move |tx, actor| {
        let patron = record_id(&patron, "patron")?;
        let item = ItemBarcode::parse(&item)?;
        let grants = CheckoutGrants::request(tx, actor)?;
        circulation::checkout(tx, &grants, &Borrower::Id(patron), &item)
    })
    .await;
    after_step(&state, session, id, lent, |loan| {
        format!("{path}?out={}", loan.id)
    })
    .await
}

/// POST /staff/desk/patrons/{id}/renewal: renew one of the patron's loans.
pub async fn renew(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let loan = field(&form, "loan_id");
    let path = patron_path_of(&id);
    let session = session_of(&token);
    let patron = id.clone();
    let renewed = staff_step(&state, token, &path, NOT_ALLOWED, move |tx, actor| {
        let patron = record_id(&patron, "patron")?;
        let loan = record_id(&loan, "loan")?;
        let grants = RenewGrants::request(tx, actor)?;
        circulation::renew_for(tx, &grants, patron, loan)
    })
    .await;
    after_step(&state, session, id, renewed, |loan| {
        format!("{path}?renewed={}", loan.id)
    })
    .await
}

/// POST /staff/desk/patrons/{id}/reveal: show the details the policy
/// declares for a purpose, on this answer only.
pub async fn reveal(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let purpose = field(&form, "purpose");
    let path = patron_path_of(&id);
    let session = session_of(&token);
    let patron = id.clone();
    let asked = purpose.clone();
    let shown = staff_step(&state, token, &path, NOT_ALLOWED, move |tx, actor| {
        let patron = record_id(&patron, "patron")?;
        if asked.is_empty() {
            return Err(Error::invalid(
                "purpose_required",
                "choose why you need the details: a purpose from the list",
            ));
        }
        desk::reveal(tx, actor, patron, &asked)
    })
    .await;
    let outcome = match shown {
        Step::Done(fields) => Outcome {
            revealed: Some((purpose, fields)),
            ..Outcome::default()
        },
        Step::Problem(status, text) => Outcome {
            problem: Some((status, desk_words(text))),
            ..Outcome::default()
        },
        Step::Answer(answer) => return answer,
    };
    patron_page(&state, Ok(Token(session)), id, outcome).await
}

fn patron_path_of(id: &str) -> String {
    format!("{DESK}/patrons/{id}")
}

/// After a step on the patron's page: on to the page (303, so a reload
/// does not repeat the step), or the page again with why it was refused.
async fn after_step<T>(
    state: &AppState,
    session: String,
    id: String,
    step: Step<T>,
    next: impl FnOnce(&T) -> String,
) -> Response {
    match step {
        Step::Done(value) => see_other(&next(&value)),
        Step::Problem(status, text) => {
            let outcome = Outcome {
                problem: Some((status, desk_words(text))),
                ..Outcome::default()
            };
            patron_page(state, Ok(Token(session)), id, outcome).await
        }
        Step::Answer(answer) => answer,
    }
}

#[derive(Template)]
#[template(path = "staff/desk_slip.html")]
struct SlipPage {
    frame: Frame,
    back: String,
    card: Option<String>,
    printed: String,
    lines: Vec<(String, String, String)>,
}

/// GET /staff/desk/patrons/{id}/slip: the due-date slip for what the
/// patron took today, to print. It names no patron beyond the card's
/// masked number.
pub async fn slip(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
) -> Response {
    let path = patron_path_of(&id);
    let zone = state.store.policy().library.time_zone;
    let found = as_staff_page(&state, token, &path, NOT_ALLOWED, move |tx, actor| {
        let id = record_id(&id, "patron")?;
        Ok((desk::patron(tx, actor, id)?, tx.today()))
    })
    .await;
    let ((patron, today), frame) = match found {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let today_text = today.to_string();
    let lines = patron
        .loans
        .iter()
        .filter(|l| local_date(l.loan.checked_out_at, zone) == today_text)
        .map(|l| {
            (
                l.item.title.clone(),
                l.item.barcode.clone(),
                local_date(l.loan.due_at, zone),
            )
        })
        .collect();
    render(
        StatusCode::OK,
        &SlipPage {
            frame: Frame::standalone(&frame.library),
            back: patron_path(patron.id),
            card: patron.card,
            printed: today_text,
            lines,
        },
    )
}

#[derive(Template)]
#[template(path = "staff/desk_checkin.html")]
struct CheckinPage {
    frame: Frame,
    form_token: String,
    returned: Option<DeskCheckin>,
    fine: String,
    problem: Option<String>,
}

const CHECKIN: &str = "/staff/desk/checkin";

/// GET /staff/desk/checkin
pub async fn checkin_form(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
) -> Response {
    match as_staff_page(&state, token, CHECKIN, NOT_ALLOWED, |tx, actor| {
        desk::must_be_at_the_desk(tx, actor)
    })
    .await
    {
        Ok(((), frame)) => checkin_page(frame, StatusCode::OK, None, None),
        Err(answer) => answer,
    }
}

fn checkin_page(
    frame: Frame,
    status: StatusCode,
    returned: Option<DeskCheckin>,
    problem: Option<String>,
) -> Response {
    let fine = returned.as_ref().map_or(0, |r| r.fine_cents);
    render(
        status,
        &CheckinPage {
            form_token: frame.form_token(),
            frame,
            fine: money(fine),
            returned,
            problem,
        },
    )
}

/// POST /staff/desk/checkin: an item was scanned on its way back. The page
/// says where it goes: to the hold shelf for another patron, or back to
/// the shelf.
pub async fn checkin(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let item = field(&form, "item_barcode");
    let session = session_of(&token);
    let done = staff_step(&state, token, CHECKIN, NOT_ALLOWED, move |tx, actor| {
        desk::must_be_at_the_desk(tx, actor)?;
        let item = ItemBarcode::parse(&item)?;
        desk::checkin(tx, actor, &item)
    })
    .await;
    let (status, returned, problem) = match done {
        Step::Done(returned) => (StatusCode::OK, Some(returned), None),
        Step::Problem(status, text) => (status, None, Some(text)),
        Step::Answer(answer) => return answer,
    };
    let frame = staff_frame(&state, &session, CHECKIN).await;
    checkin_page(frame, status, returned, problem.map(desk_words))
}

#[derive(Template)]
#[template(path = "staff/desk_pull_list.html")]
struct PullListPage {
    frame: Frame,
    items: Vec<(String, String, String, String)>,
}

/// GET /staff/desk/pull-list: items on the shelf that patrons wait for.
pub async fn pull_list(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let zone = state.store.policy().library.time_zone;
    let found = as_staff_page(
        &state,
        token,
        "/staff/desk/pull-list",
        NOT_ALLOWED,
        |tx, actor| {
            desk::must_be_at_the_desk(tx, actor)?;
            let grant =
                carrel_store::gate::authorize(tx, actor, circulation::purpose::CIRCULATION)?;
            circulation::pull_list(tx, &grant)
        },
    )
    .await;
    let (list, frame) = match found {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let items = list
        .into_iter()
        .map(|i| {
            (
                i.call_number.unwrap_or_default(),
                i.title,
                i.item_barcode,
                local_date(i.wanted_since, zone),
            )
        })
        .collect();
    render(StatusCode::OK, &PullListPage { frame, items })
}
