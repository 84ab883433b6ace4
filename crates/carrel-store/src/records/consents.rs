//! Consents (C1, C3, C4): a patron's e-mail address is kept only with
//! their consent, and a mailing list's sign-up is one. Each consent is
//! kept on the record it allows (the registration, the subscription), so
//! it goes when the record goes, with when it was given, the policy
//! version in force then, and the SHA-256 of what that version said the
//! consent covers (`carrel_policy::notice::consent_covers`).
//!
//! When the policy in force says something else about what a consent
//! covers, the consent is stale: the patron is asked again at their next
//! sign-in, and meanwhile nothing new is collected under it (a stale
//! mailing-list consent receives no mailing: see
//! `mailing_lists::record_mailing`).

use carrel_policy::notice::{consent_covers, ConsentKind};

use crate::db::params;
use crate::error::Error;
use crate::secrets::sha256_hex;
use crate::Tx;

/// The SHA-256 of what a policy says each kind of consent covers.
#[derive(Debug, Clone)]
pub(crate) struct Digests {
    email: String,
    mailing_list: String,
}

impl Digests {
    /// The digests of `policy` (the store keeps them: its policy never
    /// changes while it is open).
    pub(crate) fn of(policy: &carrel_policy::Policy) -> Digests {
        let digest = |kind| sha256_hex(consent_covers(policy, kind).as_bytes());
        Digests {
            email: digest(ConsentKind::Email),
            mailing_list: digest(ConsentKind::MailingList),
        }
    }
}

/// The policy version in force and the digest of what it says a consent
/// of `kind` covers: what a consent given now records.
pub(crate) fn stamp(tx: &Tx<'_>, kind: ConsentKind) -> (i64, String) {
    let digests = tx.consent_digests();
    let digest = match kind {
        ConsentKind::Email => &digests.email,
        ConsentKind::MailingList => &digests.mailing_list,
    };
    (tx.policy_version_id(), digest.clone())
}

/// Records (or, with `given` false, clears) the consent that keeps the
/// patron's e-mail address: called whenever the address is set or
/// removed, at the desk or online.
pub(crate) fn set_email_consent(tx: &mut Tx<'_>, patron_id: i64, given: bool) -> Result<(), Error> {
    if given {
        let (version, covers) = stamp(tx, ConsentKind::Email);
        tx.conn.execute(
            "UPDATE patrons SET email_consent_at = ?, email_consent_policy_version = ?, email_consent_covers = ? WHERE id = ?",
            params![tx.now().timestamp(), version, &covers, patron_id],
        )?;
    } else {
        tx.conn.execute(
            "UPDATE patrons SET email_consent_at = NULL, email_consent_policy_version = NULL, email_consent_covers = NULL, notices = NULL WHERE id = ?",
            params![patron_id],
        )?;
    }
    Ok(())
}

/// What a consent is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// Keeping the e-mail address, for account notices.
    Email,
    /// A mailing list's sign-up: the subscription's id, and the list's
    /// name.
    MailingList {
        /// The subscription's record id.
        subscription: i64,
        /// The list's name.
        list: String,
    },
}

/// One consent of a patron's, as they are shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// What it is about.
    pub topic: Topic,
    /// When it was given, in Unix seconds (`None`: before Carrel recorded
    /// consents).
    pub given_at: Option<i64>,
    /// The policy version it was given under (`None`: not recorded).
    pub policy_version: Option<i64>,
    /// Whether the policy in force still says what it said then about what
    /// the consent covers. A stale consent is asked again.
    pub current: bool,
}

