//! Schema migrations, one SQL file per engine per step, applied in order
//! inside one transaction (DDL is transactional in both engines).

use carrel_policy::Policy;

use super::{params, Conn, EngineKind};
use crate::db::Only;
use crate::error::Error;
use crate::secrets::AuditKey;

struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
    /// Work that needs the policy (its time zone), run right after the
    /// SQL in the same transaction.
    then: Option<FollowUp>,
}

/// A migration's follow-up, given the library's policy and the audit key.
type FollowUp = fn(&mut Conn<'_>, &Policy, &AuditKey) -> Result<(), Error>;

/// Migration 4: loans made before it get their borrower's category and age
/// band on the day of the loan, as checkout records them now.
fn record_borrower_bands(conn: &mut Conn<'_>, policy: &Policy, _: &AuditKey) -> Result<(), Error> {
    let zone = policy.library.time_zone;
    conn.execute(
        "UPDATE loans SET
           borrower_category = (SELECT p.category FROM patrons p WHERE p.id = loans.patron_id),
           borrower_age_band = carrel_age_band(
             (SELECT p.birth_date FROM patrons p WHERE p.id = loans.patron_id),
             carrel_local_date(loans.checked_out_at, ?))
         WHERE patron_id IS NOT NULL",
        params![zone.name()],
    )?;
    Ok(())
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("../../../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../../../migrations/postgres/0001_foundation.sql"),
        then: None,
    },
    Migration {
        version: 2,
        sqlite: include_str!("../../../migrations/sqlite/0002_retention.sql"),
        postgres: include_str!("../../../migrations/postgres/0002_retention.sql"),
        then: None,
    },
    Migration {
        version: 3,
        sqlite: include_str!("../../../migrations/sqlite/0003_purge_at_scale.sql"),
        postgres: include_str!("../../../migrations/postgres/0003_purge_at_scale.sql"),
        then: None,
    },
    Migration {
        version: 4,
        sqlite: include_str!("../../../migrations/sqlite/0004_set_based_purge.sql"),
        postgres: include_str!("../../../migrations/postgres/0004_set_based_purge.sql"),
        then: Some(record_borrower_bands),
    },
    Migration {
        version: 5,
        sqlite: include_str!("../../../migrations/sqlite/0005_purge_workers.sql"),
        postgres: include_str!("../../../migrations/postgres/0005_purge_workers.sql"),
        then: None,
    },
    Migration {
        version: 6,
        sqlite: include_str!("../../../migrations/sqlite/0006_disclosures.sql"),
        postgres: include_str!("../../../migrations/postgres/0006_disclosures.sql"),
        then: None,
    },
    Migration {
        version: 7,
        sqlite: include_str!("../../../migrations/sqlite/0007_audit_erasure.sql"),
        postgres: include_str!("../../../migrations/postgres/0007_audit_erasure.sql"),
        then: None,
    },
    Migration {
        version: 8,
        sqlite: include_str!("../../../migrations/sqlite/0008_court_documents.sql"),
        postgres: include_str!("../../../migrations/postgres/0008_court_documents.sql"),
        then: None,
    },
    Migration {
        version: 9,
        sqlite: include_str!("../../../migrations/sqlite/0009_failed_attempts.sql"),
        postgres: include_str!("../../../migrations/postgres/0009_failed_attempts.sql"),
        then: None,
    },
    Migration {
        version: 10,
        sqlite: include_str!("../../../migrations/sqlite/0010_erasure_tags.sql"),
        postgres: include_str!("../../../migrations/postgres/0010_erasure_tags.sql"),
        then: Some(|conn, _, key| crate::audit::tag_erasures_made_before_tags(conn, key)),
    },
    Migration {
        version: 11,
        sqlite: include_str!("../../../migrations/sqlite/0011_kept_in_secret.sql"),
        postgres: include_str!("../../../migrations/postgres/0011_kept_in_secret.sql"),
        then: None,
    },
    Migration {
        version: 12,
        sqlite: include_str!("../../../migrations/sqlite/0012_patron_ids_never_reused.sql"),
        postgres: include_str!("../../../migrations/postgres/0012_patron_ids_never_reused.sql"),
        then: None,
    },
    Migration {
        version: 13,
        sqlite: include_str!("../../../migrations/sqlite/0013_statistics_sealed.sql"),
        postgres: include_str!("../../../migrations/postgres/0013_statistics_sealed.sql"),
        then: None,
    },
    Migration {
        version: 14,
        sqlite: include_str!("../../../migrations/sqlite/0014_statistics_cells.sql"),
        postgres: include_str!("../../../migrations/postgres/0014_statistics_cells.sql"),
        then: None,
    },
    Migration {
        version: 15,
        sqlite: include_str!("../../../migrations/sqlite/0015_known_devices.sql"),
        postgres: include_str!("../../../migrations/postgres/0015_known_devices.sql"),
        then: None,
    },
    Migration {
        version: 16,
        sqlite: include_str!("../../../migrations/sqlite/0016_subject_tags.sql"),
        postgres: include_str!("../../../migrations/postgres/0016_subject_tags.sql"),
        then: Some(|conn, _, key| crate::audit::tag_subjects_made_before_tags(conn, key)),
    },
    Migration {
        version: 17,
        sqlite: include_str!(
            "../../../migrations/sqlite/0017_records_set_aside_leave_their_tables.sql"
        ),
        postgres: include_str!(
            "../../../migrations/postgres/0017_records_set_aside_leave_their_tables.sql"
        ),
        then: Some(crate::retention::kept_in_secret::move_out_those_set_aside_before),
    },
    Migration {
        version: 18,
        sqlite: include_str!("../../../migrations/sqlite/0018_audit_floor_columns.sql"),
        postgres: include_str!("../../../migrations/postgres/0018_audit_floor_columns.sql"),
        then: None,
    },
    Migration {
        version: 19,
        sqlite: include_str!("../../../migrations/sqlite/0019_consents_and_corrections.sql"),
        postgres: include_str!("../../../migrations/postgres/0019_consents_and_corrections.sql"),
        then: None,
    },
    Migration {
        version: 20,
        sqlite: include_str!("../../../migrations/sqlite/0020_waive_reason_and_material_type.sql"),
        postgres: include_str!(
            "../../../migrations/postgres/0020_waive_reason_and_material_type.sql"
        ),
        then: None,
    },
    Migration {
        version: 21,
        sqlite: include_str!("../../../migrations/sqlite/0021_block_reason.sql"),
        postgres: include_str!("../../../migrations/postgres/0021_block_reason.sql"),
        then: None,
    },
];

