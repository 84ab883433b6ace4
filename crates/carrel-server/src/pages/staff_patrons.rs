//! Patrons at the desk (issue 16 item 3): find one by card, or by name
//! only for a stated purpose; register one with a form made from the
//! fields the policy declares (N4: nothing else can be asked); change
//! details in person, recording which kind of photo ID was checked (A2);
//! renew or expire a card; block and unblock with a reason.
//!
//! The forms are never filled with what the record holds: a change is
//! typed as the patron gives it, so opening a form reads nothing (D6).

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use carrel_policy::{Action, RecordClass};
use carrel_store::desk;
use carrel_store::disclosures::IdKind;
use carrel_store::gate::authorize;
use carrel_store::patrons::{self, BlockReason, InputShape};
use carrel_store::Error;
use serde_json::Value as Json;

use super::{
    as_staff_page, field, record_id, render, see_other, session_of, staff_frame, staff_step, words,
    Frame, Step,
};
use crate::api::{ApiError, AppState, Token};

const PATRONS: &str = "/staff/patrons";

const NOT_ALLOWED: &str =
    "Your role may not read patrons' registrations under the library's policy.";

#[derive(Template)]
#[template(path = "staff/patrons.html")]
struct PatronsPage {
    frame: Frame,
    form_token: String,
    problem: Option<String>,
    purposes: Vec<(String, String)>,
    found: Option<Vec<(i64, String)>>,
    may_register: bool,
}

fn may(state: &AppState, frame: &Frame, action: Action) -> bool {
    frame.role.as_deref().is_some_and(|role| {
        state
            .store
            .policy()
            .roles
            .get(role)
            .is_some_and(|r| r.may(action, RecordClass::Registration))
    })
}

fn patrons_page(
    state: &AppState,
    frame: Frame,
    status: StatusCode,
    problem: Option<String>,
    found: Option<Vec<(i64, String)>>,
) -> Response {
    let may_register = may(state, &frame, Action::Create);
    render(
        status,
        &PatronsPage {
            form_token: frame.form_token(),
            frame,
            problem,
            purposes: desk::reveal_purposes(state.store.policy()),
            found,
            may_register,
        },
    )
}

/// GET /staff/patrons
pub async fn page(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    match as_staff_page(&state, token, PATRONS, NOT_ALLOWED, super::only_for_roles_that_may::<carrel_store::gate::Read, carrel_store::gate::Registration>(
            carrel_policy::purpose::ACCOUNT,
        ))
    .await
    {
        Ok(((), frame)) => patrons_page(&state, frame, StatusCode::OK, None, None),
        Err(answer) => answer,
    }
}

/// POST /staff/patrons/search: by name, for a purpose.
pub async fn search(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let name = field(&form, "name");
    let purpose = field(&form, "purpose");
    let session = session_of(&token);
    let found = staff_step(&state, token, PATRONS, NOT_ALLOWED, move |tx, actor| {
        if purpose.is_empty() {
            return Err(Error::invalid(
                "purpose_required",
                "choose why you are searching: a purpose from the list",
            ));
        }
        desk::find_by_name(tx, actor, &name, &purpose)
    })
    .await;
    let frame = staff_frame(&state, &session, PATRONS).await;
    match found {
        Step::Done(found) => patrons_page(&state, frame, StatusCode::OK, None, Some(found)),
        Step::Problem(status, text) => patrons_page(&state, frame, status, Some(text), None),
        Step::Answer(answer) => answer,
    }
}

