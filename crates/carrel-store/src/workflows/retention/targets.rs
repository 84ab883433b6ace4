//! What the retention engine destroys, class by class: for each kind of
//! record, its table, the SQL for its clock event, the needs that keep it
//! past its time, what its anonymous statistics record, and what must be
//! unlinked before it goes. Adding a record class means adding a target
//! here; the engine in `mod.rs` is the same for all.

use carrel_policy::{Disposal, RecordClass};
use serde_json::{Map, Value as Json};

use crate::db::{Conn, Value};
use crate::error::Error;

/// A kind of record the retention engine destroys: its name is what
/// progress rows, legal-hold pins, records kept in secret and audit
/// subjects (`kind:id`) hold.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    strum::Display,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A patron's registration.
    Patron,
    /// A loan.
    Loan,
    /// A hold.
    Hold,
    /// A fine.
    Fine,
    /// An interlibrary-loan request.
    IllRequest,
    /// A home-delivery visit.
    Delivery,
    /// A registration for a program.
    ProgramRegistration,
    /// A computer session.
    ComputerSession,
    /// A subscription to a mailing list.
    ListSubscription,
    /// An entry of the audit log (its own purge, not a target's).
    AuditEntry,
}

impl RecordKind {
    /// The kind as stored (`loan`, `ill_request`, ...).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl<'a> From<RecordKind> for crate::db::Param<'a> {
    fn from(kind: RecordKind) -> Self {
        crate::db::Param::from(kind.name())
    }
}

/// How a target's clock event is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// Unix seconds; NULL while the clock has not started.
    Instant,
    /// The last valid day of a card, `YYYY-MM-DD`; the clock starts the day
    /// after.
    ExpiryDate,
}

impl Clock {
    /// The purge's scratch-table (`purge_step`) column for this clock.
    pub(crate) fn step_column(self) -> &'static str {
        match self {
            Clock::Instant => "event_at",
            Clock::ExpiryDate => "event_on",
        }
    }
}

/// Which anonymous statistics a target's records feed (D3) before they
/// go: never a patron id, a birth date or an address, only coarse facts
/// such as an item, a month, a patron category and an age band. What each
/// counts, and how, is in `statistics.rs` (`Stats::counting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stats {
    Loan,
    Hold,
    Fine,
    Ill,
    Delivery,
    ProgramRegistration,
    ComputerSession,
    Subscription,
    Registration,
}

#[derive(Debug)]
pub(crate) struct Target {
    pub class: RecordClass,
    /// Short name used in progress rows, legal-hold pins and audit ids.
    pub kind: RecordKind,
    /// Plural for people: "loans", "computer sessions".
    pub label: &'static str,
    pub table: &'static str,
    /// FROM clause; the target's own table is always `t`.
    pub from: &'static str,
    pub clock: Clock,
    /// SQL for the clock event.
    pub event: &'static str,
    /// SQL for when the record happened (legal-hold date ranges).
    pub occurred: &'static str,
    /// What "the clock has not started" means, for reports.
    pub in_use: &'static str,
    /// Reasons a record past its time is still kept, each a SQL condition
    /// true when it applies.
    pub needs: &'static [(&'static str, &'static str)],
    pub stats: Stats,
    /// Run before the records go, with `{in_step}` standing for `IN (the
    /// step's ids)`.
    pub before_destroy: &'static [&'static str],
    /// Run once when the class is done in a purge, with today's bound as
    /// its one parameter (an inactive mailing list left empty goes too).
    pub after_class: Option<&'static str>,
    /// Whether a batch must lock its rows (PostgreSQL `FOR UPDATE`): only
    /// where desk work can move the row's own clock back while a batch
    /// holds it (a card renewed). Elsewhere the clock, once started, never
    /// changes, and locking every row would cost a write per row.
    pub lock_rows: bool,
    /// What a disclosure package shows of one record, as (name, SQL) pairs:
    /// the record's own facts and, for an item or a program, its title,
    /// never another patron's data. Empty for registrations, which the
    /// package takes whole from `patrons`.
    pub export: &'static [(&'static str, &'static str)],
}