/// The schema version this Carrel writes and reads.
fn newest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// For a database opened read-only: it must be at this Carrel's schema
/// version, since migrating it would write. Says which version it is at
/// and what to do, rather than failing later on a missing column.
pub(super) fn check_current(conn: &mut Conn<'_>) -> Result<(), Error> {
    let has_table = match conn.engine() {
        EngineKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        EngineKind::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'",
    };
    if conn.query_one(has_table, params![])?.int(Only)? == 0 {
        return Err(Error::config(
            "the database holds no Carrel schema (it has no schema_migrations table): check --database; a database opened read-only is never created or migrated",
        ));
    }
    let applied = conn
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            params![],
        )?
        .int(Only)?;
    let newest = newest();
    if applied < newest {
        return Err(Error::config(format!(
            "the database is at schema version {applied}, older than this Carrel's ({newest}); it was opened read-only, so it is not migrated: verify it with the Carrel version that wrote it, or let this Carrel migrate it first (any command that writes, such as `carrel serve`, on the database or a writable copy of it)"
        )));
    }
    if applied > newest {
        return Err(Error::config(format!(
            "the database is at schema version {applied}, newer than this Carrel knows ({newest}); run a newer Carrel"
        )));
    }
    if table_exists(conn, "schema_checksums")? {
        check_checksums(conn)?;
    }
    Ok(())
}

fn table_exists(conn: &mut Conn<'_>, name: &str) -> Result<bool, Error> {
    let sql = match conn.engine() {
        EngineKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        EngineKind::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
    };
    Ok(conn.query_one(sql, params![name])?.int(Only)? > 0)
}

/// A migration's checksum as this Carrel has it: the SHA-256 of its SQL
/// for the engine. Its follow-up, being code, is not in it.
fn checksum(migration: &Migration, engine: EngineKind) -> String {
    crate::secrets::sha256_hex(
        match engine {
            EngineKind::Sqlite => migration.sqlite,
            EngineKind::Postgres => migration.postgres,
        }
        .as_bytes(),
    )
}

