//! # The gate
//!
//! Every access to personal data is decided here, and nowhere else. The gate
//! asks the policy whether this staff member's role may do this action on
//! this class of record for this purpose ([`carrel_policy::Policy::decide`]),
//! and answers with a [`Grant`] or a denial. Both are written to the audit
//! log (a grant when it is used, a denial at once, even though the request
//! fails).
//!
//! The store's functions that read or write personal data take a `&Grant`
//! of the right action and class: `patrons::load` wants a
//! `Grant<Read, Registration>`. A `Grant` has private fields and no public
//! constructor, so outside this module the only way to hold one is to have
//! asked [`authorize`]. A handler that skips the gate does not compile.
//!
//! Who is allowed, and who is not:
//! - a signed-in staff member ([`Actor`], made only by `staff::authenticate`
//!   from a live session), within the role table of the policy;
//! - Carrel itself for its own tasks (`system:demo`), only inside this crate;
//! - nobody else: there is no anonymous or "superuser" grant.

use std::marker::PhantomData;

use carrel_policy::{Action, Decision, RecordClass};

use crate::audit::{Anchor, AuditAction, AuditClass, Outcome, PendingEntry};
use crate::error::Error;
use crate::principal::{Principal, SystemTask};
use crate::Tx;

/// An action, as a type, so a grant's action is checked by the compiler.
pub trait ActionKind {
    /// The policy's action this type stands for.
    const ACTION: Action;
}

/// A record class, as a type.
pub trait ClassKind {
    /// The policy's record class this type stands for.
    const CLASS: RecordClass;
}

macro_rules! action_markers {
    ($($name:ident => $value:expr),+ $(,)?) => {
        $(
            /// An action as a type, the `A` of a [`Grant<A, C>`]; its
            /// [`ActionKind::ACTION`] is the policy's action.
            #[derive(Debug)]
            pub struct $name;
            impl ActionKind for $name {
                const ACTION: Action = $value;
            }
        )+
    };
}

macro_rules! class_markers {
    ($($name:ident => $value:expr),+ $(,)?) => {
        $(
            /// A record class as a type, the `C` of a [`Grant<A, C>`]; its
            /// [`ClassKind::CLASS`] is the policy's class.
            #[derive(Debug)]
            pub struct $name;
            impl ClassKind for $name {
                const CLASS: RecordClass = $value;
            }
        )+
    };
}

action_markers! {
    Read => Action::Read,
    Create => Action::Create,
    Update => Action::Update,
    Destroy => Action::Destroy,
    Export => Action::Export,
    Disclose => Action::Disclose,
}

class_markers! {
    Registration => RecordClass::Registration,
    Circulation => RecordClass::Circulation,
    Fines => RecordClass::Fines,
    Catalogue => RecordClass::Catalogue,
    AuditLog => RecordClass::Audit,
    ElectronicAccess => RecordClass::ElectronicAccess,
    InterlibraryLoan => RecordClass::InterlibraryLoan,
    HomeDelivery => RecordClass::HomeDelivery,
    ProgramRegistration => RecordClass::ProgramRegistration,
    MailingList => RecordClass::MailingList,
    Statistics => RecordClass::Statistics,
}

/// A signed-in staff member. Made only from a live session
/// (`staff::authenticate`), so the role cannot be claimed, only proven.
#[derive(Debug, Clone)]
pub struct Actor {
    staff_id: i64,
    role: String,
}

impl Actor {
    pub(crate) fn staff(staff_id: i64, role: String) -> Actor {
        Actor { staff_id, role }
    }

    /// The staff member's account id.
    pub fn staff_id(&self) -> i64 {
        self.staff_id
    }

    /// The role the staff member's account holds, as the policy's role table
    /// names it.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Who this is, to the audit log.
    pub fn principal(&self) -> Principal {
        Principal::Staff(self.staff_id)
    }
}

/// Permission to do action `A` on records of class `C`, for one purpose,
/// within one transaction. Only [`authorize`] makes one.
#[derive(Debug)]
pub struct Grant<A: ActionKind, C: ClassKind> {
    who: Principal,
    purpose: String,
    _kind: PhantomData<fn() -> (A, C)>,
}