impl Target {
    /// SQL naming a record's patron, for the target's table `t`.
    pub(crate) fn patron_column(&self) -> &'static str {
        if self.table == "patrons" {
            "t.id"
        } else {
            "t.patron_id"
        }
    }

    /// A record's facts as a disclosure package shows them, by name, from
    /// the values of its `export` columns (in that order).
    pub(crate) fn facts(&self, values: &[Value]) -> Map<String, Json> {
        self.export
            .iter()
            .zip(values)
            .map(|((name, _), value)| {
                let value = match value {
                    Value::Null => Json::Null,
                    Value::Int(n) => Json::from(*n),
                    Value::Text(text) => Json::from(text.as_str()),
                };
                ((*name).to_string(), value)
            })
            .collect()
    }

    /// Leaves the records `ids` picks (SQL after `id`, no parameters) as
    /// `disposal` says: unlinks what points at them (`before_destroy`),
    /// then deletes them or, for an anonymised class, unlinks their
    /// patron. The one way a record goes, whether a purge destroys it or
    /// sets it aside in secret.
    pub(crate) fn dispose(
        &self,
        conn: &mut Conn<'_>,
        disposal: Disposal,
        ids: &str,
    ) -> Result<(), Error> {
        for statement in self.before_destroy {
            conn.batch(&statement.replace("{in_step}", ids))?;
        }
        match disposal {
            Disposal::Delete => conn.batch(&format!("DELETE FROM {} WHERE id {ids}", self.table)),
            Disposal::Anonymise => conn.batch(&format!(
                "UPDATE {} SET patron_id = NULL WHERE id {ids}",
                self.table
            )),
        }
    }
}

/// A loan with a fine goes no sooner than its fine. Until the fine is
/// paid, the loan is still needed; once paid, the fine is kept a while
/// (a disputed payment, "I brought it back on time", is about the loan),
/// and the loan with it: destroyed first, it would leave the fine saying
/// on its own that this patron returned something late at that minute,
/// which whatever else recorded the item's return that minute would
/// complete (D1). A fine only a restricted case keeps has left its table
/// (see `kept_in_secret.rs`), and keeps nothing.
const LOAN_NEEDS: &[(&str, &str)] = &[
    (
        "unpaid fine",
        "EXISTS (SELECT 1 FROM fines f WHERE f.loan_id = t.id AND f.settled_at IS NULL)",
    ),
    // A fine this purge destroys first (past its time, and no hold of an
    // ordinary request keeps it; a restricted case's hold sets it aside)
    // keeps nothing, so a dry run counts its loan as due too.
    // `{fines_due_before}` and `{now}` are filled in by `need_sql`.
    (
        "its paid fine is kept",
        "EXISTS (SELECT 1 FROM fines f WHERE f.loan_id = t.id AND f.settled_at IS NOT NULL
           AND (f.settled_at >= {fines_due_before} OR EXISTS (
             SELECT 1 FROM legal_hold_records pin JOIN legal_holds h ON h.id = pin.hold_id
             WHERE pin.record_kind = 'fine' AND pin.record_id = f.id
               AND h.released_at IS NULL AND h.expires_at > {now}
               AND NOT EXISTS (SELECT 1 FROM disclosure_requests r WHERE r.id = h.disclosure_id AND r.gagged = 1))))",
    ),
];

