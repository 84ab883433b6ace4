//! The desk: /api/v1/checkouts, /checkins, /loans/{id}/renewal, /holds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use carrel_store::circulation::{
    self, purpose, Checkin, CheckinGrants, CheckoutGrants, HoldGrants, HoldRecord, LoanRecord,
    RenewGrants, ToPull,
};
use carrel_store::gate::authorize;
use carrel_store::validate::{CardBarcode, ItemBarcode};
use serde::Deserialize;

use crate::api::{path_id, ApiError, AppState, Body, NoBody, PathParam, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, Refused, TooLarge,
    Unauthenticated,
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatronAndItem {
    /// The patron's card barcode (as the desk scans it); or give
    /// `patron_id`, not both.
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    patron_barcode: Option<String>,
    /// The patron's record id (as other answers name the patron); or give
    /// `patron_barcode`, not both.
    #[schema(minimum = 1)]
    patron_id: Option<i64>,
    /// The item's barcode.
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    item_barcode: String,
}

impl PatronAndItem {
    /// The patron, by card or by id: exactly one of them.
    fn patron(&self) -> Result<circulation::Borrower, carrel_store::Error> {
        match (&self.patron_barcode, self.patron_id) {
            (Some(card), None) => Ok(circulation::Borrower::Card(CardBarcode::parse(card)?)),
            (None, Some(id)) if id > 0 => Ok(circulation::Borrower::Id(id)),
            (None, Some(_)) => Err(carrel_store::Error::NotFound { what: "patron" }),
            _ => Err(carrel_store::Error::invalid(
                "patron_required",
                "name the patron by patron_barcode or by patron_id: one of them, not both",
            )),
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/checkouts",
    operation_id = "circulation_checkout",
    summary = "Check an item out to a patron",
    description = "Refused (409) for an expired or blocked patron, one owing at or over the policy's limit, one at the loan limit of their category, an item already on loan, or an item held for someone else.",
    request_body = PatronAndItem,
    responses(
        (status = 201, description = "The new loan", body = LoanRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn checkout(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<PatronAndItem>,
) -> Result<(StatusCode, Json<LoanRecord>), ApiError> {
    let loan = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let patron = req.patron()?;
            let item = ItemBarcode::parse(&req.item_barcode)?;
            let grants = CheckoutGrants::request(tx, actor)?;
            circulation::checkout(tx, &grants, &patron, &item)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(loan)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemOnly {
    /// The barcode of the item returned.
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    item_barcode: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/checkins",
    operation_id = "circulation_checkin",
    summary = "Check an item in",
    request_body = ItemOnly,
    responses(
        (status = 200, description = "The closed loan, any overdue fine, and any hold made ready", body = Checkin),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/loans/{id}/renewal",
    operation_id = "circulation_renew",
    summary = "Renew a loan",
    params(
        ("id" = i64, Path, description = "The loan's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The renewed loan", body = LoanRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/holds",
    operation_id = "circulation_place_hold",
    summary = "Place a hold",
    request_body = PatronAndItem,
    responses(
        (status = 201, description = "The hold", body = HoldRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn place_hold(
    State(state): State<AppState>,
    token: Token,
    Body(req): Body<PatronAndItem>,
) -> Result<(StatusCode, Json<HoldRecord>), ApiError> {
    let hold = state
        .as_staff(token, move |tx, actor| {
            let req = req?;
            let patron = req.patron()?;
            let item = ItemBarcode::parse(&req.item_barcode)?;
            let grants = HoldGrants::request(tx, actor)?;
            circulation::place_hold(tx, &grants, &patron, &item)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(hold)))
}

#[utoipa::path(
    get,
    path = "/api/v1/holds/pull-list",
    operation_id = "circulation_pull_list",
    summary = "Items on the shelf that patrons wait for, to fetch and scan in at checkin",
    description = "Oldest hold first. Scanning an item in at checkin puts it on the hold shelf for the first patron waiting. The list names items, never who waits.",
    responses(
        (status = 200, description = "The pull list", body = [ToPull]),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
pub async fn pull_list(
    State(state): State<AppState>,
    token: Token,
) -> Result<Json<Vec<ToPull>>, ApiError> {
    let list = state
        .as_staff(token, move |tx, actor| {
            let grant = authorize(tx, actor, purpose::CIRCULATION)?;
            circulation::pull_list(tx, &grant)
        })
        .await?;
    Ok(Json(list))
}

#[utoipa::path(
    delete,
    path = "/api/v1/holds/{id}",
    operation_id = "circulation_cancel_hold",
    summary = "Cancel a hold",
    params(
        ("id" = i64, Path, description = "The hold's id.", minimum = 1),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The cancelled hold", body = HoldRecord),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, TooLarge, NotJson, Invalid)>,
    ),
)]
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
