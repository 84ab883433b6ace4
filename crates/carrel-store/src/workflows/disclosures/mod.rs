//! Disclosure requests (REQUIREMENTS R1-R5, L1-L7): someone asks for
//! library records about a patron, and Carrel carries the request from
//! "received" to "released" or "closed" so that no record can leave
//! unlawfully.
//!
//! ```text
//! received ──► under_review ──► approved ──► released ──► closed
//!    │          (counsel's        │             ▲
//!    │           review)          │             │ exigent release (L3):
//!    │              │             │             │ before the document,
//!    └──────────────┴─► refused ──┴─► closed    │ which is then owed
//!                                   under_review┘
//! ```
//!
//! - Who may take each step comes from the policy's `[disclosure]` rules,
//!   asked through the gate (`gate::authorize_disclosure`). Only a basis's
//!   deciders approve and release (the Director, for law enforcement: L1).
//! - What each basis requires (documents, a minor subject, the linked
//!   guardian, a reason) is checked again at approval and at release; a
//!   release that would break the law is refused with what is missing named,
//!   and the attempt is audited although nothing else is written (L7).
//! - A law-enforcement request alerts the Director at once; so does a search
//!   warrant, which never waits for anyone (L4). See [`alerts`].
//! - A preservation request places legal holds on the records in scope
//!   (L5, `legal_holds`).
//! - A request under a gag order is invisible outside its circle (L6,
//!   [`visibility`]).
//! - A release produces the export package ([`package`]).
//! - Patrons ask online through [`online`].

pub mod alerts;
pub mod online;
pub mod package;
pub(crate) mod visibility;

use std::collections::{BTreeMap, BTreeSet};

use carrel_policy::disclosure::{
    describe_group, Basis, CounselFinding, DocumentKind, RequestState, RequesterKind, Step,
};
use carrel_policy::lawful::{self, Release, ReleaseFacts, Subject, Unlawful};
use carrel_policy::RecordClass;
use chrono::NaiveDate;
use serde::Serialize;
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::db::Only;
use crate::db::{params, Param, Row};
use crate::error::Error;
use crate::gate::{authorize_disclosure, authorize_legal_hold, Actor, DisclosureGrant};
use crate::legal_holds::{self, HoldRequest, LegalHold};
use crate::principal::Principal;
use crate::{patrons, staff, validate, Tx};

use self::alerts::AlertKind;
use self::package::{Cover, Package};
use self::visibility::Viewer;

/// Kinds of photo identification Carrel records. Only the kind: a number
/// has nowhere to go (A2).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// A driver's license.
    DriverLicense,
    /// A state-issued identification card.
    StateId,
    /// A passport.
    Passport,
    /// A military identification card.
    MilitaryId,
    /// A tribal identification card.
    TribalId,
    /// Any other identification with a photo.
    OtherPhotoId,
}

impl IdKind {
    /// The kind as stored and shown (`driver_license`, `passport`, ...).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Advice counsel may record.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// Release the records, once everything the basis requires is on file.
    Release,
    /// Refuse the request.
    Refuse,
    /// Release at once, before the document arrives, in an exigent threat (L3).
    ExigentRelease,
}

impl Advice {
    /// The advice as stored and shown (`release`, `refuse`, `exigent_release`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// What a request's timeline says happened: the steps of its life
/// ([`Step`]) and the events around them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, EnumString, utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum TimelineStep {
    /// The request was recorded, at the desk or online.
    Record,
    /// A desk role sent the request on to the Director.
    Refer,
    /// A document was attached after the request was recorded.
    AttachDocument,
    /// The document owed after an exigent release arrived.
    DocumentReceived,
    /// A decider took the request up for review.
    BeginReview,
    /// Legal counsel recorded advice; the step's outcome names it.
    CounselReview,
    /// Counsel confirmed the findings the basis asks for.
    CounselConfirmed,
    /// The Director approved against counsel's advice to refuse.
    CounselOverridden,
    /// A decider approved the release.
    Approve,
    /// A decider refused the request.
    Refuse,
    /// Legal holds placed for the request.
    Preserve,
    /// The records were released in a package.
    Release,
    /// The records were released before the document arrived, in an exigent
    /// threat (L3).
    ExigentRelease,
    /// The request was closed; its package, if any, was erased.
    Close,
    /// The released package was erased: records in it were destroyed.
    PackageErased,
}

impl From<Step> for TimelineStep {
    fn from(step: Step) -> TimelineStep {
        match step {
            Step::Record => TimelineStep::Record,
            Step::AttachDocument => TimelineStep::AttachDocument,
            Step::BeginReview => TimelineStep::BeginReview,
            Step::CounselReview => TimelineStep::CounselReview,
            Step::Approve => TimelineStep::Approve,
            Step::Refuse => TimelineStep::Refuse,
            Step::Release => TimelineStep::Release,
            Step::ExigentRelease => TimelineStep::ExigentRelease,
            Step::Close => TimelineStep::Close,
        }
    }
}

/// A document as recorded on a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Document {
    /// What kind of document it is (a photo ID, a subpoena, a court order,
    /// ...).
    pub kind: DocumentKind,
    /// For legal process, its own reference (a case or docket number); never an
    /// ID's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// For a photo ID, which kind of ID was checked (never its number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_kind: Option<IdKind>,
    /// For legal process: the court that issued it, and its jurisdiction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuing_court: Option<String>,
    /// For legal process: the jurisdiction of the court that issued it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// Who recorded the document: a staff member, or the patron online (what
    /// the sign-in proves).
    pub recorded_by: Principal,
    /// When the document was recorded, in Unix seconds.
    pub recorded_at: i64,
}

/// One step on a request's timeline.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// When the step was taken, in Unix seconds.
    pub at: i64,
    /// Who took the step: a staff member, or the patron online.
    pub actor: Principal,
    /// What the step was.
    pub step: TimelineStep,
    /// What the step came to, in a few words (counsel's advice, `withdrawn`,
    /// `12 records`), where it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// A note the staff member added to the step, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What was released, once it has been.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PackageSummary {
    /// The SHA-256 of the package's JSON file, in hexadecimal: kept for good as
    /// proof of exactly what left the library.
    pub sha256: String,
    /// How many records the package held (a registration counts as one).
    pub records: i64,
    /// The package itself is kept until the request is closed.
    pub available: bool,
}

