//! The catalogue on the staff pages (issue 16 item 4): find items by
//! title, author or barcode; add and change them; load a library's
//! catalogue file (MARC 21 or CSV) through an upload form. The catalogue
//! holds no personal data, but who may add or change it is still the
//! policy's to say (`may.catalogue`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use carrel_policy::{Action, RecordClass};
use carrel_store::gate::authorize;
use carrel_store::items::{self, ItemChanges, ItemRecord, NewItem};
use carrel_store::Error;

use super::{
    as_staff_page, field, record_id, render, see_other, session_of, staff_frame, staff_step, Frame,
    Step,
};
use crate::api::{ApiError, AppState, Token};
use crate::catalogue_import::{self, Report};

/// The catalogue's page.
pub const ITEMS: &str = "/staff/items";
/// The upload form for a catalogue file.
pub const IMPORT: &str = "/staff/items/import";

const NOT_ALLOWED: &str = "Your role may not use the catalogue under the library's policy.";
const NOT_CHANGING: &str =
    "Your role may not add to or change the catalogue under the library's policy.";

fn may(state: &AppState, frame: &Frame, action: Action) -> bool {
    frame.role.as_deref().is_some_and(|role| {
        state
            .store
            .policy()
            .roles
            .get(role)
            .is_some_and(|r| r.may(action, RecordClass::Catalogue))
    })
}

#[derive(Template)]
#[template(path = "staff/catalogue.html")]
struct CataloguePage {
    frame: Frame,
    form_token: String,
    query: String,
    items: Option<Vec<ItemRecord>>,
    may_create: bool,
    done: Option<String>,
    problem: Option<String>,
}

fn catalogue_page(
    state: &AppState,
    frame: Frame,
    status: StatusCode,
    query: String,
    items: Option<Vec<ItemRecord>>,
    problem: Option<String>,
) -> Response {
    let may_create = may(state, &frame, Action::Create);
    render(
        status,
        &CataloguePage {
            form_token: frame.form_token(),
            frame,
            query,
            items,
            may_create,
            done: None,
            problem,
        },
    )
}

/// GET /staff/items[?q=]: a search (the catalogue holds no personal
/// data, so its words may be in the address).
pub async fn page(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let words = query
        .get("q")
        .map(|q| q.trim().to_string())
        .unwrap_or_default();
    let session = session_of(&token);
    let asked = words.clone();
    let found = staff_step(&state, token, ITEMS, NOT_ALLOWED, move |tx, actor| {
        let grant = authorize(tx, actor, carrel_policy::purpose::COLLECTION)?;
        if asked.is_empty() {
            return Ok(None);
        }
        items::search(tx, &grant, &asked).map(Some)
    })
    .await;
    let frame = staff_frame(&state, &session, ITEMS).await;
    match found {
        Step::Done(items) => catalogue_page(&state, frame, StatusCode::OK, words, items, None),
        Step::Problem(status, text) => {
            catalogue_page(&state, frame, status, words, None, Some(text))
        }
        Step::Answer(answer) => answer,
    }
}

/// An optional text field of a form: blank is none.
fn optional(form: &HashMap<String, String>, name: &str) -> Option<String> {
    Some(field(form, name)).filter(|v| !v.is_empty())
}

/// POST /staff/items: add an item.
pub async fn add(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let item = NewItem {
        barcode: field(&form, "barcode"),
        title: field(&form, "title"),
        author: optional(&form, "author"),
        call_number: optional(&form, "call_number"),
        material_type: optional(&form, "material_type"),
    };
    let session = session_of(&token);
    let added = staff_step(&state, token, ITEMS, NOT_CHANGING, move |tx, actor| {
        let grant = authorize(tx, actor, carrel_policy::purpose::COLLECTION)?;
        items::create(tx, &grant, &item)
    })
    .await;
    match added {
        Step::Done(item) => see_other(&format!("{ITEMS}/{}?added", item.id)),
        Step::Problem(status, text) => {
            let frame = staff_frame(&state, &session, ITEMS).await;
            catalogue_page(&state, frame, status, String::new(), None, Some(text))
        }
        Step::Answer(answer) => answer,
    }
}

#[derive(Template)]
#[template(path = "staff/item.html")]
struct ItemPage {
    frame: Frame,
    form_token: String,
    item: ItemRecord,
    may_update: bool,
    done: Option<String>,
    problem: Option<String>,
}

