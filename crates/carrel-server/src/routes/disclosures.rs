//! Disclosure requests (R1-R5, L1-L7): the JSON API. Every step is a POST
//! on the request's reference (D-12); the store decides who may take it.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use carrel_policy::disclosure::{CounselFinding, RequestState};
use carrel_store::disclosures::{
    self, Advice, DisclosureRequest, IdKind, NewDocument, NewRequest, Queue, QueueFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{ApiError, AppState, Body, NoBody, PathParam, QueryParams, Token};
use crate::description::{
    BadRequest, Denied, Errors, Invalid, NoRequestBody, NotFound, NotJson, PackageFile, Refused,
    Unauthenticated,
};

/// A document presented with a request. Which fields it may carry
/// depends on its kind, so its schema is written out below.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    kind: String,
    #[serde(default, deserialize_with = "crate::api::present")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    id_kind: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    issuing_court: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    jurisdiction: Option<String>,
}

/// One of three shapes, as the store checks a document
/// (`disclosures::parse_document`): a photo ID names which kind of ID was
/// checked (never its number); legal process may carry its reference and
/// court; every other kind carries nothing more.
impl utoipa::PartialSchema for DocumentBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use carrel_policy::disclosure::DocumentKind;
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        let kinds = |keep: fn(DocumentKind) -> bool| {
            let names: Vec<&str> = DocumentKind::ALL
                .iter()
                .filter(|kind| kind.staff_may_record() && keep(**kind))
                .map(|kind| kind.name())
                .collect();
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names))
        };
        let text = |max: usize, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max))
                .pattern(Some(crate::description::TEXT))
                .description(Some(description))
        };
        let shape = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(
                    utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                ))
                .required("kind")
        };
        let photo_id = shape()
            .property("kind", kinds(|kind| kind == DocumentKind::PhotoId))
            .property("id_kind", <IdKind as utoipa::PartialSchema>::schema())
            .required("id_kind");
        let legal_process = shape()
            .property("kind", kinds(DocumentKind::is_legal_process))
            .property("reference", text(100, "Docket or case number"))
            .property("issuing_court", text(200, "The court that issued it"))
            .property(
                "jurisdiction",
                text(200, "The issuing court's jurisdiction"),
            );
        let other = shape().property(
            "kind",
            kinds(|kind| kind != DocumentKind::PhotoId && !kind.is_legal_process()),
        );
        OneOfBuilder::new()
            .item(photo_id)
            .item(legal_process)
            .item(other)
            .description(Some(
                "A document presented with a request: a photo ID names which kind of ID was checked (never its number); legal process may carry its reference and court; other kinds carry nothing more",
            ))
            .into()
    }
}

impl utoipa::ToSchema for DocumentBody {}

