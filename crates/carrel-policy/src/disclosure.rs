//! Who may obtain a library record, on what legal basis, with which
//! documents, and which roles decide (REQUIREMENTS R1-R5, L1-L7).
//!
//! A policy's `[disclosure]` section lists its *bases*: the lawful grounds
//! on which its statute lets the library release records (Missouri: the
//! person's written request, or a court order; Colorado adds the reasonable
//! operation of the library and a guardian holding a minor's card number).
//! Every disclosure request names one basis, and the basis says who may ask
//! under it, what they must present, and which roles may approve and
//! release. A request whose basis is not in the file cannot be recorded, and
//! one that lacks a required document cannot be released: the difference
//! between two libraries' laws lives here, not in `if colorado` branches.
//!
//! Pure: the store's gate asks these questions and enforces the answers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Who is asking for records.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequesterKind {
    /// The person the records identify.
    Patron,
    /// A parent or legal guardian of a minor the records identify.
    Guardian,
    /// Anyone else (an employer, a lawyer, a relative of an adult).
    ThirdParty,
    /// A law-enforcement officer or agency, local, state or federal.
    LawEnforcement,
    /// The library itself, for its own operation (Colorado's R5).
    Library,
}

impl RequesterKind {
    /// Every variant, in declaration order.
    pub const ALL: &'static [RequesterKind] = <RequesterKind as strum::VariantArray>::VARIANTS;

    /// The kind's name as policy files, the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The requester kind a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<RequesterKind> {
        name.parse().ok()
    }
}

impl fmt::Display for RequesterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A document presented with a request. Carrel records the kind (and, for
/// legal process, the issuer's reference), never an identity document's
/// number.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A written request from the requester; online, the submitted form counts
    /// as one.
    WrittenRequest,
    /// Photo identification was checked (which kind is recorded, not its number).
    PhotoId,
    /// The requester signed in with the card barcode and PIN. Recorded by
    /// Carrel itself when a request comes through the patron's sign-in;
    /// staff cannot attach it.
    CardAndPin,
    /// Legal proof that the requester is the minor's parent or legal guardian.
    ProofOfGuardianship,
    /// The minor's library card, or its number.
    LibraryCard,
    /// Written consent, signed by the patron or a minor's guardian, to release
    /// records to another party.
    WrittenConsent,
    /// A subpoena: legal process compelling the library to produce records.
    Subpoena,
    /// A search warrant issued by a court.
    SearchWarrant,
    /// An order of a court to release records.
    CourtOrder,
    /// A federal agency's national-security letter, which comes with a gag
    /// order.
    NationalSecurityLetter,
    /// An order of the Foreign Intelligence Surveillance Court, which comes
    /// with a gag order.
    FisaOrder,
    /// An agency's request to preserve records pending legal process,
    /// answered with a legal hold (L5).
    PreservationRequest,
}

impl DocumentKind {
    /// Every variant, in declaration order.
    pub const ALL: &'static [DocumentKind] = <DocumentKind as strum::VariantArray>::VARIANTS;

    /// The kind's name as policy files, the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// How a person reads it: "a search warrant".
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::WrittenRequest => "a written request",
            DocumentKind::PhotoId => "photo identification",
            DocumentKind::CardAndPin => "sign-in with card and PIN",
            DocumentKind::ProofOfGuardianship => "proof of guardianship",
            DocumentKind::LibraryCard => "the minor's library card or its number",
            DocumentKind::WrittenConsent => "written consent signed by the patron or guardian",
            DocumentKind::Subpoena => "a subpoena",
            DocumentKind::SearchWarrant => "a search warrant",
            DocumentKind::CourtOrder => "a court order",
            DocumentKind::NationalSecurityLetter => "a national-security letter",
            DocumentKind::FisaOrder => "a FISA order",
            DocumentKind::PreservationRequest => "a preservation request",
        }
    }

    /// The document kind a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<DocumentKind> {
        name.parse().ok()
    }

    /// Whether staff may record a document of this kind: every kind but
    /// `card_and_pin`, which only Carrel records, when a patron signs in
    /// online.
    pub fn staff_may_record(self) -> bool {
        self != DocumentKind::CardAndPin
    }

    /// Legal process: issued by a court or an agency, and carrying a
    /// reference (docket or case number) that Carrel records.
    pub fn is_legal_process(self) -> bool {
        matches!(
            self,
            DocumentKind::Subpoena
                | DocumentKind::SearchWarrant
                | DocumentKind::CourtOrder
                | DocumentKind::NationalSecurityLetter
                | DocumentKind::FisaOrder
                | DocumentKind::PreservationRequest
        )
    }

    /// Orders that come with a non-disclosure (gag) order by law (USA
    /// PATRIOT Act): a request holding one must be restricted from the start.
    pub fn carries_gag_order(self) -> bool {
        matches!(
            self,
            DocumentKind::NationalSecurityLetter | DocumentKind::FisaOrder
        )
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a basis may be used: at the desk (staff record the request), online
/// (the requester signs in with a card and PIN), or both.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// At the desk only, where staff record the request.
    InPerson,
    /// Online only, with the requester signed in by card and PIN.
    Online,
    /// At the desk or online.
    Both,
}

