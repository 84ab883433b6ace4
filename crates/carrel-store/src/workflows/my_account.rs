//! A patron's own account, online (A1, C2): what a patron signed in with
//! card and PIN sees and does on the My account pages. Every function
//! takes the [`PatronActor`] and reaches that patron's records and no
//! one else's: the grants it uses are minted here, for the patron
//! ([`gate::for_patron`]), and never leave the crate. Every read and
//! change is audited under the patron (`patron:ID` as the actor).
//!
//! What a patron may do to their own records is the gate's table
//! ([`gate::for_patron`]): see all of them; renew their loans; place and
//! cancel their holds; change their PIN.

use carrel_policy::{purpose, RecordClass};
use chrono::NaiveDate;

use crate::circulation::{self, HoldGrants, HoldRecord, LoanRecord, RenewGrants};
use crate::db::params;
use crate::error::Error;
use crate::fines::{self, FineRecord};
use crate::gate::{self, PatronActor, Read};
use crate::patrons::{self, PatronRecord};
use crate::retention::targets::{self, Clock};
use crate::retention::RecordKind;
use crate::secrets::{hash_secret, verify_secret};
use crate::validate::{ItemBarcode, Pin};
use crate::Tx;

/// A loan or hold with the title of its item (the catalogue's, no one
/// else's data).
#[derive(Debug, Clone)]
pub struct WithTitle<T> {
    /// The record.
    pub record: T,
    /// The item's title, if the item is still in the catalogue.
    pub title: Option<String>,
}

/// The account at a glance: the card, what is out, what is waiting, what
/// is owed.
#[derive(Debug, Clone)]
pub struct Overview {
    /// The registration as it stands.
    pub registration: PatronRecord,
    /// Loans not yet returned, oldest first.
    pub loans: Vec<WithTitle<LoanRecord>>,
    /// Holds waiting or ready, oldest first.
    pub holds: Vec<WithTitle<HoldRecord>>,
    /// Fines not yet settled.
    pub fines: Vec<FineRecord>,
    /// How many renewals the card's category allows a loan.
    pub renewals_allowed: i64,
}

