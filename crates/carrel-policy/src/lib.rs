//! # carrel-policy
//!
//! A library's privacy policy as data. This crate parses and validates a
//! policy file (`policies/*.toml`) into a [`Policy`], and answers the pure
//! questions the rest of Carrel asks of it: may this role do this action on
//! this record class for this purpose ([`Policy::decide`]), when is a loan
//! due, what does a late return cost.
//!
//! It does no I/O: no files, no database, no clock. That is what lets the
//! decisions be property-tested over every role, action and class.
//! It is not where access is *enforced*: that is the gate in `carrel-store`,
//! which calls [`Policy::decide`] and records the outcome.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod decide;
pub mod disclosure;
pub mod display;
pub mod lawful;
pub mod loans;
pub mod model;
pub mod notice;
pub mod parse;
pub mod retention;

/// The purposes Carrel's own operations state when they use a class. A
/// policy must allow each for its class (checked by `parse`), or the desk
/// could not work.
pub mod purpose {
    use crate::RecordClass;

    /// Keeping a patron's account: who they are and whether their card is
    /// valid.
    pub const ACCOUNT: &str = "account";
    /// Telling patrons about their account (overdues, holds, reminders), by
    /// the e-mail address they chose to give.
    pub const ACCOUNT_NOTICES: &str = "account_notices";
    /// Letting a patron use online services with card and PIN (their own
    /// account pages, a PIN change).
    pub const ONLINE_ACCESS: &str = "online_access";
    /// Lending items and knowing what is out, to whom, and until when.
    pub const CIRCULATION: &str = "circulation";
    /// Recording the fines and fees patrons owe and pay.
    pub const FINES: &str = "fines_and_fees";
    /// Managing the items in the library's collection.
    pub const COLLECTION: &str = "collection";
    /// Managing public computer sessions and remote database sign-ins.
    pub const ELECTRONIC_ACCESS: &str = "electronic_access";
    /// Providing interlibrary loan, home delivery and program registrations.
    pub const LIBRARY_SERVICES: &str = "library_services";
    /// Sending news of programs and events to patrons who subscribed to a list.
    pub const MAILING_LIST: &str = "mailing_list";
    /// Recording who used personal data, when and why, so privacy audits can be
    /// run.
    pub const ACCOUNTABILITY: &str = "accountability";
    /// Counting library use in anonymous totals, never who borrowed what.
    pub const STATISTICS: &str = "statistics";

    /// Every (class, purpose) pair Carrel's operations use.
    pub const USED: [(RecordClass, &str); 14] = [
        (RecordClass::Registration, ACCOUNT),
        (RecordClass::Registration, ACCOUNT_NOTICES),
        (RecordClass::Registration, ONLINE_ACCESS),
        (RecordClass::Circulation, CIRCULATION),
        (RecordClass::Fines, FINES),
        (RecordClass::Catalogue, COLLECTION),
        (RecordClass::Catalogue, CIRCULATION),
        (RecordClass::ElectronicAccess, ELECTRONIC_ACCESS),
        (RecordClass::InterlibraryLoan, LIBRARY_SERVICES),
        (RecordClass::HomeDelivery, LIBRARY_SERVICES),
        (RecordClass::ProgramRegistration, LIBRARY_SERVICES),
        (RecordClass::MailingList, MAILING_LIST),
        (RecordClass::Audit, ACCOUNTABILITY),
        (RecordClass::Statistics, STATISTICS),
    ];
}

pub use decide::{Decision, DenyReason};
pub use model::{
    Action, ClassSpec, Disposal, ExternalSite, FieldSpec, Library, LoanRules, PatronCategory,
    PatronRules, Period, Policy, RecordClass, RetentionClock, RetentionRule, Role, Statistics,
};
pub use parse::{library_name, parse, PolicyError, PolicyErrors};
pub use retention::LegalHoldRules;

/// A vocabulary's names, as an error message lists them: "a, b, c".
pub fn names_of<T>() -> String
where
    T: strum::VariantArray + Copy + Into<&'static str>,
{
    T::VARIANTS
        .iter()
        .map(|&variant| variant.into())
        .collect::<Vec<&str>>()
        .join(", ")
}