impl Channel {
    /// The channel's name as the policy file's `channel` key writes it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The channel a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<Channel> {
        name.parse().ok()
    }

    /// Whether a request under the basis may be made at the desk.
    pub fn in_person(self) -> bool {
        matches!(self, Channel::InPerson | Channel::Both)
    }

    /// Whether a request under the basis may be made online.
    pub fn online(self) -> bool {
        matches!(self, Channel::Online | Channel::Both)
    }
}

/// What legal counsel confirms about the legal process itself before a
/// release, where the policy asks for it (Missouri: "issued by a court of
/// competent jurisdiction that shows good cause and is in proper form").
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum CounselFinding {
    /// The issuing court has jurisdiction over the matter.
    CompetentJurisdiction,
    /// The document shows good cause for the release.
    GoodCause,
    /// The document is in proper form.
    ProperForm,
}

impl CounselFinding {
    /// Every variant, in declaration order.
    pub const ALL: &'static [CounselFinding] = <CounselFinding as strum::VariantArray>::VARIANTS;

    /// The finding's name as policy files, the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The finding a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<CounselFinding> {
        name.parse().ok()
    }

    /// For people: what counsel confirms.
    pub fn describe(self) -> &'static str {
        match self {
            CounselFinding::CompetentJurisdiction => {
                "the issuing court has jurisdiction over the matter"
            }
            CounselFinding::GoodCause => "the document shows good cause",
            CounselFinding::ProperForm => "the document is in proper form",
        }
    }
}

/// One lawful ground for releasing records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// The provision it rests on ("RSMo 182.817(2)").
    pub citation: String,
    /// What the basis allows, in plain words (`description` in the policy
    /// file).
    pub description: String,
    /// The kinds of requester who may ask under it (`requesters`).
    pub requesters: Vec<RequesterKind>,
    /// Documents required: every group must be met, each by any one of its
    /// kinds (`[["court_order", "search_warrant"]]`: one of the two).
    pub requires: Vec<Vec<DocumentKind>>,
    /// Roles that take up, approve, refuse, release and close such requests.
    pub decided_by: Vec<String>,
    /// Legal counsel's review must be recorded before approval (L2).
    pub counsel_review: bool,
    /// The decider may release before the document arrives, on counsel's
    /// recorded advice, in an exigent threat (L3).
    pub exigent: bool,
    /// The records must be a minor's (guardian access ends at majority).
    pub subject_is_minor: bool,
    /// The requester must be the patron linked as the minor's guardian.
    pub requester_is_guardian: bool,
    /// A reason must be recorded with each use (Colorado's R5).
    pub reason_required: bool,
    /// What counsel must confirm about the legal process when advising
    /// release (and the court document must then name its issuing court
    /// and jurisdiction).
    pub counsel_confirms: Vec<CounselFinding>,
    /// Whether it may be used at the desk, online or both (`channel`).
    pub channel: Channel,
}

impl Basis {
    /// The requirement groups `presented` does not meet, in policy order.
    pub fn missing<'b>(&'b self, presented: &BTreeSet<DocumentKind>) -> Vec<&'b [DocumentKind]> {
        self.requires
            .iter()
            .filter(|group| !group.iter().any(|kind| presented.contains(kind)))
            .map(Vec::as_slice)
            .collect()
    }

    /// Whether this kind of requester may ask under the basis.
    pub fn admits(&self, requester: RequesterKind) -> bool {
        self.requesters.contains(&requester)
    }

    /// Whether `role` is one of the roles that decide requests under the basis.
    pub fn decided_by(&self, role: &str) -> bool {
        self.decided_by.iter().any(|r| r == role)
    }

    /// Whether any requirement group can be met by this document.
    pub fn wants(&self, kind: DocumentKind) -> bool {
        self.requires.iter().any(|g| g.contains(&kind))
    }
}

