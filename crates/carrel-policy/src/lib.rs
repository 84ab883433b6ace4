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

pub mod decide;
pub mod disclosure;
pub mod lawful;
pub mod loans;
pub mod model;
pub mod parse;
pub mod retention;

/// The purposes Carrel's own operations state when they use a class. A
/// policy must allow each for its class (checked by `parse`), or the desk
/// could not work.
pub mod purpose {
    use crate::RecordClass;

    pub const ACCOUNT: &str = "account";
    pub const CIRCULATION: &str = "circulation";
    pub const FINES: &str = "fines_and_fees";
    pub const COLLECTION: &str = "collection";
    pub const ELECTRONIC_ACCESS: &str = "electronic_access";
    pub const LIBRARY_SERVICES: &str = "library_services";
    pub const MAILING_LIST: &str = "mailing_list";
    pub const ACCOUNTABILITY: &str = "accountability";
    pub const STATISTICS: &str = "statistics";

    /// Every (class, purpose) pair Carrel's operations use.
    pub const USED: [(RecordClass, &str); 12] = [
        (RecordClass::Registration, ACCOUNT),
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
    Action, ClassSpec, Disposal, FieldSpec, Library, LoanRules, PatronCategory, Period, Policy,
    RecordClass, RetentionClock, RetentionRule, Role, Statistics,
};
pub use parse::{library_name, parse, PolicyError, PolicyErrors};
pub use retention::LegalHoldRules;