impl<A: ActionKind, C: ClassKind> Grant<A, C> {
    /// The purpose the grant was asked for, recorded in every audit entry
    /// the grant writes.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// Notes in the audit log that this grant was used on `record_id`
    /// (an opaque `kind:id`) or, with `None`, on the class as a whole.
    pub(crate) fn record(
        &self,
        tx: &mut Tx<'_>,
        record_id: Option<String>,
        detail: Option<String>,
    ) {
        let entry = PendingEntry::new(
            tx,
            self.who,
            Outcome::Granted,
            AuditAction::Policy(A::ACTION),
            AuditClass::Policy(C::CLASS),
            self.purpose.as_str(),
        )
        .on(record_id)
        .saying(detail);
        tx.queue_audit(entry);
    }

    /// The staff member the grant was given to, if it was given to staff.
    pub(crate) fn staff_id(&self) -> Option<i64> {
        match self.who {
            Principal::Staff(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the grant was given to patron `patron_id` themself (online,
    /// for their own records), who may see all of their own record.
    pub(crate) fn is_the_patron(&self, patron_id: i64) -> bool {
        self.who == Principal::Patron(patron_id)
    }

    /// [`Self::record`] for one record.
    pub(crate) fn used_on(&self, tx: &mut Tx<'_>, kind: impl Into<SubjectKind>, id: i64) {
        let kind = kind.into().name();
        self.record(tx, Some(format!("{kind}:{id}")), None);
    }
}

/// The kind of record a grant's use names in the audit log (`kind:id`):
/// one the retention purge destroys, or the collection's, which it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubjectKind {
    /// A record of a patron's, which the purge destroys in time.
    Record(crate::retention::RecordKind),
    /// An item of the collection.
    Item,
    /// A program (story time, a class).
    Program,
    /// A mailing list.
    MailingList,
}

impl SubjectKind {
    /// The kind as audit entries name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SubjectKind::Record(kind) => kind.name(),
            SubjectKind::Item => "item",
            SubjectKind::Program => "program",
            SubjectKind::MailingList => "mailing_list",
        }
    }
}

impl From<crate::retention::RecordKind> for SubjectKind {
    fn from(kind: crate::retention::RecordKind) -> Self {
        SubjectKind::Record(kind)
    }
}

/// What the audit log and the logs say for a "purpose" that is not one of
/// the policy's: the text itself is a client's, and may carry a name.
pub const UNDECLARED_PURPOSE: &str = "(not a purpose of the policy)";

/// `purpose` as it may be recorded: one of the policy's purposes, or
/// [`UNDECLARED_PURPOSE`].
fn recordable<'a>(tx: &Tx<'_>, purpose: &'a str) -> &'a str {
    if tx.policy().purposes.contains_key(purpose) {
        purpose
    } else {
        UNDECLARED_PURPOSE
    }
}

/// Asks the policy. A denial becomes [`Error::Denied`], which the store
/// writes to the audit log after rolling the transaction back.
pub fn authorize<A: ActionKind, C: ClassKind>(
    tx: &mut Tx<'_>,
    actor: &Actor,
    purpose: &str,
) -> Result<Grant<A, C>, Error> {
    if !tx.policy().purposes.contains_key(purpose) {
        let reason = carrel_policy::DenyReason::Unlawful {
            code: "undeclared_purpose",
            message:
                "that is not one of the purposes the library's policy declares; state one of them"
                    .into(),
        };
        tracing::info!(
            staff = actor.staff_id,
            action = A::ACTION.name(),
            class = C::CLASS.name(),
            "access refused: not a purpose of the policy"
        );
        return Err(denied::<A, C>(tx, actor.principal(), purpose, reason));
    }
    match tx
        .policy()
        .decide(&actor.role, A::ACTION, C::CLASS, purpose)
    {
        Decision::Allow => Ok(Grant {
            who: actor.principal(),
            purpose: purpose.to_string(),
            _kind: PhantomData,
        }),
        Decision::Deny(reason) => {
            tracing::info!(
                staff = actor.staff_id,
                action = A::ACTION.name(),
                class = C::CLASS.name(),
                purpose,
                "access denied by policy"
            );
            Err(denied::<A, C>(tx, actor.principal(), purpose, reason))
        }
    }
}

/// A refusal of action `A` on class `C`, with the audit entry the store
/// writes after rolling the transaction back.
fn denied<A: ActionKind, C: ClassKind>(
    tx: &Tx<'_>,
    who: Principal,
    purpose: &str,
    reason: carrel_policy::DenyReason,
) -> Error {
    let entry = PendingEntry::new(
        tx,
        who,
        Outcome::Denied,
        AuditAction::Policy(A::ACTION),
        AuditClass::Policy(C::CLASS),
        recordable(tx, purpose),
    )
    .saying(Some(reason.to_string()));
    Error::Denied {
        reason,
        entry: Box::new(entry),
    }
}

/// Whether the policy declares `purpose` for class `C`.
fn purpose_declared<C: ClassKind>(tx: &Tx<'_>, purpose: &str) -> bool {
    tx.policy()
        .class(C::CLASS)
        .is_some_and(|c| c.purposes.iter().any(|p| p == purpose))
}

/// A grant for one of Carrel's own tasks (generating the demo library).
/// Crate-private: no handler can ask for it. The class must still be one the
/// policy declares, and the purpose one it allows for that class.
pub(crate) fn authorize_system<A: ActionKind, C: ClassKind>(
    tx: &mut Tx<'_>,
    task: SystemTask,
    purpose: &str,
) -> Result<Grant<A, C>, Error> {
    if !purpose_declared::<C>(tx, purpose) {
        return Err(Error::refused(
            "purpose_not_declared",
            format!(
                "the policy does not allow class '{}' to be used for '{purpose}'",
                C::CLASS
            ),
        ));
    }
    Ok(Grant {
        who: Principal::System(task),
        purpose: purpose.to_string(),
        _kind: PhantomData,
    })
}

/// Permission to place, renew and release legal holds (L5). Only the roles
/// the policy's `[legal_holds]` names get one; a refusal is audited like any
/// other denial.
#[derive(Debug)]
pub struct HoldGrant {
    who: Principal,
}

/// Asks the policy whether this staff member may manage legal holds.
pub fn authorize_legal_hold(tx: &mut Tx<'_>, actor: &Actor) -> Result<HoldGrant, Error> {
    if tx.policy().legal_holds.may_place(&actor.role) {
        return Ok(HoldGrant {
            who: actor.principal(),
        });
    }
    let reason = carrel_policy::DenyReason::NotALegalHoldRole {
        role: actor.role.clone(),
    };
    let entry = PendingEntry::new(
        tx,
        actor.principal(),
        Outcome::Denied,
        AuditAction::LegalHold,
        AuditClass::LegalHold,
        LEGAL_HOLD_ACTION,
    )
    .saying(Some(reason.to_string()));
    Err(Error::Denied {
        reason,
        entry: Box::new(entry),
    })
}

/// The audit action (and purpose) of legal-hold entries: preserving records
/// for legal process is neither a read nor an ordinary update.
pub const LEGAL_HOLD_ACTION: &str = "legal_hold";

impl HoldGrant {
    /// Notes that the list of holds (which names patrons) was read.
    pub(crate) fn record_list(&self, tx: &mut Tx<'_>, count: usize) {
        let entry = PendingEntry::new(
            tx,
            self.who,
            Outcome::Granted,
            AuditAction::Policy(Action::Read),
            AuditClass::LegalHold,
            LEGAL_HOLD_ACTION,
        )
        .saying(Some(format!("{count} legal holds listed")));
        tx.queue_audit(entry);
    }

