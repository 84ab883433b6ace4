//! The audit log's own retention rule ("2 years after entry_written").
//!
//! The log is a hash chain, so it cannot lose entries from the middle: the
//! purge cuts a prefix. It deletes the oldest entries up to the last one
//! past its time (the "floor"), records the floor's seq and hash in
//! `audit_head`, and says so in the purge's own audit entry, in the same
//! transaction. [`crate::audit::verify`] then checks the chain from the
//! floor, and checks that the floor is the one the latest such entry
//! recorded: nobody without the audit key can cut the log further back and
//! pass verification.

use carrel_policy::retention::cutoff_instant;
use carrel_policy::RetentionRule;

use crate::audit::Anchor;
use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use crate::Tx;

/// The kind and label of audit entries in plans, progress and summaries.
pub(crate) const KIND: super::RecordKind = super::RecordKind::AuditEntry;
pub(crate) const LABEL: &str = "audit log entries";

/// How the purge's audit entry names the new floor in its text, for
/// people; the floor itself is in the entry's columns (migration 18).
/// Before, the text was all there was, and `verify` still reads it back
/// from entries that old.
pub(crate) const FLOOR_MARK: &str = "floor=";

/// What the purge's audit entry says of the erasures it made: that they
/// carry tags. Entries older than migration 18 are read back by `verify`
/// for it: migration 10 vouches for erasures made before tags existed,
/// and a vouch after an entry saying tags were in use is that migration
/// run again, to have hand erasures tagged. (Newer purge entries say so
/// by recording their floor in columns.)
pub(crate) const TAGGED_MARK: &str = "erasures tagged";

/// The chain's current floor and the newest entry that may go now.
pub(crate) struct Prefix {
    /// Entries up to this seq are already gone (0: none).
    pub floor: i64,
    /// The hash of entry `floor` (empty while it is 0).
    pub floor_hash: String,
    /// Every entry after `floor` up to this seq is past its time.
    pub due_through: i64,
}

impl Prefix {
    pub fn due(&self) -> i64 {
        self.due_through - self.floor
    }
}

/// Finds the due prefix by walking from the floor in seq order until the
/// first entry still within its time: the cost follows the entries due,
/// not the log. Entries are appended with their commit time, so time and
/// seq agree but for moments; an entry a moment out of order is kept until
/// the next purge rather than cut from the middle of the chain.
pub(crate) fn due_prefix(tx: &mut Tx<'_>, rule: &RetentionRule) -> Result<Prefix, Error> {
    let zone = tx.policy().library.time_zone;
    let cut = cutoff_instant(tx.today(), rule.keep, zone)
        .timestamp()
        .min(tx.now().timestamp() + 1);
    let head = tx.conn.query_one(
        "SELECT floor_seq, floor_hash, seq FROM audit_head WHERE id = 1",
        params![],
    )?;
    let (floor, floor_hash, last) = (
        head.int("floor_seq")?,
        head.text("floor_hash")?,
        head.int("seq")?,
    );
    let first_kept = tx.conn.query_opt(
        "SELECT seq FROM audit_log WHERE seq > ? AND at >= ? ORDER BY seq LIMIT 1",
        params![floor, cut],
    )?;
    let due_through = match first_kept {
        Some(row) => row.int(Only)? - 1,
        None => last,
    };
    Ok(Prefix {
        floor,
        floor_hash,
        due_through: due_through.max(floor),
    })
}

/// Deletes the due prefix and moves the floor, in the caller's transaction.
/// Returns the number of entries destroyed, leaving out those of
/// operations on requests under a non-disclosure order, and the new floor
/// as `SEQ:HASH`. The count goes into the purge's summary and its audit
/// entry, which staff outside those requests' circles read: counted whole,
/// it would grow by a restricted case's entries two years after them,
/// where the plan's counts never showed them (L6).
pub(crate) fn destroy_prefix(
    tx: &mut Tx<'_>,
    rule: &RetentionRule,
) -> Result<(i64, Anchor), Error> {
    let prefix = due_prefix(tx, rule)?;
    let floor_hash = if prefix.due() == 0 {
        prefix.floor_hash.clone()
    } else {
        tx.conn
            .query_one(
                "SELECT hash FROM audit_log WHERE seq = ?",
                params![prefix.due_through],
            )?
            .text(Only)?
    };
    let restricted = tx.conn.query_one(
        "SELECT CAST(COALESCE(SUM(s.last_seq - s.first_seq + 1), 0) AS BIGINT)
         FROM audit_subjects s JOIN disclosure_requests r ON r.id = s.id
         WHERE s.kind = ? AND r.gagged = 1 AND s.first_seq > ? AND s.last_seq <= ?",
        params![
            crate::audit::RESTRICTED_CASE,
            prefix.floor,
            prefix.due_through
        ],
    )?;
    let restricted = restricted.int(Only)?;
    let destroyed = tx.conn.execute(
        "DELETE FROM audit_log WHERE seq > ? AND seq <= ?",
        params![prefix.floor, prefix.due_through],
    )? as i64;
    // An operation's entries share one instant, so none straddles the cut.
    tx.conn.execute(
        "DELETE FROM audit_subjects WHERE last_seq <= ?",
        params![prefix.due_through],
    )?;
    // Last, so that on PostgreSQL the chain's head row (which every
    // appending transaction locks) is held only for the commit.
    tx.conn.execute(
        "UPDATE audit_head SET floor_seq = ?, floor_hash = ? WHERE id = 1",
        params![prefix.due_through, &floor_hash],
    )?;
    Ok((
        destroyed - restricted,
        Anchor {
            seq: prefix.due_through,
            hash: floor_hash,
        },
    ))
}