/// A request as those who may see it see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DisclosureRequest {
    /// The request's reference: `D-` and a number counting up, or, under a gag
    /// order, `R-` and a random number.
    pub reference: String,
    /// Who is asking: the patron, a guardian, a third party, law enforcement,
    /// or the library itself.
    pub requester_kind: RequesterKind,
    /// Who is asking, in words as staff recorded them (officer and agency, or
    /// the other party); may be `None` for a patron or guardian, who are
    /// patrons of record.
    #[schema(required = true)]
    pub requester: Option<String>,
    /// The requester's own patron record, when the requester is the patron or a
    /// guardian.
    #[schema(required = true)]
    pub requester_patron_id: Option<i64>,
    /// None once the patron's registration has been destroyed.
    #[schema(required = true)]
    pub subject_patron_id: Option<i64>,
    /// The basis the request is made under, by its name in the policy's
    /// `[disclosure.bases]`.
    pub basis: String,
    /// The statute or rule the basis cites, from the policy; empty if the basis
    /// has left the policy.
    pub citation: String,
    /// The record classes the request covers.
    pub classes: Vec<RecordClass>,
    /// The first day of the range the request covers (YYYY-MM-DD).
    pub from_date: NaiveDate,
    /// The last day of the range the request covers, inclusive (YYYY-MM-DD).
    pub to_date: NaiveDate,
    /// The reason recorded with the request, where the basis requires one or
    /// staff gave one.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// Whether the request is under a gag order: then only its circle sees it
    /// (L6).
    pub gagged: bool,
    /// Where the request stands in its life.
    pub state: RequestState,
    /// None when the patron asked online.
    #[schema(required = true)]
    pub received_by: Option<i64>,
    /// When the request was recorded, in Unix seconds.
    pub received_at: i64,
    /// The staff id of the decider who approved the release (or made an exigent
    /// release); `None` until then.
    #[schema(required = true)]
    pub approved_by: Option<i64>,
    /// The staff id of the decider who released the records; `None` until then,
    /// and for a release online.
    #[schema(required = true)]
    pub released_by: Option<i64>,
    /// When the records were released, in Unix seconds; `None` until then.
    #[schema(required = true)]
    pub released_at: Option<i64>,
    /// Whether the records were released before the document, in an exigent
    /// threat (L3).
    pub exigent: bool,
    /// After an exigent release, when the owed document is overdue.
    #[schema(required = true)]
    pub document_due_at: Option<i64>,
    /// Whether the document owed after an exigent release is past its deadline
    /// now.
    pub document_overdue: bool,
    /// When the request was closed, in Unix seconds; `None` while open.
    #[schema(required = true)]
    pub closed_at: Option<i64>,
    /// The documents recorded on the request, in the order recorded.
    pub documents: Vec<Document>,
    /// What the basis still requires, each as "a court order or a search warrant".
    pub missing: Vec<String>,
    /// Every step of the request's life, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// The legal holds placed for the request; always empty for a role that may
    /// not manage legal holds.
    pub legal_holds: Vec<LegalHold>,
    /// What was released, once the request has been; `None` before.
    #[schema(required = true)]
    pub package: Option<PackageSummary>,
}

/// One line of the queue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct QueueEntry {
    /// The request's reference (`D-12`, or `R-` and a random number under a gag
    /// order).
    pub reference: String,
    /// Who is asking.
    pub requester_kind: RequesterKind,
    /// The basis the request is made under, by its name in the policy.
    pub basis: String,
    /// The patron the records are about; `None` once the registration is
    /// destroyed.
    #[schema(required = true)]
    pub subject_patron_id: Option<i64>,
    /// Where the request stands in its life.
    pub state: RequestState,
    /// Whether the request is under a gag order.
    pub gagged: bool,
    /// When the request was recorded, in Unix seconds.
    pub received_at: i64,
    /// Whether the document owed after an exigent release is past its deadline
    /// now.
    pub document_overdue: bool,
}

/// The queue as one staff member sees it, with counts of exactly what they
/// can see (L6: no changed totals).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Queue {
    /// The requests the staff member can see that match the filter, newest
    /// first.
    pub requests: Vec<QueueEntry>,
    /// How many requests are listed.
    pub total: i64,
    /// How many of the listed requests are in each state.
    pub by_state: BTreeMap<RequestState, i64>,
    /// How many of the listed requests owe a document past its deadline.
    pub overdue: i64,
}

/// Filters for the queue (search).
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only requests in this state, by name (`received`, `under_review`, ...).
    pub state: Option<String>,
    /// Only requests about this patron.
    pub subject_patron_id: Option<i64>,
    /// Only requests under this basis, by its name in the policy.
    pub basis: Option<String>,
}

/// A new request as staff record it.
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    /// Who is asking, by name: `patron`, `guardian`, `third_party`,
    /// `law_enforcement` or `library`.
    pub requester_kind: String,
    /// Who is asking, in words (officer and agency, or the other party), at
    /// most 200 characters; required unless the requester is the patron or a
    /// guardian.
    pub requester: Option<String>,
    /// For a guardian, the guardian's own patron record (required); for the
    /// patron, the subject, or left out.
    pub requester_patron_id: Option<i64>,
    /// The patron whose records are asked for.
    pub subject_patron_id: i64,
    /// The basis asked under, by its name in the policy; it must admit the
    /// requester's kind and be served in person.
    pub basis: String,
    /// The record classes asked for, by name (`circulation`, `fines`, ...):
    /// classes of patron records only, at least one.
    pub classes: Vec<String>,
    /// The first day of the range asked for (YYYY-MM-DD).
    pub from_date: String,
    /// The last day of the range asked for (YYYY-MM-DD), on or after
    /// `from_date`.
    pub to_date: String,
    /// The reason for the request, at most 1,000 characters; required where the
    /// basis says so.
    pub reason: Option<String>,
    /// Whether a gag order comes with the request; a national-security letter
    /// or FISA order requires it.
    pub gagged: bool,
    /// The documents presented with the request, recorded with it.
    pub documents: Vec<NewDocument>,
}

/// A document presented with a request, as staff enter it.
#[derive(Debug, Clone, Default)]
pub struct NewDocument {
    /// The document's kind, by name (`photo_id`, `subpoena`, `court_order`,
    /// ...); `card_and_pin` is Carrel's own and refused here.
    pub kind: String,
    /// For legal process only: its own reference, at most 100 characters.
    pub reference: Option<String>,
    /// For a `photo_id` only, and required there: which kind of ID was checked,
    /// by name (never its number).
    pub id_kind: Option<String>,
    /// For legal process only: the court that issued it, at most 200
    /// characters.
    pub issuing_court: Option<String>,
    /// For legal process only: the court's jurisdiction, at most 200
    /// characters.
    pub jurisdiction: Option<String>,
}

/// A document checked and ready to record.
#[derive(Debug, Clone)]
struct ParsedDocument {
    kind: DocumentKind,
    reference: Option<String>,
    id_kind: Option<IdKind>,
    issuing_court: Option<String>,
    jurisdiction: Option<String>,
}

impl ParsedDocument {
    /// A document Carrel records itself (what an online sign-in proves).
    fn of_kind(kind: DocumentKind) -> ParsedDocument {
        ParsedDocument {
            kind,
            reference: None,
            id_kind: None,
            issuing_court: None,
            jurisdiction: None,
        }
    }
}

/// A request as stored.
#[derive(Debug, Clone)]
struct Stored {
    id: i64,
    reference: String,
    requester_kind: RequesterKind,
    requester: Option<String>,
    requester_patron_id: Option<i64>,
    subject_patron_id: Option<i64>,
    basis: String,
    classes: Vec<RecordClass>,
    from_date: NaiveDate,
    to_date: NaiveDate,
    reason: Option<String>,
    gagged: bool,
    state: RequestState,
    received_by: Option<i64>,
    received_at: i64,
    approved_by: Option<i64>,
    released_by: Option<i64>,
    released_at: Option<i64>,
    exigent: bool,
    document_due_at: Option<i64>,
    closed_at: Option<i64>,
    package_sha256: Option<String>,
    package_records: Option<i64>,
    package_available: bool,
}

/// The patron a request `r` is about: its subject's registration, or,
/// once that is destroyed, the patron of records its own holds keep in
/// secret (L5 with L6): a restricted case may still release what it
/// preserved. (Only restricted cases' holds pin such records.)
macro_rules! subject_of_r {
    () => {
        "COALESCE(r.subject_patron_id, (SELECT k.patron_id FROM legal_holds h
          JOIN legal_hold_records pin ON pin.hold_id = h.id
          JOIN kept_in_secret k ON k.kind = pin.record_kind AND k.id = pin.record_id
          WHERE h.disclosure_id = r.id AND k.patron_id IS NOT NULL LIMIT 1))"
    };
}

/// [`subject_of_r!`], for SQL elsewhere in the crate.
pub(crate) const SUBJECT_OF_R: &str = subject_of_r!();

const COLUMNS: &str = concat!(
    "r.id, r.series, r.number, r.requester_kind, r.requester, r.requester_patron_id, ",
    subject_of_r!(),
    " AS subject_patron_id, r.basis, r.classes, r.from_date, r.to_date, r.reason, r.gagged, r.state, r.received_by, r.received_at, r.approved_by, r.released_by, r.released_at, r.exigent, r.document_due_at, r.closed_at, r.package_sha256, r.package_records, r.package_json IS NOT NULL AS package_available"
);