/// One control of a patron form.
struct Input {
    key: String,
    /// What was typed, when the form comes back with a problem (never
    /// what the record holds).
    value: String,
    label: String,
    kind: &'static str,
    required: bool,
    options: Option<Vec<(String, String)>>,
    hint: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/patron_form.html")]
struct PatronForm {
    frame: Frame,
    form_token: String,
    title: String,
    intro: String,
    action: String,
    submit: String,
    inputs: Vec<Input>,
    problem: Option<String>,
    photo_id: bool,
    identity: String,
    id_kinds: Vec<(&'static str, String)>,
}

fn label(key: &str) -> String {
    super::capitalised(&match key {
        "card_barcode" => "card number".to_string(),
        "pin" => "PIN (4 to 16 digits, for online services)".to_string(),
        "expires_on" => "card valid until".to_string(),
        "birth_date" => "birth date".to_string(),
        "guardian_card_barcode" => "parent or guardian's card number".to_string(),
        "email" => "e-mail address".to_string(),
        other => words(other),
    })
}

/// The controls for the keys the policy lets a registration carry: for a
/// registration (`for_update` false: required as the policy says) or an
/// update (nothing required; a blank control changes nothing).
fn inputs(policy: &carrel_policy::Policy, for_update: bool) -> Vec<Input> {
    let mut declared = patrons::declared_inputs(policy);
    // In the order a desk asks: the card, who, where, how to reach them,
    // then the PIN; fields a library adds come after.
    const ORDER: [&str; 10] = [
        "card_barcode",
        "category",
        "expires_on",
        "name",
        "address",
        "birth_date",
        "guardian_card_barcode",
        "phone",
        "email",
        "pin",
    ];
    declared.sort_by_key(|input| {
        ORDER
            .iter()
            .position(|k| *k == input.key)
            .unwrap_or(ORDER.len())
    });
    declared
        .into_iter()
        // The status is set by blocking and unblocking.
        .filter(|input| input.key != "status")
        .map(|input| {
            let (kind, options) = match &input.shape {
                InputShape::Date => ("date", None),
                InputShape::Email => ("email", None),
                InputShape::Pin => ("password", None),
                InputShape::Category(names) => (
                    "text",
                    Some(
                        names
                            .iter()
                            .map(|name| {
                                let words = policy
                                    .category(name)
                                    .map_or_else(|| name.clone(), |c| c.description.clone());
                                (name.clone(), words)
                            })
                            .collect(),
                    ),
                ),
                _ if input.key == "phone" => ("tel", None),
                _ => ("text", None),
            };
            let hint = (input.key == "guardian_card_barcode")
                .then(|| "Required for a minor's card; the parent or guardian must have a card of their own.".to_string());
            Input {
                value: String::new(),
                label: label(&input.key),
                required: input.required && !for_update,
                kind,
                options,
                hint,
                key: input.key,
            }
        })
        .collect()
}

/// The controls, with what was typed into them (not the PIN).
fn refilled(mut inputs: Vec<Input>, typed: &HashMap<String, String>) -> Vec<Input> {
    for input in &mut inputs {
        if input.key != "pin" {
            input.value = field(typed, &input.key);
        }
    }
    inputs
}

/// A store message in the form's words: its labels, not field keys.
fn in_form_words(message: &str) -> String {
    let mut text = message.to_string();
    for key in [
        "guardian_card_barcode",
        "card_barcode",
        "expires_on",
        "birth_date",
        "email",
        "pin",
    ] {
        let words = label(key).to_lowercase();
        text = text.replace(key, &words);
        let capital = super::capitalised(key);
        text = text.replace(&capital, &super::capitalised(&words));
    }
    text
}

fn id_kinds() -> Vec<(&'static str, String)> {
    <IdKind as strum::VariantArray>::VARIANTS
        .iter()
        .map(|k| (k.name(), words(k.name())))
        .collect()
}

const NOT_REGISTERING: &str = "Your role may not register patrons under the library's policy.";

/// GET /staff/patrons/new
pub async fn new_form(State(state): State<AppState>, token: Result<Token, ApiError>) -> Response {
    let path = "/staff/patrons/new";
    match as_staff_page(
        &state,
        token,
        path,
        NOT_REGISTERING,
        super::only_for_roles_that_may::<
            carrel_store::gate::Create,
            carrel_store::gate::Registration,
        >(carrel_policy::purpose::ACCOUNT),
    )
    .await
    {
        Ok(((), frame)) => register_form(&state, frame, StatusCode::OK, None, &HashMap::new()),
        Err(answer) => answer,
    }
}

fn register_form(
    state: &AppState,
    frame: Frame,
    status: StatusCode,
    problem: Option<String>,
    typed: &HashMap<String, String>,
) -> Response {
    let policy = state.store.policy();
    render(
        status,
        &PatronForm {
            form_token: frame.form_token(),
            frame,
            title: "Register a patron".into(),
            intro: "The form asks only for what the library's policy declares; nothing else can be stored. Fields not marked required may stay blank.".into(),
            action: "/staff/patrons/new".into(),
            submit: "Register".into(),
            inputs: refilled(inputs(policy, false), typed),
            problem: problem.map(|p| in_form_words(&p)),
            photo_id: false,
            identity: String::new(),
            id_kinds: Vec::new(),
        },
    )
}

/// The keys of a posted patron form that carry a value, as the store's
/// registration input. A key the policy does not declare is refused, not
/// dropped (N4): the form never offers one, so someone made it up.
fn given(
    form: &HashMap<String, String>,
    policy: &carrel_policy::Policy,
) -> Result<BTreeMap<String, Json>, Error> {
    let declared = inputs(policy, true);
    if let Some(stranger) = form.keys().find(|key| {
        !matches!(key.as_str(), "form_token" | "photo_id")
            && !declared.iter().any(|i| &i.key == *key)
    }) {
        return Err(Error::invalid(
            "undeclared_field",
            format!(
                "field {} is not declared by the library's policy for registration records, so Carrel will not store it",
                carrel_store::validate::field_label(stranger)
            ),
        ));
    }
    Ok(declared
        .into_iter()
        .filter_map(|input| {
            let value = field(form, &input.key);
            (!value.is_empty()).then_some((input.key, Json::String(value)))
        })
        .collect())
}

/// POST /staff/patrons/new
pub async fn register(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let path = "/staff/patrons/new";
    let fields = given(&form, state.store.policy());
    let form = form.clone();
    let session = session_of(&token);
    let done = staff_step(&state, token, path, NOT_REGISTERING, move |tx, actor| {
        let grant = authorize(tx, actor, carrel_policy::purpose::ACCOUNT)?;
        patrons::register(tx, &grant, &fields?).map(|r| r.id)
    })
    .await;
    match done {
        Step::Done(id) => see_other(&format!("/staff/desk/patrons/{id}?registered")),
        Step::Problem(status, text) => {
            let frame = staff_frame(&state, &session, path).await;
            register_form(&state, frame, status, Some(text), &form)
        }
        Step::Answer(answer) => answer,
    }
}

const NOT_UPDATING: &str =
    "Your role may not change patrons' registrations under the library's policy.";

fn edit_path(id: &str) -> String {
    format!("{PATRONS}/{id}/edit")
}

/// GET /staff/patrons/{id}/edit: a change in person.
pub async fn edit_form(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
) -> Response {
    let path = edit_path(&id);
    let target = id.clone();
    match as_staff_page(&state, token, &path, NOT_UPDATING, move |tx, actor| {
        let id = record_id(&target, "patron")?;
        authorize::<carrel_store::gate::Update, carrel_store::gate::Registration>(
            tx,
            actor,
            carrel_policy::purpose::ACCOUNT,
        )?;
        patrons::must_exist(tx, id)
    })
    .await
    {
        Ok(((), frame)) => edit_page(&state, frame, &id, StatusCode::OK, None, &HashMap::new()),
        Err(answer) => answer,
    }
}

fn edit_page(
    state: &AppState,
    frame: Frame,
    id: &str,
    status: StatusCode,
    problem: Option<String>,
    typed: &HashMap<String, String>,
) -> Response {
    let policy = state.store.policy();
    render(
        status,
        &PatronForm {
            form_token: frame.form_token(),
            frame,
            title: "Change details in person".into(),
            intro: "Type only what changes, as the patron gives it; a blank field stays as it is. The form does not show what the record holds.".into(),
            action: edit_path(id),
            submit: "Save the changes".into(),
            inputs: refilled(inputs(policy, true), typed),
            problem: problem.map(|p| in_form_words(&p)),
            photo_id: true,
            identity: policy
                .patrons
                .online_corrections
                .iter()
                .map(|f| words(f))
                .collect::<Vec<_>>()
                .join(", "),
            id_kinds: id_kinds(),
        },
    )
}

/// POST /staff/patrons/{id}/edit
pub async fn edit(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let path = edit_path(&id);
    let fields = given(&form, state.store.policy());
    let photo_id = field(&form, "photo_id");
    let form = form.clone();
    let session = session_of(&token);
    let target = id.clone();
    let done = staff_step(&state, token, &path, NOT_UPDATING, move |tx, actor| {
        let id = record_id(&target, "patron")?;
        let grant = authorize(tx, actor, carrel_policy::purpose::ACCOUNT)?;
        let photo_id = match photo_id.as_str() {
            "" => None,
            kind => Some(kind.parse::<IdKind>().map_err(|_| {
                Error::invalid("bad_photo_id", "choose the kind of photo ID from the list")
            })?),
        };
        let fields = fields?;
        if fields.is_empty() {
            return Err(Error::invalid(
                "nothing_to_change",
                "type at least one new value; blank fields change nothing",
            ));
        }
        patrons::update_in_person(tx, &grant, id, &fields, photo_id).map(drop)
    })
    .await;
    match done {
        Step::Done(()) => see_other(&format!("/staff/desk/patrons/{id}?updated")),
        Step::Problem(status, text) => {
            let frame = staff_frame(&state, &session, &path).await;
            edit_page(&state, frame, &id, status, Some(text), &form)
        }
        Step::Answer(answer) => answer,
    }
}

/// POST /staff/patrons/{id}/card: renew (a new expiry date) or expire.
pub async fn card(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let action = field(&form, "action");
    let until = field(&form, "expires_on");
    let confirmed = field(&form, "confirm") == "yes";
    let path = format!("/staff/desk/patrons/{id}");
    let target = id.clone();
    let done = as_staff_page(&state, token, &path, NOT_UPDATING, move |tx, actor| {
        let id = record_id(&target, "patron")?;
        let grant = authorize(tx, actor, carrel_policy::purpose::ACCOUNT)?;
        let expires_on = match action.as_str() {
            "renew" => {
                // A renewal moves the expiry later, never into the past:
                // that would expire the card without the confirmation
                // expiring asks for.
                let date = chrono::NaiveDate::parse_from_str(&until, "%Y-%m-%d").map_err(|_| {
                    Error::invalid("bad_date", "give the new expiry date as YYYY-MM-DD")
                })?;
                let today = tx.today();
                if date <= today || date > today + chrono::Duration::days(366 * 10) {
                    return Err(Error::invalid(
                        "date_out_of_range",
                        "a renewal runs to a day after today and within ten years; to end a card, expire it",
                    ));
                }
                until
            }
            "expire" if confirmed => (tx.today() - chrono::Duration::days(1)).to_string(),
            "expire" => {
                return Err(Error::invalid(
                    "confirm_required",
                    "tick the box to confirm: an expired card's record is destroyed at the next purge unless something is still owed or out",
                ))
            }
            _ => {
                return Err(Error::invalid(
                    "bad_action",
                    "choose to renew or to expire the card",
                ))
            }
        };
        let change = BTreeMap::from([("expires_on".to_string(), Json::String(expires_on))]);
        patrons::update(tx, &grant, id, &change).map(drop)
    })
    .await;
    match done {
        Ok(((), _)) => see_other(&format!("{path}?card")),
        Err(answer) => answer,
    }
}

/// POST /staff/patrons/{id}/block: block with a reason, or unblock.
pub async fn block(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let reason = field(&form, "reason");
    let path = format!("/staff/desk/patrons/{id}");
    let target = id.clone();
    let done = as_staff_page(&state, token, &path, NOT_UPDATING, move |tx, actor| {
        let id = record_id(&target, "patron")?;
        let grant = authorize(tx, actor, carrel_policy::purpose::ACCOUNT)?;
        let reason = match reason.as_str() {
            "unblock" => None,
            name => Some(name.parse::<BlockReason>().map_err(|_| {
                Error::invalid("bad_reason", "choose why the card is blocked from the list")
            })?),
        };
        patrons::set_block(tx, &grant, id, reason)
    })
    .await;
    match done {
        Ok(((), _)) => see_other(&format!("{path}?card")),
        Err(answer) => answer,
    }
}