/// Every consent the patron holds: the e-mail address's, if one is kept,
/// and each mailing list's.
pub(crate) fn of_patron(tx: &mut Tx<'_>, patron_id: i64) -> Result<Vec<Consent>, Error> {
    let (_, email_now) = stamp(tx, ConsentKind::Email);
    let (_, list_now) = stamp(tx, ConsentKind::MailingList);
    let mut consents = Vec::new();
    let email = tx.conn.query_opt(
        "SELECT p.email_consent_at, p.email_consent_policy_version, p.email_consent_covers
         FROM patrons p JOIN patron_fields f ON f.patron_id = p.id AND f.name = 'email'
         WHERE p.id = ?",
        params![patron_id],
    )?;
    if let Some(row) = email {
        consents.push(Consent {
            topic: Topic::Email,
            given_at: row.opt_int("email_consent_at")?,
            policy_version: row.opt_int("email_consent_policy_version")?,
            current: row.opt_text("email_consent_covers")?.as_deref() == Some(email_now.as_str()),
        });
    }
    for row in tx.conn.query(
        "SELECT s.id, s.consent_at, s.consent_policy_version, s.consent_covers, l.name
         FROM list_subscriptions s JOIN mailing_lists l ON l.id = s.list_id
         WHERE s.patron_id = ? ORDER BY s.id",
        params![patron_id],
    )? {
        let version = row.opt_int("consent_policy_version")?;
        consents.push(Consent {
            topic: Topic::MailingList {
                subscription: row.int("id")?,
                list: row.text("name")?,
            },
            given_at: row.opt_int("consent_at")?,
            policy_version: version,
            current: row.opt_text("consent_covers")?.as_deref() == Some(list_now.as_str()),
        });
    }
    Ok(consents)
}

/// Gives the mailing-list consent of subscription `id` again, under the
/// policy in force.
pub(crate) fn renew_subscription(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    let (version, covers) = stamp(tx, ConsentKind::MailingList);
    tx.conn.execute(
        "UPDATE list_subscriptions SET consent_at = ?, consent_policy_version = ?, consent_covers = ? WHERE id = ?",
        params![tx.now().timestamp(), version, &covers, id],
    )?;
    Ok(())
}

/// SQL true for a subscription `s` whose consent is current (its digest
/// is the parameter): only these receive a mailing.
pub(crate) const SUBSCRIPTION_CONSENT_CURRENT: &str = "s.consent_covers = ?";

/// What a registration's record holds beyond `patrons::fetch`'s fields,
/// for the patron's own package (A1: all personal data held): the e-mail
/// consent (when, under which policy version), the account notices
/// chosen, and every correction (pending ones with the value asked for;
/// decided ones with when and which kind of photo ID).
pub(crate) fn registration_extras(
    tx: &mut Tx<'_>,
    patron_id: i64,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    use serde_json::json;
    let mut extras = serde_json::Map::new();
    let row = tx.conn.query_one(
        "SELECT email_consent_at, email_consent_policy_version, notices FROM patrons WHERE id = ?",
        params![patron_id],
    )?;
    if let Some(at) = row.opt_int("email_consent_at")? {
        extras.insert(
            "email_consent".into(),
            json!({"given_at": at, "policy_version": row.opt_int("email_consent_policy_version")?}),
        );
    }
    if let Some(notices) = row.opt_text("notices")? {
        extras.insert("notices".into(), json!(notices));
    }
    let corrections: Vec<serde_json::Value> = tx
        .conn
        .query(
            "SELECT field, value, state, online, submitted_at, decided_at, id_kind FROM corrections WHERE patron_id = ? ORDER BY id",
            params![patron_id],
        )?
        .iter()
        .map(|row| {
            Ok(json!({
                "field": row.text("field")?,
                "value_asked_for": row.opt_text("value")?,
                "state": row.text("state")?,
                "sent_online": row.int("online")? != 0,
                "submitted_at": row.int("submitted_at")?,
                "decided_at": row.opt_int("decided_at")?,
                "photo_id_kind": row.opt_text("id_kind")?,
            }))
        })
        .collect::<Result<_, Error>>()?;
    if !corrections.is_empty() {
        extras.insert("corrections".into(), serde_json::Value::Array(corrections));
    }
    Ok(extras)
}
