//! /api/v1/items: create and look up items in the collection.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::purpose;
use carrel_store::gate::authorize;
use carrel_store::items::{self, ItemChanges, ItemRecord, NewItem};
use carrel_store::validate::ItemBarcode;

use crate::api::{path_id, ApiError, AppState, Body, PathParam, QueryParams, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NotFound, NotJson, Refused, TooLarge, Unauthenticated,
};

#[utoipa::path(
    post,
    path = "/api/v1/items",
    operation_id = "items_create",
    summary = "Add an item to the collection",
    request_body = NewItem,
    responses(
        (status = 201, description = "Created", body = ItemRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    token: Token,
    Body(item): Body<NewItem>,
) -> Result<(StatusCode, Json<ItemRecord>), ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let item = item?;
            let grant = authorize(tx, actor, purpose::COLLECTION)?;
            items::create(tx, &grant, &item)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

#[utoipa::path(
    get,
    path = "/api/v1/items/{id}",
    operation_id = "items_read",
    summary = "Read an item",
    params(
        ("id" = i64, Path, description = "The item's id.", minimum = 1),
    ),
    responses(
        (status = 200, description = "The item", body = ItemRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
) -> Result<Json<ItemRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let id = path_id("item", &id)?;
            let grant = authorize(tx, actor, purpose::COLLECTION)?;
            items::load(tx, &grant, id)
        })
        .await?;
    Ok(Json(record))
}

/// Item barcodes are not personal data, so they may travel in the URL.
#[utoipa::path(
    get,
    path = "/api/v1/items/by-barcode/{barcode}",
    operation_id = "items_by_barcode",
    summary = "Find an item by barcode",
    params(
        ("barcode" = String, Path, description = "The item's barcode.", pattern = "^[A-Za-z0-9]{4,32}$"),
    ),
    responses(
        (status = 200, description = "The item", body = ItemRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn by_barcode(
    State(state): State<AppState>,
    token: Token,
    PathParam(barcode): PathParam<String>,
) -> Result<Json<ItemRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let barcode = barcode?;
            let barcode = ItemBarcode::parse(&barcode)?;
            let grant = authorize(tx, actor, purpose::COLLECTION)?;
            items::find_by_barcode(tx, &grant, &barcode)
        })
        .await?;
    Ok(Json(record))
}

/// What to search the catalogue for.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words of a title or author (at least two characters), or a barcode.
    #[param(min_length = 2, max_length = 200)]
    q: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/items",
    operation_id = "items_search",
    summary = "Search the catalogue by title, author or barcode",
    description = "At most 50 items, by title. The catalogue holds no personal data.",
    params(SearchQuery),
    responses(
        (status = 200, description = "The items found", body = [ItemRecord]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn search(
    State(state): State<AppState>,
    token: Token,
    QueryParams(query): QueryParams<SearchQuery>,
) -> Result<Json<Vec<ItemRecord>>, ApiError> {
    let found = state
        .as_staff(token, move |tx, actor| {
            let query = query?;
            let grant = authorize(tx, actor, purpose::COLLECTION)?;
            items::search(tx, &grant, &query.q)
        })
        .await?;
    Ok(Json(found))
}

#[utoipa::path(
    patch,
    path = "/api/v1/items/{id}",
    operation_id = "items_update",
    summary = "Change an item's catalogue fields",
    description = "Send only the fields to change; null clears author, call_number or material_type. The status is circulation's, not changed here.",
    params(
        ("id" = i64, Path, description = "The item's id.", minimum = 1),
    ),
    request_body = ItemChanges,
    responses(
        (status = 200, description = "The item after the change", body = ItemRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    Body(changes): Body<ItemChanges>,
) -> Result<Json<ItemRecord>, ApiError> {
    let record = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            let changes = changes?;
            let id = path_id("item", &id)?;
            let grant = authorize(tx, actor, purpose::COLLECTION)?;
            items::update(tx, &grant, id, &changes)
        })
        .await?;
    Ok(Json(record))
}
