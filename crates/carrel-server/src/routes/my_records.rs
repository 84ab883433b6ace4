//! A patron online (C2, R2, R3): sign in with card and PIN, download one's
//! own records, and, where the policy allows it (Colorado), a minor's
//! records as the guardian holding the minor's card number. A card number
//! travels only in a body, never in a URL (URLs end up in logs).

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use carrel_store::disclosures::online;
use carrel_store::disclosures::package::Package;
use carrel_store::patron_sessions::{self, PatronSession};
use serde::Deserialize;

use crate::api::{ApiError, AppState, Body, ClientAddress, QueryParams, SignInBody, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NotFound, NotJson, PackageFile, Refused, SignInRefused,
    TooManyAttempts, Unauthenticated,
};
use crate::routes::disclosures::package_file;
use carrel_store::Error;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatronSignIn {
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    card_barcode: String,
    #[schema(pattern = "^[0-9]{4,16}$")]
    pin: String,
    /// The token a previous sign-in from this device returned as `device`:
    /// failures are then counted on the device, so strangers cannot lock
    /// the card's holder out. An unknown token is ignored.
    #[serde(default)]
    device: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/patron-session",
    operation_id = "my_records_sign_in",
    summary = "A patron signs in with card barcode and PIN (C2); the token reaches only their own records. Every refusal is the same 401 (unknown card, wrong PIN, blocked or expired card, too many failures for the card); past 5 failed guesses from the client's address in 15 minutes, 429. A sign-in presenting a known device of the card (`device`) is counted on the device instead, so strangers cannot lock its holder out",
    security(()),
    request_body = PatronSignIn,
    responses(
        (status = 200, description = "The session", body = PatronSession),
        Errors<(BadRequest, SignInRefused, Denied, NotFound, Refused, NotJson, Invalid, TooManyAttempts)>,
    ),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    SignInBody(form): SignInBody<PatronSignIn>,
) -> Result<Json<PatronSession>, ApiError> {
    let card_barcode = form.card_barcode.clone();
    let device = state
        .known_device(form.device.clone(), move |store, token| {
            patron_sessions::known_device(store, &card_barcode, token)
        })
        .await?;
    let session = state
        .password_check(&client, device, move |store, device| {
            patron_sessions::sign_in(store, &form.card_barcode, &form.pin, device)
        })
        .await?;
    Ok(Json(session))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Format {
    #[param(value_type = Option<PackageFormat>)]
    format: Option<String>,
}

/// The file a package is answered as.
#[derive(Clone, Copy, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PackageFormat {
    Json,
    Html,
}

/// The format asked for, checked before anything is recorded: a download
/// is a release of records (it opens and closes a disclosure request), so
/// a request that cannot be answered must not be recorded as one.
fn package_format(format: Option<&str>) -> Result<PackageFormat, Error> {
    match format {
        None | Some("json") => Ok(PackageFormat::Json),
        Some("html") => Ok(PackageFormat::Html),
        Some(_) => Err(Error::invalid("bad_format", "format must be json or html")),
    }
}

fn answer(reference: &str, package: Package, format: PackageFormat) -> Result<Response, ApiError> {
    Ok(match format {
        PackageFormat::Json => package_file(
            &format!("library-records-{reference}.json"),
            "application/json",
            package.json,
        ),
        PackageFormat::Html => package_file(
            &format!("library-records-{reference}.html"),
            "text/html; charset=utf-8",
            crate::pages::package::render(&package.json).ok_or_else(|| {
                ApiError(carrel_store::Error::Internal(
                    "a package is not JSON".into(),
                ))
            })?,
        ),
    })
}

/// GET /api/v1/my/records: all of the signed-in patron's records.
#[utoipa::path(
    get,
    path = "/api/v1/my/records",
    operation_id = "my_records_own",
    summary = "The signed-in patron's own records, all of them, as a package (R2); format=html for the page",
    params(
        Format,
    ),
    responses(
        (status = 200, description = "The package: JSON, or with format=html a page (each a file to keep)", content((PackageFile = "application/json"), (String = "text/html"))),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, Invalid)>,
    ),
)]
pub async fn own(
    State(state): State<AppState>,
    token: Token,
    QueryParams(query): QueryParams<Format>,
) -> Result<Response, ApiError> {
    let (reference, package, format) = state
        .as_patron(token, move |tx, patron| {
            let format = package_format(query?.format.as_deref())?;
            let (reference, package) = online::own_records(tx, patron)?;
            Ok((reference, package, format))
        })
        .await?;
    answer(&reference, package, format)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MinorCard {
    #[schema(pattern = "^[A-Za-z0-9]{4,32}$")]
    card_barcode: String,
    #[schema(value_type = Option<PackageFormat>)]
    format: Option<String>,
}

/// POST /api/v1/my/minor-records: a minor's records, to their guardian.
/// The card number is a guess until it proves right, so the client's
/// address is throttled like a sign-in's (see `online::minor_records`).
#[utoipa::path(
    post,
    path = "/api/v1/my/minor-records",
    operation_id = "my_records_minor",
    summary = "A minor's records, to the signed-in guardian linked to the minor who gives the minor's card number, where the policy allows it online (Colorado, R3). Every refusal about the card (none such, not a minor, not the guardian, come of age) is the same 403 minor_records_refused, and audited; 5 refusals in 15 minutes per patron, or 5 failed guesses per client address, and the answer is 429. Where the policy has no online access for guardians, 403 not_online",
    request_body = MinorCard,
    responses(
        (status = 200, description = "The package: JSON, or with format=html a page (each a file to keep)", content((PackageFile = "application/json"), (String = "text/html"))),
        Errors<(BadRequest, Unauthenticated, Denied, Refused, NotJson, Invalid, TooManyAttempts)>,
    ),
)]
pub async fn minor(
    State(state): State<AppState>,
    client: ClientAddress,
    token: Token,
    Body(body): Body<MinorCard>,
) -> Result<Response, ApiError> {
    let (reference, package, format) = state
        .patron_guess(&client, token, move |tx, patron| {
            let body = body?;
            let format = package_format(body.format.as_deref())?;
            Ok(online::minor_records(tx, patron, &body.card_barcode)?
                .map(|(reference, package)| (reference, package, format)))
        })
        .await?;
    answer(&reference, package, format)
}
