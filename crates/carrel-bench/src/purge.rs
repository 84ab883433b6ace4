//! `cargo run --release -p carrel-bench -- purge [--loans N] [--patrons N]
//! [--dir DIR] [--skip-sqlite] [--skip-postgres] [--postgres URL]`
//!
//! The retention purge at scale (issue 3, part 8). On each engine:
//!
//! 1. generate a year of circulation, 10 million loans for 1 million
//!    patrons by default, in bulk SQL. Loans are made at an even rate over
//!    365 days and returned 0-28 days later, so about 80% are past the
//!    Missouri policy's 60 days; 1% carry an unpaid fine (which keeps the
//!    loan) and the loans of 1,000 patrons are under a legal hold;
//! 2. copy the database (a file copy; `CREATE DATABASE ... TEMPLATE` on
//!    PostgreSQL);
//! 3. on the copy, time a bare `DELETE` of exactly the loans that are due,
//!    and (on a second copy on SQLite) the same with the secure-deletion
//!    care Carrel takes: SQLite's `secure_delete` and a TRUNCATE
//!    checkpoint, PostgreSQL's VACUUM;
//! 4. on the original, time `carrel purge` (statistics, batches, progress,
//!    audit, then the SQLite TRUNCATE checkpoint or PostgreSQL VACUUM), and
//!    check it destroyed the same number of loans;
//! 5. then move the clock on a day at a time and time each daily purge,
//!    to show its cost follows the rows that fell due that day.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carrel_policy::retention::cutoff_instant;
use carrel_policy::RecordClass;
use carrel_store::retention::{self, PurgeOptions, PurgeSummary};
use carrel_store::{staff, Store};
use chrono::{DateTime, TimeZone, Utc};

use crate::open_store;

const DAY: i64 = 86_400;
/// Loans are made evenly over this many days before "now".
const SPAN_DAYS: i64 = 365;
/// Each loan is returned between 0 and this many days after checkout;
/// those that would come back after "now" are still out.
const LOAN_DAYS: i64 = 28;
/// Patrons whose loans a legal hold pins.
const HELD_PATRONS: i64 = 1_000;
/// Daily purges timed after the big one.
const DAILY_RUNS: i64 = 3;

struct Args {
    loans: i64,
    patrons: i64,
    dir: PathBuf,
    sqlite: bool,
    postgres: Option<String>,
    batch_size: usize,
    /// Give every loan the audit trail a checkout writes (three entries,
    /// naming the patron, the item and the loan), which the purge erases.
    audit_trail: bool,
}

fn args(argv: Vec<String>) -> Args {
    let mut args = Args {
        loans: 10_000_000,
        patrons: 1_000_000,
        dir: std::env::temp_dir().join(format!("carrel-purge-bench-{}", std::process::id())),
        sqlite: true,
        postgres: Some(
            std::env::var("CARREL_TEST_POSTGRES")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        ),
        batch_size: retention::DEFAULT_BATCH,
        audit_trail: true,
    };
    let mut it = argv.into_iter();
    let number = |v: Option<String>, what: &str| -> i64 {
        v.and_then(|n| n.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{what} takes a whole number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--loans" => args.loans = number(it.next(), "--loans"),
            "--patrons" => args.patrons = number(it.next(), "--patrons"),
            "--dir" => args.dir = PathBuf::from(it.next().expect("--dir takes a directory")),
            "--batch-size" => args.batch_size = number(it.next(), "--batch-size") as usize,
            "--skip-sqlite" => args.sqlite = false,
            "--skip-postgres" => args.postgres = None,
            "--postgres" => args.postgres = it.next(),
            "--no-audit-trail" => args.audit_trail = false,
            other => panic!(
                "unknown argument {other}; use --loans N, --patrons N, --batch-size N, --dir DIR, --postgres URL, --skip-sqlite, --skip-postgres, --no-audit-trail"
            ),
        }
    }
    assert!(
        args.patrons >= HELD_PATRONS && args.loans >= args.patrons,
        "use at least {HELD_PATRONS} patrons and at least as many loans as patrons"
    );
    args
}

/// The fixed "now" of the benchmark: noon in Missouri.
fn bench_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 18, 0, 0).unwrap()
}

/// The SQL that differs between the engines when generating rows.
struct Dialect {
    /// `{n}` rows numbered `i` from 0: a prefix before INSERT and a FROM.
    series_prefix: &'static str,
    series_from: &'static str,
    /// `expr` zero-padded to `width` digits, as text.
    pad: fn(&str, usize) -> String,
}

