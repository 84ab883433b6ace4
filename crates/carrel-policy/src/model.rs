//! The validated policy: what a library collects, why, for how long, and who
//! may do what with it. Values of these types exist only after
//! [`crate::parse`] has checked a policy file, so the rest of Carrel can rely
//! on every name in them being declared.

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;

use crate::disclosure::DisclosureRules;
use crate::retention::LegalHoldRules;

/// The kinds of record a library keeps (REQUIREMENTS N3), plus the audit
/// log, the catalogue and the statistics, which Carrel also governs through
/// the policy.
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
pub enum RecordClass {
    /// A patron's registration: the account itself, with card, category, expiry
    /// and the contact fields the library declares.
    Registration,
    /// Loans and holds: what a patron borrowed or asked for, and when.
    Circulation,
    /// Sessions on public computers and sign-ins to remote databases.
    ElectronicAccess,
    /// Requests to borrow items from other libraries for a patron.
    InterlibraryLoan,
    /// Deliveries of items to patrons at home: routes, visits and items.
    HomeDelivery,
    /// Patrons' sign-ups for library programs and events.
    ProgramRegistration,
    /// Patrons' subscriptions to opt-in mailing lists.
    MailingList,
    /// Fines and fees patrons owe, and what was paid or waived.
    Fines,
    /// The audit log: who used which record, how, why, and what was decided.
    Audit,
    /// Items in the collection. Holds no personal data, but who may add or
    /// change items is still a policy decision.
    Catalogue,
    /// The anonymous counts kept from destroyed records (D3). Hold no
    /// personal data, but reports still go only to the roles the policy
    /// names: every report read adds to what its reader can combine.
    Statistics,
}

impl RecordClass {
    /// Every variant, in declaration order.
    pub const ALL: &'static [RecordClass] = <RecordClass as strum::VariantArray>::VARIANTS;