/// "a court order or a search warrant".
pub fn describe_group(group: &[DocumentKind]) -> String {
    let labels: Vec<&str> = group.iter().map(|k| k.label()).collect();
    match labels.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// One step of a request's life, as the permission table knows it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Recording a new request, which starts it in `received`.
    Record,
    /// Attaching a document the requester presented.
    AttachDocument,
    /// Taking a received request up for review.
    BeginReview,
    /// Legal counsel recording their review and advice.
    CounselReview,
    /// Approving the request for release.
    Approve,
    /// Refusing the request.
    Refuse,
    /// Releasing the records of an approved request.
    Release,
    /// Releasing at once in an exigent threat, on counsel's advice, before the
    /// document arrives (L3).
    ExigentRelease,
    /// Closing the request; no step follows.
    Close,
}

impl Step {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Step] = <Step as strum::VariantArray>::VARIANTS;

    /// The step's name as the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a request stands in its life. The life is one table,
/// [`Step::from_states`]: the store checks a step against it, and the
/// staff pages offer only the steps it allows.
///
/// ```text
/// received ──begin_review──▶ under_review ──approve──▶ approved ──release──▶ released
///    │                          │  └──exigent_release──────────────────────▶ released
///    └──────────refuse──────────┴──────────refuse──────── approved ──refuse──▶ refused
/// received, under_review, refused, released ──close──▶ closed
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    serde::Serialize,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Recorded, and not yet taken up for review.
    Received,
    /// Being reviewed by a role that decides under its basis.
    UnderReview,
    /// Approved for release, and not yet released.
    Approved,
    /// Refused: nothing will be released.
    Refused,
    /// The records have left the library.
    Released,
    /// Finished: no further step may be taken.
    Closed,
}

impl RequestState {
    /// Every variant, in declaration order.
    pub const ALL: &'static [RequestState] = <RequestState as strum::VariantArray>::VARIANTS;

    /// As stored and as the API shows it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The state a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<RequestState> {
        name.parse().ok()
    }

    /// Whether records may still be preserved (legal holds placed) for a
    /// request in this state: before a decision, while they may yet be
    /// released.
    pub fn may_preserve(self) -> bool {
        matches!(self, RequestState::Received | RequestState::UnderReview)
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().replace('_', " "))
    }
}

impl Step {
    /// The states a request may be in for this step (none for `Record`,
    /// which makes the request).
    pub fn from_states(self) -> &'static [RequestState] {
        use RequestState::*;
        match self {
            Step::Record => &[],
            Step::AttachDocument => &[Received, UnderReview, Approved, Released],
            Step::BeginReview => &[Received],
            Step::CounselReview | Step::Approve | Step::ExigentRelease => &[UnderReview],
            Step::Refuse => &[Received, UnderReview, Approved],
            Step::Release => &[Approved],
            Step::Close => &[Received, UnderReview, Refused, Released],
        }
    }

    /// Whether this step may be taken from `state`.
    pub fn allowed_from(self, state: RequestState) -> bool {
        self.from_states().contains(&state)
    }

    /// The state the step leaves the request in (counsel's review and a
    /// document leave it where it was).
    pub fn leads_to(self, from: RequestState) -> RequestState {
        match self {
            Step::Record => RequestState::Received,
            Step::AttachDocument | Step::CounselReview => from,
            Step::BeginReview => RequestState::UnderReview,
            Step::Approve => RequestState::Approved,
            Step::Refuse => RequestState::Refused,
            Step::Release | Step::ExigentRelease => RequestState::Released,
            Step::Close => RequestState::Closed,
        }
    }
}

/// The whole `[disclosure]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRules {
    /// Roles that may record a request (and so refer it onwards).
    pub recorded_by: Vec<String>,
    /// Roles whose review counts as legal counsel's.
    pub counsel: Vec<String>,
    /// Roles alerted at once of law-enforcement requests and search warrants.
    pub alert: Vec<String>,
    /// Roles that see a request under a non-disclosure order, besides the
    /// staff member who took it and that person's supervisor (L6).
    pub gag_circle: Vec<String>,
    /// After an exigent release, days until the document is overdue (L3).
    pub exigent_document_days: u32,
    /// The lawful grounds for release, by name (`[disclosure.bases.<name>]`).
    pub bases: BTreeMap<String, Basis>,
}

impl DisclosureRules {
    /// The basis with this name, if the policy has one.
    pub fn basis(&self, name: &str) -> Option<&Basis> {
        self.bases.get(name)
    }

    /// May `role` take `step` on a request under `basis`? Visibility (gag
    /// orders) and the request's state are the store's to check.
    pub fn may(&self, role: &str, step: Step, basis: &Basis) -> bool {
        let listed = |roles: &[String]| roles.iter().any(|r| r == role);
        match step {
            Step::Record => listed(&self.recorded_by),
            Step::AttachDocument => listed(&self.recorded_by) || basis.decided_by(role),
            Step::CounselReview => listed(&self.counsel),
            Step::BeginReview | Step::Approve | Step::Refuse | Step::Release | Step::Close => {
                basis.decided_by(role)
            }
            Step::ExigentRelease => basis.exigent && basis.decided_by(role),
        }
    }