/// Refuses a database that applied a migration whose SQL this Carrel has
/// otherwise: someone edited a migration after it ran (or built Carrel
/// from changed files), so the schema is not the one the code expects.
fn check_checksums(conn: &mut Conn<'_>) -> Result<(), Error> {
    let engine = conn.engine();
    for row in conn.query(
        "SELECT version, sha256 FROM schema_checksums ORDER BY version",
        params![],
    )? {
        let version = row.int("version")?;
        let Some(migration) = MIGRATIONS.iter().find(|m| m.version == version) else {
            continue;
        };
        if row.text("sha256")? != checksum(migration, engine) {
            let engine = match engine {
                EngineKind::Sqlite => "sqlite",
                EngineKind::Postgres => "postgres",
            };
            return Err(Error::config(format!(
                "schema migration {version} (crates/carrel-store/migrations/{engine}/{version:04}_*.sql) is not the one this database applied: its SQL was changed after it ran. Carrel does not start on a schema it cannot vouch for. Build Carrel from the released migration files (an applied migration is never edited: a change is a new migration)"
            )));
        }
    }
    Ok(())
}

pub(super) fn run(conn: &mut Conn<'_>, policy: &Policy, key: &AuditKey) -> Result<(), Error> {
    run_through(conn, policy, key, newest())
}