const PATRON_NEEDS: &[(&str, &str)] = &[
    (
        "items out",
        "EXISTS (SELECT 1 FROM loans x WHERE x.patron_id = t.id AND x.returned_at IS NULL)",
    ),
    (
        "money owed",
        "(EXISTS (SELECT 1 FROM fines x WHERE x.patron_id = t.id AND x.settled_at IS NULL) OR EXISTS (SELECT 1 FROM ill_requests x WHERE x.patron_id = t.id AND x.closed_at IS NULL))",
    ),
    // The registration's purge deletes its subscriptions with it; one a
    // hold of an ordinary request pins keeps them both. One pinned only by
    // restricted cases' holds is set aside instead (L6; see
    // `kept_in_secret::set_aside_subscriptions_of`).
    (
        "subscription under a legal hold",
        "EXISTS (SELECT 1 FROM list_subscriptions x
           JOIN legal_hold_records pin ON pin.record_kind = 'list_subscription' AND pin.record_id = x.id
           JOIN legal_holds h ON h.id = pin.hold_id
           WHERE x.patron_id = t.id AND h.released_at IS NULL AND h.expires_at > {now}
             AND NOT EXISTS (SELECT 1 FROM disclosure_requests r WHERE r.id = h.disclosure_id AND r.gagged = 1))",
    ),
    (
        "guardian of a linked account",
        "EXISTS (SELECT 1 FROM patrons x WHERE x.guardian_id = t.id)",
    ),
    (
        "records of other classes still kept",
        "(EXISTS (SELECT 1 FROM loans x WHERE x.patron_id = t.id) OR EXISTS (SELECT 1 FROM holds x WHERE x.patron_id = t.id) OR EXISTS (SELECT 1 FROM fines x WHERE x.patron_id = t.id) OR EXISTS (SELECT 1 FROM ill_requests x WHERE x.patron_id = t.id) OR EXISTS (SELECT 1 FROM deliveries x WHERE x.patron_id = t.id) OR EXISTS (SELECT 1 FROM program_registrations x WHERE x.patron_id = t.id) OR EXISTS (SELECT 1 FROM computer_sessions x WHERE x.patron_id = t.id))",
    ),
];

