//! # carrel-store
//!
//! Where Carrel's records live, and the only way to reach them. One folder
//! per layer, each module re-exported here:
//!
//! - the security kernel: [`principal`] (who), [`staff`] and
//!   [`patron_sessions`] (accounts, sessions), [`sign_in`] with
//!   [`attempts`] and [`known_devices`] (proof, guesses throttled),
//!   [`gate`] (every access to personal data is decided there and yields a
//!   [`gate::Grant`]), [`audit`] (the MAC-chained log, written in the same
//!   transaction as the access it records);
//! - the records: [`patrons`], [`items`], [`circulation`], [`fines`],
//!   [`ill`], [`delivery`], [`programs`], [`computer_sessions`],
//!   [`mailing_lists`], one module per kind, each function taking the grant
//!   of its action and class; [`validate`];
//! - the workflows: [`retention`], [`disclosures`], [`legal_holds`];
//! - infrastructure: [`db`] (SQLite and PostgreSQL behind one SQL path),
//!   [`private_files`], [`quiet_log`];
//! - [`demo`]: a deterministic demo library.
//!
//! The gate and audit live in this crate, not their own, because Rust can
//! only seal a constructor within one crate: keeping them here is what makes
//! "no grant, no data" a compile-time fact rather than a convention.
//!
//! Every operation runs inside [`Store::transact`]: one transaction, with
//! its audit entries, all or nothing.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The crate's layers, each a folder: the security kernel, the records it
// guards, the workflows over them, and infrastructure. Their modules are
// re-exported here, so callers name `carrel_store::gate`, not the folder.
mod infra;
mod kernel;
mod records;
mod workflows;

pub mod demo;
pub mod error;

pub use infra::{db, policy_versions, private_files, quiet_log};
pub(crate) use kernel::secrets;
pub use kernel::{
    attempts, audit, form_tokens, gate, known_devices, patron_sessions, principal, sign_in, staff,
};
pub use records::{
    circulation, computer_sessions, consents, delivery, fines, ill, items, mailing_lists, patrons,
    programs, validate,
};
pub use workflows::{corrections, desk, disclosures, legal_holds, my_account, retention};

use std::sync::Arc;

use carrel_policy::Policy;
use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::PendingEntry;
use crate::db::Only;
use crate::db::{params, Conn, DatabaseUrl, EngineKind, Pool};
pub use crate::error::{Error, RequestFault};
pub use crate::secrets::AuditKey;

/// Where "now" comes from. Tests inject a fixed or moving clock; nothing in
/// Carrel sleeps to wait for a date.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The records of one library, on one database, under one policy.
pub struct Store {
    pool: Pool,
    policy: Arc<Policy>,
    audit_key: AuditKey,
    clock: Clock,
    policy_version_id: i64,
    /// What the policy says each kind of consent covers, as the digests
    /// consents record: worked out once, not on every page a patron opens.
    consent_digests: consents::Digests,
}

impl Store {
    /// Opens (and migrates) the database, and records the policy text as a
    /// policy version if it is new (N2: every version stays readable).
    /// Refuses a key that does not verify the audit log's newest entry: a
    /// server that went on writing with another key would leave a log that
    /// can never be verified again.
    pub fn open(
        url: &DatabaseUrl,
        policy: Policy,
        policy_source: &str,
        audit_key: AuditKey,
    ) -> Result<Store, Error> {
        let store = Store::open_unverified(url, policy, policy_source, audit_key)?;
        match store.bookkeeping(audit::check_key)? {
            audit::KeyCheck::EmptyLog | audit::KeyCheck::Verified => Ok(store),
            audit::KeyCheck::WrongKey { newest } => Err(Error::config(format!(
                "the audit key does not verify the audit log's newest entry ({newest}): this database was written with another key. Point --audit-key-file at the key it was written with (restore it from backup); `carrel audit verify` says more"
            ))),
            audit::KeyCheck::NewestAltered { newest } => Err(Error::config(format!(
                "the audit log's newest entry ({newest}) does not verify, though older entries do: the log was altered. Run `carrel audit verify` and keep the database as evidence"
            ))),
        }
    }