    /// The class's name as policy files, the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The class a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<RecordClass> {
        name.parse().ok()
    }

    /// Fields Carrel itself stores for this class. A policy must declare each
    /// of them (with a purpose), otherwise Carrel would hold data the notice
    /// does not mention (N4). `true` marks the ones every library must
    /// declare; `false` ones are optional columns used only when declared.
    pub fn stored_fields(self) -> &'static [(&'static str, bool)] {
        match self {
            RecordClass::Registration => &[
                ("card_barcode", true),
                ("pin", true),
                ("category", true),
                ("expires_on", true),
                ("status", true),
                ("guardian", true),
                ("birth_date", false),
                ("email_consent", true),
                ("notices", true),
                ("corrections", true),
                ("block_reason", true),
            ],
            RecordClass::Circulation => &[
                ("patron", true),
                ("item", true),
                ("checked_out_at", true),
                ("due_at", true),
                ("returned_at", true),
                ("renewals", true),
                ("hold_placed_at", true),
                ("hold_status", true),
                ("borrower_category", true),
                ("borrower_age_band", true),
            ],
            RecordClass::Fines => &[
                ("patron", true),
                ("amount", true),
                ("reason", true),
                ("assessed_at", true),
                ("paid", true),
                ("waived", true),
                ("waive_reason", true),
            ],
            RecordClass::Catalogue => &[
                ("barcode", true),
                ("title", true),
                ("author", true),
                ("call_number", true),
                ("status", true),
                ("material_type", true),
            ],
            RecordClass::Statistics => &[
                ("record_class", true),
                ("month", true),
                ("dimensions", true),
                ("records", true),
                ("amount", true),
            ],
            RecordClass::Audit => &[
                ("at", true),
                ("staff", true),
                ("action", true),
                ("record_class", true),
                ("record_id", true),
                ("purpose", true),
                ("decision", true),
            ],
            RecordClass::ElectronicAccess => &[
                ("patron", true),
                ("terminal", true),
                ("started_at", true),
                ("ended_at", true),
            ],
            RecordClass::InterlibraryLoan => &[
                ("patron", true),
                ("lender", true),
                ("item", true),
                ("status", true),
                ("fees", true),
            ],
            RecordClass::HomeDelivery => &[
                ("patron", true),
                ("route", true),
                ("visits", true),
                ("items", true),
            ],
            RecordClass::ProgramRegistration => &[("patron", true), ("program", true)],
            RecordClass::MailingList => &[
                ("patron", true),
                ("list", true),
                ("last_active", true),
                ("consent", true),
            ],
        }
    }

    /// Whether `dispose = "anonymise"` means anything for this class:
    /// cutting the patron link and keeping the rest. Not for registrations
    /// (the record is the patron) or subscriptions (a subscription without
    /// a subscriber is nothing).
    pub fn can_anonymise(self) -> bool {
        !matches!(self, RecordClass::Registration | RecordClass::MailingList)
    }

    /// Whether the class holds records about patrons, which a legal hold
    /// can pin and a disclosure request can ask for: every class with a
    /// retention clock but the audit log.
    pub fn holds_patron_records(self) -> bool {
        self.retention_clock().is_some() && self != RecordClass::Audit
    }

    /// The event from which Carrel runs this class's retention clock. A
    /// policy's `retention.clock` must name it: Carrel knows when a loan is
    /// returned, not some other event a policy might invent. `None` for the
    /// catalogue and the statistics, which hold no personal data and are
    /// never purged.
    pub fn retention_clock(self) -> Option<RetentionClock> {
        match self {
            RecordClass::Registration => Some(RetentionClock::AccountExpired),
            RecordClass::Circulation => Some(RetentionClock::LoanReturned),
            RecordClass::ElectronicAccess => Some(RetentionClock::SessionEnded),
            RecordClass::InterlibraryLoan => Some(RetentionClock::IllClosedAndPaid),
            RecordClass::HomeDelivery => Some(RetentionClock::DeliveryCompleted),
            RecordClass::ProgramRegistration => Some(RetentionClock::ProgramEnded),
            RecordClass::MailingList => Some(RetentionClock::ListLastActive),
            RecordClass::Fines => Some(RetentionClock::FineSettled),
            RecordClass::Audit => Some(RetentionClock::EntryWritten),
            RecordClass::Catalogue | RecordClass::Statistics => None,
        }
    }

    /// Whether a policy may declare fields beyond [`Self::stored_fields`] for
    /// this class. Only registration has a place for them (library-chosen
    /// contact and identity fields such as name, address, phone, e-mail).
    pub fn accepts_extra_fields(self) -> bool {
        matches!(
            self,
            RecordClass::Registration
                | RecordClass::ElectronicAccess
                | RecordClass::InterlibraryLoan
                | RecordClass::HomeDelivery
                | RecordClass::ProgramRegistration
                | RecordClass::MailingList
        )
    }
}

impl fmt::Display for RecordClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a staff member does with a record.
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
pub enum Action {
    /// Viewing records.
    Read,
    /// Adding new records.
    Create,
    /// Changing existing records.
    Update,
    /// Destroying records: deleting them, or cutting their link to the patron.
    Destroy,
    /// Copying records out of Carrel in bulk, for example to a file.
    Export,
    /// Releasing records to someone outside the library, under a disclosure
    /// request.
    Disclose,
}

impl Action {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Action] = <Action as strum::VariantArray>::VARIANTS;

    /// The action's name as policy files, the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The action a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<Action> {
        name.parse().ok()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A length of time as a policy states it ("60 days", "6 months").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A number of days, counted in the library's time zone.
    Days(u32),
    /// A number of calendar months.
    Months(u32),
    /// A number of calendar years.
    Years(u32),
}

impl Period {
    /// Parses "60 days", "1 day", "6 months", "1 year".
    pub fn parse(text: &str) -> Result<Period, String> {
        let mut words = text.split_whitespace();
        let (Some(number), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "'{text}' is not a duration; write a whole number and a unit, like \"60 days\", \"6 months\" or \"1 year\""
            ));
        };
        let n: u32 = number.parse().map_err(|_| {
            format!("'{number}' is not a whole number of days, months or years (in '{text}')")
        })?;
        match unit {
            "day" | "days" => Ok(Period::Days(n)),
            "month" | "months" => Ok(Period::Months(n)),
            "year" | "years" => Ok(Period::Years(n)),
            other => Err(format!(
                "'{other}' is not a unit of time; use days, months or years (in '{text}')"
            )),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match self {
            Period::Days(n) => (n, "day"),
            Period::Months(n) => (n, "month"),
            Period::Years(n) => (n, "year"),
        };
        write!(f, "{n} {unit}{}", if *n == 1 { "" } else { "s" })
    }
}

