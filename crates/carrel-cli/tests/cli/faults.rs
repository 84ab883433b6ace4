//! The server on an operator's worst day, as a separate process: a disk
//! that fills or fails under 32 clients, a missing or wrong audit key, a
//! wiped audit log, files other users could read, a second server.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{carrel, policy, scratch, text};

/// A `carrel serve` running in the background (possibly inside a shell
/// that limits it). Killed if a test panics with it running.
struct Server {
    child: Option<Child>,
    address: String,
    /// What it wrote to standard error, read all along (an unread pipe
    /// would fill and stop the server at its next log line).
    stderr: Arc<Mutex<String>>,
}

/// Starts `program args` (a `carrel serve`, or a shell that runs one) and
/// waits for it to say where it listens; if it exits first, returns what
/// it wrote to standard error.
fn start(dir: &Path, program: &str, args: &[&str]) -> Result<Server, String> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("CARREL_DATABASE_URL")
        .env("CARREL_POLICY", policy("jefferson-county-mo.toml"))
        .env("CARREL_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (stderr, mut pipe) = (stderr.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split(" on http://").nth(1) {
            let address = rest.split('/').next().unwrap().to_string();
            // Keep draining stdout so the server never blocks on it.
            std::thread::spawn(move || for _ in lines {});
            return Ok(Server {
                child: Some(child),
                address,
                stderr,
            });
        }
    }
    let _ = child.wait();
    let _ = reader.join();
    let text = stderr.lock().unwrap().clone();
    Err(text)
}