const SQLITE: Dialect = Dialect {
    series_prefix:
        "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {n} - 1) ",
    series_from: "g",
    pad: |expr, width| format!("printf('%0{width}d', {expr})"),
};

const POSTGRES: Dialect = Dialect {
    series_prefix: "",
    series_from: "generate_series(0::bigint, {n} - 1) AS g(i)",
    pad: |expr, width| format!("lpad(({expr})::text, {width}, '0')"),
};

/// The statements that fill an empty, migrated database. Deterministic, so
/// both engines hold the same library.
fn generation_sql(d: &Dialect, loans: i64, patrons: i64) -> Vec<String> {
    let now = bench_now().timestamp();
    let items = (loans / 10).max(1);
    let start = now - SPAN_DAYS * DAY;
    // Checkouts at an even rate; the return delay is scattered by a
    // multiplicative hash so returns are not in id order.
    let checked_out = format!("({start} + i * {SPAN_DAYS} * {DAY} / {loans})");
    let returned = format!("({checked_out} + (i * 2654435761) % ({LOAN_DAYS} * {DAY}))");
    let series = |n: i64, body: &str| {
        let prefix = d.series_prefix.replace("{n}", &n.to_string());
        let from = d.series_from.replace("{n}", &n.to_string());
        format!("{prefix}{body} FROM {from}")
    };
    let zone = carrel_policy::parse("mo", crate::POLICY)
        .unwrap()
        .library
        .time_zone
        .name();
    let date = |year: &str, month: &str| {
        format!(
            "{} || '-' || {} || '-15'",
            (d.pad)(year, 4),
            (d.pad)(month, 2)
        )
    };
    vec![
        series(
            patrons,
            &format!(
                "INSERT INTO patrons (id, card_barcode, category, status, expires_on, birth_date, created_at, updated_at)
                 SELECT i + 1, '21' || {barcode}, CASE WHEN i % 5 = 0 THEN 'juvenile' ELSE 'adult' END, 'active', '2028-06-30',
                        CASE WHEN i % 5 = 0 THEN {child} ELSE {adult} END, {start}, {start}",
                barcode = (d.pad)("i", 12),
                child = date("2010 + i % 12", "1 + i % 12"),
                adult = date("1940 + i % 65", "1 + i % 12"),
            ),
        ),
        series(
            items,
            &format!(
                "INSERT INTO items (id, barcode, title, status, created_at)
                 SELECT i + 1, '31' || {barcode}, 'Bench item', 'available', {start}",
                barcode = (d.pad)("i", 12),
            ),
        ),
        // A loan whose return would be after now is still out. Open loans
        // are the latest ~28 days of checkouts, fewer than `items`, so no
        // item is out twice. Each records its borrower's category and age
        // band on the day, as checkout does.
        format!(
            "{} JOIN patrons p ON p.id = (i * 7) % {patrons} + 1",
            series(
                loans,
                &format!(
                    "INSERT INTO loans (id, patron_id, item_id, checked_out_at, due_at, renewals, returned_at, borrower_category, borrower_age_band)
                     SELECT i + 1, p.id, i % {items} + 1, {checked_out}, {checked_out} + 21 * {DAY}, 0,
                            CASE WHEN {returned} < {now} THEN {returned} END,
                            p.category, carrel_age_band(p.birth_date, carrel_local_date({checked_out}, '{zone}'))",
                ),
            )
        ),
        // 1% of returned loans carry an unpaid fine.
        format!(
            "INSERT INTO fines (patron_id, loan_id, amount_cents, reason, assessed_at)
             SELECT patron_id, id, 150, 'overdue', returned_at FROM loans WHERE id % 100 = 2 AND returned_at IS NOT NULL"
        ),
        // One legal hold per held patron, pinning all of that patron's loans.
        format!(
            "INSERT INTO legal_holds (id, reference, record_class, patron_id, from_date, to_date, placed_by, placed_at, expires_at)
             SELECT id, 'BENCH-' || id, 'circulation', id, '2025-01-01', '2026-11-23', 1, {placed}, {expires}
             FROM patrons WHERE id <= {HELD_PATRONS}",
            placed = now - DAY,
            expires = now + 89 * DAY,
        ),
        format!(
            "INSERT INTO legal_hold_records (record_kind, record_id, hold_id)
             SELECT 'loan', id, patron_id FROM loans WHERE patron_id <= {HELD_PATRONS}"
        ),
    ]
}