    pub(crate) fn record(&self, tx: &mut Tx<'_>, class: RecordClass, hold_id: i64, detail: String) {
        let entry = PendingEntry::new(
            tx,
            self.who,
            Outcome::Granted,
            AuditAction::LegalHold,
            AuditClass::Policy(class),
            LEGAL_HOLD_ACTION,
        )
        .on(Some(format!("legal_hold:{hold_id}")))
        .saying(Some(detail));
        tx.queue_audit(entry);
    }
}

/// Carrel's retention task destroying records of one class on the policy's
/// schedule (`system:retention`). Crate-private: no handler can make one,
/// and it destroys only what the retention engine selects as due.
pub(crate) struct RetentionGrant {
    class: RecordClass,
}

impl RetentionGrant {
    pub(crate) fn new(class: RecordClass) -> RetentionGrant {
        RetentionGrant { class }
    }

    /// One entry per class per purge, with counts: never one per person.
    pub(crate) fn record(&self, tx: &mut Tx<'_>, detail: String) {
        let entry = self.entry(tx, detail);
        tx.queue_audit(entry);
    }

    /// The purge's entry for the audit log itself, recording the log's
    /// new floor.
    pub(crate) fn record_floor(&self, tx: &mut Tx<'_>, detail: String, floor: Anchor) {
        let entry = self.entry(tx, detail).moving_floor_to(floor);
        tx.queue_audit(entry);
    }