async fn item_page(
    state: &AppState,
    token: Result<Token, ApiError>,
    id: String,
    status: StatusCode,
    done: Option<String>,
    problem: Option<String>,
) -> Response {
    let path = format!("{ITEMS}/{id}");
    let found = as_staff_page(state, token, &path, NOT_ALLOWED, move |tx, actor| {
        let id = record_id(&id, "item")?;
        let grant = authorize(tx, actor, carrel_policy::purpose::COLLECTION)?;
        items::load(tx, &grant, id)
    })
    .await;
    let (item, frame) = match found {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let may_update = may(state, &frame, Action::Update);
    render(
        status,
        &ItemPage {
            form_token: frame.form_token(),
            frame,
            item,
            may_update,
            done,
            problem,
        },
    )
}

/// GET /staff/items/{id}
pub async fn item(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let done = if query.contains_key("added") {
        Some("Added to the catalogue, on the shelf.".to_string())
    } else if query.contains_key("saved") {
        Some("Saved.".to_string())
    } else {
        None
    };
    item_page(&state, token, id, StatusCode::OK, done, None).await
}

/// POST /staff/items/{id}: change an item (a blank optional field clears
/// it).
pub async fn change(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let changes = ItemChanges {
        barcode: optional(&form, "barcode"),
        title: optional(&form, "title"),
        author: Some(optional(&form, "author")),
        call_number: Some(optional(&form, "call_number")),
        material_type: Some(optional(&form, "material_type")),
    };
    let path = format!("{ITEMS}/{id}");
    let session = session_of(&token);
    let target = id.clone();
    let saved = staff_step(&state, token, &path, NOT_CHANGING, move |tx, actor| {
        let id = record_id(&target, "item")?;
        let grant = authorize(tx, actor, carrel_policy::purpose::COLLECTION)?;
        items::update(tx, &grant, id, &changes)
    })
    .await;
    match saved {
        Step::Done(_) => see_other(&format!("{path}?saved")),
        Step::Problem(status, text) => {
            item_page(&state, Ok(Token(session)), id, status, None, Some(text)).await
        }
        Step::Answer(answer) => answer,
    }
}

#[derive(Template)]
#[template(path = "staff/import.html")]
struct ImportPage {
    frame: Frame,
    form_token: String,
    report: Option<Report>,
    problem: Option<String>,
}

fn import_page(
    frame: Frame,
    status: StatusCode,
    report: Option<Report>,
    problem: Option<String>,
) -> Response {
    render(
        status,
        &ImportPage {
            form_token: frame.form_token(),
            frame,
            report,
            problem,
        },
    )
}

/// GET /staff/items/import
pub async fn import_form(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
) -> Response {
    match as_staff_page(
        &state,
        token,
        IMPORT,
        NOT_CHANGING,
        super::only_for_roles_that_may::<carrel_store::gate::Create, carrel_store::gate::Catalogue>(
            carrel_policy::purpose::COLLECTION,
        ),
    )
    .await
    {
        Ok(((), frame)) => import_page(frame, StatusCode::OK, None, None),
        Err(answer) => answer,
    }
}

/// The uploaded file of the form (its `file` field).
async fn uploaded(mut form: Multipart) -> Result<Vec<u8>, Error> {
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("file") {
            return field.bytes().await.map(|b| b.to_vec()).map_err(|_| {
                Error::invalid(
                    "upload_broken",
                    "the file did not arrive whole; send it again",
                )
            });
        }
    }
    Err(Error::invalid("file_required", "choose a file to load"))
}

/// POST /staff/items/import: the file is read and loaded in one
/// transaction; the page lists every record not loaded.
pub async fn import(
    State(state): State<AppState>,
    token: Result<Token, ApiError>,
    form: Multipart,
) -> Response {
    let session = session_of(&token);
    let bytes = uploaded(form).await;
    let done = staff_step(&state, token, IMPORT, NOT_CHANGING, move |tx, actor| {
        let grant = authorize(tx, actor, carrel_policy::purpose::COLLECTION)?;
        let (read, found) = catalogue_import::read_file(&bytes?).map_err(|why| {
            Error::invalid("unreadable_file", format!("nothing was loaded: {why}"))
        })?;
        let (loaded, rejected) = items::import(tx, &grant, &found)?;
        Ok(catalogue_import::report(read, loaded, rejected))
    })
    .await;
    let frame = staff_frame(&state, &session, IMPORT).await;
    match done {
        Step::Done(report) => import_page(frame, StatusCode::OK, Some(report), None),
        Step::Problem(status, text) => import_page(frame, status, None, Some(text)),
        Step::Answer(answer) => answer,
    }
}
