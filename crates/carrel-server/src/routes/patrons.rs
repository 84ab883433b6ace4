//! /api/v1/patrons: register, look up, read, update; a patron's loans,
//! holds and fines.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::{self, purpose, HoldRecord, LoanRecord};
use carrel_store::fines::{self, FineRecord};
use carrel_store::gate::authorize;
use carrel_store::patrons::{self, PatronRecord};
use carrel_store::validate::CardBarcode;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{path_id, ApiError, AppState, Body, PathParam, QueryParams, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NewPatronFields, NotFound, NotJson, PatronFields, Refused,
    TooLarge, Unauthenticated,
};

type Fields = BTreeMap<String, Value>;

#[utoipa::path(
    post,
    path = "/api/v1/patrons",
    operation_id = "patrons_register",
    summary = "Register a patron",
    description = "Fields are those the library's policy declares for registration records (N4); any other field is refused with 422 undeclared_field.",
    request_body = NewPatronFields,
    responses(
        (status = 201, description = "Registered", body = PatronRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    token: Token,
    Body(fields): Body<Fields>,
) -> Result<(StatusCode, Json<PatronRecord>), ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let fields = fields?;
            let grant = authorize(tx, actor, purpose::ACCOUNT)?;
            patrons::register(tx, &grant, &fields)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    card_barcode: String,
    /// Why the record is read: one of the purposes the policy declares for
    /// registration records (default `account`). The answer holds the
    /// personal fields declared for that purpose and no others.
    #[serde(default)]
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    purpose: Option<String>,
}

/// A search by name: it must say why.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameSearch {
    /// Two or more letters of the patron's name.
    #[schema(min_length = 2, max_length = 200)]
    name: String,
    /// Why: one of the purposes the policy declares for registration
    /// records. Each patron found is a read for it, audited.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    purpose: String,
}

/// A POST so that the name never appears in a URL (URLs end up in logs
/// and browser history).
#[utoipa::path(
    post,
    path = "/api/v1/patrons/search",
    operation_id = "patrons_search",
    summary = "Find patrons by name, for a stated purpose",
    description = "At most 20 patrons. Each one found is a read of their registration for the stated purpose (audited; the name searched for is not recorded), and holds the personal fields declared for that purpose.",
    request_body = NameSearch,
    responses(
        (status = 200, description = "The patrons found", body = [PatronRecord]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    token: Token,
    Body(search): Body<NameSearch>,
) -> Result<Json<Vec<PatronRecord>>, ApiError> {
    let found = state
        .as_staff(token, move |tx, actor| {
            let search = search?;
            let grant = authorize(tx, actor, &search.purpose)?;
            patrons::find_by_name(tx, &grant, &search.name)
        })
        .await?;
    Ok(Json(found))
}

/// Why a registration is read (`?purpose=`): the answer holds the personal
/// fields the policy declares for that purpose and no others.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// One of the purposes the policy declares for registration records
    /// (default `account`: the name, address and card; `account_notices`
    /// for the phone and e-mail address; `guardianship` for the birth date
    /// and guardian).
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    purpose: Option<String>,
}

/// The desk scans a card. POST, so the barcode is never in a URL (URLs end
/// up in logs and browser history).
#[utoipa::path(
    post,
    path = "/api/v1/patrons/lookup",
    operation_id = "patrons_lookup",
    summary = "Find a patron by card barcode",
    description = "A POST so that the barcode never appears in a URL. The answer holds the personal fields the policy declares for the stated purpose (default account) and no others.",
    request_body = Lookup,
    responses(
        (status = 200, description = "The patron", body = PatronRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn lookup(
    State(state): State<AppState>,
    token: Token,
    Body(lookup): Body<Lookup>,
) -> Result<Json<PatronRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let lookup = lookup?;
            let barcode = CardBarcode::parse(&lookup.card_barcode)?;
            let purpose = lookup.purpose.as_deref().unwrap_or(purpose::ACCOUNT);
            let grant = authorize(tx, actor, purpose)?;
            patrons::find_by_barcode(tx, &grant, &barcode)
        })
        .await?;
    Ok(Json(record))
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}",
    operation_id = "patrons_read",
    summary = "Read a patron's registration record",
    description = "The answer holds the fields that are not personal and the personal fields the policy declares for the stated purpose (default account), and no others (D6).",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
        ReadQuery,
    ),
    responses(
        (status = 200, description = "The patron", body = PatronRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Json<PatronRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let query = query?;
            let id = path_id("patron", &id)?;
            let purpose = query.purpose.as_deref().unwrap_or(purpose::ACCOUNT);
            let grant = authorize(tx, actor, purpose)?;
            patrons::load(tx, &grant, id)
        })
        .await?;
    Ok(Json(record))
}

/// The key of a desk update that names the kind of photo ID checked (A2).
pub const PHOTO_ID: &str = "photo_id";

/// The kind of photo ID a desk update names, if it names one.
fn photo_id(
    value: Option<serde_json::Value>,
) -> Result<Option<carrel_store::disclosures::IdKind>, carrel_store::Error> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(name)) => name.parse().map(Some).map_err(|_| {
            carrel_store::Error::invalid(
                "bad_photo_id",
                format!(
                    "photo_id must be one of: {}",
                    carrel_policy::names_of::<carrel_store::disclosures::IdKind>()
                ),
            )
        }),
        Some(_) => Err(carrel_store::Error::invalid(
            "bad_photo_id",
            "photo_id must be a string naming the kind of photo ID",
        )),
    }
}

#[utoipa::path(
    patch,
    path = "/api/v1/patrons/{id}",
    operation_id = "patrons_update",
    summary = "Change a patron's registration record",
    description = "Send only the fields to change; null removes an optional field (for example the e-mail address, C3). A change to the details a patron could otherwise only send as a correction (the policy's online_corrections: name, address...) needs photo_id, the kind of photo ID checked (A2), and is recorded with it.",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    request_body = PatronFields,
    responses(
        (status = 200, description = "The patron after the change", body = PatronRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(fields): Body<Fields>,
) -> Result<Json<PatronRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let mut fields = fields?;
            let id = path_id("patron", &id)?;
            let photo_id = photo_id(fields.remove(PHOTO_ID))?;
            let grant = authorize(tx, actor, purpose::ACCOUNT)?;
            patrons::update_in_person(tx, &grant, id, &fields, photo_id)
        })
        .await?;
    Ok(Json(record))
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/loans",
    operation_id = "patrons_loans",
    summary = "A patron's loans",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Loans", body = [LoanRecord]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn loans(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<LoanRecord>>, ApiError> {
    let loans = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::CIRCULATION)?;
            circulation::loans_of(tx, &grant, id)
        })
        .await?;
    Ok(Json(loans))
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/holds",
    operation_id = "patrons_holds",
    summary = "A patron's holds",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Holds", body = [HoldRecord]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn holds(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<HoldRecord>>, ApiError> {
    let holds = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::CIRCULATION)?;
            circulation::holds_of(tx, &grant, id)
        })
        .await?;
    Ok(Json(holds))
}

#[utoipa::path(
    get,
    path = "/api/v1/patrons/{id}/fines",
    operation_id = "patrons_fines",
    summary = "A patron's fines",
    params(
        ("id" = i64, Path, description = "The patron's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "Fines", body = [FineRecord]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn fines(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<Vec<FineRecord>>, ApiError> {
    let fines = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::FINES)?;
            fines::of_patron(tx, &grant, id)
        })
        .await?;
    Ok(Json(fines))
}
