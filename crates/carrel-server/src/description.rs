//! # The API's description, generated from the code
//!
//! `/api/v1/openapi.json` is built here from what the code says: each
//! route's `#[utoipa::path]` (beside its handler: summary, parameters,
//! the answers it can give), the request and answer types' `ToSchema`
//! derives (their fields, doc comments and serde names), and, when the
//! server starts, the library's policy (its bases, record classes and
//! registration fields). Routes are registered through `utoipa_axum`, so
//! a route cannot be served without being described (see
//! [`crate::routes::router`]).
//!
//! Tests hold the server to it: every answer of the black-box tests must
//! be listed for its route and match its schema (`tests/api/described.rs`),
//! and `.ci/schemathesis` sends what the description allows.

use serde::Serialize;
use utoipa::openapi::path::PathItem;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, ContentBuilder, OpenApi, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, PartialSchema, ToSchema};

/// The shape of every refusal and failure: a stable code, and a message
/// saying what was wrong and what to do (built by `api::ApiError`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// An error answer's body.
    pub fn new(code: &'static str, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

/// What went wrong, for a program and for a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What was wrong and what to do. Never a value that was sent.
    pub message: String,
}

/// The body of a route that changes something but takes nothing: it must
/// still be declared JSON (see `api::require_declared_body`), and may be
/// empty, `null` or `{}`.
pub struct NoRequestBody;

impl PartialSchema for NoRequestBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::Object,
                Type::Null,
            ]))
            .max_properties(Some(0))
            .description(Some("This route takes no body: send {} (or null, or nothing) with Content-Type: application/json, as every request that changes something must carry."))
            .into()
    }
}

impl ToSchema for NoRequestBody {}

/// Declares a schema the code names and the policy fills in when the
/// server starts ([`Description::new`]): until then, only its JSON type.
macro_rules! filled_from_the_policy {
    ($($(#[$doc:meta])* $name:ident: $type:expr;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new().schema_type($type).into()
                }
            }

            impl ToSchema for $name {}
        )*
    };
}

filled_from_the_policy! {
    /// A patron's registration fields, as an update may carry them (see
    /// [`patron_fields`]).
    PatronFields: Type::Object;
    /// A new patron's registration fields (see [`patron_fields`]).
    NewPatronFields: Type::Object;
    /// A basis for disclosure, by its name in the policy.
    PolicyBasis: Type::String;
    /// A kind of requester, of those some basis of the policy admits.
    PolicyRequesterKind: Type::String;
}

/// The registration fields the policy declares, as JSON Schema: only
/// those (N4), each with its shape; for a new patron, those it must give.
fn patron_fields(policy: &carrel_policy::Policy, new: bool) -> RefOr<Schema> {
    use carrel_store::patrons::{declared_inputs, InputShape};
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(if new {
            "The fields the library's policy declares for registration records (N4); any other is refused with 422 undeclared_field. A minor's category needs guardian_card_barcode."
        } else {
            "The fields to change, of those the library's policy declares for registration records (N4); null removes an optional one."
        }))
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
    for input in declared_inputs(policy) {
        // `null` is "not given" on a new record and "remove it" on an
        // update: either way only where the field may be left out.
        let nullable = input.removable;
        let types = if nullable {
            utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
        } else {
            utoipa::openapi::schema::SchemaType::new(Type::String)
        };
        let property = ObjectBuilder::new().schema_type(types);
        let property = match input.shape {
            InputShape::CardBarcode => property.pattern(Some(BARCODE)),
            InputShape::Pin => property.pattern(Some("^[0-9]{4,16}$")),
            InputShape::Category(names) => property.enum_values(Some(
                names
                    .into_iter()
                    .map(serde_json::Value::from)
                    .chain(nullable.then_some(serde_json::Value::Null)),
            )),
            InputShape::Date => property
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Date,
                )))
                .pattern(Some(DATE)),
            InputShape::Status => property.enum_values(Some(["active", "blocked"])),
            InputShape::Email => property.pattern(Some(EMAIL)).max_length(Some(254)),
            InputShape::Text(max) => property.pattern(Some(TEXT)).max_length(Some(max)),
        };
        object = object.property(&input.key, property);
        if new && input.required {
            object = object.required(&input.key);
        }
    }
    if !new {
        object = object.property(
            crate::routes::patrons::PHOTO_ID,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(
                    <carrel_store::disclosures::IdKind as strum::VariantArray>::VARIANTS
                        .iter()
                        .map(|k| k.name()),
                ))
                .description(Some("The kind of photo ID staff checked for this change, never its number (A2): needed to change, in person, a detail the policy lets patrons correct online (name, address...)")),
        );
    }
    object.into()
}