/// The audit trail a checkout leaves, for every loan: reads of the patron
/// and the item and the loan's creation, listed under the loan and the
/// patron as subjects. The hashes are not a valid chain (the benchmark
/// times the purge's erasure, not verification), so the entries take
/// negative numbers, before the chain's real start, and the head (which
/// every start checks against the key) stays a real entry.
fn audit_trail_sql() -> Vec<String> {
    let entry = |offset: i64, action: &str, class: &str, record: &str| {
        format!(
            "INSERT INTO audit_log (seq, at, actor, action, record_class, record_id, record_salt, record_ref, purpose, decision, detail, prev_hash, hash)
             SELECT {offset} - 3 * id, checked_out_at, 'staff:1', '{action}', '{class}', {record}, 'bench-salt-' || id, 'bench-ref', 'circulation', 'granted', NULL, '', ''
             FROM loans"
        )
    };

    vec![
        entry(2, "read", "registration", "'patron:' || patron_id"),
        entry(1, "read", "catalogue", "'item:' || item_id"),
        entry(0, "create", "circulation", "'loan:' || id"),
        "INSERT INTO audit_subjects (kind, id, first_seq, last_seq) SELECT 'loan', id, -3 * id, 2 - 3 * id FROM loans".to_string(),
        "INSERT INTO audit_subjects (kind, id, first_seq, last_seq) SELECT 'patron', patron_id, -3 * id, 2 - 3 * id FROM loans".to_string(),
    ]
}

/// The bare DELETE: the same loans the purge destroys, in one statement.
/// Parameters: the cutoff instant and now.
const BARE_DELETE: &str = "DELETE FROM loans WHERE returned_at < {cut}
       AND NOT EXISTS (SELECT 1 FROM fines f WHERE f.loan_id = loans.id AND f.settled_at IS NULL)
       AND NOT EXISTS (SELECT 1 FROM legal_hold_records r
                       WHERE r.record_kind = 'loan' AND r.record_id = loans.id
                         AND EXISTS (SELECT 1 FROM legal_holds h WHERE h.id = r.hold_id
                                     AND h.released_at IS NULL AND h.expires_at > {now}))";

fn bare_delete_sql() -> String {
    let policy = carrel_policy::parse("mo", crate::POLICY).unwrap();
    let rule = policy
        .class(RecordClass::Circulation)
        .and_then(|c| c.retention.as_ref())
        .expect("the Missouri policy has a circulation rule");
    let now = bench_now();
    let today = now.with_timezone(&policy.library.time_zone).date_naive();
    let cut = cutoff_instant(today, rule.keep, policy.library.time_zone).timestamp();
    BARE_DELETE
        .replace("{cut}", &cut.to_string())
        .replace("{now}", &now.timestamp().to_string())
}

fn options(args: &Args) -> PurgeOptions {
    PurgeOptions {
        batch_size: args.batch_size,
        started_by: "bench".into(),
    }
}

/// How many loans the bare DELETE would destroy.
fn due_count_sql() -> String {
    bare_delete_sql().replacen("DELETE FROM loans", "SELECT COUNT(*) FROM loans", 1)
}

/// A clock the benchmark moves forward a day at a time.
fn movable_clock() -> (carrel_store::Clock, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(bench_now().timestamp()));
    let read = now.clone();
    let clock: carrel_store::Clock =
        Arc::new(move || DateTime::from_timestamp(read.load(Ordering::SeqCst), 0).unwrap());
    (clock, now)
}