fn stored_from(row: &Row) -> Result<Stored, Error> {
    let corrupt = || Error::internal("a stored disclosure request does not parse");
    Ok(Stored {
        id: row.int("id")?,
        reference: format!("{}-{}", row.text("series")?, row.int("number")?),
        requester_kind: RequesterKind::from_name(&row.text("requester_kind")?)
            .ok_or_else(corrupt)?,
        requester: row.opt_text("requester")?,
        requester_patron_id: row.opt_int("requester_patron_id")?,
        subject_patron_id: row.opt_int("subject_patron_id")?,
        basis: row.text("basis")?,
        classes: row
            .text("classes")?
            .split(',')
            .map(|c| RecordClass::from_name(c).ok_or_else(corrupt))
            .collect::<Result<_, _>>()?,
        from_date: row.text("from_date")?.parse().map_err(|_| corrupt())?,
        to_date: row.text("to_date")?.parse().map_err(|_| corrupt())?,
        reason: row.opt_text("reason")?,
        gagged: row.int("gagged")? != 0,
        state: row.name("state")?,
        received_by: row.opt_int("received_by")?,
        received_at: row.int("received_at")?,
        approved_by: row.opt_int("approved_by")?,
        released_by: row.opt_int("released_by")?,
        released_at: row.opt_int("released_at")?,
        exigent: row.int("exigent")? != 0,
        document_due_at: row.opt_int("document_due_at")?,
        closed_at: row.opt_int("closed_at")?,
        package_sha256: row.opt_text("package_sha256")?,
        package_records: row.opt_int("package_records")?,
        package_available: row.int("package_available")? != 0,
    })
}

/// "D-12" or "R-3" into its series and number.
fn parse_reference(text: &str) -> Result<(&str, i64), Error> {
    let bad = || {
        Error::invalid(
            "bad_reference",
            "a disclosure request's reference looks like D-12",
        )
    };
    let (series, number) = text.split_once('-').ok_or_else(bad)?;
    if !matches!(series, "D" | "R") {
        return Err(bad());
    }
    // Written as Carrel writes it: digits, no sign, no leading zero (so
    // one request has one reference, as the API's description says).
    let canonical = (1..=18).contains(&number.len())
        && number.bytes().all(|d| d.is_ascii_digit())
        && !number.starts_with('0');
    if !canonical {
        return Err(bad());
    }
    let number: i64 = number.parse().map_err(|_| bad())?;
    Ok((series, number))
}

/// Finds a request the actor can see; one they cannot see is "not found",
/// exactly like a reference never used (L6).
fn find_visible(tx: &mut Tx<'_>, actor: &Actor, reference: &str) -> Result<Stored, Error> {
    let (series, number) = parse_reference(reference)?;
    let lock = tx.conn.for_update();
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM disclosure_requests r WHERE r.series = ? AND r.number = ?{lock}"),
            params![series, number],
        )?
        .ok_or(Error::NotFound {
            what: "disclosure request",
        })?;
    let stored = stored_from(&row)?;
    let viewer = Viewer::of(tx, actor);
    if !viewer.sees(tx, stored.gagged, stored.received_by)? {
        return Err(Error::NotFound {
            what: "disclosure request",
        });
    }
    if stored.gagged {
        tx.works_on_restricted_case(stored.id);
    }
    Ok(stored)
}

fn basis_of(tx: &Tx<'_>, name: &str) -> Result<Basis, Error> {
    tx.policy().disclosure.basis(name).cloned().ok_or_else(|| {
        Error::refused(
            "basis_withdrawn",
            format!(
                "basis '{name}' is no longer in the library's policy; refuse or close the request"
            ),
        )
    })
}

fn documents_of(tx: &mut Tx<'_>, id: i64) -> Result<Vec<Document>, Error> {
    tx.conn
        .query(
            "SELECT kind, reference, id_kind, recorded_by, recorded_at, issuing_court, jurisdiction FROM disclosure_documents WHERE request_id = ? ORDER BY id",
            params![id],
        )?
        .iter()
        .map(|row| {
            Ok(Document {
                kind: row.name("kind")?,
                reference: row.opt_text("reference")?,
                id_kind: row.opt_name("id_kind")?,
                issuing_court: row.opt_text("issuing_court")?,
                jurisdiction: row.opt_text("jurisdiction")?,
                recorded_by: row.name("recorded_by")?,
                recorded_at: row.int("recorded_at")?,
            })
        })
        .collect()
}

fn presented(documents: &[Document]) -> BTreeSet<DocumentKind> {
    documents.iter().map(|d| d.kind).collect()
}

fn timeline_of(tx: &mut Tx<'_>, id: i64) -> Result<Vec<TimelineEntry>, Error> {
    tx.conn
        .query(
            "SELECT at, actor, step, outcome, note FROM disclosure_steps WHERE request_id = ? ORDER BY id",
            params![id],
        )?
        .iter()
        .map(|row| {
            Ok(TimelineEntry {
                at: row.int("at")?,
                actor: row.name("actor")?,
                step: row.name("step")?,
                outcome: row.opt_text("outcome")?,
                note: row.opt_text("note")?,
            })
        })
        .collect()
}

pub(crate) fn add_step(
    tx: &mut Tx<'_>,
    request_id: i64,
    actor: Principal,
    step: TimelineStep,
    outcome: Option<&str>,
    note: Option<&str>,
) -> Result<(), Error> {
    let step: &str = step.into();
    tx.conn.execute(
        "INSERT INTO disclosure_steps (request_id, at, actor, step, outcome, note) VALUES (?, ?, ?, ?, ?, ?)",
        params![request_id, tx.now().timestamp(), &actor.label(), step, outcome, note],
    )?;
    Ok(())
}

fn view(tx: &mut Tx<'_>, actor: &Actor, stored: &Stored) -> Result<DisclosureRequest, Error> {
    let documents = documents_of(tx, stored.id)?;
    let (citation, missing) = match tx.policy().disclosure.basis(&stored.basis) {
        Some(basis) => (
            basis.citation.clone(),
            basis
                .missing(&presented(&documents))
                .into_iter()
                .map(describe_group)
                .collect(),
        ),
        None => (String::new(), Vec::new()),
    };
    // The holds placed for the request, for the roles that manage holds
    // (the Director): a clerk or an auditor who sees the request may not
    // read holds directly, so not through the request either.
    let mut holds = Vec::new();
    if tx.policy().legal_holds.may_place(actor.role()) {
        let hold_ids = tx.conn.query(
            "SELECT id FROM legal_holds WHERE disclosure_id = ? ORDER BY placed_at, id",
            params![stored.id],
        )?;
        for row in hold_ids {
            holds.push(legal_holds::fetch(tx, row.int(Only)?)?);
        }
    }
    Ok(DisclosureRequest {
        reference: stored.reference.clone(),
        requester_kind: stored.requester_kind,
        requester: stored.requester.clone(),
        requester_patron_id: stored.requester_patron_id,
        subject_patron_id: stored.subject_patron_id,
        basis: stored.basis.clone(),
        citation,
        classes: stored.classes.clone(),
        from_date: stored.from_date,
        to_date: stored.to_date,
        reason: stored.reason.clone(),
        gagged: stored.gagged,
        state: stored.state,
        received_by: stored.received_by,
        received_at: stored.received_at,
        approved_by: stored.approved_by,
        released_by: stored.released_by,
        released_at: stored.released_at,
        exigent: stored.exigent,
        document_due_at: stored.document_due_at,
        document_overdue: overdue(tx, stored.document_due_at),
        closed_at: stored.closed_at,
        documents,
        missing,
        timeline: timeline_of(tx, stored.id)?,
        legal_holds: holds,
        package: stored.package_sha256.clone().map(|sha256| PackageSummary {
            sha256,
            records: stored.package_records.unwrap_or(0),
            available: stored.package_available,
        }),
    })
}

