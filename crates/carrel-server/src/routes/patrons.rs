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

use crate::api::{path_id, ApiError, AppState, Body, PathParam, Token};

type Fields = BTreeMap<String, Value>;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    card_barcode: String,
}

/// The desk scans a card. POST, so the barcode is never in a URL (URLs end
/// up in logs and browser history).
pub async fn lookup(
    State(state): State<AppState>,
    token: Token,
    Body(lookup): Body<Lookup>,
) -> Result<Json<PatronRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let lookup = lookup?;
            let barcode = CardBarcode::parse(&lookup.card_barcode)?;
            let grant = authorize(tx, actor, purpose::ACCOUNT)?;
            patrons::find_by_barcode(tx, &grant, &barcode)
        })
        .await?;
    Ok(Json(record))
}

pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<PatronRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::ACCOUNT)?;
            patrons::load(tx, &grant, id)
        })
        .await?;
    Ok(Json(record))
}

pub async fn update(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(fields): Body<Fields>,
) -> Result<Json<PatronRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let fields = fields?;
            let id = path_id("patron", &id)?;
            let grant = authorize(tx, actor, purpose::ACCOUNT)?;
            patrons::update(tx, &grant, id, &fields)
        })
        .await?;
    Ok(Json(record))
}

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