/// The event from which a retention clock runs.
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
pub enum RetentionClock {
    /// The patron's card reached its expiry date.
    AccountExpired,
    /// A loan was returned (for a hold: the hold ended).
    LoanReturned,
    /// A fine was settled: paid or waived in full.
    FineSettled,
    /// An interlibrary loan request was closed, with its fees paid.
    IllClosedAndPaid,
    /// A home delivery was completed.
    DeliveryCompleted,
    /// The program a patron signed up for ended.
    ProgramEnded,
    /// A mailing list was last active.
    ListLastActive,
    /// A public computer or remote database session ended.
    SessionEnded,
    /// An audit log entry was written.
    EntryWritten,
}

impl RetentionClock {
    /// Every variant, in declaration order.
    pub const ALL: &'static [RetentionClock] = <RetentionClock as strum::VariantArray>::VARIANTS;

    /// The clock's name as policy files, the database and the API write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The clock a name stands for, or `None` if there is none.
    pub fn from_name(name: &str) -> Option<RetentionClock> {
        name.parse().ok()
    }
}

/// What destroying a record means for its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
pub enum Disposal {
    /// The record is deleted outright.
    Delete,
    /// The link to the patron is cut; the anonymous remainder is kept.
    Anonymise,
}

/// How long one class of records is kept, from which event, and what destroying
/// it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRule {
    /// The event the keeping period runs from (`clock` in the policy file).
    pub clock: RetentionClock,
    /// How long records are kept after that event (`keep`).
    pub keep: Period,
    /// Whether destroying a record deletes it or anonymises it (`dispose`).
    pub disposal: Disposal,
}

/// What the policy declares about one field of a class (`fields.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Whether the field is personal data about a patron (`personal`).
    pub personal: bool,
    /// Whether a record must give a value for the field (`required`).
    pub required: bool,
    /// Key into [`Policy::purposes`].
    pub purpose: String,
}

/// What the policy declares for one class of records: why it is used, what it
/// holds, how long it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSpec {
    /// What the class holds, in plain words (`description` in the policy file).
    pub description: String,
    /// Purposes for which records of this class may be used at all.
    pub purposes: Vec<String>,
    /// The fields the class holds, by name (`fields`).
    pub fields: BTreeMap<String, FieldSpec>,
    /// How long records are kept; `None` for a class without personal data,
    /// which is never purged.
    pub retention: Option<RetentionRule>,
}

impl ClassSpec {
    /// Whether any of the class's fields is personal data.
    pub fn holds_personal_data(&self) -> bool {
        self.fields.values().any(|f| f.personal)
    }
}

/// A staff role and what it may do to each class of records (`[roles.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Who holds the role, in the library's words (`description`).
    pub description: String,
    /// The actions the role is granted, by class (`may.<class>`).
    pub may: BTreeMap<RecordClass, Vec<Action>>,
    /// How the role's screens show registration fields before a reveal
    /// (`display.<field>`); a personal field not named is hidden (D6).
    pub display: BTreeMap<String, crate::display::Mask>,
}

impl Role {
    /// Whether the role is granted `action` on records of `class`.
    pub fn may(&self, action: Action, class: RecordClass) -> bool {
        self.may.get(&class).is_some_and(|a| a.contains(&action))
    }
}

/// Loan rules for one patron category (adult, juvenile, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronCategory {
    /// What the card category is, in plain words (`description`).
    pub description: String,
    /// Patrons of this category are minors: guardian rules apply.
    pub minor: bool,
    /// How many days a loan lasts, counted in the library's time zone
    /// (`loan_days`).
    pub loan_days: u32,
    /// How many times a loan may be renewed (`renewals`).
    pub renewals: u32,
    /// The most items a patron may have on loan at once (`max_items`).
    pub max_items: u32,
    /// The most holds a patron may have open at once (`max_holds`).
    pub max_holds: u32,
    /// The overdue fine per library day late, in cents; 0 means no overdue
    /// fines (`daily_fine_cents`).
    pub daily_fine_cents: i64,
    /// The most one late return can be fined, in cents (`max_fine_cents`).
    pub max_fine_cents: i64,
}