fn overdue(tx: &Tx<'_>, due: Option<i64>) -> bool {
    due.is_some_and(|at| tx.now().timestamp() > at)
}

fn reload(tx: &mut Tx<'_>, id: i64) -> Result<Stored, Error> {
    let row = tx.conn.query_one(
        &format!("SELECT {COLUMNS} FROM disclosure_requests r WHERE r.id = ?"),
        params![id],
    )?;
    stored_from(&row)
}

/// The checked form of one presented document.
fn parse_document(input: &NewDocument, by_staff: bool) -> Result<ParsedDocument, Error> {
    let kind = DocumentKind::from_name(&input.kind).ok_or_else(|| {
        Error::invalid(
            "unknown_document",
            format!(
                "a document's kind must be one of: {}",
                carrel_policy::names_of::<DocumentKind>()
            ),
        )
    })?;
    if by_staff && !kind.staff_may_record() {
        return Err(Error::invalid(
            "card_and_pin_online_only",
            "card_and_pin is recorded by Carrel when a patron signs in online; at the desk, check photo ID and record photo_id",
        ));
    }
    let id_kind = match (kind, &input.id_kind) {
        (DocumentKind::PhotoId, Some(id_kind)) if id_kind.parse::<IdKind>().is_ok() => id_kind.parse().ok(),
        (DocumentKind::PhotoId, _) => {
            return Err(Error::invalid(
                "id_kind_required",
                format!("for photo_id give id_kind, which kind of ID was checked (one of: {}); never its number", carrel_policy::names_of::<IdKind>()),
            ))
        }
        (_, Some(_)) => {
            return Err(Error::invalid(
                "unexpected_id_kind",
                "id_kind goes only with a photo_id document",
            ))
        }
        (_, None) => None,
    };
    let reference = match &input.reference {
        Some(text) if kind.is_legal_process() => Some(validate::text("reference", text, 100)?),
        Some(_) => {
            return Err(Error::invalid(
                "unexpected_reference",
                "only legal process (subpoena, warrant, court order, national-security letter, FISA order, preservation request) carries a reference; for photo ID record the kind of ID, never its number",
            ))
        }
        None => None,
    };
    let court_field = |field: &'static str, value: &Option<String>| {
        match value {
        Some(text) if kind.is_legal_process() => Ok(Some(validate::text(field, text, 200)?)),
        Some(_) => Err(Error::invalid(
            "unexpected_court",
            format!("{field} goes only with legal process (subpoena, warrant, court order, national-security letter, FISA order, preservation request)"),
        )),
        None => Ok(None),
    }
    };
    Ok(ParsedDocument {
        kind,
        reference,
        id_kind,
        issuing_court: court_field("issuing_court", &input.issuing_court)?,
        jurisdiction: court_field("jurisdiction", &input.jurisdiction)?,
    })
}

fn insert_document(
    tx: &mut Tx<'_>,
    request_id: i64,
    document: &ParsedDocument,
    actor: Principal,
) -> Result<(), Error> {
    let kind = document.kind;
    tx.conn.execute(
        "INSERT INTO disclosure_documents (request_id, kind, reference, id_kind, issuing_court, jurisdiction, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![request_id, kind.name(), &document.reference, document.id_kind.map(IdKind::name), &document.issuing_court, &document.jurisdiction, &actor.label(), tx.now().timestamp()],
    )?;
    if kind == DocumentKind::SearchWarrant {
        // L4: the Director hears at once; nothing waits for the Director.
        alerts::raise(tx, request_id, AlertKind::SearchWarrant)?;
    }
    Ok(())
}

fn parse_classes(names: &[String]) -> Result<Vec<RecordClass>, Error> {
    let mut classes = BTreeSet::new();
    for name in names {
        let class = RecordClass::from_name(name)
            .filter(|c| c.holds_patron_records())
            .ok_or_else(|| {
                Error::invalid(
                    "bad_record_class",
                    "classes must name classes of patron records: registration, circulation, fines, electronic_access, interlibrary_loan, home_delivery, program_registration or mailing_list",
                )
            })?;
        classes.insert(class);
    }
    if classes.is_empty() {
        return Err(Error::invalid(
            "no_record_classes",
            "name at least one record class the request covers",
        ));
    }
    Ok(classes.into_iter().collect())
}

fn parse_dates(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), Error> {
    let from = validate::date("from_date", from)?;
    let to = validate::date("to_date", to)?;
    if to < from {
        return Err(Error::invalid(
            "bad_range",
            "to_date must be on or after from_date",
        ));
    }
    Ok((from, to))
}

/// The number of a new request. Ordinary requests (D) count up: everyone
/// who sees one sees them all. Requests under a non-disclosure order (R)
/// get a random number no request has, so whoever records one cannot tell
/// how many others exist (L6).
fn new_number(tx: &mut Tx<'_>, series: &str) -> Result<i64, Error> {
    if series == "D" {
        return next_number(tx, series);
    }
    tx.unused_random_number(
        100_000_000..1_000_000_000,
        "SELECT 1 FROM disclosure_requests WHERE series = ? AND number = ?",
        params![series],
    )
}

/// The next number in a counted series.
fn next_number(tx: &mut Tx<'_>, series: &str) -> Result<i64, Error> {
    tx.conn.execute(
        "UPDATE disclosure_counters SET last_number = last_number + 1 WHERE series = ?",
        params![series],
    )?;
    tx.conn
        .query_one(
            "SELECT last_number FROM disclosure_counters WHERE series = ?",
            params![series],
        )?
        .int(Only)
}

/// What `insert_request` writes.
struct Insert<'a> {
    kind: RequesterKind,
    requester: Option<&'a str>,
    requester_patron_id: Option<i64>,
    subject: i64,
    basis: &'a str,
    classes: &'a [RecordClass],
    from: NaiveDate,
    to: NaiveDate,
    reason: Option<&'a str>,
    gagged: bool,
    received_by: Option<i64>,
}

fn insert_request(tx: &mut Tx<'_>, new: &Insert<'_>) -> Result<(i64, String), Error> {
    let series = if new.gagged { "R" } else { "D" };
    let number = new_number(tx, series)?;
    let classes: Vec<&str> = new.classes.iter().map(|c| c.name()).collect();
    let id = tx.conn.insert(
        "INSERT INTO disclosure_requests (series, number, requester_kind, requester, requester_patron_id, subject_patron_id, basis, classes, from_date, to_date, reason, gagged, state, received_by, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            series,
            number,
            new.kind.name(),
            new.requester,
            new.requester_patron_id,
            new.subject,
            new.basis,
            &classes.join(","),
            &new.from.to_string(),
            &new.to.to_string(),
            new.reason,
            new.gagged,
            RequestState::Received.name(),
            new.received_by,
            tx.now().timestamp()
        ],
    )?;
    if new.gagged {
        tx.works_on_restricted_case(id);
    }
    Ok((id, format!("{series}-{number}")))
}

