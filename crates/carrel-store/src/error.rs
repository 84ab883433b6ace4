//! Errors that say what was wrong and what to do, and never carry personal
//! data: messages name fields, classes and rules, not values.

use carrel_policy::DenyReason;

use crate::audit::PendingEntry;

/// The store's one error type: each failure has a stable code (see
/// [`Error::code`]) and a message that names fields and rules, never values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gate refused. The entry is written to the audit log even though
    /// the transaction that asked is rolled back.
    #[error("{reason}")]
    Denied {
        /// Why the policy refused, with its code.
        reason: DenyReason,
        #[doc(hidden)]
        entry: Box<PendingEntry>,
    },
    /// No live session stands behind the request: not signed in, or the session
    /// has ended.
    #[error("not signed in, or the session has expired; sign in again")]
    Unauthenticated,
    /// A sign-in that did not succeed, for whichever reason: an unknown
    /// username or card, a wrong password or PIN, a card that is blocked,
    /// expired or has no PIN, or an account that has used up its failed
    /// attempts. One answer for all, so a guess cannot tell which (C2).
    #[error("the sign-in was refused: the card number or username and the PIN or password do not match an account that may sign in, or the account has had too many failed sign-ins in the last {} minutes; check them and try again later", crate::attempts::THROTTLE_MINUTES)]
    SignInRefused,
    /// Too many failed attempts (sign-ins, or lookups of a minor's
    /// records) from this account or this network in the throttle window.
    /// Nothing was checked.
    #[error("too many failed attempts; nothing was checked; wait {} minutes and try again, or ask at the library", crate::attempts::THROTTLE_MINUTES)]
    TooManyAttempts,
    /// A guardian's online request for a minor's records was refused. One
    /// answer whatever the reason (no such card, not a minor, not the
    /// guardian on record, the minor has come of age), so the answer does
    /// not tell a stranger whether a card exists or whose it is (R3). The
    /// reason is in the audit log.
    #[error("the records of that card cannot be released to you online: it must be the card of a minor whose guardian on record you are; check the number, and if it is right, ask at the library")]
    MinorRecordsRefused,
    /// A record that does not exist, or one the caller may not know exists (a
    /// request under a gag order outside its circle).
    #[error("{what} not found")]
    NotFound {
        /// What was not found, in words (`patron`, `loan`, `legal hold`).
        what: &'static str,
    },
    /// Input that breaks a rule of form (bad barcode, undeclared field).
    #[error("{message}")]
    Invalid {
        /// A stable, machine-readable code for the client (`bad_date`).
        code: &'static str,
        /// Which field breaks which rule, naming no value.
        message: String,
    },
    /// The HTTP request itself could not be read as one: not JSON, too
    /// large, too slow, or not well formed. What is wrong is the variant's
    /// `fault`, from which the server takes its status.
    #[error("{message}")]
    Request {
        /// What was wrong with the request, which decides the HTTP status.
        fault: RequestFault,
        /// A stable, machine-readable code for the client.
        code: &'static str,
        /// What was wrong and what to do, naming no value.
        message: String,
    },
    /// A circulation or policy rule refuses the operation as things stand.
    #[error("{message}")]
    Refused {
        /// A stable, machine-readable code for the client (`loan_limit`).
        code: &'static str,
        /// Which rule refuses, and what to do instead.
        message: String,
    },
    /// Carrel cannot start or reach its database as configured.
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached right now (PostgreSQL down, or out of
    /// connections); the caller may try again shortly.
    #[error("the database is not available right now; try again shortly")]
    Unavailable,
    /// Another program holds the database (an outside writer, a purge run
    /// from cron) for longer than Carrel waits. Nothing was changed.
    #[error("the database is busy (another program is writing to it); nothing was changed; try again in a few seconds")]
    Busy,
    /// The server has more of one kind of work waiting than it takes on
    /// (sign-ins during a flood). Nothing was done.
    #[error(
        "the server has too many sign-ins waiting; nothing was done; try again in a few seconds"
    )]
    Overloaded,
    /// The database could not be written because its disk is full. Nothing
    /// was changed.
    #[error("the database could not be written because its disk is full; nothing was changed; the library's system administrator must free space")]
    DiskFull,
    /// The database's files could not be written or read (a failing disk,
    /// a file size limit). Nothing was changed.
    #[error("the database could not be written (its disk failed); nothing was changed; the library's system administrator must check the disk")]
    WriteFailed,
    /// Another transaction wrote the same unique value (a card barcode)
    /// at the same moment, and committed first: nothing was changed.
    /// `what` names the constraint or column (schema, never a value), for
    /// the caller to turn into its own refusal.
    #[error("another request wrote the same value at the same moment; nothing was changed; check whether it went through, and try again")]
    Conflict {
        /// The constraint or column the two writes met on (schema, never a
        /// value).
        what: String,
    },
    /// A database failure. The text is for the operator's log and holds no
    /// values (see `db::postgres::error`); users see a generic message.
    #[error("database error: {0}")]
    Database(String),
    /// A bug or a broken invariant; the text is for the operator's log and
    /// names no value.
    #[error("internal error: {0}")]
    Internal(String),
}

/// How an HTTP request failed to be one Carrel can read (see
/// [`Error::Request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    /// Not well formed: JSON that does not parse, a body of the wrong
    /// shape, an id in the path that is not one.
    Malformed,
    /// Larger than the API takes.
    TooLarge,
    /// The body did not arrive in time.
    TooSlow,
    /// A change that does not say it is JSON (or, for the staff pages, a
    /// form).
    NotJson,
}

impl Error {
    /// An [`Error::Invalid`] with its code and message; the message must name
    /// the field, never its value.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            code,
            message: message.into(),
        }
    }

    /// An [`Error::Refused`] with its code and message; the message says what
    /// to do instead.
    pub fn refused(code: &'static str, message: impl Into<String>) -> Error {
        Error::Refused {
            code,
            message: message.into(),
        }
    }

    /// An [`Error::Config`]: Carrel cannot start as configured, and the message
    /// says what to change.
    pub fn config(message: impl Into<String>) -> Error {
        Error::Config(message.into())
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::Internal(message.into())
    }

    /// Whether this answer refused a guess at a secret (a password, a PIN,
    /// a minor's card number), so that the guesser's address is charged
    /// for it. Other failures (the server busy, a bad request) checked
    /// nothing and cost the address nothing.
    pub fn is_failed_guess(&self) -> bool {
        matches!(
            self,
            Error::SignInRefused | Error::TooManyAttempts | Error::MinorRecordsRefused
        )
    }

    /// A stable, machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Denied { reason, .. } => reason.code(),
            Error::Unauthenticated | Error::SignInRefused => "unauthenticated",
            Error::TooManyAttempts => "too_many_attempts",
            Error::MinorRecordsRefused => "minor_records_refused",
            Error::NotFound { .. } => "not_found",
            Error::Invalid { code, .. }
            | Error::Refused { code, .. }
            | Error::Request { code, .. } => code,
            Error::Config(_) => "configuration",
            Error::Unavailable => "unavailable",
            Error::Busy | Error::Overloaded => "busy",
            Error::DiskFull => "disk_full",
            Error::WriteFailed => "write_failed",
            Error::Conflict { .. } => "conflict",
            Error::Database(_) | Error::Internal(_) => "internal",
        }
    }
}
