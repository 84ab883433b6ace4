//! The circulation desk's view of a patron (D6: "the screen masks personal
//! data until it is needed").
//!
//! A desk sees a patron's standing (whether the card may be used, what is
//! owed, what is out and what waits on the hold shelf), with the name and
//! card number masked as the policy's `display` rule for the role says.
//! The masking is done here, inside the store: the whole name never leaves
//! it for a desk page. Anything more (the address, phone, e-mail, birth
//! date) comes only from [`reveal`], a read for a purpose the member of
//! staff states, which the gate decides and the audit log records.

use chrono::NaiveDate;

use crate::circulation::{self, purpose, HoldStatus, LoanRecord};
use crate::error::Error;
use crate::fines;
use crate::gate::{self, Actor, Read, Registration};
use crate::patrons::{self, PatronStatus};
use crate::retention::RecordKind;
use crate::validate::CardBarcode;
use crate::Tx;
use carrel_policy::RecordClass;

/// A patron as the desk sees them before anything is revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskPatron {
    /// The patron's record id (an opaque number: the desk's pages name the
    /// patron by it, never by card or name).
    pub id: i64,
    /// The name as the role's display rule shows it ("Ada L."); `None`
    /// where the rule hides it.
    pub name: Option<String>,
    /// The card number as the role's display rule shows it ("••••0001").
    pub card: Option<String>,
    /// The card's category, in the policy's words.
    pub category: String,
    /// Whether the card is active or blocked.
    pub status: PatronStatus,
    /// Why it is blocked, if it is.
    pub block_reason: Option<patrons::BlockReason>,
    /// The last day the card is valid.
    pub expires_on: NaiveDate,
    /// Whether that day has passed.
    pub expired: bool,
    /// What the patron owes in unsettled fines, in cents.
    pub owed_cents: i64,
    /// Whether what is owed blocks new loans under the policy.
    pub owes_too_much: bool,
    /// The items out, oldest first, with their titles.
    pub loans: Vec<DeskLoan>,
    /// The items waiting on the hold shelf for the patron, with their
    /// titles.
    pub holds_ready: Vec<DeskItem>,
    /// How many holds are still waiting for an item to come back.
    pub holds_waiting: usize,
    /// How many more times each loan may be renewed, under the category's
    /// rules.
    pub renewals_allowed: i64,
}

/// An item as the desk lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskItem {
    /// The item's barcode (the collection's, not personal).
    pub barcode: String,
    /// The title.
    pub title: String,
}

/// A loan as the desk lists it: the record and its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskLoan {
    /// The loan.
    pub loan: LoanRecord,
    /// The item lent.
    pub item: DeskItem,
}

/// The desk is for roles that lend (`create` on circulation): another
/// role that may read registrations (counsel, for the requests it
/// reviews) does not browse patrons through it.
pub fn must_be_at_the_desk(tx: &mut Tx<'_>, actor: &Actor) -> Result<(), Error> {
    gate::authorize::<gate::Create, gate::Circulation>(tx, actor, purpose::CIRCULATION).map(drop)
}

/// `fields` of a registration as `role`'s display rule shows them, in that
/// order, leaving out those it hides (D6).
fn shown(
    policy: &carrel_policy::Policy,
    role: &str,
    record: &patrons::PatronRecord,
    fields: &[&str],
) -> Vec<String> {
    fields
        .iter()
        .filter_map(|field| {
            let value = match *field {
                "card_barcode" => record.card_barcode.as_deref(),
                other => record.fields.get(other).map(String::as_str),
            };
            value.and_then(|v| policy.display_of(role, field).apply(v))
        })
        .collect()
}

/// The patron whose card the desk scanned: their id, audited as a read of
/// their standing. An unknown card is "patron not found".
pub fn find_by_card(tx: &mut Tx<'_>, actor: &Actor, card: &CardBarcode) -> Result<i64, Error> {
    must_be_at_the_desk(tx, actor)?;
    let grant = gate::authorize::<Read, Registration>(tx, actor, purpose::ACCOUNT)?;
    Ok(patrons::standing_by_barcode(tx, &grant, card)?.id)
}