    /// Whether `role` sees requests under a non-disclosure order.
    pub fn in_gag_circle(&self, role: &str) -> bool {
        self.gag_circle.iter().any(|r| r == role)
    }

    /// Whether `role` is alerted at once of law-enforcement requests and search
    /// warrants.
    pub fn alerted(&self, role: &str) -> bool {
        self.alert.iter().any(|r| r == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basis(requires: Vec<Vec<DocumentKind>>) -> Basis {
        Basis {
            citation: "test".into(),
            description: "test".into(),
            requesters: vec![RequesterKind::LawEnforcement],
            requires,
            decided_by: vec!["director".into()],
            counsel_review: true,
            exigent: true,
            subject_is_minor: false,
            requester_is_guardian: false,
            reason_required: false,
            counsel_confirms: Vec::new(),
            channel: Channel::InPerson,
        }
    }

    #[test]
    fn l2_a_group_is_met_by_any_one_of_its_documents() {
        use DocumentKind::*;
        let b = basis(vec![vec![CourtOrder, SearchWarrant], vec![WrittenRequest]]);
        let presented: BTreeSet<_> = [Subpoena].into();
        let missing = b.missing(&presented);
        assert_eq!(missing.len(), 2);
        assert_eq!(
            describe_group(missing[0]),
            "a court order or a search warrant"
        );
        let presented: BTreeSet<_> = [SearchWarrant, WrittenRequest].into();
        assert!(b.missing(&presented).is_empty());
    }

    #[test]
    fn l1_only_deciders_approve_and_release_and_exigent_needs_the_basis_to_allow_it() {
        let mut b = basis(vec![]);
        let rules = DisclosureRules {
            recorded_by: vec!["clerk".into(), "director".into()],
            counsel: vec!["legal_counsel".into()],
            alert: vec!["director".into()],
            gag_circle: vec!["director".into()],
            exigent_document_days: 3,
            bases: BTreeMap::new(),
        };
        for step in [Step::Approve, Step::Release, Step::ExigentRelease] {
            assert!(rules.may("director", step, &b));
            assert!(!rules.may("clerk", step, &b));
            assert!(!rules.may("legal_counsel", step, &b));
        }
        assert!(rules.may("clerk", Step::Record, &b));
        assert!(rules.may("legal_counsel", Step::CounselReview, &b));
        assert!(!rules.may("director", Step::CounselReview, &b));
        b.exigent = false;
        assert!(!rules.may("director", Step::ExigentRelease, &b));
    }
}

#[cfg(test)]
mod life_tests {
    use super::{RequestState, Step};

    /// L1, L3, L7: the request's life as the table says it: every path
    /// from `received` ends in `closed`, release is reached only through
    /// approval (or an exigent release from review), nothing leaves
    /// `closed`, and a refused request is never released.
    #[test]
    fn l7_a_requests_life_is_one_table() {
        let steps_from = |state: RequestState| -> Vec<Step> {
            Step::ALL
                .iter()
                .copied()
                .filter(|s| s.allowed_from(state))
                .collect()
        };
        assert!(steps_from(RequestState::Closed).is_empty());
        let refused: Vec<Step> = steps_from(RequestState::Refused);
        assert_eq!(refused, vec![Step::Close]);
        for &state in RequestState::ALL {
            for step in steps_from(state) {
                let next = step.leads_to(state);
                if next == RequestState::Released && state != RequestState::Released {
                    assert!(
                        state == RequestState::Approved
                            || (state == RequestState::UnderReview && step == Step::ExigentRelease),
                        "{step} releases from {state}"
                    );
                }
            }
        }
        // Every state is reachable from `received`, and `closed` from every state but itself.
        let mut reached = vec![RequestState::Received];
        let mut frontier = vec![RequestState::Received];
        while let Some(state) = frontier.pop() {
            for step in steps_from(state) {
                let next = step.leads_to(state);
                if !reached.contains(&next) {
                    reached.push(next);
                    frontier.push(next);
                }
            }
        }
        assert_eq!(reached.len(), RequestState::ALL.len(), "{reached:?}");
        for &state in RequestState::ALL {
            assert_eq!(RequestState::from_name(state.name()), Some(state));
        }
        assert!(RequestState::Received.may_preserve() && !RequestState::Approved.may_preserve());
    }
}