    /// [`Store::open`] without checking the audit key: for deciding whether
    /// a new key may be made (only for a log with no entries). (`carrel
    /// audit verify`, which reports a wrong key itself, opens the store
    /// with [`Store::open_read_only`].)
    pub fn open_unverified(
        url: &DatabaseUrl,
        policy: Policy,
        policy_source: &str,
        audit_key: AuditKey,
    ) -> Result<Store, Error> {
        let pool = Pool::open(url)?;
        pool.migrate(&policy, &audit_key)?;
        let mut store = Store {
            pool,
            consent_digests: consents::Digests::of(&policy),
            policy: Arc::new(policy),
            audit_key,
            clock: Arc::new(Utc::now),
            policy_version_id: 0,
        };
        let digest = secrets::sha256_hex(policy_source.as_bytes());
        let label = store.policy.library.version.clone();
        let library = store.policy.library.name.clone();
        store.policy_version_id = store.bookkeeping(|conn, _| {
            refuse_another_librarys_policy(conn, &library)?;
            let now = Utc::now().timestamp();
            conn.execute(
                "INSERT INTO policy_versions (sha256, label, source, first_loaded_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (sha256) DO NOTHING",
                params![&digest, &label, policy_source, now],
            )?;
            conn.query_one("SELECT id FROM policy_versions WHERE sha256 = ?", params![&digest])?
                .int(Only)
        })?;
        Ok(store)
    }

    /// Opens the database only to read it, for `carrel audit verify`:
    /// nothing is created, migrated or written (no policy version is
    /// recorded, no WAL or lock file made), so a read-only copy of a
    /// library's database (write-protected media, a read-only mount) can
    /// be verified. A database at another schema version is refused with
    /// both versions named, since migrating it would write. Every write
    /// through this store fails.
    pub fn open_read_only(
        url: &DatabaseUrl,
        policy: Policy,
        policy_source: &str,
        audit_key: AuditKey,
    ) -> Result<Store, Error> {
        let pool = Pool::open_read_only(url)?;
        // The version's id if this policy text was loaded before; 0 if
        // not, as recording it would write.
        let digest = secrets::sha256_hex(policy_source.as_bytes());
        let policy_version_id = pool.run(|mut conn| {
            conn.query_opt(
                "SELECT id FROM policy_versions WHERE sha256 = ?",
                params![&digest],
            )?
            .map_or(Ok(0), |row| row.int(Only))
        })?;
        Ok(Store {
            pool,
            consent_digests: consents::Digests::of(&policy),
            policy: Arc::new(policy),
            audit_key,
            clock: Arc::new(Utc::now),
            policy_version_id,
        })
    }

    /// Marks this process as the server of its SQLite database: a second
    /// `carrel serve` on the same file is refused, and `carrel purge` run
    /// from another process yields to this one between short transactions.
    /// Nothing to do on PostgreSQL.
    pub fn claim_for_server(&self) -> Result<(), Error> {
        self.pool.claim_for_server()
    }

    /// Replaces the clock (tests, and replaying a scenario at a fixed date).
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// The library's policy this store enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Which engine the database runs on.
    pub fn engine(&self) -> EngineKind {
        self.pool.engine()
    }

    /// The id of the policy version this store enforces.
    pub fn policy_version_id(&self) -> i64 {
        self.policy_version_id
    }

    /// Now, by the store's clock (see [`Store::with_clock`]); inside a
    /// transaction, use [`Tx::now`].
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Today's date in the library's time zone.
    pub fn today(&self) -> NaiveDate {
        self.now()
            .with_timezone(&self.policy.library.time_zone)
            .date_naive()
    }