/// A date Carrel accepts (`validate::date`): from 1900-01-01 to
/// 2200-12-31.
pub const DATE: &str = "^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// A card or item barcode.
pub const BARCODE: &str = "^[A-Za-z0-9]{4,32}$";

/// The characters `validate::text` refuses once the text is trimmed:
/// control characters, line and paragraph separators, and bidirectional
/// overrides (for a character class in a pattern).
macro_rules! refused {
    () => {
        "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufffd"
    };
}

/// Characters that show nothing (`validate::is_invisible`).
macro_rules! invisible {
    () => {
        "\\u00ad\\u200b-\\u200d\\u2060-\\u2064\\ufeff"
    };
}

/// Free text as `validate::text` accepts it: around what it trims (white
/// space), no refused characters and something visible.
pub const TEXT: &str = concat!(
    "^\\s*[^",
    refused!(),
    "]*",
    "[^\\s",
    refused!(),
    invisible!(),
    "]",
    "[^",
    refused!(),
    "]*\\s*$"
);

/// An e-mail address as `validate::email` accepts it: one `@`, a dot in
/// the domain, no spaces.
pub const EMAIL: &str = concat!(
    "^[^@\\s",
    refused!(),
    "]+",
    "@[^@.\\s",
    refused!(),
    "][^@\\s",
    refused!(),
    "]*",
    "\\.[^@\\s",
    refused!(),
    "]*[^@.\\s",
    refused!(),
    "]$"
);

/// A string that is one of `names`.
fn names<'n>(names: impl IntoIterator<Item = &'n str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .into()
}

/// A record class named in a request, as those of `RecordClass::ALL` that
/// `keep` keeps.
fn record_classes(keep: fn(carrel_policy::RecordClass) -> bool) -> RefOr<Schema> {
    names(
        carrel_policy::RecordClass::ALL
            .iter()
            .filter(|class| keep(**class))
            .map(|class| class.name()),
    )
}

/// A class of records about patrons (what a legal hold pins, what a
/// disclosure request asks for).
pub struct PatronRecordClass;

impl PartialSchema for PatronRecordClass {
    fn schema() -> RefOr<Schema> {
        record_classes(carrel_policy::RecordClass::holds_patron_records)
    }
}

impl ToSchema for PatronRecordClass {}

/// A class the statistics cover.
pub struct StatisticsClass;

impl PartialSchema for StatisticsClass {
    fn schema() -> RefOr<Schema> {
        record_classes(carrel_store::retention::has_statistics)
    }
}

impl ToSchema for StatisticsClass {}

/// A statistics grouping: dimension names, separated by commas, all of
/// one facet of the class (which go together depends on the class; the
/// refusal `bad_dimension` names them).
pub struct StatisticsDimensions;

impl PartialSchema for StatisticsDimensions {
    fn schema() -> RefOr<Schema> {
        let one = carrel_store::retention::dimension_names()
            .into_iter()
            .collect::<Vec<_>>()
            .join("|");
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^(({one})(,({one}))*)?$")))
            .description(Some(
                "Dimensions, comma-separated (none: the totals), all from one facet of the class: circulation: item | category,age | item,outcome (holds); fines: reason,category; electronic_access: terminal; program_registration: program; mailing_list: list; interlibrary_loan: lender,outcome; registration: category,age. Loans are counted by item and by borrower separately, never together; other groupings are refused (422 bad_dimension).",
            ))
            .into()
    }
}

impl ToSchema for StatisticsDimensions {}

/// A kind of document staff may record on a request.
pub struct StaffDocumentKind;

impl PartialSchema for StaffDocumentKind {
    fn schema() -> RefOr<Schema> {
        names(
            carrel_policy::disclosure::DocumentKind::ALL
                .iter()
                .filter(|kind| kind.staff_may_record())
                .map(|kind| kind.name()),
        )
    }
}

impl ToSchema for StaffDocumentKind {}

/// An answer that is a file (a released package, a patron's own records).
pub struct PackageFile;

impl PartialSchema for PackageFile {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A package: its cover sheet, the time zone its times are in, and the records, exactly the classes and dates released",
            ))
            .into()
    }
}

impl ToSchema for PackageFile {}