/// The desk's view of patron `id`, masked for the actor's role.
pub fn patron(tx: &mut Tx<'_>, actor: &Actor, id: i64) -> Result<DeskPatron, Error> {
    must_be_at_the_desk(tx, actor)?;
    let account = gate::authorize::<Read, Registration>(tx, actor, purpose::ACCOUNT)?;
    let record = patrons::load(tx, &account, id)?;
    let policy = tx.policy();
    let role = actor.role();
    let name = shown(policy, role, &record, &["name"]).pop();
    let card = shown(policy, role, &record, &["card_barcode"]).pop();
    let rules = policy.category(&record.category);
    let category = rules.map_or_else(|| record.category.clone(), |c| c.description.clone());
    let renewals_allowed = rules.map_or(0, |c| i64::from(c.renewals));
    let limit = policy.loans.block_at_owed_cents;
    let today = tx.today();

    let block_reason = patrons::block_reason(tx, id)?;
    let money = gate::authorize(tx, actor, purpose::FINES)?;
    let owed_cents = fines::owed_cents(tx, &money, id)?;
    let lending = gate::authorize(tx, actor, purpose::CIRCULATION)?;
    let mut loans = Vec::new();
    for loan in circulation::loans_of(tx, &lending, id)? {
        if loan.returned_at.is_none() {
            let item = DeskItem {
                barcode: loan.item_barcode.clone(),
                title: loan.title.clone(),
            };
            loans.push(DeskLoan { loan, item });
        }
    }
    let mut holds_ready = Vec::new();
    let mut holds_waiting = 0;
    for hold in circulation::holds_of(tx, &lending, id)? {
        match hold.status {
            HoldStatus::Ready => holds_ready.push(DeskItem {
                barcode: hold.item_barcode,
                title: hold.title,
            }),
            HoldStatus::Waiting => holds_waiting += 1,
            HoldStatus::Fulfilled | HoldStatus::Cancelled => {}
        }
    }
    Ok(DeskPatron {
        id,
        name,
        card,
        category,
        status: record.status,
        block_reason,
        expires_on: record.expires_on,
        expired: record.expires_on < today,
        owed_cents,
        owes_too_much: owed_cents >= limit,
        loans,
        holds_ready,
        holds_waiting,
        renewals_allowed,
    })
}

/// Patrons whose name contains `words`, found for `purpose` (each an
/// audited read for it, [`patrons::find_by_name`]), as the desk lists
/// them: record id, and name and card as the role's display rule shows
/// them.
pub fn find_by_name(
    tx: &mut Tx<'_>,
    actor: &Actor,
    words: &str,
    purpose: &str,
) -> Result<Vec<(i64, String)>, Error> {
    let grant = gate::authorize::<Read, Registration>(tx, actor, purpose)?;
    let found = patrons::find_by_name(tx, &grant, words)?;
    // The list shows each one's name and card (masked): a read of them for
    // keeping the account, recorded as such whatever the search's purpose.
    let account = gate::authorize::<Read, Registration>(tx, actor, purpose::ACCOUNT)?;
    let mut listed = Vec::with_capacity(found.len());
    for record in found {
        let whole = patrons::fetch(tx, record.id)?.ok_or(Error::NotFound { what: "patron" })?;
        if purpose != purpose::ACCOUNT {
            account.used_on(tx, RecordKind::Patron, record.id);
        }
        let parts = shown(tx.policy(), actor.role(), &whole, &["name", "card_barcode"]);
        let label = if parts.is_empty() {
            format!("patron record {}", record.id)
        } else {
            parts.join(" · ")
        };
        listed.push((record.id, label));
    }
    Ok(listed)
}

/// The purposes a desk may reveal a registration's details for: those the
/// policy declares for registrations that have a personal field someone
/// can read (not the PIN, which is never shown), in the policy's order.
pub fn reveal_purposes(policy: &carrel_policy::Policy) -> Vec<(String, String)> {
    let Some(class) = policy.class(RecordClass::Registration) else {
        return Vec::new();
    };
    class
        .purposes
        .iter()
        .filter(|purpose| {
            class
                .fields
                .iter()
                .any(|(name, spec)| spec.personal && &spec.purpose == *purpose && name != "pin")
        })
        .map(|purpose| {
            let words = policy.purposes.get(purpose).cloned().unwrap_or_default();
            (purpose.clone(), words)
        })
        .collect()
}