/// The signed-in patron's account at a glance. Audited as reads of the
/// patron's registration, circulation and fines.
pub fn overview(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Overview, Error> {
    let id = patron.patron_id();
    let account = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let registration = patrons::load(tx, &account, id)?;
    let circulation =
        gate::for_patron::<Read, gate::Circulation>(tx, patron, purpose::CIRCULATION)?;
    let mut loans = Vec::new();
    for loan in circulation::loans_of(tx, &circulation, id)? {
        if loan.returned_at.is_none() {
            let title = Some(loan.title.clone());
            loans.push(WithTitle {
                record: loan,
                title,
            });
        }
    }
    let mut holds = Vec::new();
    for hold in circulation::holds_of(tx, &circulation, id)? {
        if hold.status.is_open() {
            let title = Some(hold.title.clone());
            holds.push(WithTitle {
                record: hold,
                title,
            });
        }
    }
    let owed = gate::for_patron::<Read, gate::Fines>(tx, patron, purpose::FINES)?;
    let fines = fines::of_patron(tx, &owed, id)?
        .into_iter()
        .filter(|f| f.outstanding_cents > 0)
        .collect();
    let renewals_allowed = tx
        .policy()
        .category(&registration.category)
        .map_or(0, |c| i64::from(c.renewals));
    Ok(Overview {
        registration,
        loans,
        holds,
        fines,
        renewals_allowed,
    })
}

/// The patron's registration as it stands (audited as a read of it).
pub fn registration(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<PatronRecord, Error> {
    let grant = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    patrons::load(tx, &grant, patron.patron_id())
}

/// Renews one of the patron's own loans (the desk's rules: the renewal
/// limit, nobody else waiting). Another patron's loan is "not found",
/// as one that does not exist is: its existence is not the patron's to
/// learn.
pub fn renew(tx: &mut Tx<'_>, patron: &PatronActor, loan_id: i64) -> Result<LoanRecord, Error> {
    let grants = RenewGrants::for_patron(tx, patron)?;
    must_own(tx, patron, RecordKind::Loan, loan_id, "loan")?;
    circulation::renew(tx, &grants, loan_id)
}

/// Refuses a record of `kind` that is not the patron's as "not found"
/// (`what`), as one that does not exist is: whether another patron's
/// record exists is not the patron's to learn.
fn must_own(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    kind: RecordKind,
    id: i64,
    what: &'static str,
) -> Result<(), Error> {
    let table = targets::TARGETS
        .iter()
        .find(|t| t.kind == kind)
        .map(|t| t.table)
        .ok_or_else(|| Error::internal(format!("no table for {}", kind.name())))?;
    let owner = tx
        .conn
        .query_opt(
            &format!("SELECT patron_id FROM {table} WHERE id = ?"),
            params![id],
        )?
        .map(|row| row.opt_int("patron_id"))
        .transpose()?
        .flatten();
    if owner == Some(patron.patron_id()) {
        Ok(())
    } else {
        Err(Error::NotFound { what })
    }
}

/// Places a hold for the patron on the item with `item_barcode`.
pub fn place_hold(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    item_barcode: &str,
) -> Result<HoldRecord, Error> {
    let item = ItemBarcode::parse(item_barcode)?;
    let grants = HoldGrants::for_patron(tx, patron)?;
    circulation::place_hold(
        tx,
        &grants,
        &circulation::Borrower::Id(patron.patron_id()),
        &item,
    )
}

/// Cancels one of the patron's own holds. Another patron's hold is "not
/// found", as for [`renew`].
pub fn cancel_hold(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    hold_id: i64,
) -> Result<HoldRecord, Error> {
    let grant = gate::for_patron(tx, patron, purpose::CIRCULATION)?;
    must_own(tx, patron, RecordKind::Hold, hold_id, "hold")?;
    circulation::cancel_hold(tx, &grant, hold_id)
}

/// When a record the library holds will be destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destruction {
    /// Its retention clock has not started: what that means for this kind
    /// of record ("item not returned").
    InUse(&'static str),
    /// On or after this day by its class's rule; and while any of
    /// `kept_while` still holds (an unpaid fine, a legal hold), later.
    OnOrAfter {
        /// The day the rule makes it due.
        day: NaiveDate,
        /// What keeps it past that day, now: empty if nothing does.
        kept_while: Vec<&'static str>,
    },
}

/// What keeps a record pinned by a legal hold of an ordinary request: one
/// of a restricted case is not told (L6; its records leave the tables at
/// their time, as if destroyed). `{kind}` is the record kind.
const UNDER_ORDINARY_LEGAL_HOLD: &str = "EXISTS (SELECT 1 FROM legal_hold_records pin JOIN legal_holds h ON h.id = pin.hold_id
    WHERE pin.record_kind = '{kind}' AND pin.record_id = t.id AND h.released_at IS NULL AND h.expires_at > {now}
      AND NOT EXISTS (SELECT 1 FROM disclosure_requests r WHERE r.id = h.disclosure_id AND r.gagged = 1))";

/// One record the library holds about the patron, with its facts as the
/// patron's download shows them.
#[derive(Debug, Clone)]
pub struct HeldRecord {
    /// The record's id.
    pub id: i64,
    /// Its facts, by name (times in Unix seconds, as stored).
    pub facts: Vec<(String, crate::db::Value)>,
    /// When it will be destroyed, by the retention rule of its class.
    pub destroyed: Destruction,
}

/// The records of one kind the library holds about the patron.
#[derive(Debug, Clone)]
pub struct HeldKind {
    /// The record class.
    pub class: RecordClass,
    /// The kind, in words ("loans").
    pub label: &'static str,
    /// The records, oldest first.
    pub records: Vec<HeldRecord>,
}

/// Every record the library holds about the patron, but the registration
/// (see [`overview`]), kind by kind, each with when the retention rule will
/// destroy it (A1: "history the policy still keeps, and when each entry
/// will be destroyed"). Audited as one read per class.
pub fn held_records(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Vec<HeldKind>, Error> {
    let zone = tx.policy().library.time_zone;
    let mut kinds = Vec::new();
    for class in targets::classes_in_order() {
        if class == RecordClass::Registration {
            continue;
        }
        let keep = tx
            .policy()
            .class(class)
            .and_then(|c| c.retention.as_ref())
            .map(|r| r.keep);
        let mut in_class = 0usize;
        for target in targets::of_class(class).filter(|t| !t.export.is_empty()) {
            let columns: Vec<&str> = target.export.iter().map(|(_, sql)| *sql).collect();
            // What keeps a record past its day, one column each.
            let mut needs: Vec<(&'static str, String)> = target
                .needs
                .iter()
                .map(|(name, sql)| (*name, crate::retention::need_sql(tx, sql)))
                .collect();
            needs.push((
                "a legal hold",
                crate::retention::need_sql(
                    tx,
                    &UNDER_ORDINARY_LEGAL_HOLD.replace("{kind}", target.kind.name()),
                ),
            ));
            let need_columns: Vec<String> = needs
                .iter()
                .enumerate()
                .map(|(i, (_, sql))| format!("CASE WHEN {sql} THEN 1 ELSE 0 END AS need_{i}"))
                .collect();
            let rows = tx.conn.query(
                &format!(
                    "SELECT t.id AS record_id, {event} AS clock_event, {}, {} FROM {} WHERE {} = ? ORDER BY t.id",
                    columns.join(", "),
                    need_columns.join(", "),
                    target.from,
                    target.patron_column(),
                    event = target.event,
                ),
                params![patron.patron_id()],
            )?;
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let values = row.values();
                let facts = target
                    .export
                    .iter()
                    .zip(&values[2..])
                    .map(|((name, _), value)| ((*name).to_string(), value.clone()))
                    .collect();
                let mut kept_while = Vec::new();
                for (i, (name, _)) in needs.iter().enumerate() {
                    if row.int(format!("need_{i}").as_str())? != 0 {
                        kept_while.push(*name);
                    }
                }
                let destroyed = match (row.opt_int("clock_event")?, keep, target.clock) {
                    (Some(at), Some(keep), Clock::Instant) => {
                        let day = chrono::DateTime::from_timestamp(at, 0)
                            .map(|t| t.with_timezone(&zone).date_naive())
                            .unwrap_or(NaiveDate::MAX);
                        Destruction::OnOrAfter {
                            day: carrel_policy::retention::due_on(day, keep),
                            kept_while,
                        }
                    }
                    _ => Destruction::InUse(target.in_use),
                };
                records.push(HeldRecord {
                    id: row.int("record_id")?,
                    facts,
                    destroyed,
                });
            }
            in_class += records.len();
            kinds.push(HeldKind {
                class,
                label: target.label,
                records,
            });
        }
        gate::record_own_read(tx, patron, class, in_class);
    }
    Ok(kinds)
}

/// Changes the patron's PIN, given the PIN they have now. The outer error
/// rolls back (a new PIN of the wrong shape, or typed differently twice:
/// nothing was guessed); the inner one is a refused guess at the PIN,
/// [`Error::SignInRefused`], committed with its audit entry. A guess at
/// the PIN is a sign-in attempt on the card: it is counted on the card
/// (`attempts`, with sign-ins: past the limit, [`Error::TooManyAttempts`]
/// unchecked) and, being a failed guess, on the client's address by the
/// caller (`AppState::patron_guess`). Without that, a session left open
/// on a public computer gave its PIN away, a guess every 50 ms. A changed
/// PIN ends every session and known device of the card, this one too:
/// whoever knew the old PIN is out.
pub fn change_pin(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    current: &str,
    new: &str,
    again: &str,
) -> Result<Result<(), Error>, Error> {
    let grant =
        gate::for_patron::<gate::Update, gate::Registration>(tx, patron, purpose::ONLINE_ACCESS)?;
    let new = Pin::parse(new)?;
    if new.as_str() != again {
        return Err(Error::invalid(
            "pins_differ",
            "the new PIN and its repetition differ; type the same new PIN twice",
        ));
    }
    let account = crate::attempts::Account::Patron(patron.patron_id());
    let attempt = crate::attempts::Attempt::SignIn;
    if !crate::attempts::reserve(tx, account, attempt)? {
        gate::record_own_refusal(tx, patron, "too_many_attempts");
        return Ok(Err(Error::TooManyAttempts));
    }
    let lock = tx.conn.for_update();
    let stored = tx
        .conn
        .query_opt(
            &format!("SELECT pin_hash FROM patrons WHERE id = ?{lock}"),
            params![patron.patron_id()],
        )?
        .map(|row| row.opt_text("pin_hash"))
        .transpose()?
        .flatten();
    let right = stored.is_some_and(|hash| verify_secret(current, &hash));
    if !right {
        gate::record_own_refusal(tx, patron, "wrong_pin");
        return Ok(Err(Error::SignInRefused));
    }
    crate::attempts::give_back(tx, account, attempt)?;
    let hash = hash_secret(new.as_str())?;
    tx.conn.execute(
        "UPDATE patrons SET pin_hash = ?, updated_at = ? WHERE id = ?",
        params![&hash, tx.now().timestamp(), patron.patron_id()],
    )?;
    crate::patron_sessions::end_all_and_devices(tx, patron.patron_id())?;
    grant.record(
        tx,
        Some(format!("patron:{}", patron.patron_id())),
        Some("PIN changed online by the patron".into()),
    );
    Ok(Ok(()))
}

/// One use of the patron's records by someone else, as the patron is
/// shown it (A3): when, by which staff role (never who), what was done,
/// to which class, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look {
    /// When, in Unix seconds.
    pub at: i64,
    /// The staff role, as the policy names it; `None` for Carrel itself
    /// (the retention purge, the demo) and for another patron.
    pub role: Option<String>,
    /// Another patron, online: a parent or guardian holding the patron's
    /// card number, where the policy allows it (R3).
    pub by_patron: bool,
    /// What was done (`read`, `update`, a disclosure step...).
    pub action: String,
    /// The class of records.
    pub class: String,
    /// Why: the purpose, as the policy names it.
    pub purpose: String,
}

/// How many uses [`who_looked`] shows, newest first.
pub const LOOKS_SHOWN: i64 = 200;

/// Who has used the patron's records (A3): every granted entry of the
/// audit log in an operation that named the patron, by staff or by Carrel
/// itself (not the patron's own), newest first, at most [`LOOKS_SHOWN`].
/// An operation that was part of a case under a non-disclosure order is
/// left out whole (L6): the patron must not learn of the case from it.
/// Audited as a read of the patron's registration.
pub fn who_looked(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Vec<Look>, Error> {
    let grant = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let id = patron.patron_id();
    let me = patron.principal().label();
    let granted: &'static str = crate::audit::Outcome::Granted.into();
    let rows = tx.conn.query(
        "SELECT a.seq, a.at, a.actor, a.action, a.record_class, a.purpose, st.role
         FROM audit_subjects s
         JOIN audit_log a ON a.seq BETWEEN s.first_seq AND s.last_seq
         LEFT JOIN staff st ON a.actor = 'staff:' || CAST(st.id AS TEXT)
         WHERE s.kind = ? AND s.id = ? AND a.decision = ? AND a.actor <> ?
           AND NOT EXISTS (
             SELECT 1 FROM audit_log g JOIN disclosure_requests r
               ON g.record_id = 'disclosure:' || r.series || '-' || CAST(r.number AS TEXT)
             WHERE g.seq BETWEEN s.first_seq AND s.last_seq AND r.gagged = 1)
         ORDER BY a.seq DESC LIMIT ?",
        params![
            crate::retention::RecordKind::Patron,
            id,
            granted,
            &me,
            LOOKS_SHOWN
        ],
    )?;
    let mut looks = Vec::with_capacity(rows.len());
    for row in &rows {
        looks.push(Look {
            at: row.int("at")?,
            role: row.opt_text("role")?,
            by_patron: row.text("actor")?.starts_with("patron:"),
            action: row.text("action")?,
            class: row.text("record_class")?,
            purpose: row.text("purpose")?,
        });
    }
    grant.record(
        tx,
        Some(format!("patron:{id}")),
        Some(format!(
            "{} uses of the record, seen online by the patron",
            looks.len()
        )),
    );
    Ok(looks)
}

/// A request for the patron's records, as the patron is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureSeen {
    /// Its reference (`D-12`).
    pub reference: String,
    /// When it was received, in Unix seconds.
    pub received_at: i64,
    /// Who asked, by kind.
    pub requester_kind: String,
    /// The basis, by its name in the policy.
    pub basis: String,
    /// Where it stands.
    pub state: String,
    /// When records were released, if they were.
    pub released_at: Option<i64>,
}

/// Every request for the patron's records that is not under a
/// non-disclosure order (L6), newest first. Audited as a read of the
/// patron's registration.
pub fn disclosures(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Vec<DisclosureSeen>, Error> {
    let grant = gate::for_patron::<Read, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let id = patron.patron_id();
    let rows = tx.conn.query(
        "SELECT series || '-' || CAST(number AS TEXT) AS reference, received_at, requester_kind, basis, state, released_at
         FROM disclosure_requests WHERE subject_patron_id = ? AND gagged = 0 ORDER BY received_at DESC, id DESC",
        params![id],
    )?;
    let mut seen = Vec::with_capacity(rows.len());
    for row in &rows {
        seen.push(DisclosureSeen {
            reference: row.text("reference")?,
            received_at: row.int("received_at")?,
            requester_kind: row.text("requester_kind")?,
            basis: row.text("basis")?,
            state: row.text("state")?,
            released_at: row.opt_int("released_at")?,
        });
    }
    grant.record(
        tx,
        Some(format!("patron:{id}")),
        Some(format!(
            "{} disclosure requests, seen online by the patron",
            seen.len()
        )),
    );
    Ok(seen)
}

/// An account notice a patron may choose to get by e-mail (C3: e-mail is
/// used only for these).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum NoticeKind {
    /// An item is overdue.
    Overdue,
    /// A hold is ready to collect.
    Holds,
    /// An item is due soon.
    Reminders,
}

impl NoticeKind {
    /// Every kind, in order.
    pub const ALL: &'static [NoticeKind] = <NoticeKind as strum::VariantArray>::VARIANTS;

    /// The kind as stored and posted.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A mailing list, and whether the patron is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListChoice {
    /// The list's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The patron's subscription to it, if they signed up.
    pub subscription: Option<i64>,
}

/// The patron's choices as they stand (C1, C3, C4), and their corrections
/// waiting for staff (A2).
#[derive(Debug, Clone)]
pub struct Choices {
    /// The e-mail address kept, if any.
    pub email: Option<String>,
    /// The account notices wanted by e-mail.
    pub notices: Vec<NoticeKind>,
    /// Every consent held, and whether each is current.
    pub consents: Vec<crate::consents::Consent>,
    /// Every mailing list, and whether the patron is on it.
    pub lists: Vec<ListChoice>,
    /// Corrections sent online and not yet decided.
    pub pending: Vec<crate::corrections::Correction>,
    /// Corrections sent online and decided lately (approved or refused).
    pub decided: Vec<crate::corrections::Correction>,
    /// The fields the patron may correct online, with their values now.
    pub correctable: Vec<(String, Option<String>)>,
}

fn notices_of(stored: Option<String>) -> Vec<NoticeKind> {
    match stored {
        None => NoticeKind::ALL.to_vec(),
        Some(text) => text
            .split(',')
            .filter_map(|name| name.parse().ok())
            .collect(),
    }
}

/// The patron's choices. Audited as a read of the registration and the
/// mailing lists.
pub fn choices(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<Choices, Error> {
    let id = patron.patron_id();
    let registration = self::registration(tx, patron)?;
    let stored = tx
        .conn
        .query_one("SELECT notices FROM patrons WHERE id = ?", params![id])?
        .opt_text("notices")?;
    let lists_grant =
        gate::for_patron::<Read, gate::MailingList>(tx, patron, purpose::MAILING_LIST)?;
    let mut lists = Vec::new();
    for row in tx.conn.query(
        "SELECT l.id, l.name, l.description, s.id AS subscription
         FROM mailing_lists l LEFT JOIN list_subscriptions s ON s.list_id = l.id AND s.patron_id = ?
         ORDER BY l.name, l.id",
        params![id],
    )? {
        lists.push(ListChoice {
            id: row.int("id")?,
            name: row.text("name")?,
            description: row.text("description")?,
            subscription: row.opt_int("subscription")?,
        });
    }
    lists_grant.record(
        tx,
        Some(format!("patron:{id}")),
        Some("mailing lists, seen online by the patron".into()),
    );
    let consents = crate::consents::of_patron(tx, id)?;
    let pending = crate::corrections::pending_of(tx, id)?;
    let decided = crate::corrections::recently_decided(tx, id)?;
    let correctable = tx
        .policy()
        .patrons
        .online_corrections
        .iter()
        .map(|field| {
            let value = match field.as_str() {
                "birth_date" => registration.birth_date.map(|d| d.to_string()),
                other => registration.fields.get(other).cloned(),
            };
            (field.clone(), value)
        })
        .collect();
    Ok(Choices {
        email: registration.fields.get("email").cloned(),
        notices: if registration.fields.contains_key("email") {
            notices_of(stored)
        } else {
            Vec::new()
        },
        consents,
        lists,
        pending,
        decided,
        correctable,
    })
}

/// Sets, changes or (with `None`) removes the patron's e-mail address
/// (C3). Removal takes effect at once: the address is deleted, with its
/// consent and notice choices; setting one records the patron's consent
/// under the policy in force.
pub fn set_email(tx: &mut Tx<'_>, patron: &PatronActor, email: Option<&str>) -> Result<(), Error> {
    let grant =
        gate::for_patron::<gate::Update, gate::Registration>(tx, patron, purpose::ACCOUNT_NOTICES)?;
    let value = match email.map(str::trim) {
        Some(text) if !text.is_empty() => serde_json::Value::String(text.to_string()),
        _ => serde_json::Value::Null,
    };
    let input = std::collections::BTreeMap::from([("email".to_string(), value)]);
    patrons::update(tx, &grant, patron.patron_id(), &input).map(drop)
}

/// Sets which account notices the patron wants by e-mail.
pub fn set_notices(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    wanted: &[NoticeKind],
) -> Result<(), Error> {
    let grant =
        gate::for_patron::<gate::Update, gate::Registration>(tx, patron, purpose::ACCOUNT_NOTICES)?;
    let names: Vec<&str> = NoticeKind::ALL
        .iter()
        .filter(|k| wanted.contains(k))
        .map(|k| k.name())
        .collect();
    tx.conn.execute(
        "UPDATE patrons SET notices = ? WHERE id = ?",
        params![&names.join(","), patron.patron_id()],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{}", patron.patron_id())),
        Some("account notices chosen online by the patron".into()),
    );
    Ok(())
}

/// Signs the patron up to mailing list `list_id` (C4: opt-in), their
/// consent recorded under the policy in force.
pub fn join_list(tx: &mut Tx<'_>, patron: &PatronActor, list_id: i64) -> Result<(), Error> {
    let grant = gate::for_patron(tx, patron, purpose::MAILING_LIST)?;
    crate::mailing_lists::subscribe(tx, &grant, list_id, patron.patron_id()).map(drop)
}

fn own_subscription(tx: &mut Tx<'_>, patron: &PatronActor, id: i64) -> Result<(), Error> {
    must_own(tx, patron, RecordKind::ListSubscription, id, "subscription")
}

/// Takes the patron off a mailing list: the subscription is deleted.
pub fn leave_list(tx: &mut Tx<'_>, patron: &PatronActor, subscription: i64) -> Result<(), Error> {
    let grant = gate::for_patron(tx, patron, purpose::MAILING_LIST)?;
    own_subscription(tx, patron, subscription)?;
    crate::mailing_lists::unsubscribe(tx, &grant, subscription)
}

/// Which consent the patron gives again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentRef {
    /// The e-mail address's.
    Email,
    /// A mailing list's, by subscription.
    Subscription(i64),
}

/// Gives a stale consent again, under the policy in force (the patron was
/// asked again after a policy change and agreed).
pub fn renew_consent(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    which: ConsentRef,
) -> Result<(), Error> {
    match which {
        ConsentRef::Email => {
            let grant = gate::for_patron::<gate::Update, gate::Registration>(
                tx,
                patron,
                purpose::ACCOUNT_NOTICES,
            )?;
            let has_email = tx
                .conn
                .query_opt(
                    "SELECT 1 AS one FROM patron_fields WHERE patron_id = ? AND name = 'email'",
                    params![patron.patron_id()],
                )?
                .is_some();
            if !has_email {
                return Err(Error::NotFound { what: "consent" });
            }
            crate::consents::set_email_consent(tx, patron.patron_id(), true)?;
            grant.record(
                tx,
                Some(format!("patron:{}", patron.patron_id())),
                Some("e-mail consent given again under the policy in force".into()),
            );
        }
        ConsentRef::Subscription(id) => {
            let grant = gate::for_patron::<gate::Update, gate::MailingList>(
                tx,
                patron,
                purpose::MAILING_LIST,
            )?;
            own_subscription(tx, patron, id)?;
            crate::consents::renew_subscription(tx, id)?;
            grant.used_on(tx, crate::retention::RecordKind::ListSubscription, id);
        }
    }
    Ok(())
}

/// The patron's consents that the policy in force has changed: they are
/// asked again (at sign-in, and on every page until they answer).
pub fn stale_consents(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
) -> Result<Vec<crate::consents::Consent>, Error> {
    Ok(crate::consents::of_patron(tx, patron.patron_id())?
        .into_iter()
        .filter(|c| !c.current)
        .collect())
}

/// Sends a correction of the patron's details, held until staff verify
/// it (A2).
pub fn propose_correction(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    field: &str,
    value: &str,
) -> Result<crate::corrections::Correction, Error> {
    let grant = gate::for_patron::<gate::Update, gate::Registration>(tx, patron, purpose::ACCOUNT)?;
    let correction = crate::corrections::propose(tx, patron.patron_id(), field, value)?;
    grant.record(
        tx,
        Some(format!("patron:{}", patron.patron_id())),
        Some(format!(
            "correction of {field} sent online, pending verification"
        )),
    );
    Ok(correction)
}