fn loans_destroyed(summary: &PurgeSummary) -> i64 {
    summary
        .targets
        .iter()
        .filter(|t| t.label == "loans")
        .map(|t| t.destroyed)
        .sum()
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn per_row(d: Duration, rows: i64) -> String {
    format!("{:.1} µs/row", d.as_secs_f64() * 1e6 / rows.max(1) as f64)
}

/// Times the full purge and the daily ones after it, and prints the lines.
fn carrel_purges(
    store: Store,
    options: &PurgeOptions,
    now: &AtomicI64,
    bare_rows: i64,
    bare: Duration,
    bare_and_care: Duration,
) {
    let start = Instant::now();
    let summary = retention::purge(&store, options, &mut |_| {}).unwrap();
    let full = start.elapsed();
    let destroyed = loans_destroyed(&summary);
    assert_eq!(
        destroyed, bare_rows,
        "carrel purge and the bare DELETE must destroy the same loans"
    );
    println!(
        "  carrel purge (statistics, batches of {}, audit, secure deletion): {destroyed} loans in {} ({})",
        options.batch_size,
        secs(full),
        per_row(full, destroyed)
    );
    println!(
        "  ratio carrel purge / bare DELETE: {:.2}x (target <= 3x); / bare DELETE with the same secure-deletion care: {:.2}x",
        full.as_secs_f64() / bare.as_secs_f64(),
        full.as_secs_f64() / bare_and_care.as_secs_f64()
    );
    for day in 1..=DAILY_RUNS {
        now.fetch_add(DAY, Ordering::SeqCst);
        let start = Instant::now();
        let (summary, waits) = with_desk_probe(&store, || {
            retention::purge(&store, options, &mut |_| {}).unwrap()
        });
        let took = start.elapsed();
        let n = loans_destroyed(&summary);
        println!(
            "  daily purge, day +{day}: {n} loans fell due, purged in {} ({}); desk meanwhile: {}",
            secs(took),
            per_row(took, n),
            waits
        );
    }
    let start = Instant::now();
    let summary = retention::purge(&store, options, &mut |_| {}).unwrap();
    println!(
        "  purge again the same day (nothing due): {} destroyed in {}",
        summary.total(),
        secs(start.elapsed())
    );
}

/// Runs `work` while a desk probe, one short transaction every 20 ms,
/// measures how long the desk waits for the database meanwhile (on SQLite
/// a purge transaction ends at its next step when the desk waits).
fn with_desk_probe<T>(store: &Store, work: impl FnOnce() -> T) -> (T, String) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let probe = scope.spawn(|| {
            let mut waits = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let start = Instant::now();
                store.transact(|_| Ok(())).unwrap();
                waits.push(start.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
            waits
        });
        let out = work();
        done.store(true, Ordering::SeqCst);
        let mut waits = probe.join().unwrap();
        waits.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
        let summary = match waits.last() {
            Some(max) => format!(
                "{} requests, median {}, slowest {}",
                waits.len(),
                ms(waits[waits.len() / 2]),
                ms(*max)
            ),
            None => "no requests".to_string(),
        };
        (out, summary)
    })
}

fn sqlite(args: &Args) {
    std::fs::create_dir_all(&args.dir).unwrap();
    let path = args.dir.join("carrel.db");
    let copy = args.dir.join("bare.db");
    for f in [&path, &copy] {
        let _ = std::fs::remove_file(f);
    }
    let path_s = path.to_str().unwrap().to_string();
    println!("SQLite ({path_s}, synchronous=full)");
    let store = open_store(&format!("sqlite:{path_s}"));
    staff::add(&store, "director", "bench-director-password", "director").unwrap();
    drop(store);

    let start = Instant::now();
    let conn = rusqlite::Connection::open(&path).unwrap();
    carrel_store::db::register_sqlite_functions(&conn).unwrap();
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000; BEGIN;")
        .unwrap();
    for statement in generation_sql(&SQLITE, args.loans, args.patrons) {
        conn.execute_batch(&statement).unwrap();
    }
    if args.audit_trail {
        for statement in audit_trail_sql() {
            conn.execute_batch(&statement).unwrap();
        }
    }
    conn.execute_batch("COMMIT; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let due: i64 = conn.query_row(&due_count_sql(), [], |r| r.get(0)).unwrap();
    drop(conn);
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "  generated {} loans, {} patrons in {} ({:.1} GB); {due} loans due ({:.0}%)",
        args.loans,
        args.patrons,
        secs(start.elapsed()),
        size as f64 / 1e9,
        100.0 * due as f64 / args.loans as f64
    );
    // The bare DELETE, with Carrel's connection settings except
    // secure_delete (a bare DELETE does not overwrite what it frees); then,
    // on a fresh copy, the same DELETE with the care Carrel takes for D2:
    // secure_delete on, and the WAL copied back and truncated afterwards.
    let bare_delete = |secure: bool| {
        std::fs::copy(&path, &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;
             PRAGMA secure_delete = {};",
            if secure { "ON" } else { "OFF" }
        ))
        .unwrap();
        let start = Instant::now();
        conn.execute_batch("BEGIN").unwrap();
        let rows = conn.execute(&bare_delete_sql(), []).unwrap() as i64;
        conn.execute_batch("COMMIT").unwrap();
        if secure {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
        }
        let took = start.elapsed();
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
        }
        (rows, took)
    };
    let (bare_rows, bare) = bare_delete(false);
    println!(
        "  bare DELETE of the due loans, one statement: {bare_rows} loans in {} ({})",
        secs(bare),
        per_row(bare, bare_rows)
    );
    let (_, bare_and_care) = bare_delete(true);
    println!(
        "  the same with secure_delete on and a TRUNCATE checkpoint after: {}",
        secs(bare_and_care)
    );

    let (clock, now) = movable_clock();
    let store = open_store(&format!("sqlite:{path_s}")).with_clock(clock);
    carrel_purges(store, &options(args), &now, bare_rows, bare, bare_and_care);
    let _ = std::fs::remove_dir_all(&args.dir);
}