/// Declares the shared error answers: each a name in
/// `components/responses`, its status, a description, and the
/// [`ErrorBody`] shape. A route lists the ones it can give as one
/// [`Errors`] set, such as `Errors<(Unauthenticated, Denied)>`.
macro_rules! error_answers {
    ($($name:ident = $status:literal => $description:expr;)*) => {
        $(
            #[doc = $description]
            pub struct $name;

            impl ErrorAnswer for $name {
                const NAME: &'static str = stringify!($name);
                const STATUS: u16 = $status;
            }
        )*

        /// Every shared error answer, for `components/responses`.
        fn shared_responses() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$((stringify!($name), error_response($description))),*]
        }
    };
}

/// One of the shared error answers (see `error_answers!`).
pub trait ErrorAnswer {
    /// Its name in `components/responses`.
    const NAME: &'static str;
    /// The HTTP status it is given with.
    const STATUS: u16;
}

/// The error answers a route can give, listed in its `responses(...)`,
/// each by reference to its shared description. Up to eight in one set
/// (`error_sets!` below); 503, 408 and 413 are added to every operation
/// by [`complete`].
pub struct Errors<T>(std::marker::PhantomData<T>);

macro_rules! error_sets {
    ($(($($answer:ident),+))*) => {
        $(
            impl<$($answer: ErrorAnswer),+> utoipa::IntoResponses for Errors<($($answer,)+)> {
                fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
                    [$(($answer::STATUS.to_string(), utoipa::openapi::Ref::from_response_name($answer::NAME).into())),+]
                        .into_iter()
                        .collect()
                }
            }
        )*
    };
}

error_sets! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("Error")))
                .build(),
        )
        .into()
}

error_answers! {
    BadRequest = 400 => "The body is not JSON of the route's shape (a field missing, unknown or of the wrong type; the message names it), or an id in the URL is not one";
    Unauthenticated = 401 => "Not signed in, or the session expired";
    Denied = 403 => "The library's policy does not allow this role this access; the attempt is audited";
    NotFound = 404 => "No such record";
    Refused = 409 => "A circulation rule refuses the operation as things stand";
    TooLarge = 413 => "The body is over 64 KiB";
    NotJson = 415 => "The request is not declared application/json: every request that changes something must be, even one with no body";
    Invalid = 422 => "A value is refused: a field the policy does not declare or requires, a reference or barcode of the wrong form, text that is empty or too long, a rule across fields, or out of range (dates between 1900-01-01 and 2200-12-31, a card's expires_on not before today when it is registered, birth dates not in the future, amounts of money at most 100000000 cents, 1,000,000.00)";
    TooSlow = 408 => "The body did not arrive in time; send it again";
    Unavailable = 503 => "Carrel cannot answer now (the database is busy or unreachable, the server is overloaded, or the disk is full); nothing was changed. Retry-After says when to try again";
    TooManyAttempts = 429 => "Too many failed attempts in the last 15 minutes, from this account or from this client address; nothing was checked. Retry-After says when to try again";
    SignInRefused = 401 => "The sign-in was refused: one answer for an unknown account, a wrong password or PIN, a card that may not sign in, and an account with too many failed sign-ins";
}

/// The parts of the document no route carries: what Carrel is, how a
/// caller proves who they are, and the shared answers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Carrel API",
        version = "1",
        description = "Patron records and circulation for a public library, with its privacy policy enforced. Every call to a personal-data route is decided by the library's policy for the signed-in staff member's role and written to the audit log. Error messages name fields and rules, never the values sent. Every request that changes something (POST, PATCH, DELETE) must carry Content-Type: application/json, with a JSON body or, where the route takes none, no body (or {}); anything else is refused with 415 before it does anything, so a page on another site cannot make a signed-in browser send one.",
    ),
    servers((url = "/")),
    security(("bearer" = []), ("cookie" = [])),
    modifiers(&Shared),
)]
pub struct ApiDoc;

/// Adds the security schemes and the shared error answers.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::api::SESSION_COOKIE))),
        );
        for (name, response) in shared_responses() {
            components.responses.insert(name.to_string(), response);
        }
        components
            .schemas
            .insert("Error".to_string(), ErrorBody::schema());
        components
            .schemas
            .insert("ErrorDetail".to_string(), ErrorDetail::schema());
    }
}