/// Every target, in the order a purge runs them: records that point at a
/// patron first, the patron's registration last, so statistics can still
/// read a borrower's category and age band when their loans go; fines
/// before loans, so a loan whose fine goes (see `LOAN_NEEDS`) goes in the
/// same purge.
pub(crate) const TARGETS: &[Target] = &[
    Target {
        class: RecordClass::Fines,
        kind: RecordKind::Fine,
        label: "fines",
        table: "fines",
        from: "fines t LEFT JOIN patrons pt ON pt.id = t.patron_id",
        clock: Clock::Instant,
        event: "t.settled_at",
        occurred: "t.assessed_at",
        in_use: "not settled",
        needs: &[],
        stats: Stats::Fine,
        before_destroy: &[],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("amount_cents", "t.amount_cents"),
            ("reason", "t.reason"),
            ("assessed_at", "t.assessed_at"),
            ("paid_cents", "t.paid_cents"),
            ("waived_cents", "t.waived_cents"),
            ("settled_at", "t.settled_at"),
        ],
    },
    Target {
        class: RecordClass::Circulation,
        kind: RecordKind::Loan,
        label: "loans",
        table: "loans",
        from: "loans t",
        clock: Clock::Instant,
        event: "t.returned_at",
        occurred: "t.checked_out_at",
        in_use: "item not returned",
        needs: LOAN_NEEDS,
        stats: Stats::Loan,
        // No fine is left to point at it (see LOAN_NEEDS) but one a
        // restricted case keeps; fines.loan_id is ON DELETE SET NULL.
        before_destroy: &[],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("item_barcode", "(SELECT i.barcode FROM items i WHERE i.id = t.item_id)"),
            ("title", "(SELECT i.title FROM items i WHERE i.id = t.item_id)"),
            ("checked_out_at", "t.checked_out_at"),
            ("due_at", "t.due_at"),
            ("returned_at", "t.returned_at"),
            ("renewals", "t.renewals"),
        ],
    },
    Target {
        class: RecordClass::Circulation,
        kind: RecordKind::Hold,
        label: "holds",
        table: "holds",
        from: "holds t",
        clock: Clock::Instant,
        event: "t.closed_at",
        occurred: "t.placed_at",
        in_use: "hold still waiting",
        needs: &[],
        stats: Stats::Hold,
        before_destroy: &[],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("item_barcode", "(SELECT i.barcode FROM items i WHERE i.id = t.item_id)"),
            ("title", "(SELECT i.title FROM items i WHERE i.id = t.item_id)"),
            ("placed_at", "t.placed_at"),
            ("status", "t.status"),
            ("closed_at", "t.closed_at"),
        ],
    },
    Target {
        class: RecordClass::InterlibraryLoan,
        kind: RecordKind::IllRequest,
        label: "interlibrary loan requests",
        table: "ill_requests",
        from: "ill_requests t",
        clock: Clock::Instant,
        event: "t.closed_at",
        occurred: "t.requested_at",
        in_use: "open or fees unpaid",
        needs: &[],
        stats: Stats::Ill,
        before_destroy: &[],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("lender", "t.lender"),
            ("title", "t.title"),
            ("status", "t.status"),
            ("fees_cents", "t.fees_cents"),
            ("fees_paid_cents", "t.fees_paid_cents"),
            ("requested_at", "t.requested_at"),
            ("closed_at", "t.closed_at"),
        ],
    },
    Target {
        class: RecordClass::HomeDelivery,
        kind: RecordKind::Delivery,
        label: "deliveries",
        table: "deliveries",
        from: "deliveries t",
        clock: Clock::Instant,
        event: "t.completed_at",
        occurred: "t.created_at",
        in_use: "visit not completed",
        needs: &[],
        stats: Stats::Delivery,
        before_destroy: &["DELETE FROM delivery_items WHERE delivery_id {in_step}"],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("route", "t.route"),
            ("scheduled_on", "t.scheduled_on"),
            ("created_at", "t.created_at"),
            ("completed_at", "t.completed_at"),
        ],
    },
    Target {
        class: RecordClass::ProgramRegistration,
        kind: RecordKind::ProgramRegistration,
        label: "program registrations",
        table: "program_registrations",
        from: "program_registrations t JOIN programs p ON p.id = t.program_id",
        clock: Clock::Instant,
        event: "p.ends_at",
        occurred: "t.registered_at",
        in_use: "program not ended",
        needs: &[],
        stats: Stats::ProgramRegistration,
        before_destroy: &[],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("program", "(SELECT p.title FROM programs p WHERE p.id = t.program_id)"),
            ("registered_at", "t.registered_at"),
        ],
    },
    Target {
        class: RecordClass::ElectronicAccess,
        kind: RecordKind::ComputerSession,
        label: "computer sessions",
        table: "computer_sessions",
        from: "computer_sessions t",
        clock: Clock::Instant,
        event: "t.ended_at",
        occurred: "t.started_at",
        in_use: "session in progress",
        needs: &[],
        stats: Stats::ComputerSession,
        before_destroy: &[],
        after_class: None,
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("terminal", "t.terminal"),
            ("started_at", "t.started_at"),
            ("ended_at", "t.ended_at"),
        ],
    },
    Target {
        class: RecordClass::MailingList,
        kind: RecordKind::ListSubscription,
        label: "mailing list subscriptions",
        table: "list_subscriptions",
        from: "list_subscriptions t JOIN mailing_lists l ON l.id = t.list_id",
        clock: Clock::Instant,
        event: "l.last_active_at",
        occurred: "t.subscribed_at",
        in_use: "list active",
        needs: &[],
        stats: Stats::Subscription,
        before_destroy: &[],
        after_class: Some(
            "DELETE FROM mailing_lists WHERE last_active_at < ?
             AND NOT EXISTS (SELECT 1 FROM list_subscriptions s WHERE s.list_id = mailing_lists.id)",
        ),
        lock_rows: false,
        export: &[
            ("id", "t.id"),
            ("list", "(SELECT m.name FROM mailing_lists m WHERE m.id = t.list_id)"),
            ("subscribed_at", "t.subscribed_at"),
            // The sign-up is a consent (C1): when it was last given, under
            // which version of the notice.
            ("consent_given_at", "t.consent_at"),
            ("consent_policy_version", "t.consent_policy_version"),
        ],
    },
    Target {
        class: RecordClass::Registration,
        kind: RecordKind::Patron,
        label: "patron registrations",
        table: "patrons",
        from: "patrons t",
        clock: Clock::ExpiryDate,
        event: "t.expires_on",
        occurred: "t.created_at",
        in_use: "card valid",
        needs: PATRON_NEEDS,
        stats: Stats::Registration,
        before_destroy: &[
            // However the registrations were made, their ids are never
            // given again (patrons::new_patron_id).
            // (`last_id` read from the row being updated, as in
            // `patrons::new_patron_id`: on PostgreSQL a subquery would read
            // an older snapshot while a registration holds the row.)
            "UPDATE patron_id_high_water SET last_id = CASE
               WHEN last_id >= (SELECT COALESCE(MAX(id), 0) FROM patrons WHERE id {in_step}) THEN last_id
               ELSE (SELECT COALESCE(MAX(id), 0) FROM patrons WHERE id {in_step}) END
             WHERE id = 1",
            "DELETE FROM list_subscriptions WHERE patron_id {in_step}",
            "DELETE FROM patron_fields WHERE patron_id {in_step}",
            "DELETE FROM corrections WHERE patron_id {in_step}",
            "UPDATE legal_holds SET patron_id = NULL WHERE patron_id {in_step}",
            // (A restricted request whose holds keep records of the
            // patron in secret still finds the patron through them: see
            // `disclosures::COLUMNS`.)
            "UPDATE disclosure_requests SET subject_patron_id = NULL WHERE subject_patron_id {in_step}",
            "UPDATE disclosure_requests SET requester_patron_id = NULL WHERE requester_patron_id {in_step}",
            "DELETE FROM patron_sessions WHERE patron_id {in_step}",
            "DELETE FROM known_devices WHERE patron_id {in_step}",
            "DELETE FROM failed_attempts WHERE account_kind = 'patron' AND account_id {in_step}",
        ],
        after_class: None,
        lock_rows: true,
        export: &[],
    },
];