    fn entry(&self, tx: &Tx<'_>, detail: String) -> PendingEntry {
        PendingEntry::new(
            tx,
            Principal::System(SystemTask::Retention),
            Outcome::Granted,
            AuditAction::Policy(Action::Destroy),
            AuditClass::Policy(self.class),
            "retention",
        )
        .saying(Some(detail))
    }
}

/// A patron signed in with their card barcode and PIN (C2). Made only by
/// `patron_sessions::authenticate` from a live session. It reaches nothing
/// but the patron's own records, and a minor's where the policy lets a
/// guardian see them online (R2, R3).
#[derive(Debug, Clone)]
pub struct PatronActor {
    patron_id: i64,
}

impl PatronActor {
    pub(crate) fn new(patron_id: i64) -> PatronActor {
        PatronActor { patron_id }
    }

    /// The signed-in patron's record id.
    pub fn patron_id(&self) -> i64 {
        self.patron_id
    }

    /// Who this is, to the audit log.
    pub fn principal(&self) -> Principal {
        Principal::Patron(self.patron_id)
    }
}

/// What a patron signed in online may do to their own records (A1), by
/// class: see every class that holds patron records; renew loans, place
/// and cancel holds; change their own PIN and e-mail address (C3); join
/// and leave mailing lists (C4); propose corrections (A2). Anything
/// else (other registration details, which wait for staff to verify them,
/// paying a fine) is the desk's. Carrel's table, not the policy's: the policy's
/// roles are staff roles, and both seed policies give patrons access to
/// their own records ("Individuals are entitled to view the personal
/// information in their library accounts online").
fn patron_may(action: Action, class: RecordClass) -> bool {
    match action {
        // The catalogue holds no one's data: a patron placing a hold reads
        // the item.
        Action::Read => class.holds_patron_records() || class == RecordClass::Catalogue,
        Action::Create => matches!(class, RecordClass::Circulation | RecordClass::MailingList),
        Action::Update => matches!(
            class,
            RecordClass::Circulation | RecordClass::Registration | RecordClass::MailingList
        ),
        Action::Destroy | Action::Export | Action::Disclose => false,
    }
}

/// A grant for the signed-in patron's own records, for the functions of
/// `my_account`, which reach only that patron's records. Crate-private:
/// no handler can hold one. Refused (and audited) where [`patron_may`]
/// does not allow the action, or the policy does not declare the purpose
/// for the class.
pub(crate) fn for_patron<A: ActionKind, C: ClassKind>(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    purpose: &str,
) -> Result<Grant<A, C>, Error> {
    if patron_may(A::ACTION, C::CLASS) && purpose_declared::<C>(tx, purpose) {
        return Ok(Grant {
            who: patron.principal(),
            purpose: purpose.to_string(),
            _kind: PhantomData,
        });
    }
    let reason = carrel_policy::DenyReason::Unlawful {
        code: "not_your_records",
        message: format!("a patron online may not {} {} records", A::ACTION, C::CLASS),
    };
    Err(denied::<A, C>(tx, patron.principal(), purpose, reason))
}

/// Notes that the signed-in patron read `count` of their own records of
/// `class` (the My data page), under the class's first purpose.
pub(crate) fn record_own_read(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    class: RecordClass,
    count: usize,
) {
    let purpose = tx
        .policy()
        .class(class)
        .and_then(|c| c.purposes.first().cloned())
        .unwrap_or_default();
    let entry = PendingEntry::new(
        tx,
        patron.principal(),
        Outcome::Granted,
        AuditAction::Policy(Action::Read),
        AuditClass::Policy(class),
        &purpose,
    )
    .on(Some(format!("patron:{}", patron.patron_id())))
    .saying(Some(format!("{count} records, seen online by the patron")));
    tx.queue_audit(entry);
}

/// Notes that the signed-in patron was refused a change to their own
/// record (a wrong current PIN), with the reason for auditors.
pub(crate) fn record_own_refusal(tx: &mut Tx<'_>, patron: &PatronActor, code: &'static str) {
    let entry = PendingEntry::new(
        tx,
        patron.principal(),
        Outcome::Denied,
        AuditAction::Policy(Action::Update),
        AuditClass::Policy(RecordClass::Registration),
        carrel_policy::purpose::ONLINE_ACCESS,
    )
    .on(Some(format!("patron:{}", patron.patron_id())))
    .saying(Some(code.to_string()));
    tx.queue_audit(entry);
}

/// The audit record class of disclosure-request entries.
pub const DISCLOSURE_CLASS: &str = "disclosure_request";

/// The purpose of every disclosure-request entry.
pub(crate) const DISCLOSURE_PURPOSE: &str = "disclosure";

/// An entry about a disclosure request: `who` did (or was refused)
/// `action` on it.
pub(crate) fn disclosure_entry(
    tx: &Tx<'_>,
    who: Principal,
    outcome: Outcome,
    action: AuditAction,
) -> PendingEntry {
    PendingEntry::new(
        tx,
        who,
        outcome,
        action,
        AuditClass::DisclosureRequest,
        DISCLOSURE_PURPOSE,
    )
}

/// Permission to take one step of a disclosure request under one basis.
/// Only [`authorize_disclosure`] (staff, from the policy's `[disclosure]`
/// rules) and [`authorize_online_disclosure`] (a patron online, for a basis
/// the policy serves online) make one.
#[derive(Debug)]
pub struct DisclosureGrant {
    who: Principal,
    step: carrel_policy::disclosure::Step,
}

impl DisclosureGrant {
    /// The disclosure step this grant permits.
    pub fn step(&self) -> carrel_policy::disclosure::Step {
        self.step
    }