/// One field a reveal shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revealed {
    /// The field's name in the policy.
    pub field: String,
    /// Its value.
    pub value: String,
}

/// The personal details of patron `id` that the policy declares for
/// `purpose`, in full: a read the gate decides for the actor's role and
/// that purpose, recorded in the audit log as a reveal. An empty list when
/// the patron has none of them.
pub fn reveal(
    tx: &mut Tx<'_>,
    actor: &Actor,
    id: i64,
    purpose: &str,
) -> Result<Vec<Revealed>, Error> {
    must_be_at_the_desk(tx, actor)?;
    let grant = gate::authorize::<Read, Registration>(tx, actor, purpose)?;
    let record = patrons::fetch(tx, id)?
        .ok_or(Error::NotFound { what: "patron" })?
        .only_for(tx.policy(), purpose, &[]);
    grant.record(
        tx,
        Some(format!("{}:{id}", RecordKind::Patron.name())),
        Some("revealed at the desk".into()),
    );
    let policy = tx.policy();
    let Some(class) = policy.class(RecordClass::Registration) else {
        return Ok(Vec::new());
    };
    let mut shown = Vec::new();
    for (field, spec) in &class.fields {
        if !spec.personal || spec.purpose != purpose {
            continue;
        }
        let value = match field.as_str() {
            "card_barcode" => record.card_barcode.clone(),
            "birth_date" => record.birth_date.map(|d| d.to_string()),
            "guardian" => record.guardian_id.map(|g| format!("patron record {g}")),
            other => record.fields.get(other).cloned(),
        };
        if let Some(value) = value {
            shown.push(Revealed {
                field: field.clone(),
                value,
            });
        }
    }
    Ok(shown)
}

/// What a checkin at the desk did, as the desk needs to say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskCheckin {
    /// The item scanned.
    pub item: DeskItem,
    /// Whether it was on loan (else it came from the shelf, pulled for a
    /// hold).
    pub was_on_loan: bool,
    /// The overdue fine the return assessed, in cents (0 for none).
    pub fine_cents: i64,
    /// Where the item goes now: for another patron's hold, the label for
    /// the hold shelf (their card and name as the role's display rule
    /// shows them); `None` back to the shelf.
    pub hold_for: Option<String>,
}

/// Checks an item in ([`circulation::checkin`]) and says where it goes.
pub fn checkin(
    tx: &mut Tx<'_>,
    actor: &Actor,
    item_barcode: &crate::validate::ItemBarcode,
) -> Result<DeskCheckin, Error> {
    let grants = circulation::CheckinGrants::request(tx, actor)?;
    let done = circulation::checkin(tx, &grants, item_barcode)?;
    let hold_for = match done.hold_ready {
        Some(hold_id) => hold_shelf_label(tx, actor, hold_id)?,
        None => None,
    };
    Ok(DeskCheckin {
        item: DeskItem {
            barcode: done.item.barcode,
            title: done.item.title,
        },
        was_on_loan: done.loan.is_some(),
        fine_cents: done.fine.map_or(0, |f| f.amount_cents),
        hold_for,
    })
}

/// The label an item on the hold shelf carries for the patron who waits
/// for it: their card and name as the role's display rule shows them.
fn hold_shelf_label(tx: &mut Tx<'_>, actor: &Actor, hold_id: i64) -> Result<Option<String>, Error> {
    let Some(patron_id) = circulation::hold_patron(tx, hold_id)? else {
        return Ok(None);
    };
    let account = gate::authorize::<Read, Registration>(tx, actor, purpose::ACCOUNT)?;
    let record = patrons::load(tx, &account, patron_id)?;
    let parts = shown(
        tx.policy(),
        actor.role(),
        &record,
        &["card_barcode", "name"],
    );
    Ok(Some(if parts.is_empty() {
        format!("hold {hold_id}")
    } else {
        parts.join(" ")
    }))
}