impl From<DocumentBody> for NewDocument {
    fn from(d: DocumentBody) -> Self {
        NewDocument {
            kind: d.kind,
            reference: d.reference,
            id_kind: d.id_kind,
            issuing_court: d.issuing_court,
            jurisdiction: d.jurisdiction,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewDisclosureRequest)]
pub struct NewRequestBody {
    /// Who asks, as a kind (the bases of the policy name the kinds they admit).
    #[schema(value_type = crate::description::PolicyRequesterKind)]
    requester_kind: String,
    /// Who asks, in words, when not a patron of record: the officer and agency, or the other party.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, max_length = 200)]
    requester: Option<String>,
    /// The requester's own patron record, when the requester is the patron or their guardian.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, minimum = 1)]
    requester_patron_id: Option<i64>,
    /// The patron whose records are asked for.
    #[schema(minimum = 1)]
    subject_patron_id: i64,
    /// The basis asked under, by its name in the policy.
    #[schema(value_type = crate::description::PolicyBasis)]
    basis: String,
    /// The record classes asked for.
    #[schema(value_type = Vec<crate::description::PatronRecordClass>)]
    classes: Vec<String>,
    /// The first day of the records asked for (YYYY-MM-DD).
    #[schema(format = Date)]
    from_date: String,
    /// The last day of the records asked for, inclusive (YYYY-MM-DD).
    #[schema(format = Date)]
    to_date: String,
    /// Why, where the basis wants a reason recorded (Colorado's reasonable operation of the library).
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, max_length = 1000)]
    reason: Option<String>,
    /// Under a non-disclosure order: then only the taker, their supervisor, the Director and counsel see the request (L6).
    #[serde(default)]
    gagged: bool,
    /// The documents presented with the request.
    #[serde(default)]
    documents: Vec<DocumentBody>,
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures",
    operation_id = "disclosures_record",
    summary = "Record a disclosure request as it comes in; a law-enforcement request is referred to the Director, who is alerted (L1, L4)",
    request_body = NewRequestBody,
    responses(
        (status = 201, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn record(
    State(state): State<AppState>,
    token: Token,
    Body(body): Body<NewRequestBody>,
) -> Result<(StatusCode, Json<DisclosureRequest>), ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let body = body?;
            let new = NewRequest {
                requester_kind: body.requester_kind,
                requester: body.requester,
                requester_patron_id: body.requester_patron_id,
                subject_patron_id: body.subject_patron_id,
                basis: body.basis,
                classes: body.classes,
                from_date: body.from_date,
                to_date: body.to_date,
                reason: body.reason,
                gagged: body.gagged,
                documents: body.documents.into_iter().map(Into::into).collect(),
            };
            disclosures::record(tx, actor, new)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(request)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    #[param(value_type = Option<RequestState>)]
    state: Option<String>,
    patron_id: Option<i64>,
    #[param(value_type = Option<crate::description::PolicyBasis>)]
    basis: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/disclosures",
    operation_id = "disclosures_queue",
    summary = "The disclosure queue as the signed-in staff member may see it, with counts of exactly that (L6)",
    params(
        QueueQuery,
    ),
    responses(
        (status = 200, description = "The queue", body = Queue),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, Invalid)>,
    ),
)]
pub async fn queue(
    State(state): State<AppState>,
    token: Token,
    QueryParams(query): QueryParams<QueueQuery>,
) -> Result<Json<Queue>, ApiError> {
    let queue = state
        .as_staff(token, move |tx, actor| {
            let query = query?;
            let filter = QueueFilter {
                state: query.state,
                subject_patron_id: query.patron_id,
                basis: query.basis,
            };
            disclosures::queue(tx, actor, &filter)
        })
        .await?;
    Ok(Json(queue))
}

#[utoipa::path(
    get,
    path = "/api/v1/disclosures/{reference}",
    operation_id = "disclosures_read",
    summary = "A request, with its documents, what the law still requires, its legal holds and its timeline",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, Invalid)>,
    ),
)]
pub async fn read(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            disclosures::load(tx, actor, &reference)
        })
        .await?;
    Ok(Json(request))
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/documents",
    operation_id = "disclosures_attach_document",
    summary = "Attach a document (kind; for photo ID which kind of ID, never its number; for legal process its reference)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = DocumentBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn attach_document(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<DocumentBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::attach_document(tx, actor, &reference, body.into())
        })
        .await?;
    Ok(Json(request))
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/review",
    operation_id = "disclosures_begin_review",
    summary = "Take up a request for review (the basis's deciders)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn begin_review(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            no_body.0?;
            disclosures::begin_review(tx, actor, &reference)
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounselBody {
    #[schema(value_type = Advice)]
    advice: String,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, max_length = 2000)]
    note: Option<String>,
    /// What counsel confirms about the legal process
    /// (`competent_jurisdiction`, `good_cause`, `proper_form`).
    #[serde(default)]
    #[schema(value_type = Vec<CounselFinding>)]
    confirms: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/counsel-review",
    operation_id = "disclosures_counsel_review",
    summary = "Record legal counsel's review: advice release, refuse or exigent_release (L2, L3)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = CounselBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn counsel_review(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<CounselBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::counsel_review(
                tx,
                actor,
                &reference,
                &body.advice,
                body.note.as_deref(),
                &body.confirms,
            )
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, max_length = 2000)]
    note: Option<String>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, max_length = 2000)]
    note: Option<String>,
    /// Why the Director approves although counsel's latest advice was to
    /// refuse; required then, and recorded.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(nullable = false, max_length = 2000)]
    override_reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/approval",
    operation_id = "disclosures_approve",
    summary = "Approve (the basis's deciders; refused with the missing document named, and audited, if the law's requirements are not met: L7)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = ApprovalBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn approve(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<ApprovalBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::approve(
                tx,
                actor,
                &reference,
                body.note.as_deref(),
                body.override_reason.as_deref(),
            )
        })
        .await?;
    Ok(Json(request))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalBody {
    #[schema(max_length = 2000)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/refusal",
    operation_id = "disclosures_refuse",
    summary = "Refuse, with the reason",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = RefusalBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn refuse(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<RefusalBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::refuse(tx, actor, &reference, &body.reason)
        })
        .await?;
    Ok(Json(request))
}