/// Records a request as it comes in (any role in `recorded_by`). Documents
/// presented with it are recorded with it. A law-enforcement request is
/// referred to the Director, who is alerted at once (L1); a search warrant
/// alerts the Director too and waits for no one (L4).
pub fn record(tx: &mut Tx<'_>, actor: &Actor, new: NewRequest) -> Result<DisclosureRequest, Error> {
    let grant = authorize_disclosure(tx, actor, Step::Record, &new.basis, None)?;
    let basis = basis_of(tx, &new.basis)?;
    let kind = RequesterKind::from_name(&new.requester_kind).ok_or_else(|| {
        Error::invalid(
            "unknown_requester_kind",
            format!(
                "requester_kind must be one of: {}",
                carrel_policy::names_of::<RequesterKind>()
            ),
        )
    })?;
    if !basis.admits(kind) {
        let fitting: Vec<&str> = tx
            .policy()
            .disclosure
            .bases
            .iter()
            .filter(|(_, b)| b.admits(kind) && b.channel.in_person())
            .map(|(n, _)| n.as_str())
            .collect();
        return Err(Error::invalid(
            "basis_not_for_requester",
            format!(
                "basis '{}' is not for a {kind}; under this library's policy a {kind} may ask under: {}",
                new.basis,
                if fitting.is_empty() { "nothing".to_string() } else { fitting.join(", ") }
            ),
        ));
    }
    if !basis.channel.in_person() {
        return Err(Error::invalid(
            "online_only",
            format!(
                "basis '{}' is served online only ({}): the requester signs in to Carrel; staff do not record it",
                new.basis, basis.description
            ),
        ));
    }
    let classes = parse_classes(&new.classes)?;
    let (from, to) = parse_dates(&new.from_date, &new.to_date)?;
    patrons::require(tx, new.subject_patron_id)?;
    let requester = match new.requester.as_deref() {
        Some(text) => Some(validate::text("requester", text, 200)?),
        None => None,
    };
    let requester_patron_id = match kind {
        RequesterKind::Patron => {
            if new
                .requester_patron_id
                .is_some_and(|p| p != new.subject_patron_id)
            {
                return Err(Error::invalid(
                    "bad_requester",
                    "a patron asks for their own records: requester_patron_id must be the subject, or left out",
                ));
            }
            Some(new.subject_patron_id)
        }
        RequesterKind::Guardian => {
            let id = new.requester_patron_id.ok_or_else(|| {
                Error::invalid(
                    "requester_patron_required",
                    "give requester_patron_id: the guardian's own patron record",
                )
            })?;
            patrons::require(tx, id)?;
            Some(id)
        }
        _ => {
            if requester.is_none() {
                return Err(Error::invalid(
                    "requester_required",
                    "give requester: who asks (officer and agency, or the other party's name)",
                ));
            }
            None
        }
    };
    let reason = match new.reason.as_deref() {
        Some(text) => Some(validate::text("reason", text, 1000)?),
        None => None,
    };
    if basis.reason_required && reason.is_none() {
        return Err(Error::invalid(
            "reason_required",
            format!(
                "basis '{}' ({}) must be recorded with its reason: give reason",
                new.basis, basis.citation
            ),
        ));
    }
    let documents: Vec<_> = new
        .documents
        .iter()
        .map(|d| parse_document(d, true))
        .collect::<Result<_, _>>()?;
    if !new.gagged && documents.iter().any(|d| d.kind.carries_gag_order()) {
        return Err(Error::invalid(
            "gag_order_required",
            "a national-security letter or FISA order comes with a non-disclosure order: record the request with gagged = true",
        ));
    }
    let (id, reference) = insert_request(
        tx,
        &Insert {
            kind,
            requester: requester.as_deref(),
            requester_patron_id,
            subject: new.subject_patron_id,
            basis: &new.basis,
            classes: &classes,
            from,
            to,
            reason: reason.as_deref(),
            gagged: new.gagged,
            received_by: Some(actor.staff_id()),
        },
    )?;
    let who = grant.principal();
    add_step(tx, id, who, TimelineStep::Record, None, None)?;
    for document in &documents {
        insert_document(tx, id, document, who)?;
    }
    if kind == RequesterKind::LawEnforcement {
        add_step(
            tx,
            id,
            who,
            TimelineStep::Refer,
            Some("referred to the Director"),
            None,
        )?;
        alerts::raise(tx, id, AlertKind::LawEnforcementRequest)?;
    }
    grant.record(
        tx,
        &reference,
        format!("recorded: {kind} under {}", new.basis),
    );
    let stored = reload(tx, id)?;
    view(tx, actor, &stored)
}

/// Notes in the audit log that a staff member read a request or the queue.
/// Reading needs no grant beyond seeing the request ([`Viewer`]).
fn record_read(tx: &mut Tx<'_>, actor: &Actor, record_id: Option<String>, detail: Option<String>) {
    use crate::audit::{AuditAction, Outcome};
    let entry = crate::gate::disclosure_entry(
        tx,
        actor.principal(),
        Outcome::Granted,
        AuditAction::Policy(carrel_policy::Action::Read),
    )
    .on(record_id)
    .saying(detail);
    tx.queue_audit(entry);
}

/// A request the actor can see, with its documents and timeline.
pub fn load(tx: &mut Tx<'_>, actor: &Actor, reference: &str) -> Result<DisclosureRequest, Error> {
    let stored = find_visible(tx, actor, reference)?;
    record_read(
        tx,
        actor,
        Some(format!("disclosure:{}", stored.reference)),
        None,
    );
    view(tx, actor, &stored)
}

/// The queue: every request the actor can see, newest first, filtered, with
/// counts of what they can see and nothing else.
pub fn queue(tx: &mut Tx<'_>, actor: &Actor, filter: &QueueFilter) -> Result<Queue, Error> {
    let viewer = Viewer::of(tx, actor);
    let (visible, visible_params) = viewer.sql();
    let mut conditions = vec![visible];
    let mut params: Vec<Param<'_>> = visible_params;
    if let Some(state) = &filter.state {
        let state = RequestState::from_name(state).ok_or_else(|| {
            Error::invalid(
                "bad_state",
                format!(
                    "state must be one of: {}",
                    carrel_policy::names_of::<RequestState>()
                ),
            )
        })?;
        conditions.push("r.state = ?".into());
        params.push(Param::Text(state.name()));
    }
    if let Some(patron) = filter.subject_patron_id {
        conditions.push("r.subject_patron_id = ?".into());
        params.push(Param::Int(patron));
    }
    if let Some(basis) = &filter.basis {
        if tx.policy().disclosure.basis(basis).is_none() {
            let known: Vec<&str> = tx
                .policy()
                .disclosure
                .bases
                .keys()
                .map(String::as_str)
                .collect();
            return Err(Error::invalid(
                "unknown_basis",
                format!("basis must be one of this library's: {}", known.join(", ")),
            ));
        }
        conditions.push("r.basis = ?".into());
        params.push(Param::Text(basis));
    }
    let rows = tx.conn.query(
        &format!(
            "SELECT r.series, r.number, r.requester_kind, r.basis, r.subject_patron_id, r.state, r.gagged, r.received_at, r.document_due_at
             FROM disclosure_requests r WHERE {} ORDER BY r.received_at DESC, r.id DESC",
            conditions.join(" AND ")
        ),
        &params,
    )?;
    let mut requests = Vec::with_capacity(rows.len());
    let mut by_state = BTreeMap::new();
    let mut overdue_count = 0;
    for row in rows {
        let state = row.name("state")?;
        *by_state.entry(state).or_insert(0) += 1;
        let late = overdue(tx, row.opt_int("document_due_at")?);
        overdue_count += i64::from(late);
        requests.push(QueueEntry {
            reference: format!("{}-{}", row.text("series")?, row.int("number")?),
            requester_kind: row.name("requester_kind")?,
            basis: row.text("basis")?,
            subject_patron_id: row.opt_int("subject_patron_id")?,
            state,
            gagged: row.int("gagged")? != 0,
            received_at: row.int("received_at")?,
            document_overdue: late,
        });
    }
    record_read(
        tx,
        actor,
        None,
        Some(format!("{} requests listed", requests.len())),
    );
    Ok(Queue {
        total: requests.len() as i64,
        requests,
        by_state,
        overdue: overdue_count,
    })
}