/// What the derives cannot say, added to the document the routes give.
///
/// In the schemas: every string field with a `max_length` is free text,
/// which Carrel checks with `validate::text` (something visible, no
/// control, line-separator or bidirectional-override characters), so it
/// gets [`TEXT`] as its pattern; every date gets the years Carrel
/// accepts ([`DATE`]).
///
/// On every operation, the answers any route can give: 503 when Carrel
/// cannot answer now, 408 when a body does not arrive in time and 413
/// when it is too large (the layers in `routes::router` give them, not
/// the handlers, whatever the method); a route that takes no body does
/// not list 415.
pub fn complete(openapi: &mut OpenApi) {
    use utoipa::openapi::{KnownFormat, SchemaFormat};
    if let Some(components) = openapi.components.as_mut() {
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::Object(object)) = schema else {
                continue;
            };
            for property in object.properties.values_mut() {
                let RefOr::T(Schema::Object(field)) = property else {
                    continue;
                };
                if field.pattern.is_some() || field.enum_values.is_some() {
                    continue;
                }
                field.pattern = match &field.format {
                    None if field.max_length.is_some() => Some(TEXT.to_string()),
                    Some(SchemaFormat::KnownFormat(KnownFormat::Date)) => Some(DATE.to_string()),
                    // A date-time keeps its format alone: a pattern on top
                    // leaves generators (schemathesis) almost nothing to
                    // send. The years are the server's to refuse (422).
                    _ => None,
                };
            }
        }
    }
    for item in openapi.paths.paths.values_mut() {
        let PathItem {
            get,
            post,
            put,
            patch,
            delete,
            ..
        } = item;
        for operation in [get, post, put, patch, delete].into_iter().flatten() {
            // The body layers answer any request that sends a body too
            // large or too slowly, whatever its method.
            let answers = [
                (Unavailable::STATUS, Unavailable::NAME),
                (TooSlow::STATUS, TooSlow::NAME),
                (TooLarge::STATUS, TooLarge::NAME),
            ];
            if operation.request_body.is_none() {
                // Only routes that change something must be declared JSON
                // (`api::require_declared_body`).
                operation
                    .responses
                    .responses
                    .remove(&NotJson::STATUS.to_string());
            }
            for (status, name) in answers {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| utoipa::openapi::Ref::from_response_name(name).into());
            }
        }
    }
}

/// The document as served: built once when the router is, from the
/// routes and the library's policy.
#[derive(Clone)]
pub struct Description(axum::body::Bytes);

impl Description {
    /// The routes' description, with what the policy decides filled in:
    /// the registration fields it declares (N4) and its bases for
    /// disclosure (the schemas the code marks with [`PatronFields`],
    /// [`NewPatronFields`] and [`PolicyBasis`]).
    pub fn new(mut openapi: OpenApi, policy: &carrel_policy::Policy) -> Description {
        let schemas = &mut openapi
            .components
            .get_or_insert_with(Components::new)
            .schemas;
        schemas.insert(PatronFields::name().into(), patron_fields(policy, false));
        schemas.insert(NewPatronFields::name().into(), patron_fields(policy, true));
        schemas.insert(
            PolicyBasis::name().into(),
            names(policy.disclosure.bases.keys().map(String::as_str)),
        );
        let asked_by = carrel_policy::disclosure::RequesterKind::ALL
            .iter()
            .filter(|kind| {
                policy
                    .disclosure
                    .bases
                    .values()
                    .any(|basis| basis.admits(**kind))
            })
            .map(|kind| kind.name());
        schemas.insert(PolicyRequesterKind::name().into(), names(asked_by));
        let json = serde_json::to_vec(&openapi).expect("an OpenAPI document always serialises");
        Description(json.into())
    }

    /// The document, as JSON (shared, not copied, by each answer).
    pub fn json(&self) -> axum::body::Bytes {
        self.0.clone()
    }
}

/// What `/api/v1/health` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when Carrel answers.
    pub status: &'static str,
    /// The database engine: `sqlite` or `postgres`.
    pub engine: String,
    /// The library's name, from its policy file.
    pub library: String,
    /// The policy version being enforced.
    pub policy_version: i64,
}

/// What signing out answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    /// Always true: the session is over (or was never open).
    pub signed_out: bool,
}

/// Every operation of a document, as (method, path).
pub fn operations(openapi: &OpenApi) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for (path, item) in openapi.paths.paths.iter() {
        let PathItem {
            get,
            post,
            put,
            patch,
            delete,
            ..
        } = item;
        for (method, operation) in [
            ("get", get),
            ("post", post),
            ("put", put),
            ("patch", patch),
            ("delete", delete),
        ] {
            if operation.is_some() {
                all.push((method.to_string(), path.clone()));
            }
        }
    }
    all
}
