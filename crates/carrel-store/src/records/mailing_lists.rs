//! Opt-in mailing lists and their subscriptions. A list is active while the
//! library sends to it or people join it; a list inactive for the policy's
//! period is deleted with its subscriptions ("lists will be deleted or
//! shredded when they have been inactive for six months").

use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::{Create, Grant, MailingList, Read, Update};
use crate::{patrons, validate, Tx};

/// A mailing list patrons may opt in to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = MailingList)]
pub struct List {
    /// The list's record id.
    pub id: i64,
    /// The list's name, unique in the library.
    pub name: String,
    /// What the list is about, for patrons choosing it.
    pub description: String,
    /// When the list was created, in Unix seconds.
    pub created_at: i64,
    /// When the library last sent to the list or someone joined it, in Unix
    /// seconds; the list's retention clock runs from here.
    pub last_active_at: i64,
    /// How many patrons are subscribed now.
    pub subscribers: i64,
    /// Subscribers whose consent is current: a mailing goes only to them.
    /// A consent the policy has since changed waits for the patron to
    /// give it again (C1), and until then nothing is sent under it.
    pub recipients: i64,
}

/// A patron's opt-in to one mailing list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Subscription {
    /// The subscription's record id.
    pub id: i64,
    /// The list subscribed to.
    pub list_id: i64,
    /// The patron subscribed; `None` once the retention purge has anonymised
    /// the subscription.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// When the patron subscribed, in Unix seconds.
    pub subscribed_at: i64,
}

fn select_list(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<List, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!(
                "SELECT id, name, description, created_at, last_active_at FROM mailing_lists WHERE id = ?{lock}"
            ),
            params![id],
        )?
        .ok_or(Error::NotFound {
            what: "mailing list",
        })?;
    let subscribers = tx
        .conn
        .query_one(
            "SELECT COUNT(*) FROM list_subscriptions WHERE list_id = ?",
            params![id],
        )?
        .int(Only)?;
    let (_, current) = crate::consents::stamp(tx, carrel_policy::notice::ConsentKind::MailingList);
    let recipients = tx
        .conn
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM list_subscriptions s WHERE s.list_id = ? AND {}",
                crate::consents::SUBSCRIPTION_CONSENT_CURRENT
            ),
            params![id, &current],
        )?
        .int(Only)?;
    Ok(List {
        id: row.int("id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        created_at: row.int("created_at")?,
        last_active_at: row.int("last_active_at")?,
        subscribers,
        recipients,
    })
}

fn subscription_from(row: &crate::db::Row) -> Result<Subscription, Error> {
    Ok(Subscription {
        id: row.int("id")?,
        list_id: row.int("list_id")?,
        patron_id: row.opt_int("patron_id")?,
        subscribed_at: row.int("subscribed_at")?,
    })
}

/// Creates a mailing list, active from now; its name must be new.
pub fn create(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, MailingList>,
    name: &str,
    description: &str,
) -> Result<List, Error> {
    let name = validate::text("name", name, 100)?;
    let description = validate::text("description", description, 500)?;
    let taken = tx
        .conn
        .query_opt(
            "SELECT id FROM mailing_lists WHERE name = ?",
            params![&name],
        )?
        .is_some();
    if taken {
        return Err(Error::refused(
            "list_exists",
            "a mailing list with that name already exists",
        ));
    }
    let now = tx.now().timestamp();
    let id = tx.conn.insert(
        "INSERT INTO mailing_lists (name, description, created_at, last_active_at) VALUES (?, ?, ?, ?)",
        params![&name, &description, now, now],
    )?;
    grant.used_on(tx, crate::gate::SubjectKind::MailingList, id);
    select_list(tx, id, false)
}

/// One list with its subscriber count, audited as a read of the list.
pub fn load(tx: &mut Tx<'_>, grant: &Grant<Read, MailingList>, id: i64) -> Result<List, Error> {
    let list = select_list(tx, id, false)?;
    grant.used_on(tx, crate::gate::SubjectKind::MailingList, id);
    Ok(list)
}

/// Records that the library sent a mailing to the list: the list is active.
pub fn record_mailing(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, MailingList>,
    id: i64,
) -> Result<List, Error> {
    select_list(tx, id, true)?;
    tx.conn.execute(
        "UPDATE mailing_lists SET last_active_at = ? WHERE id = ?",
        params![tx.now().timestamp(), id],
    )?;
    grant.record(
        tx,
        Some(format!("mailing_list:{id}")),
        Some("mailing sent".into()),
    );
    select_list(tx, id, false)
}

/// A patron opts in. Joining makes the list active.
pub fn subscribe(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, MailingList>,
    list_id: i64,
    patron_id: i64,
) -> Result<Subscription, Error> {
    patrons::require_current(tx, patron_id)?;
    select_list(tx, list_id, true)?;
    let already = tx
        .conn
        .query_opt(
            "SELECT id FROM list_subscriptions WHERE list_id = ? AND patron_id = ?",
            params![list_id, patron_id],
        )?
        .is_some();
    if already {
        return Err(Error::refused(
            "already_subscribed",
            "the patron is already on this mailing list",
        ));
    }
    let now = tx.now().timestamp();
    // Signing up is the patron's consent (C1, C4), under the policy in force.
    let (version, covers) =
        crate::consents::stamp(tx, carrel_policy::notice::ConsentKind::MailingList);
    let id = tx.conn.insert(
        "INSERT INTO list_subscriptions (list_id, patron_id, subscribed_at, consent_at, consent_policy_version, consent_covers) VALUES (?, ?, ?, ?, ?, ?)",
        params![list_id, patron_id, now, now, version, &covers],
    )?;
    tx.conn.execute(
        "UPDATE mailing_lists SET last_active_at = ? WHERE id = ?",
        params![now, list_id],
    )?;
    grant.used_on(tx, crate::retention::RecordKind::ListSubscription, id);
    let row = tx.conn.query_one(
        "SELECT id, list_id, patron_id, subscribed_at FROM list_subscriptions WHERE id = ?",
        params![id],
    )?;
    subscription_from(&row)
}

/// A patron opts out: the subscription is deleted at once.
pub fn unsubscribe(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, MailingList>,
    subscription_id: i64,
) -> Result<(), Error> {
    // As a purge destroys it; one only a restricted case's hold pins is
    // set aside instead, and the answer is the same (L6).
    if !crate::retention::kept_in_secret::delete_at_desk(
        tx,
        crate::retention::RecordKind::ListSubscription,
        subscription_id,
    )? {
        return Err(Error::NotFound {
            what: "subscription",
        });
    }
    grant.record(
        tx,
        Some(format!("list_subscription:{subscription_id}")),
        Some("unsubscribed and deleted".into()),
    );
    Ok(())
}

/// A patron's subscriptions; audited as one read on the patron.
pub fn of_patron(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, MailingList>,
    patron_id: i64,
) -> Result<Vec<Subscription>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        "SELECT id, list_id, patron_id, subscribed_at FROM list_subscriptions WHERE patron_id = ? ORDER BY id",
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} subscriptions", rows.len())),
    );
    rows.iter().map(subscription_from).collect()
}