/// Finds the request, authorizes `step` on it, and checks the request's
/// life allows the step now ([`Step::from_states`], the one table the
/// staff pages follow too).
fn begin(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    step: Step,
) -> Result<(Stored, Basis, DisclosureGrant), Error> {
    let stored = find_visible(tx, actor, reference)?;
    let grant = authorize_disclosure(tx, actor, step, &stored.basis, Some(&stored.reference))?;
    let basis = basis_of(tx, &stored.basis)?;
    let state = stored.state;
    if !step.allowed_from(state) {
        let allowed: Vec<String> = step.from_states().iter().map(|s| s.to_string()).collect();
        return Err(Error::refused(
            "wrong_state",
            format!(
                "request {} is {state}; to {step} it must be {}",
                stored.reference,
                allowed.join(" or ")
            ),
        ));
    }
    Ok((stored, basis, grant))
}

fn set_state(tx: &mut Tx<'_>, id: i64, state: RequestState) -> Result<(), Error> {
    tx.conn.execute(
        "UPDATE disclosure_requests SET state = ? WHERE id = ?",
        params![state.name(), id],
    )?;
    Ok(())
}

fn optional_note(note: Option<&str>) -> Result<Option<String>, Error> {
    note.map(|n| validate::text("note", n, 2000)).transpose()
}

fn finish(tx: &mut Tx<'_>, actor: &Actor, id: i64) -> Result<DisclosureRequest, Error> {
    let stored = reload(tx, id)?;
    view(tx, actor, &stored)
}

/// Takes up a request (a decider): received → under review, with legal
/// counsel where the basis requires counsel's review.
pub fn begin_review(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
) -> Result<DisclosureRequest, Error> {
    let (stored, basis, grant) = begin(tx, actor, reference, Step::BeginReview)?;
    set_state(tx, stored.id, RequestState::UnderReview)?;
    let outcome = basis.counsel_review.then_some("with legal counsel");
    add_step(
        tx,
        stored.id,
        grant.principal(),
        TimelineStep::BeginReview,
        outcome,
        None,
    )?;
    grant.record(tx, &stored.reference, "under review".into());
    finish(tx, actor, stored.id)
}

/// Records legal counsel's review (L2): advice to release, to refuse, or,
/// in an exigent threat, to release before the document (L3).
pub fn counsel_review(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    advice: &str,
    note: Option<&str>,
    confirms: &[String],
) -> Result<DisclosureRequest, Error> {
    let (stored, basis, grant) = begin(tx, actor, reference, Step::CounselReview)?;
    let advice: Advice = advice.parse().map_err(|_| {
        Error::invalid(
            "bad_advice",
            format!(
                "advice must be one of: {}",
                carrel_policy::names_of::<Advice>()
            ),
        )
    })?;
    let mut confirmed = Vec::new();
    for name in confirms {
        let finding = CounselFinding::from_name(name).ok_or_else(|| {
            Error::invalid(
                "bad_confirmation",
                format!(
                    "confirms lists what counsel confirms about the legal process: {}",
                    carrel_policy::names_of::<CounselFinding>()
                ),
            )
        })?;
        if !confirmed.contains(&finding) {
            confirmed.push(finding);
        }
    }
    if advice == Advice::Release {
        require_court_findings(tx, &stored, &basis, &confirmed)?;
    }
    let note = optional_note(note)?;
    add_step(
        tx,
        stored.id,
        grant.principal(),
        TimelineStep::CounselReview,
        Some(advice.name()),
        note.as_deref(),
    )?;
    if !confirmed.is_empty() {
        let names: Vec<&str> = confirmed.iter().map(|f| f.name()).collect();
        add_step(
            tx,
            stored.id,
            grant.principal(),
            TimelineStep::CounselConfirmed,
            Some(&names.join(", ")),
            None,
        )?;
    }
    grant.record(
        tx,
        &stored.reference,
        format!("counsel advised {}", advice.name()),
    );
    finish(tx, actor, stored.id)
}

/// Where the basis has counsel confirm the legal process itself (Missouri:
/// "issued by a court of competent jurisdiction that shows good cause and
/// is in proper form"), counsel advises release only confirming each of
/// those, and only once a court document names its issuing court and that
/// court's jurisdiction, so the confirmation is about something recorded.
fn require_court_findings(
    tx: &mut Tx<'_>,
    stored: &Stored,
    basis: &Basis,
    confirmed: &[CounselFinding],
) -> Result<(), Error> {
    let missing: Vec<&str> = basis
        .counsel_confirms
        .iter()
        .filter(|f| !confirmed.contains(f))
        .map(|f| f.describe())
        .collect();
    if !missing.is_empty() {
        return Err(Error::refused(
            "counsel_confirmation_required",
            format!(
                "to advise release under this basis, counsel confirms (in confirms) that {}",
                missing.join("; ")
            ),
        ));
    }
    if basis
        .counsel_confirms
        .contains(&CounselFinding::CompetentJurisdiction)
    {
        // On a document the basis accepts: a subpoena naming a court does
        // not stand in for the court order the basis requires.
        let named = documents_of(tx, stored.id)?.iter().any(|d| {
            let k = d.kind;
            k.is_legal_process()
                && basis.requires.iter().flatten().any(|r| *r == k)
                && d.issuing_court.is_some()
                && d.jurisdiction.is_some()
        });
        if !named {
            return Err(Error::refused(
                "court_not_recorded",
                "record the issuing court and its jurisdiction on the court document (issuing_court, jurisdiction) before counsel confirms them",
            ));
        }
    }
    Ok(())
}

/// Counsel's latest advice on a request, if any.
fn counsel_advice(tx: &mut Tx<'_>, id: i64) -> Result<Option<Advice>, Error> {
    tx
        .conn
        .query_opt(
            "SELECT outcome FROM disclosure_steps WHERE request_id = ? AND step = ? ORDER BY id DESC LIMIT 1",
            params![id, <&str>::from(TimelineStep::CounselReview)],
        )?
        .map(|row| row.name(Only))
        .transpose()
}

/// The subject of a request as the law's decision needs it (see
/// [`carrel_policy::lawful::Subject`]): gathered here, decided there.
fn subject_facts(
    tx: &mut Tx<'_>,
    subject: Option<i64>,
    requester_patron_id: Option<i64>,
) -> Result<Subject, Error> {
    let Some(subject) = subject else {
        return Ok(Subject::Destroyed);
    };
    let Some(record) = patrons::fetch(tx, subject)? else {
        // Its records are kept (for a restricted case), its registration
        // is not.
        return Ok(Subject::RegistrationDestroyed);
    };
    let policy = tx.policy();
    let minor = lawful::is_minor(
        record.birth_date,
        policy.category(&record.category).is_some_and(|c| c.minor),
        policy.library.age_of_majority,
        tx.today(),
    );
    Ok(Subject::Registered {
        minor,
        requester_is_linked_guardian: record.guardian_id.is_some()
            && record.guardian_id == requester_patron_id,
    })
}

/// Asks the law ([`carrel_policy::lawful::release_is_lawful`]) whether the
/// request may be released now, with the facts gathered here. A refusal
/// is a refusal by law, audited (L7).
fn check_lawful(
    tx: &mut Tx<'_>,
    stored: &Stored,
    basis: &Basis,
    grant: &DisclosureGrant,
    release: Release,
) -> Result<(), Error> {
    let facts = ReleaseFacts {
        subject: subject_facts(tx, stored.subject_patron_id, stored.requester_patron_id)?,
        reason_recorded: stored.reason.is_some(),
        documents: presented(&documents_of(tx, stored.id)?),
    };
    lawful::release_is_lawful(basis, release, &facts)
        .map_err(|why| refusal(tx, stored, basis, grant, &why))
}

