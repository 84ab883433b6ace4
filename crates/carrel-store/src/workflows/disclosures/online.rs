//! Requests a patron makes online, signed in with card and PIN (R2, R3).
//! The sign-in is the identity check, so a basis the policy serves online
//! is recorded, checked and released in one transaction, and closed at
//! once: the patron downloads the package, Carrel keeps only its digest
//! and the timeline. A basis the policy does not serve online is refused
//! and the attempt recorded (L7).

use carrel_policy::disclosure::{DocumentKind, RequestState, RequesterKind};
use carrel_policy::RecordClass;
use chrono::NaiveDate;

use crate::attempts::{self, Account, Attempt};
use crate::db::params;
use crate::error::Error;
use crate::gate::{authorize_online_disclosure, record_online_refusal, PatronActor};
use crate::validate::CardBarcode;
use crate::{patrons, Tx};

use super::package::Package;
use super::TimelineStep;
use super::{
    add_step, basis_of, check_lawful, cover, guardian_refusal, insert_document, insert_request,
    package, reload, store_package, Insert, ParsedDocument,
};

/// Every class of patron records, for a full export.
fn all_classes() -> Vec<RecordClass> {
    RecordClass::ALL
        .iter()
        .copied()
        .filter(|c| c.retention_clock().is_some() && *c != RecordClass::Audit)
        .collect()
}

fn release_online(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    requester: RequesterKind,
    subject: i64,
) -> Result<(String, Package), Error> {
    let (basis_name, grant) = authorize_online_disclosure(tx, patron, requester)?;
    let basis = basis_of(tx, &basis_name)?;
    let classes = all_classes();
    let (from, to) = (
        NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN),
        tx.today(),
    );
    let (id, reference) = insert_request(
        tx,
        &Insert {
            kind: requester,
            requester: None,
            requester_patron_id: Some(patron.patron_id()),
            subject,
            basis: &basis_name,
            classes: &classes,
            from,
            to,
            reason: None,
            gagged: false,
            received_by: None,
        },
    )?;
    let who = grant.principal();
    add_step(tx, id, who, TimelineStep::Record, Some("online"), None)?;
    // What the sign-in proves, and what the online form is.
    let mut documents = vec![DocumentKind::CardAndPin];
    if requester == RequesterKind::Guardian {
        documents.push(DocumentKind::LibraryCard);
    }
    if basis.wants(DocumentKind::WrittenRequest) {
        documents.push(DocumentKind::WrittenRequest);
    }
    for kind in documents {
        insert_document(tx, id, &ParsedDocument::of_kind(kind), who)?;
    }
    let stored = reload(tx, id)?;
    // A refusal rolls the request back, number included, so the next
    // request gets its reference: the refusal's audit entry must not name
    // it (it would be filed under someone else's request).
    check_lawful(
        tx,
        &stored,
        &basis,
        &grant,
        carrel_policy::lawful::Release::Ordinary,
    )
    .map_err(|error| match error {
        Error::Denied { reason, entry } => Error::Denied {
            reason,
            entry: Box::new(entry.on(None)),
        },
        other => other,
    })?;
    let cover = cover(
        tx,
        &stored,
        &basis,
        "the requester, signed in with card and PIN",
    );
    let package = package::build(tx, &grant, cover, &classes, from, to, None)?;
    let now = tx.now().timestamp();
    tx.conn.execute(
        "UPDATE disclosure_requests SET state = ?, released_at = ?, closed_at = ? WHERE id = ?",
        params![RequestState::Closed.name(), now, now, id],
    )?;
    store_package(tx, id, &package, false)?;
    add_step(
        tx,
        id,
        who,
        TimelineStep::Release,
        Some(&format!("{} records", package.records)),
        None,
    )?;
    add_step(
        tx,
        id,
        who,
        TimelineStep::Close,
        Some("downloaded online"),
        None,
    )?;
    grant.record(
        tx,
        &reference,
        format!("online release of {} records", package.records),
    );
    Ok((reference, package))
}

/// A patron's own records, all of them (R2, A1).
pub fn own_records(tx: &mut Tx<'_>, patron: &PatronActor) -> Result<(String, Package), Error> {
    release_online(tx, patron, RequesterKind::Patron, patron.patron_id())
}

/// A minor's records, to the signed-in guardian who enters the minor's card
/// number (Colorado, R3): only where the policy serves a guardian basis
/// online, only the guardian linked to the minor's account, and only until
/// the minor comes of age.
///
/// A refusal says nothing about the card. No such card, an adult's card, a
/// minor who is not the requester's ward and a minor come of age all get
/// the one [`Error::MinorRecordsRefused`]; the reason goes to the audit log
/// only. (Answered apart, 35 probes in 0.7 s told a signed-in patron which
/// cards exist and which belong to minors, and missing cards left no
/// trace.) Refused lookups are counted per patron (`attempts`): past
/// [`crate::attempts::MAX_REFUSED_MINOR_LOOKUPS`] in a window, lookups are
/// refused unchecked with [`Error::TooManyAttempts`], also on the record.
///
/// The outer error rolls the transaction back: a malformed card number, a
/// policy that serves no guardian online (the same answer for every card),
/// a failure. The inner one is a refusal, committed with its audit entry
/// and the attempt's count.
pub fn minor_records(
    tx: &mut Tx<'_>,
    patron: &PatronActor,
    minor_card: &str,
) -> Result<Result<(String, Package), Error>, Error> {
    let (basis_name, _) = authorize_online_disclosure(tx, patron, RequesterKind::Guardian)?;
    let barcode = CardBarcode::parse(minor_card)?;
    let account = Account::Patron(patron.patron_id());
    if !attempts::reserve(tx, account, Attempt::MinorRecords)? {
        record_online_refusal(tx, patron, None, "throttled");
        return Ok(Err(Error::TooManyAttempts));
    }
    let basis = basis_of(tx, &basis_name)?;
    let minor = match patrons::id_by_barcode(tx, &barcode) {
        Ok(id) => id,
        Err(Error::NotFound { .. }) => {
            record_online_refusal(tx, patron, None, "no_such_card");
            return Ok(Err(Error::MinorRecordsRefused));
        }
        Err(e) => return Err(e),
    };
    if let Some((code, _)) = guardian_refusal(tx, &basis, minor, Some(patron.patron_id()))? {
        record_online_refusal(tx, patron, Some(minor), code);
        return Ok(Err(Error::MinorRecordsRefused));
    }
    attempts::give_back(tx, account, Attempt::MinorRecords)?;
    release_online(tx, patron, RequesterKind::Guardian, minor).map(Ok)
}
