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
use crate::routes::disclosures::package_file;
use carrel_store::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatronSignIn {
    card_barcode: String,
    pin: String,
    /// A known device's token (see `carrel_store::known_devices`).
    #[serde(default)]
    device: Option<String>,
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Format {
    format: Option<String>,
}

/// The file a package is answered as.
#[derive(Clone, Copy)]
enum PackageFormat {
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

fn answer(reference: &str, package: Package, format: PackageFormat) -> Response {
    match format {
        PackageFormat::Json => package_file(
            &format!("library-records-{reference}.json"),
            "application/json",
            package.json,
        ),
        PackageFormat::Html => package_file(
            &format!("library-records-{reference}.html"),
            "text/html; charset=utf-8",
            package.html,
        ),
    }
}

/// GET /api/v1/my/records: all of the signed-in patron's records.
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
    Ok(answer(&reference, package, format))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinorCard {
    card_barcode: String,
    format: Option<String>,
}

/// POST /api/v1/my/minor-records: a minor's records, to their guardian.
/// The card number is a guess until it proves right, so the client's
/// address is throttled like a sign-in's (see `online::minor_records`).
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
    Ok(answer(&reference, package, format))
}