/// A refusal by law as the API answers it, audited.
fn refusal(
    tx: &Tx<'_>,
    stored: &Stored,
    basis: &Basis,
    grant: &DisclosureGrant,
    why: &Unlawful,
) -> Error {
    let message = why.message(
        &stored.basis,
        basis,
        &stored.reference,
        tx.policy().library.age_of_majority,
    );
    grant.refuse(tx, &stored.reference, why.code(), message)
}

/// Why a basis that is a guardian's (R3) does not reach `subject` for
/// `requester`, if it does not, as a code and a message for staff;
/// `online` answers patrons with one refusal.
fn guardian_refusal(
    tx: &mut Tx<'_>,
    basis: &Basis,
    subject: i64,
    requester_patron_id: Option<i64>,
) -> Result<Option<(&'static str, String)>, Error> {
    let facts = subject_facts(tx, Some(subject), requester_patron_id)?;
    Ok(lawful::guardian_reaches(basis, facts).err().map(|why| {
        let message = why.message("", basis, "", tx.policy().library.age_of_majority);
        (why.code(), message)
    }))
}

fn require_counsel(
    tx: &mut Tx<'_>,
    stored: &Stored,
    basis: &Basis,
    wanted: Option<Advice>,
) -> Result<(), Error> {
    if !basis.counsel_review {
        return Ok(());
    }
    let advice = counsel_advice(tx, stored.id)?;
    match (advice, wanted) {
        (None, _) => Err(Error::refused(
            "counsel_review_required",
            format!("basis '{}' needs legal counsel's review recorded first (REQUIREMENTS L2)", stored.basis),
        )),
        (Some(a), Some(w)) if a != w => Err(Error::refused(
            "counsel_advice_required",
            format!("an exigent release needs counsel's recorded advice to release at once; counsel's latest advice is '{}'", a.name()),
        )),
        _ => Ok(()),
    }
}

/// Approves a request (a decider): counsel's review recorded where the
/// basis needs it, and everything the law requires present (L7).
///
/// Where counsel's latest advice was to refuse, the decider either asks
/// counsel to review again or approves against the advice with a reason,
/// which is recorded as a step of its own: the policy has the Director
/// confer with counsel, not obey, but never silently.
pub fn approve(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    note: Option<&str>,
    override_reason: Option<&str>,
) -> Result<DisclosureRequest, Error> {
    let (stored, basis, grant) = begin(tx, actor, reference, Step::Approve)?;
    require_counsel(tx, &stored, &basis, None)?;
    let advice = if basis.counsel_review {
        counsel_advice(tx, stored.id)?
    } else {
        None
    };
    let advised_refusal = advice == Some(Advice::Refuse);
    // Advice to release at once is for an exigent release, which skips
    // the documents; an ordinary approval needs advice to release (given
    // with the findings the basis asks counsel to confirm), or a recorded
    // override of advice to refuse.
    if advice == Some(Advice::ExigentRelease) {
        return Err(Error::refused(
            "counsel_advice_required",
            "counsel's latest advice is an exigent release, which is released at once without approval; to approve an ordinary release, counsel advises release",
        ));
    }
    let override_reason = override_reason
        .map(|r| validate::text("override_reason", r, 2000))
        .transpose()?;
    if advised_refusal && override_reason.is_none() {
        return Err(Error::refused(
            "counsel_advised_refusal",
            "legal counsel's latest advice is to refuse: ask counsel to review the request again, or approve against the advice with an override_reason, which is recorded",
        ));
    }
    check_lawful(tx, &stored, &basis, &grant, Release::Ordinary)?;
    let note = optional_note(note)?;
    if let Some(reason) = override_reason.as_deref().filter(|_| advised_refusal) {
        add_step(
            tx,
            stored.id,
            grant.principal(),
            TimelineStep::CounselOverridden,
            Some("refuse"),
            Some(reason),
        )?;
    }
    tx.conn.execute(
        "UPDATE disclosure_requests SET state = ?, approved_by = ? WHERE id = ?",
        params![RequestState::Approved.name(), actor.staff_id(), stored.id],
    )?;
    add_step(
        tx,
        stored.id,
        grant.principal(),
        TimelineStep::Approve,
        None,
        note.as_deref(),
    )?;
    grant.record(tx, &stored.reference, "approved".into());
    finish(tx, actor, stored.id)
}

/// Refuses a request, with the reason recorded.
pub fn refuse(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    reason: &str,
) -> Result<DisclosureRequest, Error> {
    let (stored, _, grant) = begin(tx, actor, reference, Step::Refuse)?;
    let reason = validate::text("reason", reason, 2000)?;
    set_state(tx, stored.id, RequestState::Refused)?;
    add_step(
        tx,
        stored.id,
        grant.principal(),
        TimelineStep::Refuse,
        None,
        Some(&reason),
    )?;
    grant.record(tx, &stored.reference, "refused".into());
    finish(tx, actor, stored.id)
}

fn cover(tx: &mut Tx<'_>, stored: &Stored, basis: &Basis, approver: &str) -> Cover {
    Cover {
        library: tx.policy().library.name.clone(),
        request: stored.reference.clone(),
        basis: stored.basis.clone(),
        legal_basis: format!("{}: {}", basis.citation, basis.description),
        requester_kind: stored.requester_kind,
        approved_by: approver.to_string(),
        released_on: tx.today(),
        patron: stored.subject_patron_id.unwrap_or(0),
        classes: stored.classes.clone(),
        from_date: stored.from_date,
        to_date: stored.to_date,
    }
}

/// Builds the package of a request's approved scope and keeps it on the
/// request until it is closed.
fn package_for(
    tx: &mut Tx<'_>,
    stored: &Stored,
    basis: &Basis,
    grant: &DisclosureGrant,
    approver: &str,
) -> Result<Package, Error> {
    let cover = cover(tx, stored, basis, approver);
    let package = package::build(
        tx,
        grant,
        cover,
        &stored.classes,
        stored.from_date,
        stored.to_date,
        stored.gagged.then_some(stored.id),
    )?;
    store_package(tx, stored.id, &package, true)?;
    Ok(package)
}

fn store_package(tx: &mut Tx<'_>, id: i64, package: &Package, keep: bool) -> Result<(), Error> {
    let json = keep.then_some(package.json.as_str());
    // package_html is no longer written: the server renders the page from
    // the JSON. Cleared, so a release never leaves an old page behind.
    tx.conn.execute(
        "UPDATE disclosure_requests SET package_sha256 = ?, package_records = ?, package_json = ?, package_html = NULL WHERE id = ?",
        params![&package.sha256, package.records, json, id],
    )?;
    Ok(())
}

/// Releases an approved request (a decider): checks the law once more (a
/// minor may have come of age since approval) and produces the package.
pub fn release(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
) -> Result<(DisclosureRequest, Package), Error> {
    release_as(tx, actor, reference, Release::Ordinary, None)
}

/// An exigent release (L3): the decider, on counsel's recorded advice to
/// release at once, releases before the document arrives. The request then
/// owes the document by the policy's deadline and shows overdue until it
/// is attached.
pub fn exigent_release(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    note: Option<&str>,
) -> Result<(DisclosureRequest, Package), Error> {
    release_as(tx, actor, reference, Release::Exigent, note)
}

