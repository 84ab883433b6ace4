//! Alerts to the Director (L1, L4): raised in the same transaction that
//! records a law-enforcement request or a search warrant, shown inside
//! Carrel at once, and queued for the optional e-mail hook (`carrel serve
//! --alert-command`), which the server drains. An alert carries no personal
//! data: what happened, when, and the request's reference, and for a
//! request under a gag order not even the reference (the mail leaves
//! Carrel).

use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::Actor;
use crate::{Store, Tx};

use super::visibility::Viewer;

/// What an alert is about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A law-enforcement officer or agency asked for records; staff
    /// recorded the request and referred it (L1).
    LawEnforcementRequest,
    /// A search warrant is being executed: staff stand back, record it,
    /// and the Director is told at once (L4).
    SearchWarrant,
    /// An exigent release's document is overdue (L3).
    DocumentOverdue,
}

impl AlertKind {
    /// The kind as stored and shown (`law_enforcement_request`,
    /// `search_warrant`, `document_overdue`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What the alert says.
    pub fn message(self) -> &'static str {
        match self {
            AlertKind::LawEnforcementRequest => {
                "A law-enforcement request was recorded and referred to you."
            }
            AlertKind::SearchWarrant => {
                "A search warrant is being executed. Staff have stood back and recorded it; contact them now."
            }
            AlertKind::DocumentOverdue => {
                "The document promised after an exigent release is overdue."
            }
        }
    }
}

/// An alert to a staff role about a disclosure request, as shown inside Carrel.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Alert {
    /// The alert's id.
    pub id: i64,
    /// What the alert is about.
    pub kind: AlertKind,
    /// What the alert says, in words; no personal data.
    pub message: String,
    /// The request's reference (`D-12`).
    pub request: String,
    /// When the alert was raised, in Unix seconds.
    pub created_at: i64,
    /// When the alert was marked read, in Unix seconds; `None` while unread. An
    /// alert is to a role, so one reader marks it read for all who hold the
    /// role.
    #[schema(required = true)]
    pub read_at: Option<i64>,
}

/// Raises an alert for every role the policy alerts.
pub(crate) fn raise(tx: &mut Tx<'_>, request_id: i64, kind: AlertKind) -> Result<(), Error> {
    let roles = tx.policy().disclosure.alert.clone();
    let now = tx.now().timestamp();
    for role in roles {
        tx.conn.execute(
            "INSERT INTO staff_alerts (role, request_id, kind, created_at) VALUES (?, ?, ?, ?)",
            params![&role, request_id, kind.name(), now],
        )?;
    }
    // Neither the request nor the kind: a log line naming them would tell
    // whoever reads the logs that a restricted case exists (L6).
    tracing::info!("alert raised");
    Ok(())
}

/// The alerts for the signed-in staff member's role, newest first, about
/// requests they can see.
pub fn for_actor(tx: &mut Tx<'_>, actor: &Actor) -> Result<Vec<Alert>, Error> {
    let viewer = Viewer::of(tx, actor);
    let (visible, visible_params) = viewer.sql();
    let role = actor.role().to_string();
    let mut params = vec![crate::db::Param::Text(&role)];
    params.extend(visible_params);
    let rows = tx.conn.query(
        &format!(
            "SELECT a.id, a.kind, r.series, r.number, a.created_at, a.read_at
             FROM staff_alerts a JOIN disclosure_requests r ON r.id = a.request_id
             WHERE a.role = ? AND {visible} ORDER BY a.id DESC"
        ),
        &params,
    )?;
    rows.iter()
        .map(|row| {
            let kind: AlertKind = row.name("kind")?;
            Ok(Alert {
                id: row.int("id")?,
                message: kind.message().to_string(),
                kind,
                request: format!("{}-{}", row.text("series")?, row.int("number")?),
                created_at: row.int("created_at")?,
                read_at: row.opt_int("read_at")?,
            })
        })
        .collect()
}

/// Marks one of the staff member's alerts as read.
pub fn mark_read(tx: &mut Tx<'_>, actor: &Actor, id: i64) -> Result<Alert, Error> {
    let alert = for_actor(tx, actor)?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(Error::NotFound { what: "alert" })?;
    tx.conn.execute(
        "UPDATE staff_alerts SET read_at = ? WHERE id = ? AND read_at IS NULL",
        params![tx.now().timestamp(), id],
    )?;
    Ok(Alert {
        read_at: Some(alert.read_at.unwrap_or(tx.now().timestamp())),
        ..alert
    })
}

/// An alert to be sent by the e-mail hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMail {
    /// The alert's id, to pass to [`mark_mailed`] once the hook has taken it.
    pub id: i64,
    /// The role the alert is for, as the policy names it.
    pub role: String,
    /// The mail's subject line; a request under a gag order is not named in it.
    pub subject: String,
    /// The mail's text: what the alert says and where to sign in.
    pub body: String,
}

/// Chases documents owed after exigent releases (L3): raises one
/// "document overdue" alert for each request whose deadline has passed
/// without the document, once. The server runs it with the e-mail hook.
pub fn chase_overdue(store: &Store) -> Result<usize, Error> {
    let now = store.now().timestamp();
    store.transact(|tx| {
        let rows = tx.conn.query(
            "SELECT r.id FROM disclosure_requests r
             WHERE r.document_due_at IS NOT NULL AND r.document_due_at < ?
               AND NOT EXISTS (SELECT 1 FROM staff_alerts a WHERE a.request_id = r.id AND a.kind = ?)",
            params![now, AlertKind::DocumentOverdue.name()],
        )?;
        for row in &rows {
            raise(tx, row.int(Only)?, AlertKind::DocumentOverdue)?;
        }
        Ok(rows.len())
    })
}

/// Alerts not yet handed to the e-mail hook, oldest first. No personal data
/// in them, so no grant: this is Carrel's own bookkeeping.
pub fn unmailed(store: &Store) -> Result<Vec<AlertMail>, Error> {
    store.bookkeeping(|conn, _| {
        let rows = conn.query(
            "SELECT a.id, a.role, a.kind, r.series, r.number, r.gagged
             FROM staff_alerts a JOIN disclosure_requests r ON r.id = a.request_id
             WHERE a.mailed_at IS NULL ORDER BY a.id LIMIT 100",
            params![],
        )?;
        rows.iter()
            .map(|row| {
                let kind: AlertKind = row.name("kind")?;
                let gagged = row.int("gagged")? != 0;
                let reference = format!("{}-{}", row.text("series")?, row.int("number")?);
                let (subject, link) = if gagged {
                    (
                        "Carrel: a restricted request needs you".to_string(),
                        "Sign in to Carrel and open your alerts.".to_string(),
                    )
                } else {
                    (
                        format!("Carrel: disclosure request {reference} needs you"),
                        format!("Sign in to Carrel: /staff/disclosures/{reference}"),
                    )
                };
                Ok(AlertMail {
                    id: row.int("id")?,
                    role: row.text("role")?,
                    subject,
                    body: format!("{}\n\n{link}\n", kind.message()),
                })
            })
            .collect()
    })
}

/// Notes that the hook took an alert, so it is not sent twice.
pub fn mark_mailed(store: &Store, id: i64) -> Result<(), Error> {
    let now = store.now().timestamp();
    store.bookkeeping(|conn, _| {
        conn.execute(
            "UPDATE staff_alerts SET mailed_at = ? WHERE id = ?",
            params![now, id],
        )?;
        Ok(())
    })
}