/// What a release answers: the request as it now stands, and the package
/// that left the library.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Release)]
pub struct Released {
    /// The request, now released.
    request: DisclosureRequest,
    /// Exactly the approved classes and dates, with a cover sheet.
    #[schema(value_type = PackageFile)]
    package: Value,
}

fn released(request: DisclosureRequest, package_json: &str) -> Result<Json<Released>, ApiError> {
    let package: Value = serde_json::from_str(package_json).map_err(|_| {
        ApiError(carrel_store::Error::Internal(
            "a package is not JSON".into(),
        ))
    })?;
    Ok(Json(Released { request, package }))
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/release",
    operation_id = "disclosures_release",
    summary = "Release an approved request: produces the export package (JSON and HTML with a cover sheet)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The request and its package", body = Released),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn release(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<Released>, ApiError> {
    let (request, package) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            no_body.0?;
            disclosures::release(tx, actor, &reference)
        })
        .await?;
    released(request, &package.json)
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/exigent-release",
    operation_id = "disclosures_exigent_release",
    summary = "Release before the document in an exigent threat, on counsel's recorded advice, where the policy allows it (L3); the document is then owed",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The request and its package", body = Released),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn exigent_release(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<NoteBody>,
) -> Result<Json<Released>, ApiError> {
    let (request, package) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::exigent_release(tx, actor, &reference, body.note.as_deref())
        })
        .await?;
    released(request, &package.json)
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/preservation",
    operation_id = "disclosures_preserve",
    summary = "Place legal holds on the records in scope for a preservation request (L5)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = NoRequestBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn preserve(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    no_body: NoBody,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            no_body.0?;
            disclosures::preserve(tx, actor, &reference)
        })
        .await?;
    Ok(Json(request))
}

#[utoipa::path(
    post,
    path = "/api/v1/disclosures/{reference}/closure",
    operation_id = "disclosures_close",
    summary = "Close a request (the package is erased; its digest stays)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    request_body = NoteBody,
    responses(
        (status = 200, description = "The request", body = DisclosureRequest),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, NotJson, Invalid)>,
    ),
)]
pub async fn close(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
    Body(body): Body<NoteBody>,
) -> Result<Json<DisclosureRequest>, ApiError> {
    let request = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let body = body?;
            disclosures::close(tx, actor, &reference, body.note.as_deref())
        })
        .await?;
    Ok(Json(request))
}

/// The released package's files, as downloads.
pub fn package_file(name: &str, content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/disclosures/{reference}/package",
    operation_id = "disclosures_package_json",
    summary = "The released package as JSON, while the request is open (deciders only)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    responses(
        (status = 200, description = "The file", body = PackageFile),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, Invalid)>,
    ),
)]
pub async fn package_json(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
) -> Result<Response, ApiError> {
    let (reference, json) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let package = disclosures::package_of(tx, actor, &reference)?;
            Ok((reference, package))
        })
        .await?;
    let name = format!("disclosure-{reference}.json");
    Ok(package_file(&name, "application/json", json))
}

#[utoipa::path(
    get,
    path = "/api/v1/disclosures/{reference}/package.html",
    operation_id = "disclosures_package_html",
    summary = "The released package as an HTML page, while the request is open (deciders only)",
    params(
        ("reference" = String, Path, description = "The request's reference, such as D-12 (R-3 for a request under a non-disclosure order).", pattern = "^[DR]-[1-9][0-9]{0,17}$"),
    ),
    responses(
        (status = 200, description = "The file", body = String, content_type = "text/html"),
        Errors<(BadRequest, Unauthenticated, Denied, NotFound, Refused, Invalid)>,
    ),
)]
pub async fn package_html(
    State(state): State<AppState>,
    token: Token,
    PathParam(reference): PathParam<String>,
) -> Result<Response, ApiError> {
    let (reference, json) = state
        .as_staff(token, move |tx, actor| {
            let reference = reference?;
            let package = disclosures::package_of(tx, actor, &reference)?;
            Ok((reference, package))
        })
        .await?;
    let html = crate::pages::package::render(&json).ok_or_else(|| {
        ApiError(carrel_store::Error::Internal(
            "a package is not JSON".into(),
        ))
    })?;
    let name = format!("disclosure-{reference}.html");
    Ok(package_file(&name, "text/html; charset=utf-8", html))
}