/// The one path of both releases: the step and the state it starts from,
/// counsel's advice an exigent release needs, the law's decision
/// ([`check_lawful`]), the package, the request's new state, its timeline
/// and the audit entry.
fn release_as(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    release: Release,
    note: Option<&str>,
) -> Result<(DisclosureRequest, Package), Error> {
    let step = match release {
        Release::Ordinary => Step::Release,
        Release::Exigent => Step::ExigentRelease,
    };
    let (stored, basis, grant) = begin(tx, actor, reference, step)?;
    if release == Release::Exigent {
        require_counsel(tx, &stored, &basis, Some(Advice::ExigentRelease))?;
    }
    check_lawful(tx, &stored, &basis, &grant, release)?;
    let note = optional_note(note)?;
    let now = tx.now().timestamp();
    let (package, step_name, outcome, audited) = match release {
        Release::Ordinary => {
            let approver = staff::username(tx, stored.approved_by.unwrap_or(actor.staff_id()))?;
            let package = package_for(tx, &stored, &basis, &grant, &approver)?;
            tx.conn.execute(
                "UPDATE disclosure_requests SET state = ?, released_by = ?, released_at = ? WHERE id = ?",
                params![RequestState::Released.name(), actor.staff_id(), now, stored.id],
            )?;
            let outcome = format!("{} records", package.records);
            let audited = format!("released {} records", package.records);
            (package, TimelineStep::Release, outcome, audited)
        }
        Release::Exigent => {
            // The documents the law wants may follow: owed by the
            // policy's deadline, and overdue after it.
            let owed = !basis
                .missing(&presented(&documents_of(tx, stored.id)?))
                .is_empty();
            let due = owed
                .then(|| now + i64::from(tx.policy().disclosure.exigent_document_days) * 86_400);
            let approver = staff::username(tx, actor.staff_id())?;
            let package = package_for(tx, &stored, &basis, &grant, &approver)?;
            tx.conn.execute(
                "UPDATE disclosure_requests SET state = ?, approved_by = ?, released_by = ?, released_at = ?, exigent = 1, document_due_at = ? WHERE id = ?",
                params![RequestState::Released.name(), actor.staff_id(), actor.staff_id(), now, due, stored.id],
            )?;
            let outcome = if owed {
                format!("{} records; document owed", package.records)
            } else {
                "documents complete".to_string()
            };
            let audited = format!("exigent release of {} records", package.records);
            (package, TimelineStep::ExigentRelease, outcome, audited)
        }
    };
    add_step(
        tx,
        stored.id,
        grant.principal(),
        step_name,
        Some(&outcome),
        note.as_deref(),
    )?;
    grant.record(tx, &stored.reference, audited);
    Ok((finish(tx, actor, stored.id)?, package))
}

/// Attaches a document that arrived after the request was recorded. The
/// document owed after an exigent release clears the deadline.
pub fn attach_document(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    document: NewDocument,
) -> Result<DisclosureRequest, Error> {
    let (stored, basis, grant) = begin(tx, actor, reference, Step::AttachDocument)?;
    let parsed = parse_document(&document, true)?;
    if parsed.kind.carries_gag_order() && !stored.gagged {
        return Err(Error::invalid(
            "gag_order_required",
            "a national-security letter or FISA order comes with a non-disclosure order: record it as a new request with gagged = true, so it is never seen outside the circle",
        ));
    }
    let who = grant.principal();
    insert_document(tx, stored.id, &parsed, who)?;
    add_step(
        tx,
        stored.id,
        who,
        TimelineStep::AttachDocument,
        Some(parsed.kind.name()),
        None,
    )?;
    if stored.document_due_at.is_some()
        && basis
            .missing(&presented(&documents_of(tx, stored.id)?))
            .is_empty()
    {
        tx.conn.execute(
            "UPDATE disclosure_requests SET document_due_at = NULL WHERE id = ?",
            params![stored.id],
        )?;
        add_step(
            tx,
            stored.id,
            who,
            TimelineStep::DocumentReceived,
            Some("the document owed after the exigent release is attached"),
            None,
        )?;
    }
    grant.record(
        tx,
        &stored.reference,
        format!("document attached: {}", parsed.kind.name()),
    );
    finish(tx, actor, stored.id)
}

/// Closes a request: refused, released (once any owed document is in), or
/// withdrawn before a decision. The package is erased; its digest stays.
pub fn close(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
    note: Option<&str>,
) -> Result<DisclosureRequest, Error> {
    let (stored, _, grant) = begin(tx, actor, reference, Step::Close)?;
    if let Some(due) = stored.document_due_at {
        let zone = tx.policy().library.time_zone;
        let due = chrono::DateTime::from_timestamp(due, 0)
            .map(|t| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        return Err(Error::refused(
            "document_owed",
            format!("request {} was released in an exigent threat and the document is still owed (due {due}); attach it before closing", stored.reference),
        ));
    }
    let note = optional_note(note)?;
    tx.conn.execute(
        "UPDATE disclosure_requests SET state = ?, closed_at = ?, package_json = NULL, package_html = NULL WHERE id = ?",
        params![RequestState::Closed.name(), tx.now().timestamp(), stored.id],
    )?;
    let outcome = match stored.state {
        RequestState::Received | RequestState::UnderReview => "withdrawn",
        other => other.name(),
    };
    add_step(
        tx,
        stored.id,
        grant.principal(),
        TimelineStep::Close,
        Some(outcome),
        note.as_deref(),
    )?;
    grant.record(tx, &stored.reference, "closed".into());
    finish(tx, actor, stored.id)
}

/// A preservation request (L5): places legal holds on the patron's records
/// of each class in scope, for the dates in scope, for the policy's period.
/// Only the roles that may place legal holds; the request must hold a
/// preservation request document.
pub fn preserve(
    tx: &mut Tx<'_>,
    actor: &Actor,
    reference: &str,
) -> Result<DisclosureRequest, Error> {
    let stored = find_visible(tx, actor, reference)?;
    let hold_grant = authorize_legal_hold(tx, actor)?;
    if !stored.state.may_preserve() {
        return Err(Error::refused(
            "wrong_state",
            format!("request {} is {}; records are preserved while a request is received or under review", stored.reference, stored.state),
        ));
    }
    let documents = documents_of(tx, stored.id)?;
    if !presented(&documents).contains(&DocumentKind::PreservationRequest) {
        return Err(Error::refused(
            "preservation_request_required",
            "attach the preservation request (document preservation_request) first",
        ));
    }
    let Some(subject) = stored.subject_patron_id else {
        return Err(Error::refused(
            "records_destroyed",
            "the patron's records have already been destroyed",
        ));
    };
    let agency_reference = documents
        .iter()
        .find(|d| d.kind == DocumentKind::PreservationRequest)
        .and_then(|d| d.reference.clone())
        .unwrap_or_else(|| stored.reference.clone());
    let mut placed = 0;
    for class in &stored.classes {
        let hold = legal_holds::place(
            tx,
            &hold_grant,
            actor.staff_id(),
            HoldRequest {
                reference: agency_reference.clone(),
                record_class: class.name().to_string(),
                patron_id: subject,
                from_date: stored.from_date.to_string(),
                to_date: stored.to_date.to_string(),
            },
        )?;
        tx.conn.execute(
            "UPDATE legal_holds SET disclosure_id = ? WHERE id = ?",
            params![stored.id, hold.id],
        )?;
        placed += 1;
    }
    add_step(
        tx,
        stored.id,
        actor.principal(),
        TimelineStep::Preserve,
        Some(&format!("{placed} legal holds placed")),
        None,
    )?;
    finish(tx, actor, stored.id)
}

/// The released package's JSON file, while the request is open; only for
/// its deciders.
pub fn package_of(tx: &mut Tx<'_>, actor: &Actor, reference: &str) -> Result<String, Error> {
    let stored = find_visible(tx, actor, reference)?;
    let grant = authorize_disclosure(
        tx,
        actor,
        Step::Release,
        &stored.basis,
        Some(&stored.reference),
    )?;
    let row = tx.conn.query_one(
        "SELECT package_json FROM disclosure_requests WHERE id = ?",
        params![stored.id],
    )?;
    let Some(json) = row.opt_text("package_json")? else {
        return Err(Error::NotFound {
            what: "package (none was released, or it was erased when the request was closed or when records in it were destroyed: the request's timeline says which)",
        });
    };
    grant.record(tx, &stored.reference, "package downloaded".into());
    Ok(json)
}