/// Applies the migrations not yet applied, up to and including `last`
/// (tests of one migration stop before it).
fn run_through(
    conn: &mut Conn<'_>,
    policy: &Policy,
    key: &AuditKey,
    last: i64,
) -> Result<(), Error> {
    if conn.engine() == EngineKind::Postgres {
        // Several Carrel servers may start at once against one database.
        conn.batch("SELECT pg_advisory_xact_lock(7301)")?;
    }
    // Checked first: CREATE TABLE IF NOT EXISTS makes PostgreSQL log a
    // notice at every start.
    if !table_exists(conn, "schema_migrations")? {
        conn.batch(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
    }
    // Each applied migration's checksum (see `check_checksums`). A
    // database from before checksums gets those of this Carrel's files
    // for what it has applied: they are vouched for from then on.
    if !table_exists(conn, "schema_checksums")? {
        conn.batch(
            "CREATE TABLE schema_checksums (version BIGINT PRIMARY KEY, sha256 TEXT NOT NULL)",
        )?;
    }
    check_checksums(conn)?;
    let engine = conn.engine();
    for row in conn.query(
        "SELECT version FROM schema_migrations m WHERE NOT EXISTS (SELECT 1 FROM schema_checksums c WHERE c.version = m.version)",
        params![],
    )? {
        let version = row.int(Only)?;
        if let Some(migration) = MIGRATIONS.iter().find(|m| m.version == version) {
            conn.execute(
                "INSERT INTO schema_checksums (version, sha256) VALUES (?, ?)",
                params![version, &checksum(migration, engine)],
            )?;
        }
    }
    let applied = conn
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            params![],
        )?
        .int(Only)?;
    let newest = newest();
    if applied > newest {
        return Err(Error::config(format!(
            "the database is at schema version {applied}, newer than this Carrel knows ({newest}); run a newer Carrel"
        )));
    }
    for migration in MIGRATIONS
        .iter()
        .filter(|m| m.version > applied && m.version <= last)
    {
        conn.batch(match conn.engine() {
            EngineKind::Sqlite => migration.sqlite,
            EngineKind::Postgres => migration.postgres,
        })?;
        if let Some(then) = migration.then {
            then(conn, policy, key)?;
        }
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            params![migration.version, chrono::Utc::now().timestamp()],
        )?;
        conn.execute(
            "INSERT INTO schema_checksums (version, sha256) VALUES (?, ?)",
            params![migration.version, &checksum(migration, engine)],
        )?;
        tracing::info!(version = migration.version, "applied schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::record_borrower_bands;
    use crate::db::{params, Only, Pool};

    /// Loans made before migration 4 get the borrower's category and age
    /// band on the day of the loan, in the library's zone: at 02:00 UTC on
    /// 20 March it is still the 19th in Chicago, the day before the
    /// borrower turns 18.
    fn check(pool: &Pool) {
        pool.run(|mut conn| {
            conn.batch(
                "INSERT INTO patrons (id, card_barcode, category, status, expires_on, birth_date, created_at, updated_at)
                 VALUES (1, '29000000000001', 'juvenile', 'active', '2030-01-01', '2008-03-20', 0, 0);
                 INSERT INTO items (id, barcode, title, status, created_at) VALUES (1, '31000000000001', 'T', 'available', 0);
                 INSERT INTO loans (id, patron_id, item_id, checked_out_at, due_at, renewals, returned_at)
                 VALUES (1, 1, 1, 1773972000, 1775000000, 0, 1774000000)",
            )?;
            record_borrower_bands(
                &mut conn,
                &crate::db::test_policy(),
                &crate::secrets::AuditKey::generate()?,
            )?;
            let row = conn.query_one(
                "SELECT borrower_category, borrower_age_band FROM loans WHERE id = ?",
                params![1i64],
            )?;
            assert_eq!(
                (row.text("borrower_category")?, row.text("borrower_age_band")?),
                ("juvenile".to_string(), "13-17".to_string())
            );
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn d3_migration_4_records_the_borrower_of_existing_loans_on_both_engines() {
        crate::db::on_both_engines("mig", check);
    }

    /// D7, issue 14: an applied migration whose SQL this Carrel has
    /// otherwise (edited after it ran: here its recorded checksum stands
    /// for the edit) is refused at start, naming the migration, read-only
    /// too; a database from before checksums gets them and starts.
    #[test]
    fn d7_an_applied_migration_changed_afterwards_is_refused_at_start_on_both_engines() {
        crate::db::on_both_databases("checksums", |url| {
            let pool = Pool::open(url).unwrap();
            let policy = crate::db::test_policy();
            let key = crate::secrets::AuditKey::generate().unwrap();
            pool.migrate(&policy, &key).unwrap();
            let recorded = |pool: &Pool| {
                pool.run(|mut conn| {
                    conn.query_one("SELECT COUNT(*) FROM schema_checksums", params![])?
                        .int(Only)
                })
                .unwrap()
            };
            assert_eq!(recorded(&pool), super::newest());

            // From before checksums: they are recorded, and it starts.
            pool.run(|mut conn| conn.batch("DROP TABLE schema_checksums"))
                .unwrap();
            pool.migrate(&policy, &key).unwrap();
            assert_eq!(recorded(&pool), super::newest());

            pool.run(|mut conn| {
                conn.batch("UPDATE schema_checksums SET sha256 = 'edited' WHERE version = 3")
            })
            .unwrap();
            let refused = pool.migrate(&policy, &key).unwrap_err().to_string();
            assert!(
                refused.contains("schema migration 3 ") && refused.contains("changed after it ran"),
                "{refused}"
            );
            let refused = pool
                .run(|mut conn| super::check_current(&mut conn))
                .unwrap_err()
                .to_string();
            assert!(refused.contains("schema migration 3 "), "{refused}");
        });
    }

    /// Migration 17 (L6): a record set aside in secret before it (still in
    /// its table, as migration 11 left it) is moved out, its facts kept for
    /// the case's package; and the id of the newest loan, gone from its
    /// table, is never given to a new loan (SQLite gave it again).
    #[test]
    fn l6_migration_17_moves_records_set_aside_before_it_out_of_their_tables_on_both_engines() {
        crate::db::on_both_databases("mig17", |url| {
            let pool = Pool::open(url).unwrap();
            let policy = crate::db::test_policy();
            let key = crate::secrets::AuditKey::generate().unwrap();
            pool.run(|mut conn| {
                super::run_through(&mut conn, &policy, &key, 16)?;
                conn.batch(
                    "INSERT INTO patrons (id, card_barcode, category, status, expires_on, created_at, updated_at)
                     VALUES (1, '29000000000001', 'adult', 'active', '2030-01-01', 0, 0);
                     INSERT INTO items (id, barcode, title, status, created_at) VALUES (1, '31000000000001', 'Beekeeping at Altitude', 'available', 0);
                     INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals, returned_at)
                     VALUES (1, 1, 1773972000, 1775000000, 0, 1774000000);
                     INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals, returned_at)
                     VALUES (1, 1, 1774972000, 1776000000, 1, 1775500000);
                     INSERT INTO kept_in_secret (kind, id) SELECT 'loan', MAX(id) FROM loans",
                )?;
                Ok(())
            })
            .unwrap();
            pool.migrate(&policy, &key).unwrap();
            pool.run(|mut conn| {
                let left = conn.query("SELECT id FROM loans ORDER BY id", params![])?;
                assert_eq!(left.len(), 1, "the set-aside loan left its table");
                let first = left[0].int(Only)?;
                let kept = conn.query_one(
                    "SELECT id, patron_id, occurred, record FROM kept_in_secret WHERE kind = 'loan'",
                    params![],
                )?;
                let second = kept.int("id")?;
                assert!(second > first);
                assert_eq!((kept.int("patron_id")?, kept.int("occurred")?), (1, 1774972000));
                let record: serde_json::Value = serde_json::from_str(&kept.text("record")?).unwrap();
                assert_eq!(record["title"], "Beekeeping at Altitude");
                assert_eq!(record["renewals"], 1);
                let next = conn.insert(
                    "INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals) VALUES (1, 1, 1777000000, 1778000000, 0)",
                    params![],
                )?;
                assert!(next > second, "loan id {second} given again");
                Ok(())
            })
            .unwrap();
        });
    }
}