    /// Runs `f` as one transaction. Its audit entries are appended just
    /// before COMMIT; an error rolls back everything, entries included,
    /// except a denial, whose entry is then written on its own: a refused
    /// attempt is always on the record.
    pub fn transact<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, Error>) -> Result<T, Error> {
        // A refusal on a restricted request stays marked as such when its
        // entry is written on its own, so it is not counted outside the
        // request's circle either (L6).
        let mut restricted_case = None;
        let result = self.run(|tx| {
            let result = f(tx);
            restricted_case = tx.restricted_case;
            result
        });
        if let Err(Error::Denied { entry, .. }) = &result {
            let entry = entry.as_ref().clone();
            self.run(move |tx| {
                tx.restricted_case = restricted_case;
                tx.queue_audit(entry);
                Ok(())
            })?;
        }
        result
    }

    fn run<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T, Error>) -> Result<T, Error> {
        self.pool.run(|conn| self.in_tx(conn, f))
    }

    /// Like [`Store::transact`], for work that may hold the database for a
    /// while (a retention purge): `f` also gets a probe that is true while
    /// a desk operation waits for the database, so it can end early and
    /// let it in. On SQLite the transaction runs on its own, not in a group
    /// commit. Crate-private: no denial can come out of it.
    pub(crate) fn transact_long<T>(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &dyn Fn() -> bool) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.pool
            .run_long(|conn, desk_waiting| self.in_tx(conn, |tx| f(tx, desk_waiting)))
    }

    /// Runs `f` on an open transaction and appends its audit entries.
    fn in_tx<T>(
        &self,
        conn: Conn<'_>,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut tx = Tx {
            conn,
            store: self,
            now: (self.clock)(),
            pending: Vec::new(),
            forgotten: Vec::new(),
            restricted_case: None,
        };
        let value = f(&mut tx)?;
        let pending = std::mem::take(&mut tx.pending);
        let mut subjects = audit::subjects_of(&pending, &tx.forgotten);
        if let Some(case) = tx.restricted_case {
            subjects.push((audit::RESTRICTED_CASE.to_string(), case));
        }
        audit::append(&mut tx.conn, &self.audit_key, &pending, &subjects)?;
        Ok(value)
    }

    /// A transaction for Carrel's own bookkeeping (policy versions, the
    /// audit key check and verification, the alert outbox), with no gate
    /// and no audit entries. It may write (it records policy versions,
    /// marks alerts mailed); for a store that cannot write at all, see
    /// [`Store::open_read_only`]. Crate-private: it must never touch
    /// personal data.
    pub(crate) fn bookkeeping<T>(
        &self,
        f: impl FnOnce(&mut Conn<'_>, &AuditKey) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.pool.run(|mut conn| f(&mut conn, &self.audit_key))
    }
}

/// One open transaction. Handed to the closure of [`Store::transact`]; its
/// SQL methods are private to this crate.
pub struct Tx<'s> {
    pub(crate) conn: Conn<'s>,
    store: &'s Store,
    now: DateTime<Utc>,
    pending: Vec<PendingEntry>,
    /// Records this transaction destroyed outside a purge
    /// (`audit::forget_record`): its own entries do not name them as
    /// subjects.
    forgotten: Vec<(String, i64)>,
    /// The request under a non-disclosure order this transaction worked
    /// on, if any: its audit entries are then left out of the counts shown
    /// to staff outside the case's circle (L6).
    restricted_case: Option<i64>,
}

impl Tx<'_> {
    /// The time of this transaction (one instant for all it does).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The library's policy this transaction runs under.
    pub fn policy(&self) -> &Policy {
        &self.store.policy
    }

    /// The id of the policy version this transaction runs under (what a
    /// consent given now records).
    pub(crate) fn policy_version_id(&self) -> i64 {
        self.store.policy_version_id
    }

    /// What the policy says each consent covers (`consents::stamp`).
    pub(crate) fn consent_digests(&self) -> &consents::Digests {
        &self.store.consent_digests
    }

    /// Today in the library's time zone, at this transaction's instant.
    pub fn today(&self) -> NaiveDate {
        self.now
            .with_timezone(&self.store.policy.library.time_zone)
            .date_naive()
    }

    /// Notes that this transaction works on a request under a
    /// non-disclosure order (see `restricted_case`).
    pub(crate) fn works_on_restricted_case(&mut self, request_id: i64) {
        self.restricted_case = Some(request_id);
    }

    /// A random number in `range` that `taken_sql` (a query with the
    /// number as its last parameter, after `params`) finds no row for:
    /// for identifiers that must not count, since a sequence tells whoever
    /// gets the next number how many were made in between (L6).
    pub(crate) fn unused_random_number(
        &mut self,
        range: std::ops::Range<i64>,
        taken_sql: &str,
        params: &[db::Param<'_>],
    ) -> Result<i64, Error> {
        loop {
            let number = secrets::random_in(range.clone())?;
            let mut all = params.to_vec();
            all.push(db::Param::Int(number));
            if self.conn.query_opt(taken_sql, &all)?.is_none() {
                return Ok(number);
            }
        }
    }

    pub(crate) fn queue_audit(&mut self, entry: PendingEntry) {
        self.pending.push(entry);
    }
}