/// The names of every vocabulary, as policy files, the database and the
/// API hold them. Derived (strum), so a renamed variant would change a
/// stored name silently; this test is where that shows.
#[cfg(test)]
mod names {
    #[test]
    fn every_vocabulary_keeps_the_names_files_and_databases_hold() {
        for (variant, name) in [
            (crate::RecordClass::Registration, "registration"),
            (crate::RecordClass::Circulation, "circulation"),
            (crate::RecordClass::ElectronicAccess, "electronic_access"),
            (crate::RecordClass::InterlibraryLoan, "interlibrary_loan"),
            (crate::RecordClass::HomeDelivery, "home_delivery"),
            (
                crate::RecordClass::ProgramRegistration,
                "program_registration",
            ),
            (crate::RecordClass::MailingList, "mailing_list"),
            (crate::RecordClass::Fines, "fines"),
            (crate::RecordClass::Audit, "audit"),
            (crate::RecordClass::Catalogue, "catalogue"),
            (crate::RecordClass::Statistics, "statistics"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(crate::RecordClass::from_name(name), Some(variant));
        }
        assert_eq!(crate::RecordClass::ALL.len(), 11);
        for (variant, name) in [
            (crate::Action::Read, "read"),
            (crate::Action::Create, "create"),
            (crate::Action::Update, "update"),
            (crate::Action::Destroy, "destroy"),
            (crate::Action::Export, "export"),
            (crate::Action::Disclose, "disclose"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(crate::Action::from_name(name), Some(variant));
        }
        assert_eq!(crate::Action::ALL.len(), 6);
        for (variant, name) in [
            (crate::RetentionClock::AccountExpired, "account_expired"),
            (crate::RetentionClock::LoanReturned, "loan_returned"),
            (crate::RetentionClock::FineSettled, "fine_settled"),
            (
                crate::RetentionClock::IllClosedAndPaid,
                "ill_closed_and_paid",
            ),
            (
                crate::RetentionClock::DeliveryCompleted,
                "delivery_completed",
            ),
            (crate::RetentionClock::ProgramEnded, "program_ended"),
            (crate::RetentionClock::ListLastActive, "list_last_active"),
            (crate::RetentionClock::SessionEnded, "session_ended"),
            (crate::RetentionClock::EntryWritten, "entry_written"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(crate::RetentionClock::from_name(name), Some(variant));
        }
        assert_eq!(crate::RetentionClock::ALL.len(), 9);
        for (variant, name) in [
            (crate::disclosure::RequesterKind::Patron, "patron"),
            (crate::disclosure::RequesterKind::Guardian, "guardian"),
            (crate::disclosure::RequesterKind::ThirdParty, "third_party"),
            (
                crate::disclosure::RequesterKind::LawEnforcement,
                "law_enforcement",
            ),
            (crate::disclosure::RequesterKind::Library, "library"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(
                name.parse::<crate::disclosure::RequesterKind>().ok(),
                Some(variant)
            );
        }
        assert_eq!(
            <crate::disclosure::RequesterKind as strum::VariantArray>::VARIANTS.len(),
            5
        );
        for (variant, name) in [
            (
                crate::disclosure::DocumentKind::WrittenRequest,
                "written_request",
            ),
            (crate::disclosure::DocumentKind::PhotoId, "photo_id"),
            (crate::disclosure::DocumentKind::CardAndPin, "card_and_pin"),
            (
                crate::disclosure::DocumentKind::ProofOfGuardianship,
                "proof_of_guardianship",
            ),
            (crate::disclosure::DocumentKind::LibraryCard, "library_card"),
            (
                crate::disclosure::DocumentKind::WrittenConsent,
                "written_consent",
            ),
            (crate::disclosure::DocumentKind::Subpoena, "subpoena"),
            (
                crate::disclosure::DocumentKind::SearchWarrant,
                "search_warrant",
            ),
            (crate::disclosure::DocumentKind::CourtOrder, "court_order"),
            (
                crate::disclosure::DocumentKind::NationalSecurityLetter,
                "national_security_letter",
            ),
            (crate::disclosure::DocumentKind::FisaOrder, "fisa_order"),
            (
                crate::disclosure::DocumentKind::PreservationRequest,
                "preservation_request",
            ),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(
                name.parse::<crate::disclosure::DocumentKind>().ok(),
                Some(variant)
            );
        }
        assert_eq!(
            <crate::disclosure::DocumentKind as strum::VariantArray>::VARIANTS.len(),
            12
        );
        for (variant, name) in [
            (crate::disclosure::Channel::InPerson, "in_person"),
            (crate::disclosure::Channel::Online, "online"),
            (crate::disclosure::Channel::Both, "both"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(
                name.parse::<crate::disclosure::Channel>().ok(),
                Some(variant)
            );
        }
        assert_eq!(
            <crate::disclosure::Channel as strum::VariantArray>::VARIANTS.len(),
            3
        );
        for (variant, name) in [
            (
                crate::disclosure::CounselFinding::CompetentJurisdiction,
                "competent_jurisdiction",
            ),
            (crate::disclosure::CounselFinding::GoodCause, "good_cause"),
            (crate::disclosure::CounselFinding::ProperForm, "proper_form"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(
                name.parse::<crate::disclosure::CounselFinding>().ok(),
                Some(variant)
            );
        }
        assert_eq!(
            <crate::disclosure::CounselFinding as strum::VariantArray>::VARIANTS.len(),
            3
        );
        for (variant, name) in [
            (crate::disclosure::Step::Record, "record"),
            (crate::disclosure::Step::AttachDocument, "attach_document"),
            (crate::disclosure::Step::BeginReview, "begin_review"),
            (crate::disclosure::Step::CounselReview, "counsel_review"),
            (crate::disclosure::Step::Approve, "approve"),
            (crate::disclosure::Step::Refuse, "refuse"),
            (crate::disclosure::Step::Release, "release"),
            (crate::disclosure::Step::ExigentRelease, "exigent_release"),
            (crate::disclosure::Step::Close, "close"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(name.parse::<crate::disclosure::Step>().ok(), Some(variant));
        }
        assert_eq!(
            <crate::disclosure::Step as strum::VariantArray>::VARIANTS.len(),
            9
        );
        for (variant, name) in [
            (crate::disclosure::RequestState::Received, "received"),
            (crate::disclosure::RequestState::UnderReview, "under_review"),
            (crate::disclosure::RequestState::Approved, "approved"),
            (crate::disclosure::RequestState::Refused, "refused"),
            (crate::disclosure::RequestState::Released, "released"),
            (crate::disclosure::RequestState::Closed, "closed"),
        ] {
            assert_eq!(variant.name(), name);
            assert_eq!(
                name.parse::<crate::disclosure::RequestState>().ok(),
                Some(variant)
            );
        }
        assert_eq!(
            <crate::disclosure::RequestState as strum::VariantArray>::VARIANTS.len(),
            6
        );
    }
}