    /// Who takes the step, for the request's timeline.
    pub(crate) fn principal(&self) -> Principal {
        self.who
    }

    /// Notes the step in the audit log, on the request's reference.
    pub(crate) fn record(&self, tx: &mut Tx<'_>, reference: &str, detail: String) {
        let entry = disclosure_entry(
            tx,
            self.who,
            Outcome::Granted,
            AuditAction::Disclosure(self.step),
        )
        .on(Some(format!("disclosure:{reference}")))
        .saying(Some(detail));
        tx.queue_audit(entry);
    }

    /// Notes that records of `class` about `patron_id` left the library in
    /// a released package (D7): one entry per class, with the count.
    pub(crate) fn record_release(
        &self,
        tx: &mut Tx<'_>,
        class: RecordClass,
        patron_id: i64,
        detail: String,
    ) {
        let entry = PendingEntry::new(
            tx,
            self.who,
            Outcome::Granted,
            AuditAction::Policy(Action::Disclose),
            AuditClass::Policy(class),
            DISCLOSURE_PURPOSE,
        )
        .on(Some(format!("patron:{patron_id}")))
        .saying(Some(detail));
        tx.queue_audit(entry);
    }

    /// A refusal by law (L7): the attempt goes on the record even though
    /// the transaction that made it is rolled back.
    pub(crate) fn refuse(
        &self,
        tx: &Tx<'_>,
        reference: &str,
        code: &'static str,
        message: String,
    ) -> Error {
        unlawful(tx, self.who, self.step, Some(reference), code, message)
    }
}

fn unlawful(
    tx: &Tx<'_>,
    who: Principal,
    step: carrel_policy::disclosure::Step,
    reference: Option<&str>,
    code: &'static str,
    message: String,
) -> Error {
    tracing::info!(actor = %who, step = step.name(), code, "disclosure refused by law");
    let reason = carrel_policy::DenyReason::Unlawful { code, message };
    let entry = disclosure_entry(tx, who, Outcome::Denied, AuditAction::Disclosure(step))
        .on(reference.map(|r| format!("disclosure:{r}")))
        .saying(Some(code.to_string()));
    Error::Denied {
        reason,
        entry: Box::new(entry),
    }
}

/// Notes a patron's refused online request for a minor's records (R3, L7),
/// with the reason for auditors (`code`) and the minor's record when the
/// card exists. The patron is told only that it was refused; this entry is
/// queued in the caller's transaction, which commits it together with the
/// attempt's count (see `disclosures::online::minor_records`).
pub(crate) fn record_online_refusal(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    minor: Option<i64>,
    code: &'static str,
) {
    use carrel_policy::disclosure::Step;
    // Not logged: the reason (no such card, not the guardian, come of
    // age) says something about a card and its holder, and the design
    // keeps it for auditors only, in the audit log below.
    let entry = disclosure_entry(
        tx,
        patron.principal(),
        Outcome::Denied,
        AuditAction::Disclosure(Step::Release),
    )
    .on(minor.map(|id| format!("patron:{id}")))
    .saying(Some(code.to_string()));
    tx.queue_audit(entry);
}

/// Asks the policy's disclosure rules whether this staff member may take
/// `step` on a request under `basis` (L1: only the basis's deciders
/// approve and release; counsel records review; desk roles record and
/// refer). A refusal is audited like any other denial.
pub fn authorize_disclosure(
    tx: &mut Tx<'_>,
    actor: &Actor,
    step: carrel_policy::disclosure::Step,
    basis: &str,
    reference: Option<&str>,
) -> Result<DisclosureGrant, Error> {
    let rules = &tx.policy().disclosure;
    let Some(spec) = rules.basis(basis) else {
        let known: Vec<&str> = rules.bases.keys().map(String::as_str).collect();
        return Err(Error::invalid(
            "unknown_basis",
            format!(
                "basis must be one of this library's bases: {}",
                known.join(", ")
            ),
        ));
    };
    if rules.may(&actor.role, step, spec) {
        return Ok(DisclosureGrant {
            who: actor.principal(),
            step,
        });
    }
    let reason = carrel_policy::DenyReason::DisclosureStep {
        role: actor.role.clone(),
        step,
        basis: basis.to_string(),
    };
    tracing::info!(
        staff = actor.staff_id,
        step = step.name(),
        "disclosure step denied by policy"
    );
    let entry = disclosure_entry(
        tx,
        actor.principal(),
        Outcome::Denied,
        AuditAction::Disclosure(step),
    )
    .on(reference.map(|r| format!("disclosure:{r}")))
    .saying(Some(reason.to_string()));
    Err(Error::Denied {
        reason,
        entry: Box::new(entry),
    })
}

/// A patron online, asking under `basis`: allowed only if the policy serves
/// that basis online and admits the patron's requester kind. Otherwise the
/// attempt is refused and recorded (L7).
pub fn authorize_online_disclosure(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    requester: carrel_policy::disclosure::RequesterKind,
) -> Result<(String, DisclosureGrant), Error> {
    use carrel_policy::disclosure::Step;
    let found = tx
        .policy()
        .disclosure
        .bases
        .iter()
        .find(|(_, b)| b.channel.online() && b.admits(requester))
        .map(|(name, _)| name.clone());
    let who = patron.principal();
    match found {
        Some(name) => Ok((name, DisclosureGrant {
            who,
            step: Step::Release,
        })),
        None => Err(unlawful(
            tx,
            who,
            Step::Release,
            None,
            "not_online",
            format!(
                "this library's policy gives a {requester} no online access to these records; ask at the library, where staff will record the request"
            ),
        )),
    }
}