/// The library's lending rules (`[loans]`): when borrowing is blocked, and each
/// patron category's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanRules {
    /// A patron who owes this much or more may not borrow.
    pub block_at_owed_cents: i64,
    /// Each patron category's rules, by category name
    /// (`[loans.categories.<name>]`).
    pub categories: BTreeMap<String, PatronCategory>,
}

/// Which library the policy is for and which law binds it (`[library]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The library's name, which a database checks a policy against.
    pub name: String,
    /// Where the library is, as a country and state code such as `US-MO`.
    pub jurisdiction: String,
    /// The law on library records that the policy carries out.
    pub statute: String,
    /// The library's time zone, in which loan and retention days are counted.
    pub time_zone: Tz,
    /// The age, in years, at which a patron stops being a minor and a
    /// guardian's access ends.
    pub age_of_majority: u32,
    /// The library's own name for this version of its policy.
    pub version: String,
}

/// How anonymous statistics are reported (D3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statistics {
    /// Report cells counting fewer records than this are suppressed, so no
    /// one can be singled out. Default 5.
    pub min_cell: u32,
}

impl Default for Statistics {
    fn default() -> Self {
        Statistics { min_cell: 5 }
    }
}

/// A site the library links to but does not control (D8): links to it go
/// through the exit page, which says the library's protection ends there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSite {
    /// What the library calls it ("Licensed research databases").
    pub name: String,
    /// Where it is: an `https://` address.
    pub url: String,
}

/// What the policy promises patrons directly, and what they may do online
/// (`[patrons]`): how to complain, which registration details they may
/// correct online (held until staff verify them, A2), whether reading
/// history is offered (C1), and the sites the library links to (D8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronRules {
    /// How to question or complain about the library's handling of
    /// privacy, in the library's words (`complaints`).
    pub complaints: String,
    /// Registration fields a patron may submit corrections to online
    /// (`online_corrections`); each waits for staff to verify it.
    pub online_corrections: Vec<String>,
    /// Why the library does not keep reading history on request
    /// (`reading_history.why`): neither seed policy offers it, and Carrel
    /// keeps none.
    pub reading_history_not_offered: String,
    /// Sites the library links to but does not control
    /// (`external_sites`).
    pub external_sites: Vec<ExternalSite>,
}

/// A whole, validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Which library this is and which law binds it.
    pub library: Library,
    /// The reasons the library uses personal data, by name, each with its
    /// explanation for patrons (`[purposes]`).
    pub purposes: BTreeMap<String, String>,
    /// What the library keeps in each class of records, and for how long
    /// (`[classes]`).
    pub classes: BTreeMap<RecordClass, ClassSpec>,
    /// The staff roles, by name, and what each may do (`[roles]`).
    pub roles: BTreeMap<String, Role>,
    /// The lending rules (`[loans]`).
    pub loans: LoanRules,
    /// Who places legal holds and how long they last (`[legal_holds]`).
    pub legal_holds: LegalHoldRules,
    /// How anonymous statistics are reported (`[statistics]`, or the defaults).
    pub statistics: Statistics,
    /// Who may obtain records, on which legal bases, and which roles decide
    /// (`[disclosure]`).
    pub disclosure: DisclosureRules,
    /// What the policy promises patrons directly (`[patrons]`).
    pub patrons: PatronRules,
}

impl Policy {
    /// What the policy declares for a class of records, if it declares it.
    pub fn class(&self, class: RecordClass) -> Option<&ClassSpec> {
        self.classes.get(&class)
    }

    /// The loan rules of the patron category with this name, if there is one.
    pub fn category(&self, name: &str) -> Option<&PatronCategory> {
        self.loans.categories.get(name)
    }

    /// The declared spec of a field, if the policy declares it.
    pub fn field(&self, class: RecordClass, field: &str) -> Option<&FieldSpec> {
        self.classes.get(&class)?.fields.get(field)
    }
}
