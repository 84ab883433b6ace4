//! Public computer sessions (electronic access): who used which terminal,
//! from when to when. Kept only as the policy says after the session ends,
//! unless a legal hold preserves them (L5).

use serde::Serialize;

use crate::db::params;
use crate::error::Error;
use crate::gate::{Create, ElectronicAccess, Grant, Read, Update};
use crate::{patrons, validate, Tx};

/// A patron's session on one of the library's public computers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ComputerSession {
    /// The session's record id.
    pub id: i64,
    /// The patron who used the computer; `None` once the retention purge has
    /// anonymised the session.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// The terminal's name, as staff entered it (at most 50 characters).
    pub terminal: String,
    /// When the session began, in Unix seconds.
    pub started_at: i64,
    /// When the session ended, in Unix seconds; `None` while it is in progress.
    #[schema(required = true)]
    pub ended_at: Option<i64>,
}

const COLUMNS: &str = "id, patron_id, terminal, started_at, ended_at";

fn from_row(row: &crate::db::Row) -> Result<ComputerSession, Error> {
    Ok(ComputerSession {
        id: row.int("id")?,
        patron_id: row.opt_int("patron_id")?,
        terminal: row.text("terminal")?,
        started_at: row.int("started_at")?,
        ended_at: row.opt_int("ended_at")?,
    })
}

fn select(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<ComputerSession, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!("SELECT {COLUMNS} FROM computer_sessions WHERE id = ?{lock}"),
            params![id],
        )?
        .ok_or(Error::NotFound {
            what: "computer session",
        })?;
    from_row(&row)
}

/// Starts a session on a terminal, which must be free.
pub fn start(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, ElectronicAccess>,
    patron_id: i64,
    terminal: &str,
) -> Result<ComputerSession, Error> {
    let terminal = validate::text("terminal", terminal, 50)?;
    patrons::require_current(tx, patron_id)?;
    let busy = tx
        .conn
        .query_opt(
            "SELECT id FROM computer_sessions WHERE terminal = ? AND ended_at IS NULL",
            params![&terminal],
        )?
        .is_some();
    if busy {
        return Err(Error::refused(
            "terminal_in_use",
            "that terminal has a session in progress; end it first or choose another terminal",
        ));
    }
    let id = tx.conn.insert(
        "INSERT INTO computer_sessions (patron_id, terminal, started_at) VALUES (?, ?, ?)",
        params![patron_id, &terminal, tx.now().timestamp()],
    )?;
    grant.used_on(tx, crate::retention::RecordKind::ComputerSession, id);
    select(tx, id, false)
}

/// Ends a session in progress, freeing its terminal; the end starts the
/// session's retention clock.
pub fn end(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, ElectronicAccess>,
    id: i64,
) -> Result<ComputerSession, Error> {
    let session = select(tx, id, true)?;
    if session.ended_at.is_some() {
        return Err(Error::refused(
            "session_ended",
            "this computer session has already ended",
        ));
    }
    tx.conn.execute(
        "UPDATE computer_sessions SET ended_at = ? WHERE id = ?",
        params![tx.now().timestamp(), id],
    )?;
    grant.record(
        tx,
        Some(format!("computer_session:{id}")),
        Some("ended".into()),
    );
    select(tx, id, false)
}

/// A patron's computer sessions, oldest first; audited as one read on the
/// patron.
pub fn of_patron(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, ElectronicAccess>,
    patron_id: i64,
) -> Result<Vec<ComputerSession>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        &format!(
            "SELECT {COLUMNS} FROM computer_sessions WHERE patron_id = ? ORDER BY started_at, id"
        ),
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} computer sessions", rows.len())),
    );
    rows.iter().map(from_row).collect()
}