/// The targets of one class.
pub(crate) fn of_class(class: RecordClass) -> impl Iterator<Item = &'static Target> {
    TARGETS.iter().filter(move |t| t.class == class)
}

/// The classes with targets, in the order a purge runs them.
pub(crate) fn classes_in_order() -> Vec<RecordClass> {
    let mut classes: Vec<RecordClass> = Vec::new();
    for target in TARGETS {
        if !classes.contains(&target.class) {
            classes.push(target.class);
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names databases hold (progress rows, legal-hold pins, records
    /// kept in secret, audit subjects) are pinned: renaming a variant must
    /// not silently orphan stored rows.
    #[test]
    fn record_kind_names_are_what_databases_hold() {
        let names: Vec<&str> = <RecordKind as strum::VariantArray>::VARIANTS
            .iter()
            .map(|kind| kind.name())
            .collect();
        assert_eq!(
            names,
            [
                "patron",
                "loan",
                "hold",
                "fine",
                "ill_request",
                "delivery",
                "program_registration",
                "computer_session",
                "list_subscription",
                "audit_entry"
            ]
        );
        for kind in <RecordKind as strum::VariantArray>::VARIANTS {
            assert_eq!(kind.name().parse::<RecordKind>().ok(), Some(*kind));
        }
    }

    /// Every target is one kind of record, and every kind but the audit
    /// log's own entries (purged apart) has its target.
    #[test]
    fn each_record_kind_has_one_target() {
        for kind in <RecordKind as strum::VariantArray>::VARIANTS {
            let targets = TARGETS.iter().filter(|t| t.kind == *kind).count();
            let expected = usize::from(*kind != RecordKind::AuditEntry);
            assert_eq!(targets, expected, "{kind}");
        }
    }
}
