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

use crate::audit::PendingEntry;
use crate::error::Error;
use crate::Tx;

/// An action, as a type, so a grant's action is checked by the compiler.
pub trait ActionKind {
    const ACTION: Action;
}

/// A record class, as a type.
pub trait ClassKind {
    const CLASS: RecordClass;
}

macro_rules! action_markers {
    ($($name:ident => $value:expr),+ $(,)?) => {
        $(
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

    pub fn staff_id(&self) -> i64 {
        self.staff_id
    }

    pub fn role(&self) -> &str {
        &self.role
    }
}

#[derive(Debug, Clone)]
enum Who {
    Staff(i64),
    Patron(i64),
    System(&'static str),
}

impl Who {
    fn label(&self) -> String {
        match self {
            Who::Staff(id) => format!("staff:{id}"),
            Who::Patron(id) => format!("patron:{id}"),
            Who::System(task) => format!("system:{task}"),
        }
    }
}

/// Permission to do action `A` on records of class `C`, for one purpose,
/// within one transaction. Only [`authorize`] makes one.
#[derive(Debug)]
pub struct Grant<A: ActionKind, C: ClassKind> {
    who: Who,
    purpose: String,
    _kind: PhantomData<fn() -> (A, C)>,
}

impl<A: ActionKind, C: ClassKind> Grant<A, C> {
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
        let entry = PendingEntry {
            at: tx.now().timestamp(),
            actor: self.who.label(),
            action: A::ACTION.name().to_string(),
            record_class: C::CLASS.name().to_string(),
            record_id,
            purpose: self.purpose.clone(),
            decision: "granted",
            detail,
        };
        tx.queue_audit(entry);
    }

    /// [`Self::record`] for one record.
    pub(crate) fn used_on(&self, tx: &mut Tx<'_>, kind: &str, id: i64) {
        self.record(tx, Some(format!("{kind}:{id}")), None);
    }
}

/// Asks the policy. A denial becomes [`Error::Denied`], which the store
/// writes to the audit log after rolling the transaction back.
pub fn authorize<A: ActionKind, C: ClassKind>(
    tx: &mut Tx<'_>,
    actor: &Actor,
    purpose: &str,
) -> Result<Grant<A, C>, Error> {
    match tx
        .policy()
        .decide(&actor.role, A::ACTION, C::CLASS, purpose)
    {
        Decision::Allow => Ok(Grant {
            who: Who::Staff(actor.staff_id),
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
            let entry = PendingEntry {
                at: tx.now().timestamp(),
                actor: Who::Staff(actor.staff_id).label(),
                action: A::ACTION.name().to_string(),
                record_class: C::CLASS.name().to_string(),
                record_id: None,
                purpose: purpose.to_string(),
                decision: "denied",
                detail: Some(reason.to_string()),
            };
            Err(Error::Denied {
                reason,
                entry: Box::new(entry),
            })
        }
    }
}

/// A grant for one of Carrel's own tasks (generating the demo library).
/// Crate-private: no handler can ask for it. The class must still be one the
/// policy declares, and the purpose one it allows for that class.
pub(crate) fn authorize_system<A: ActionKind, C: ClassKind>(
    tx: &mut Tx<'_>,
    task: &'static str,
    purpose: &str,
) -> Result<Grant<A, C>, Error> {
    let declared = tx
        .policy()
        .class(C::CLASS)
        .is_some_and(|c| c.purposes.iter().any(|p| p == purpose));
    if !declared {
        return Err(Error::refused(
            "purpose_not_declared",
            format!(
                "the policy does not allow class '{}' to be used for '{purpose}'",
                C::CLASS
            ),
        ));
    }
    Ok(Grant {
        who: Who::System(task),
        purpose: purpose.to_string(),
        _kind: PhantomData,
    })
}

/// Permission to place, renew and release legal holds (L5). Only the roles
/// the policy's `[legal_holds]` names get one; a refusal is audited like any
/// other denial.
#[derive(Debug)]
pub struct HoldGrant {
    who: Who,
}

/// Asks the policy whether this staff member may manage legal holds.
pub fn authorize_legal_hold(tx: &mut Tx<'_>, actor: &Actor) -> Result<HoldGrant, Error> {
    if tx.policy().legal_holds.may_place(&actor.role) {
        return Ok(HoldGrant {
            who: Who::Staff(actor.staff_id),
        });
    }
    let reason = carrel_policy::DenyReason::NotALegalHoldRole {
        role: actor.role.clone(),
    };
    let entry = PendingEntry {
        at: tx.now().timestamp(),
        actor: Who::Staff(actor.staff_id).label(),
        action: LEGAL_HOLD_ACTION.to_string(),
        record_class: "legal_hold".to_string(),
        record_id: None,
        purpose: LEGAL_HOLD_ACTION.to_string(),
        decision: "denied",
        detail: Some(reason.to_string()),
    };
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
        tx.queue_audit(PendingEntry {
            at: tx.now().timestamp(),
            actor: self.who.label(),
            action: Action::Read.name().to_string(),
            record_class: "legal_hold".to_string(),
            record_id: None,
            purpose: LEGAL_HOLD_ACTION.to_string(),
            decision: "granted",
            detail: Some(format!("{count} legal holds listed")),
        });
    }

    pub(crate) fn record(&self, tx: &mut Tx<'_>, class: RecordClass, hold_id: i64, detail: String) {
        tx.queue_audit(PendingEntry {
            at: tx.now().timestamp(),
            actor: self.who.label(),
            action: LEGAL_HOLD_ACTION.to_string(),
            record_class: class.name().to_string(),
            record_id: Some(format!("legal_hold:{hold_id}")),
            purpose: LEGAL_HOLD_ACTION.to_string(),
            decision: "granted",
            detail: Some(detail),
        });
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
        tx.queue_audit(PendingEntry {
            at: tx.now().timestamp(),
            actor: Who::System("retention").label(),
            action: Action::Destroy.name().to_string(),
            record_class: self.class.name().to_string(),
            record_id: None,
            purpose: "retention".to_string(),
            decision: "granted",
            detail: Some(detail),
        });
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

    pub fn patron_id(&self) -> i64 {
        self.patron_id
    }
}

/// The audit record class of disclosure-request entries.
pub const DISCLOSURE_CLASS: &str = "disclosure_request";

/// Permission to take one step of a disclosure request under one basis.
/// Only [`authorize_disclosure`] (staff, from the policy's `[disclosure]`
/// rules) and [`authorize_online_disclosure`] (a patron online, for a basis
/// the policy serves online) make one.
#[derive(Debug)]
pub struct DisclosureGrant {
    who: Who,
    step: carrel_policy::disclosure::Step,
}

impl DisclosureGrant {
    pub fn step(&self) -> carrel_policy::disclosure::Step {
        self.step
    }

    /// "staff:3" or "patron:12", for the request's timeline.
    pub(crate) fn actor_label(&self) -> String {
        self.who.label()
    }

    /// Notes the step in the audit log, on the request's reference.
    pub(crate) fn record(&self, tx: &mut Tx<'_>, reference: &str, detail: String) {
        tx.queue_audit(PendingEntry {
            at: tx.now().timestamp(),
            actor: self.who.label(),
            action: self.step.name().to_string(),
            record_class: DISCLOSURE_CLASS.to_string(),
            record_id: Some(format!("disclosure:{reference}")),
            purpose: "disclosure".to_string(),
            decision: "granted",
            detail: Some(detail),
        });
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
        tx.queue_audit(PendingEntry {
            at: tx.now().timestamp(),
            actor: self.who.label(),
            action: Action::Disclose.name().to_string(),
            record_class: class.name().to_string(),
            record_id: Some(format!("patron:{patron_id}")),
            purpose: "disclosure".to_string(),
            decision: "granted",
            detail: Some(detail),
        });
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
        unlawful(tx, &self.who, self.step, Some(reference), code, message)
    }
}

fn unlawful(
    tx: &Tx<'_>,
    who: &Who,
    step: carrel_policy::disclosure::Step,
    reference: Option<&str>,
    code: &'static str,
    message: String,
) -> Error {
    tracing::info!(actor = %who.label(), step = step.name(), code, "disclosure refused by law");
    let reason = carrel_policy::DenyReason::Unlawful { code, message };
    let entry = PendingEntry {
        at: tx.now().timestamp(),
        actor: who.label(),
        action: step.name().to_string(),
        record_class: DISCLOSURE_CLASS.to_string(),
        record_id: reference.map(|r| format!("disclosure:{r}")),
        purpose: "disclosure".to_string(),
        decision: "denied",
        detail: Some(code.to_string()),
    };
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
    let who = Who::Patron(patron.patron_id);
    tx.queue_audit(PendingEntry {
        at: tx.now().timestamp(),
        actor: who.label(),
        action: Step::Release.name().to_string(),
        record_class: DISCLOSURE_CLASS.to_string(),
        record_id: minor.map(|id| format!("patron:{id}")),
        purpose: "disclosure".to_string(),
        decision: "denied",
        detail: Some(code.to_string()),
    });
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
            who: Who::Staff(actor.staff_id),
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
    let entry = PendingEntry {
        at: tx.now().timestamp(),
        actor: Who::Staff(actor.staff_id).label(),
        action: step.name().to_string(),
        record_class: DISCLOSURE_CLASS.to_string(),
        record_id: reference.map(|r| format!("disclosure:{r}")),
        purpose: "disclosure".to_string(),
        decision: "denied",
        detail: Some(reason.to_string()),
    };
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
    let who = Who::Patron(patron.patron_id);
    match found {
        Some(name) => Ok((name, DisclosureGrant {
            who,
            step: Step::Release,
        })),
        None => Err(unlawful(
            tx,
            &who,
            Step::Release,
            None,
            "not_online",
            format!(
                "this library's policy gives a {requester} no online access to these records; ask at the library, where staff will record the request"
            ),
        )),
    }
}