fn postgres(args: &Args, server: &str) {
    let id = std::process::id();
    let (original, copy) = (
        format!("carrel_purge_bench_{id}"),
        format!("carrel_purge_bench_{id}_bare"),
    );
    // The server's URL with another database name.
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    let url_of = |db: &str| format!("{base}/{db}");
    // No async runtime runs in this benchmark, so the blocking client is
    // used directly.
    let connect = |url: &str| postgres::Client::connect(url, postgres::NoTls).unwrap();
    let admin = |sql: String| connect(server).batch_execute(&sql).unwrap();
    println!("PostgreSQL ({base})");
    admin(format!("CREATE DATABASE {original}"));
    let store = open_store(&format!("{}?schema=carrel", url_of(&original)));
    staff::add(&store, "director", "bench-director-password", "director").unwrap();
    drop(store);

    let start = Instant::now();
    let (loans, patrons) = (args.loans, args.patrons);
    let due = {
        let mut c = connect(&url_of(&original));
        // Loading only: skip the foreign-key triggers, as a restore does.
        c.batch_execute(
            "SET search_path TO carrel; SET session_replication_role = replica; BEGIN;",
        )
        .unwrap();
        for statement in generation_sql(&POSTGRES, loans, patrons) {
            c.batch_execute(&statement).unwrap();
        }
        if args.audit_trail {
            for statement in audit_trail_sql() {
                c.batch_execute(&statement).unwrap();
            }
        }
        c.batch_execute("COMMIT; SET session_replication_role = origin;")
            .unwrap();
        // VACUUM cannot run in the implicit transaction of a multi-statement batch.
        c.batch_execute("VACUUM ANALYZE").unwrap();
        c.query_one(&due_count_sql(), &[]).unwrap().get::<_, i64>(0)
    };
    println!(
        "  generated {loans} loans, {patrons} patrons in {}; {due} loans due ({:.0}%)",
        secs(start.elapsed()),
        100.0 * due as f64 / loans as f64
    );
    admin(format!("CREATE DATABASE {copy} TEMPLATE {original}"));

    // The bare DELETE; then the VACUUM Carrel runs after a purge for D2.
    let (bare_rows, bare, bare_and_care) = {
        let mut c = connect(&url_of(&copy));
        c.batch_execute("SET search_path TO carrel").unwrap();
        let start = Instant::now();
        let mut tx = c.transaction().unwrap();
        let n = tx.execute(&bare_delete_sql(), &[]).unwrap() as i64;
        tx.commit().unwrap();
        let bare = start.elapsed();
        c.batch_execute("VACUUM loans").unwrap();
        (n, bare, start.elapsed())
    };
    admin(format!("DROP DATABASE {copy}"));
    println!(
        "  bare DELETE of the due loans, one statement: {bare_rows} loans in {} ({})",
        secs(bare),
        per_row(bare, bare_rows)
    );
    println!(
        "  the same with a VACUUM of loans after: {}",
        secs(bare_and_care)
    );

    let (clock, now) = movable_clock();
    let store = open_store(&format!("{}?schema=carrel", url_of(&original))).with_clock(clock);
    carrel_purges(store, &options(args), &now, bare_rows, bare, bare_and_care);
    admin(format!("DROP DATABASE {original} WITH (FORCE)"));
}

pub fn main(argv: Vec<String>) {
    let args = args(argv);
    println!(
        "carrel-bench purge: {} loans, {} patrons, {} cores, Missouri policy (circulation: 60 days after return)",
        args.loans,
        args.patrons,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if args.sqlite {
        sqlite(&args);
    }
    if let Some(server) = &args.postgres {
        postgres(&args, server);
    }
}