impl Drop for Server {
    /// A test that panics leaves no server behind: SIGTERM (a shell that
    /// runs one passes it on), then SIGKILL after 5 s.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && started.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// SIGTERM, as a service manager stops a server.
fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

fn serve(dir: &Path, args: &[&str]) -> Result<Server, String> {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--purge-every", "off"];
    all.extend_from_slice(args);
    start(dir, env!("CARGO_BIN_EXE_carrel"), &all)
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// SIGTERM, as a service manager stops it; waits for the exit and
    /// returns whether it exited cleanly, and what it logged.
    fn stop(mut self) -> (bool, String) {
        let child = self.child.take().unwrap();
        terminate(&child);
        self.wait_for(child)
    }

    fn wait_for(&self, mut child: Child) -> (bool, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // Let the reader take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (status.success(), self.stderr.lock().unwrap().clone())
    }
}

fn add_staff(dir: &Path, database: &str, user: &str, role: &str) {
    let out = carrel(
        dir,
        &[
            "staff",
            "add",
            "--database",
            database,
            "--username",
            user,
            "--role",
            role,
        ],
        Some(&format!("{user}-long-password\n")),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Files holding personal data (the database, its WAL and shared memory)
/// and guarding it (the audit key and anchors) are created readable by
/// their owner only, whatever the umask; an existing database readable by
/// others is warned about. The review read names and e-mails from a 0644
/// database as another local user.
#[test]
fn database_files_are_private_and_exposed_ones_are_warned_about() {
    let dir = scratch("permissions");
    add_staff(&dir, "sqlite:lib.db", "boss", "director");
    let server = serve(&dir, &["--database", "sqlite:lib.db"]).unwrap();
    // The first anchor is written just after the server starts listening.
    let started = Instant::now();
    while !dir.join("lib.db.audit-anchors").exists() && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    for file in [
        "lib.db",
        "lib.db-wal",
        "lib.db-shm",
        "lib.db.audit-key",
        "lib.db.audit-anchors",
        "lib.db.server-lock",
    ] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    let (clean, log) = server.stop();
    assert!(clean, "{log}");

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("lib.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("can be read by other users") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

/// Started on a database whose audit key file is missing, `serve` used
/// to make a new key and write on, so the old chain could never be
/// verified again. Now it refuses, makes no key, and `audit verify` says
/// whether the key is missing or the wrong one.
#[test]
fn d7_serve_refuses_a_missing_or_wrong_audit_key_and_verify_says_which() {
    let dir = scratch("audit-key");
    add_staff(&dir, "sqlite:lib.db", "boss", "director");
    let key = dir.join("lib.db.audit-key");
    std::fs::rename(&key, dir.join("key.backup")).unwrap();

    let refused = serve(&dir, &["--database", "sqlite:lib.db"])
        .err()
        .expect("serve refuses");
    assert!(
        refused.contains("audit key file is missing") && refused.contains("has entries"),
        "{refused}"
    );
    assert!(!key.exists(), "no new key was made for a log with entries");
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("audit key file is missing"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let refused = serve(&dir, &["--database", "sqlite:lib.db"])
        .err()
        .expect("serve refuses");
    assert!(refused.contains("does not verify"), "{refused}");
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("the audit key does not verify this log"),
        "{}",
        text(&out.stdout)
    );

    std::fs::rename(dir.join("key.backup"), &key).unwrap();
    let server = serve(&dir, &["--database", "sqlite:lib.db"]).expect("serve starts with its key");
    assert!(server.stop().0);
}

/// Wiping the whole audit log and resetting its head leaves a log that is
/// consistent in itself. The server records anchors outside the database
/// (at start, on a schedule, at stop), so the next start refuses and
/// `audit verify` names the cut, with no anchor copied by hand. Also: a
/// second server on the same SQLite file is refused.
#[test]
fn d7_a_wiped_audit_log_is_caught_by_the_anchor_the_server_recorded() {
    let dir = scratch("anchors");
    add_staff(&dir, "sqlite:lib.db", "boss", "director");
    let server = serve(&dir, &["--database", "sqlite:lib.db"]).unwrap();
    let second = serve(&dir, &["--database", "sqlite:lib.db"])
        .err()
        .expect("a second server is refused");
    assert!(second.contains("another Carrel server"), "{second}");
    std::os::unix::fs::symlink(dir.join("lib.db"), dir.join("link.db")).unwrap();
    let by_link = serve(
        &dir,
        &[
            "--database",
            "sqlite:link.db",
            "--audit-key-file",
            "lib.db.audit-key",
        ],
    )
    .err()
    .expect("a second server reaching the file through a link is refused");
    assert!(by_link.contains("another Carrel server"), "{by_link}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let status = reqwest::Client::new()
            .post(server.url("/api/v1/session"))
            .json(&serde_json::json!({"username": "boss", "password": "boss-long-password"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    });
    assert!(server.stop().0);
    let anchors = std::fs::read_to_string(dir.join("lib.db.audit-anchors")).unwrap();
    assert!(!anchors.trim().is_empty(), "the server recorded anchors");
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("checking against the newest anchor"));
    let first_anchor = anchors
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();

    // Rewound to the first anchor (as an old backup would be): consistent
    // up to it, so an old anchor given by hand passes, but the newer one
    // the server recorded does not hide behind it.
    let (seq, hash) = first_anchor.split_once(':').unwrap();
    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    conn.execute_batch(&format!(
        "DELETE FROM audit_log WHERE seq > {seq}; UPDATE audit_head SET seq = {seq}, hash = '{hash}';"
    ))
    .unwrap();
    let out = carrel(
        &dir,
        &[
            "audit",
            "verify",
            "--database",
            "sqlite:lib.db",
            "--anchor",
            &first_anchor,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("restored a database backup"),
        "{}",
        text(&out.stdout)
    );

    conn.execute_batch("DELETE FROM audit_log; UPDATE audit_head SET seq = 0, hash = '';")
        .unwrap();
    drop(conn);
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("cut off the end"),
        "{}",
        text(&out.stdout)
    );
    let refused = serve(&dir, &["--database", "sqlite:lib.db"])
        .err()
        .expect("serve refuses");
    assert!(refused.contains("does not match the anchor"), "{refused}");
}

/// The log wiped behind a running server's back: the server must not
/// record the new, short log's head as an anchor over the old ones (that
/// made the wipe pass every default check), so the next start refuses and
/// `audit verify` names it.
#[test]
fn d7_a_log_wiped_while_the_server_runs_is_not_anchored_over() {
    let dir = scratch("wipe-live");
    add_staff(&dir, "sqlite:lib.db", "boss", "director");
    let server = serve(&dir, &["--database", "sqlite:lib.db"]).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sign_in = |server: &Server| {
        runtime.block_on(async {
            let status = reqwest::Client::new()
                .post(server.url("/api/v1/session"))
                .json(&serde_json::json!({"username": "boss", "password": "boss-long-password"}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        })
    };
    sign_in(&server);
    let before = std::fs::read_to_string(dir.join("lib.db.audit-anchors")).unwrap();
    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.execute_batch("DELETE FROM audit_log; UPDATE audit_head SET seq = 0, hash = '';")
        .unwrap();
    drop(conn);
    sign_in(&server);
    let (_, log) = server.stop();
    assert!(log.contains("no longer holds an anchor"), "{log}");
    let after = std::fs::read_to_string(dir.join("lib.db.audit-anchors")).unwrap();
    assert_eq!(after, before, "no anchor was recorded over the wiped log");
    let refused = serve(&dir, &["--database", "sqlite:lib.db"])
        .err()
        .expect("serve refuses");
    assert!(refused.contains("does not match the anchor"), "{refused}");
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}

/// Commands on an existing library name a database that is not there
/// (a mistyped path, cron in another folder) instead of making an empty
/// one; the demo never goes into a real library's database.
#[test]
fn a_missing_database_is_named_and_the_demo_stays_out_of_real_libraries() {
    let dir = scratch("missing-db");
    for args in [
        &["purge", "--database", "sqlite:nope.db"][..],
        &["audit", "verify", "--database", "sqlite:nope.db"][..],
    ] {
        let out = carrel(&dir, args, None);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("there is no database at"),
            "{}",
            text(&out.stderr)
        );
        assert!(
            !dir.join("nope.db").exists(),
            "{args:?} made an empty database"
        );
    }
    add_staff(&dir, "sqlite:lib.db", "boss", "director");
    let out = carrel(&dir, &["demo", "--database", "sqlite:lib.db"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already has staff accounts"),
        "{}",
        text(&out.stderr)
    );
    let refused = serve(&dir, &["--demo", "--database", "sqlite:lib.db"])
        .err()
        .expect("--demo with --database is refused");
    assert!(
        refused.contains("--demo uses a database of its own"),
        "{refused}"
    );
    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    let patrons: i64 = conn
        .query_row("SELECT COUNT(*) FROM patrons", [], |r| r.get(0))
        .unwrap();
    assert_eq!(patrons, 0, "no demo patron reached the library");
}

/// D6: `--public-url` is the address people use; anything but an http or
/// https address is refused at start, saying what to give, without
/// echoing what was given.
#[test]
fn a_public_url_that_is_not_an_address_is_refused_at_start() {
    let dir = scratch("public-url");
    add_staff(&dir, "sqlite:lib.db", "boss", "director");
    let refused = serve(
        &dir,
        &[
            "--database",
            "sqlite:lib.db",
            "--public-url",
            "library.internal",
        ],
    )
    .err()
    .expect("a public URL without its scheme is refused");
    assert!(
        refused.contains("--public-url must be the address people use, starting with https://"),
        "{refused}"
    );
    assert!(!refused.contains("library.internal"), "{refused}");
}

// ---- a disk that fills, or fails, under 32 clients ----

const PATRONS: usize = 30;
const ITEMS: usize = 1_500;

/// A library with patrons and items on an ordinary disk, stopped, ready
/// to be copied where the disk will fill.
fn library_for_load(dir: &Path) {
    add_staff(dir, "sqlite:lib.db", "desk", "clerk");
    add_staff(dir, "sqlite:lib.db", "boss", "supervisor");
    let server = serve(
        dir,
        &["--database", "sqlite:lib.db", "--anchor-every", "off"],
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let boss = sign_in(&client, &server, "boss").await;
        let desk = sign_in(&client, &server, "desk").await;
        let mut tasks = Vec::new();
        for worker in 0..8 {
            let (client, boss, desk) = (client.clone(), boss.clone(), desk.clone());
            let (patrons, items) = (server.url("/api/v1/patrons"), server.url("/api/v1/items"));
            tasks.push(tokio::spawn(async move {
                for i in (worker..PATRONS).step_by(8) {
                    let body = serde_json::json!({"card_barcode": format!("21{i:012}"), "category": "adult", "expires_on": "2099-12-31", "name": format!("Load Patron {i}"), "address": "1 Main St"});
                    let r = client.post(&patrons).bearer_auth(&desk).json(&body).send().await.unwrap();
                    assert_eq!(r.status(), 201);
                }
                for i in (worker..ITEMS).step_by(8) {
                    let body = serde_json::json!({"barcode": format!("31{i:012}"), "title": "Load Item"});
                    let r = client.post(&items).bearer_auth(&boss).json(&body).send().await.unwrap();
                    assert_eq!(r.status(), 201);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(server.stop().0);
}

async fn sign_in(client: &reqwest::Client, server: &Server, user: &str) -> String {
    let body: serde_json::Value = client
        .post(server.url("/api/v1/session"))
        .json(&serde_json::json!({"username": user, "password": format!("{user}-long-password")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// What the clients were told.
#[derive(Default)]
struct Told {
    /// (loan id, item barcode) of every checkout answered 201.
    done: Vec<(i64, String)>,
    /// Status and error code of every checkout refused with 5xx.
    failed: Vec<(u16, String)>,
}

/// 32 clients check out until the disk has refused 100 checkouts (or 60 s
/// pass, or the items run out).
fn check_out_until_the_disk_refuses(server: &Server) -> Told {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let desk = sign_in(&client, server, "desk").await;
        let told = Arc::new(Mutex::new(Told::default()));
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (client, desk, told, next) = (client.clone(), desk.clone(), told.clone(), next.clone());
            let url = server.url("/api/v1/checkouts");
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= ITEMS
                        || told.lock().unwrap().failed.len() >= 100
                        || started.elapsed() > Duration::from_secs(60)
                    {
                        return;
                    }
                    let item = format!("31{i:012}");
                    let body = serde_json::json!({"patron_barcode": format!("21{:012}", i % PATRONS), "item_barcode": item});
                    let Ok(response) = client.post(&url).bearer_auth(&desk).json(&body).send().await else {
                        continue;
                    };
                    let status = response.status().as_u16();
                    let answer: serde_json::Value = response.json().await.unwrap_or_default();
                    let mut told = told.lock().unwrap();
                    match status {
                        201 => told.done.push((answer["id"].as_i64().unwrap(), item)),
                        500..=599 => told.failed.push((status, answer["error"]["code"].as_str().unwrap_or("").to_string())),
                        other => panic!("a checkout got {other}: {answer}"),
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(told).ok().unwrap().into_inner().unwrap()
    })
}

/// Every checkout a client was told succeeded is in the database, as that
/// loan of that item, and no loan id was given to two checkouts. The
/// review saw 6 to 18 acknowledged checkouts missing per run, and one loan
/// id reported to 7 different checkouts.
fn assert_every_acknowledgement_committed(database: &Path, told: &Told, fault: &str) {
    eprintln!(
        "{fault}: {} checkouts acknowledged, {} refused ({:?}...)",
        told.done.len(),
        told.failed.len(),
        &told.failed[..told.failed.len().min(3)]
    );
    assert!(
        !told.done.is_empty(),
        "{fault}: no checkout succeeded before the fault"
    );
    assert!(
        !told.failed.is_empty(),
        "{fault}: the fault never refused a checkout"
    );
    let mut ids: Vec<i64> = told.done.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        told.done.len(),
        "{fault}: a loan id was reported to two checkouts"
    );
    let conn = rusqlite::Connection::open(database).unwrap();
    let mut missing = 0;
    for (id, item) in &told.done {
        let found: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM loans l JOIN items i ON i.id = l.item_id WHERE l.id = ?1 AND i.barcode = ?2",
                rusqlite::params![id, item],
                |r| r.get(0),
            )
            .unwrap();
        missing += usize::from(found != 1);
    }
    assert_eq!(
        missing,
        0,
        "{fault}: {missing} of {} acknowledged checkouts are not in the database",
        told.done.len()
    );
    let loans: i64 = conn
        .query_row("SELECT COUNT(*) FROM loans", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        loans as usize,
        told.done.len(),
        "{fault}: the database holds loans no client was told of (or told of as failed)"
    );
}

fn copy_library(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for file in ["lib.db", "lib.db.audit-key"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

/// The disk fills: the database on a tmpfs with 1.5 MiB to spare, in a
/// mount namespace of its own (root, as CI runs), so SQLite gets ENOSPC,
/// as the review's 20 MB filesystem gave it. Then the file size limit
/// (`ulimit -f`), which makes writes fail with EFBIG: SQLite's I/O error.
#[test]
fn acknowledged_writes_survive_a_full_disk_and_failing_writes() {
    let dir = scratch("full-disk");
    library_for_load(&dir);
    let database_size = std::fs::metadata(dir.join("lib.db")).unwrap().len();
    let carrel_bin = env!("CARGO_BIN_EXE_carrel");

    // 1. A full disk.
    let full = dir.join("full");
    copy_library(&dir, &full);
    std::fs::create_dir_all(full.join("mnt")).unwrap();
    std::fs::create_dir_all(full.join("after")).unwrap();
    let namespaces = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if namespaces {
        let size_kib = database_size / 1024 + 1536;
        let script = format!(
            "set -e
             mount -t tmpfs -o size={size_kib}k carrel-full-disk mnt
             cp lib.db lib.db.audit-key mnt/
             '{carrel_bin}' serve --database sqlite:mnt/lib.db --listen 127.0.0.1:0 --purge-every off --anchor-every off &
             pid=$!
             trap 'kill -TERM $pid; wait $pid || true; cp mnt/lib.db* after/; exit 0' TERM
             wait $pid"
        );
        let server = start(&full, "unshare", &["-m", "sh", "-c", &script]).unwrap();
        let told = check_out_until_the_disk_refuses(&server);
        let (clean, log) = server.stop();
        assert!(clean, "{log}");
        assert!(
            told.failed
                .iter()
                .any(|(status, code)| *status == 503 && code == "disk_full"),
            "a full disk is answered 503 disk_full: {:?}",
            &told.failed[..told.failed.len().min(5)]
        );
        assert_every_acknowledgement_committed(&full.join("after/lib.db"), &told, "full disk");
    } else {
        eprintln!("mount namespaces are not available here; the full-disk half is skipped, the I/O-error half runs");
    }

    // 2. Writes that fail (I/O errors): no file of the process may grow
    //    past the database's size plus 1 MiB.
    let failing = dir.join("failing");
    copy_library(&dir, &failing);
    let limit_kib = database_size / 1024 + 1024;
    let script = format!(
        "ulimit -f {limit_kib}; exec '{carrel_bin}' serve --database sqlite:lib.db --listen 127.0.0.1:0 --purge-every off --anchor-every off"
    );
    let server = start(&failing, "bash", &["-c", &script]).unwrap();
    let told = check_out_until_the_disk_refuses(&server);
    // The server survives (SIGXFSZ is ignored) and says what happened.
    let (clean, log) = server.stop();
    assert!(clean, "the server died under failing writes: {log}");
    assert!(
        told.failed
            .iter()
            .all(|(status, code)| *status == 503 && code == "write_failed"),
        "failing writes are answered 503 write_failed: {:?}",
        &told.failed[..told.failed.len().min(5)]
    );
    assert_every_acknowledgement_committed(&failing.join("lib.db"), &told, "failing writes");
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
