//! Library programs and their registrations. A program (a title and a time)
//! holds no personal data; a registration links a patron to it and is kept
//! only until the program ends ("shredded at the conclusion of the
//! program" in the Missouri policy), on the program-registration clock.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::gate::{Create, Grant, ProgramRegistration, Read, Update};
use crate::{patrons, validate, Tx};

/// A library program: an event with a title and a time, which patrons register
/// for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Program {
    /// The program's record id.
    pub id: i64,
    /// The program's title.
    pub title: String,
    /// When the program starts, in Unix seconds.
    pub starts_at: i64,
    /// When the program ends, in Unix seconds; registrations close then and
    /// their retention clock starts.
    pub ends_at: i64,
    /// The most registrations it takes; `None` for no limit.
    #[schema(required = true)]
    pub capacity: Option<i64>,
    /// How many patrons are registered now.
    pub registered: i64,
}

/// A patron's registration for a program.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Registration {
    /// The registration's record id.
    pub id: i64,
    /// The program registered for.
    pub program_id: i64,
    /// The patron registered; `None` once the retention purge has anonymised
    /// the registration.
    #[schema(required = true)]
    pub patron_id: Option<i64>,
    /// When the patron registered, in Unix seconds.
    pub registered_at: i64,
}

fn select_program(tx: &mut Tx<'_>, id: i64, lock: bool) -> Result<Program, Error> {
    let lock = if lock { tx.conn.for_update() } else { "" };
    let row = tx
        .conn
        .query_opt(
            &format!(
                "SELECT id, title, starts_at, ends_at, capacity FROM programs WHERE id = ?{lock}"
            ),
            params![id],
        )?
        .ok_or(Error::NotFound { what: "program" })?;
    let registered = tx
        .conn
        .query_one(
            "SELECT COUNT(*) FROM program_registrations WHERE program_id = ?",
            params![id],
        )?
        .int(Only)?;
    Ok(Program {
        id: row.int("id")?,
        title: row.text("title")?,
        starts_at: row.int("starts_at")?,
        ends_at: row.int("ends_at")?,
        capacity: row.opt_int("capacity")?,
        registered,
    })
}

fn registration_from(row: &crate::db::Row) -> Result<Registration, Error> {
    Ok(Registration {
        id: row.int("id")?,
        program_id: row.int("program_id")?,
        patron_id: row.opt_int("patron_id")?,
        registered_at: row.int("registered_at")?,
    })
}

/// Creates a program. Taken on a create grant for registrations: whoever
/// signs patrons up for programs also lists them.
pub fn create(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, ProgramRegistration>,
    title: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    capacity: Option<i64>,
) -> Result<Program, Error> {
    let title = validate::text("title", title, 200)?;
    // A program's end starts its registrations' retention clock: one that
    // ends in 9999 would keep them for good.
    let starts_at = validate::instant("starts_at", starts_at)?;
    let ends_at = validate::instant("ends_at", ends_at)?;
    if ends_at <= starts_at {
        return Err(Error::invalid(
            "bad_times",
            "ends_at must be after starts_at",
        ));
    }
    if capacity.is_some_and(|c| c < 1) {
        return Err(Error::invalid(
            "bad_capacity",
            "capacity must be at least 1, or left out for no limit",
        ));
    }
    let id = tx.conn.insert(
        "INSERT INTO programs (title, starts_at, ends_at, capacity, created_at) VALUES (?, ?, ?, ?, ?)",
        params![&title, starts_at.timestamp(), ends_at.timestamp(), capacity, tx.now().timestamp()],
    )?;
    grant.used_on(tx, crate::gate::SubjectKind::Program, id);
    select_program(tx, id, false)
}

/// One program with its registration count, audited as a read of the program.
pub fn load(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, ProgramRegistration>,
    id: i64,
) -> Result<Program, Error> {
    let program = select_program(tx, id, false)?;
    grant.used_on(tx, crate::gate::SubjectKind::Program, id);
    Ok(program)
}

/// Registers a patron for a program that has not ended and has room.
pub fn register(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, ProgramRegistration>,
    program_id: i64,
    patron_id: i64,
) -> Result<Registration, Error> {
    patrons::require_current(tx, patron_id)?;
    let program = select_program(tx, program_id, true)?;
    if program.ends_at <= tx.now().timestamp() {
        return Err(Error::refused(
            "program_ended",
            "this program has ended; registrations are closed",
        ));
    }
    if program.capacity.is_some_and(|c| program.registered >= c) {
        return Err(Error::refused("program_full", "this program is full"));
    }
    let already = tx
        .conn
        .query_opt(
            "SELECT id FROM program_registrations WHERE program_id = ? AND patron_id = ?",
            params![program_id, patron_id],
        )?
        .is_some();
    if already {
        return Err(Error::refused(
            "already_registered",
            "the patron is already registered for this program",
        ));
    }
    let id = tx.conn.insert(
        "INSERT INTO program_registrations (program_id, patron_id, registered_at) VALUES (?, ?, ?)",
        params![program_id, patron_id, tx.now().timestamp()],
    )?;
    grant.used_on(tx, crate::retention::RecordKind::ProgramRegistration, id);
    let row = tx.conn.query_one(
        "SELECT id, program_id, patron_id, registered_at FROM program_registrations WHERE id = ?",
        params![id],
    )?;
    registration_from(&row)
}

/// Cancels a registration: the record is deleted at once, since nothing
/// needs it any more.
pub fn cancel(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, ProgramRegistration>,
    registration_id: i64,
) -> Result<(), Error> {
    // As a purge destroys it; one only a restricted case's hold pins is
    // set aside instead, and the answer is the same (L6).
    if !crate::retention::kept_in_secret::delete_at_desk(
        tx,
        crate::retention::RecordKind::ProgramRegistration,
        registration_id,
    )? {
        return Err(Error::NotFound {
            what: "program registration",
        });
    }
    grant.record(
        tx,
        Some(format!("program_registration:{registration_id}")),
        Some("cancelled and deleted".into()),
    );
    Ok(())
}

/// Who is registered for a program (the roster for the door).
pub fn roster(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, ProgramRegistration>,
    program_id: i64,
) -> Result<Vec<Registration>, Error> {
    select_program(tx, program_id, false)?;
    let rows = tx.conn.query(
        "SELECT id, program_id, patron_id, registered_at FROM program_registrations WHERE program_id = ? ORDER BY id",
        params![program_id],
    )?;
    grant.record(
        tx,
        Some(format!("program:{program_id}")),
        Some(format!("roster of {}", rows.len())),
    );
    rows.iter().map(registration_from).collect()
}

/// A patron's program registrations; audited as one read on the patron.
pub fn of_patron(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, ProgramRegistration>,
    patron_id: i64,
) -> Result<Vec<Registration>, Error> {
    crate::patrons::must_exist(tx, patron_id)?;
    let rows = tx.conn.query(
        "SELECT id, program_id, patron_id, registered_at FROM program_registrations WHERE patron_id = ? ORDER BY id",
        params![patron_id],
    )?;
    grant.record(
        tx,
        Some(format!("patron:{patron_id}")),
        Some(format!("{} program registrations", rows.len())),
    );
    rows.iter().map(registration_from).collect()
}