/// The environment variable that lets a database be run, once, under the
/// policy of a library other than the one it last ran under: its value
/// must be the new library's name, so it cannot be left set by accident.
pub const POLICY_SWITCH_VARIABLE: &str = "CARREL_SWITCH_LIBRARY_TO";

/// Refuses to run a database under a policy file for another library than
/// the one it last ran under: a purge on the wrong schedule destroys what
/// the library promised to keep, or keeps what it promised to destroy,
/// and the usual cause is a forgotten `--policy` (its default is the
/// Missouri file).
fn refuse_another_librarys_policy(conn: &mut db::Conn<'_>, library: &str) -> Result<(), Error> {
    // The newest policy text the database has run under; running an
    // older text of the same library again is fine.
    let Some(last) = conn.query_opt(
        "SELECT source FROM policy_versions ORDER BY first_loaded_at DESC, id DESC LIMIT 1",
        params![],
    )?
    else {
        return Ok(());
    };
    let Some(before) = carrel_policy::library_name(&last.text(Only)?) else {
        return Ok(());
    };
    if before == library {
        return Ok(());
    }
    if std::env::var(POLICY_SWITCH_VARIABLE).is_ok_and(|v| v == library) {
        tracing::warn!("this database now runs under another library's policy, as {POLICY_SWITCH_VARIABLE} asked");
        return Ok(());
    }
    Err(Error::config(format!(
        "this database ran under the policy of {before}, and the policy file given is for {library}: pass the library's own policy file (--policy or CARREL_POLICY). If this database really is to move to {library}'s policy, run once with {POLICY_SWITCH_VARIABLE}=\"{library}\""
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MISSOURI: &str = include_str!("../../../policies/jefferson-county-mo.toml");

    fn count(store: &Store, sql: &'static str) -> i64 {
        store
            .bookkeeping(|conn, _| conn.query_one(sql, params![])?.int(Only))
            .unwrap()
    }

    /// D7: a store opened read-only verifies the audit log, records no new
    /// policy version and refuses every write; a database at an older
    /// schema version is refused with its version named, and not migrated.
    fn opened_read_only(url: &DatabaseUrl) {
        let policy = || carrel_policy::parse("mo", MISSOURI).unwrap();
        let key = AuditKey::generate().unwrap();
        let store = Store::open(url, policy(), MISSOURI, key.clone()).unwrap();
        staff::add(&store, "desk1", "a-long-enough-password", "clerk").unwrap();
        drop(store);

        let another_text = format!("{MISSOURI}\n# a new version of the policy\n");
        let reader = Store::open_read_only(url, policy(), &another_text, key.clone()).unwrap();
        let report = audit::verify(&reader, None).unwrap();
        assert!(report.first_bad.is_none(), "{:?}", report.first_bad);
        assert_eq!(report.entries_checked, 1);
        assert_eq!(reader.policy_version_id(), 0);
        assert!(
            staff::add(&reader, "desk2", "a-long-enough-password", "clerk").is_err(),
            "a read-only store writes nothing"
        );
        drop(reader);

        let store = Store::open(url, policy(), MISSOURI, key.clone()).unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM policy_versions"), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM staff"), 1);
        let newest = count(&store, "SELECT MAX(version) FROM schema_migrations");
        store
            .bookkeeping(|conn, _| {
                conn.execute(
                    "DELETE FROM schema_migrations WHERE version = ?",
                    params![newest],
                )
            })
            .unwrap();
        drop(store);

        let Err(refusal) = Store::open_read_only(url, policy(), MISSOURI, key.clone()) else {
            panic!("a database at an older schema version was opened");
        };
        let message = refusal.to_string();
        assert!(
            message.contains(&format!("schema version {}", newest - 1))
                && message.contains("not migrated"),
            "{message}"
        );
        let pool = Pool::open(url).unwrap();
        let applied = pool
            .run(|mut conn| {
                conn.query_one("SELECT MAX(version) FROM schema_migrations", params![])?
                    .int(Only)
            })
            .unwrap();
        assert_eq!(applied, newest - 1, "the refused database was not migrated");
    }

    #[test]
    fn d7_a_store_opened_read_only_writes_and_migrates_nothing_on_both_engines() {
        db::on_both_databases("read_only", opened_read_only);
    }
}
