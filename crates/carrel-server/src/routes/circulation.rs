//! The desk: /api/v1/checkouts, /checkins, /loans/{id}/renewal, /holds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::{
    self, purpose, Checkin, CheckinGrants, CheckoutGrants, HoldGrants, HoldRecord, LoanRecord,
    RenewGrants,
};
use carrel_store::gate::authorize;
use carrel_store::validate::{CardBarcode, ItemBarcode};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatronAndItem {
    patron_barcode: String,
    item_barcode: String,
}

pub async fn checkout(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<PatronAndItem>,
) -> Result<(StatusCode, Json<LoanRecord>), ApiError> {
    let loan = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let patron = CardBarcode::parse(&req.patron_barcode)?;
            let item = ItemBarcode::parse(&req.item_barcode)?;
            let grants = CheckoutGrants::request(tx, actor)?;
            circulation::checkout(tx, &grants, &patron, &item)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(loan)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemOnly {
    item_barcode: String,
}

pub async fn checkin(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<ItemOnly>,
) -> Result<Json<Checkin>, ApiError> {
    let outcome = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let item = ItemBarcode::parse(&req.item_barcode)?;
            let grants = CheckinGrants::request(tx, actor)?;
            circulation::checkin(tx, &grants, &item)
        })
        .await?;
    Ok(Json(outcome))
}

pub async fn renew(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<LoanRecord>, ApiError> {
    let loan = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("loan", &id)?;
            let grants = RenewGrants::request(tx, actor)?;
            circulation::renew(tx, &grants, id)
        })
        .await?;
    Ok(Json(loan))
}

pub async fn place_hold(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<PatronAndItem>,
) -> Result<(StatusCode, Json<HoldRecord>), ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let patron = CardBarcode::parse(&req.patron_barcode)?;
            let item = ItemBarcode::parse(&req.item_barcode)?;
            let grants = HoldGrants::request(tx, actor)?;
            circulation::place_hold(tx, &grants, &patron, &item)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(hold)))
}

pub async fn cancel_hold(
    State(state): State<AppState>,
    token: Token,
    PathParam(id): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<HoldRecord>, ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let id = id?;
            no_body.0?;
            let id = path_id("hold", &id)?;
            let grant = authorize(tx, actor, purpose::CIRCULATION)?;
            circulation::cancel_hold(tx, &grant, id)
        })
        .await?;
    Ok(Json(hold))
}
