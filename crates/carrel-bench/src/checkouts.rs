//! `cargo run --release -p carrel-bench [-- checkouts] [--checkouts N] [--skip-postgres]`
//!
//! Measures, in one run on one machine:
//! (a) the raw rate of one-transaction "insert loan + insert audit row",
//!     straight through the database driver, no Carrel code;
//! (b) checkouts per second through the HTTP API with the gate and the
//!     audit log on (sign-in, policy checks, loan rules, four audit
//!     entries per checkout), from 16 concurrent clients, with p50 and
//!     p99 latency;
//! on SQLite at synchronous=FULL and NORMAL, and on PostgreSQL.
//! The clients run in the same process as the server, on the same cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carrel_store::staff;
use serde_json::json;

use crate::open_store;

const CLIENTS: usize = 16;

struct Args {
    checkouts: usize,
    rounds: usize,
    postgres: Option<String>,
    pg_pool: usize,
    skip_sqlite: bool,
}

fn args(argv: Vec<String>) -> Args {
    let mut checkouts = 5_000;
    let mut rounds = 3;
    let mut pg_pool = 8;
    let mut skip_sqlite = false;
    let mut postgres = Some(
        std::env::var("CARREL_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
    );
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--checkouts" => {
                checkouts = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--checkouts takes a number")
            }
            "--rounds" => rounds = it.next().and_then(|n| n.parse().ok()).expect("--rounds takes a number"),
            "--skip-postgres" => postgres = None,
            "--skip-sqlite" => skip_sqlite = true,
            "--pg-pool" => pg_pool = it.next().and_then(|n| n.parse().ok()).expect("--pg-pool takes a number"),
            "--postgres" => postgres = it.next(),
            other => panic!(
                "unknown argument {other}; use --checkouts N, --rounds N, --postgres URL, --pg-pool N, --skip-postgres, --skip-sqlite"
            ),
        }
    }
    Args {
        checkouts,
        rounds,
        postgres,
        pg_pool,
        skip_sqlite,
    }
}

/// (a) on SQLite: BEGIN; INSERT loan; INSERT audit row; COMMIT, in a loop.
fn raw_sqlite(path: &str, synchronous: &str, n: usize) -> f64 {
    drop(open_store(&format!("sqlite:{path}")));
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
         INSERT INTO patrons (card_barcode, category, status, expires_on, created_at, updated_at) VALUES ('21234000000001', 'adult', 'active', '2099-01-01', 0, 0);
         BEGIN;"
    ))
    .unwrap();
    // One item per loan, created before timing: an item has one open loan.
    for i in 0..n {
        conn.execute(
            "INSERT INTO items (barcode, title, status, created_at) VALUES (?1, 'x', 'available', 0)",
            [format!("31{i:012}")],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let hash = "0".repeat(64);
    let start = Instant::now();
    for i in 0..n as i64 {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.prepare_cached("INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals) VALUES (1, ?1, ?2, ?3, 0)")
            .unwrap()
            .execute([i + 1, i, i + 1_814_400])
            .unwrap();
        conn.prepare_cached(
            "INSERT INTO audit_log (seq, at, actor, action, record_class, record_id, purpose, decision, detail, prev_hash, hash)
             VALUES (?1, ?2, 'staff:1', 'create', 'circulation', 'loan:1', 'circulation', 'granted', NULL, ?3, ?3)",
        )
        .unwrap()
        .execute(rusqlite::params![i + 1, i, hash])
        .unwrap();
        conn.execute_batch("COMMIT").unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// (a) on PostgreSQL: the same two inserts per transaction, one connection.
fn raw_postgres(url: &str, schema: &str, n: usize) -> f64 {
    drop(open_store(&format!("{url}?schema={schema}")));
    let url = url.to_string();
    let schema = schema.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!(
                "SET search_path TO {schema};
                 INSERT INTO patrons (card_barcode, category, status, expires_on, created_at, updated_at) VALUES ('21234000000001', 'adult', 'active', '2099-01-01', 0, 0);
                 INSERT INTO items (barcode, title, status, created_at)
                   SELECT '31' || LPAD(g::text, 12, '0'), 'x', 'available', 0 FROM generate_series(1, {n}) g;"
            ))
            .unwrap();
        let loan = client.prepare("INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals) VALUES (1, $3, $1, $2, 0)").unwrap();
        let audit = client
            .prepare(
                "INSERT INTO audit_log (seq, at, actor, action, record_class, record_id, purpose, decision, detail, prev_hash, hash)
                 VALUES ($1, $2, 'staff:1', 'create', 'circulation', 'loan:1', 'circulation', 'granted', NULL, $3, $3)",
            )
            .unwrap();
        let hash = "0".repeat(64);
        let start = Instant::now();
        for i in 0..n as i64 {
            let mut tx = client.transaction().unwrap();
            tx.execute(&loan, &[&i, &(i + 1_814_400), &(i + 1)]).unwrap();
            tx.execute(&audit, &[&(i + 1), &i, &hash]).unwrap();
            tx.commit().unwrap();
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
        rate
    })
    .join()
    .unwrap()
}

struct ApiResult {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// (b): a server on a random port, patrons and items created through the
/// API, then `n` checkouts from 16 concurrent clients.
/// How the desk checks out: the JSON API, or the desk's page (a form post
/// answered by a redirect to the patron's page, which the browser then
/// loads: the latency is both requests).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Api,
    /// The form's post alone (answered 303).
    Post,
    /// The post and the patron's page the browser then loads.
    Page,
}

async fn api_checkouts(url: String, n: usize) -> ApiResult {
    checkouts_via(url, n, Via::Api).await
}

async fn checkouts_via(url: String, n: usize, via: Via) -> ApiResult {
    let store = tokio::task::spawn_blocking(move || {
        let store = open_store(&url);
        staff::add(&store, "desk", "bench-desk-password", "clerk").unwrap();
        staff::add(&store, "boss", "bench-boss-password", "director").unwrap();
        Arc::new(store)
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(carrel_server::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let desk = crate::sign_in(&client, &base, "desk", "bench-desk-password").await;
    let boss = crate::sign_in(&client, &base, "boss", "bench-boss-password").await;
    // At most 20 loans per patron, well under the policy's limit of 50.
    let patrons = n.div_ceil(20);
    let expires = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    let setup = |what: &'static str, count: usize, token: String| {
        let client = client.clone();
        let base = base.clone();
        let expires = expires.clone();
        async move {
            let next = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let (client, base, token, next, expires) = (client.clone(), base.clone(), token.clone(), next.clone(), expires.clone());
                    tokio::spawn(async move {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= count {
                                break;
                            }
                            let (path, body) = if what == "patron" {
                                ("/api/v1/patrons", json!({"card_barcode": format!("21{i:012}"), "category": "adult", "expires_on": expires, "name": format!("Bench Patron {i}"), "address": "1 Main St"}))
                            } else {
                                ("/api/v1/items", json!({"barcode": format!("31{i:012}"), "title": "Bench Item"}))
                            };
                            let resp = client.post(format!("{base}{path}")).bearer_auth(&token).json(&body).send().await.unwrap();
                            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    };
    setup("patron", patrons, desk.clone()).await;
    setup("item", n, boss).await;

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, base, token, next) = (client.clone(), base.clone(), desk.clone(), next.clone());
            let no_redirects = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t = Instant::now();
                    let resp = match via {
                        Via::Api => {
                            let body = json!({"patron_barcode": format!("21{:012}", i % patrons), "item_barcode": format!("31{i:012}")});
                            client.post(format!("{base}/api/v1/checkouts")).bearer_auth(&token).json(&body).send().await.unwrap()
                        }
                        Via::Post | Via::Page => {
                            // As the desk's form posts it: the session's
                            // form token, the scanned barcode.
                            let body = format!("form_token={}&item_barcode=31{i:012}", carrel_server::pages::form_token(&token));
                            let client = if via == Via::Post { &no_redirects } else { &client };
                            client
                                .post(format!("{base}/staff/desk/patrons/{}/checkout", i % patrons + 1))
                                .bearer_auth(&token)
                                .header("content-type", "application/x-www-form-urlencoded")
                                .header("sec-fetch-site", "same-origin")
                                .body(body)
                                .send()
                                .await
                                .unwrap()
                        }
                    };
                    let status = resp.status();
                    let body = resp.bytes().await.unwrap_or_default();
                    latencies.push(t.elapsed());
                    // A browser follows the page's 303 to the patron's
                    // page (reqwest does too): a page checkout is both.
                    let expected = match via {
                        Via::Api => 201,
                        Via::Post => 303,
                        Via::Page => 200,
                    };
                    assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
                    if via == Via::Page {
                        assert!(String::from_utf8_lossy(&body).contains("Checked out."));
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let result = ApiResult {
        per_second: n as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    };
    let _ = stop.send(());
    let _ = server.await;
    let store = store.clone();
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
    result
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Runs `rounds` interleaved (raw, API) pairs, so that drift in the disk's
/// speed hits both sides alike, and prints medians and the ratio's range.
fn report(
    label: &str,
    rounds: usize,
    mut raw: impl FnMut(usize) -> f64,
    mut api: impl FnMut(usize) -> ApiResult,
) {
    let (mut raws, mut apis, mut ratios, mut p50s, mut p99s) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let r = raw(round);
        let a = api(round);
        raws.push(r);
        apis.push(a.per_second);
        ratios.push(a.per_second / r);
        p50s.push(a.p50);
        p99s.push(a.p99);
    }
    let lo = ratios.iter().cloned().fold(f64::MAX, f64::min);
    let hi = ratios.iter().cloned().fold(0.0, f64::max);
    println!(
        "{:<24} {:>14.0} {:>16.0} {:>7.0}% {:>12} {:>10} {:>10} {:>10}",
        label,
        median(raws),
        median(apis),
        100.0 * median(ratios.clone()),
        format!("{:.0}-{:.0}%", 100.0 * lo, 100.0 * hi),
        ms(median(p50s)),
        ms(median(p99s.clone())),
        ms(p99s.into_iter().fold(Duration::ZERO, Duration::max)),
    );
}

pub fn main(argv: Vec<String>) {
    let args = args(argv);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("carrel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "carrel-bench: {} checkouts a round, {} rounds, {CLIENTS} concurrent HTTP clients, {} cores; medians over rounds",
        args.checkouts,
        args.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!(
        "{:<24} {:>14} {:>16} {:>8} {:>12} {:>10} {:>10} {:>10}",
        "engine", "(a) raw tx/s", "(b) checkouts/s", "b/a", "b/a range", "p50", "p99", "worst p99"
    );
    let syncs: &[&str] = if args.skip_sqlite {
        &[]
    } else {
        &["full", "normal"]
    };
    for &sync in syncs {
        let dir = dir.clone();
        let runtime = &runtime;
        report(
            &format!("sqlite synchronous={sync}"),
            args.rounds,
            |round| {
                raw_sqlite(
                    dir.join(format!("raw-{sync}-{round}.db")).to_str().unwrap(),
                    sync,
                    args.checkouts,
                )
            },
            |round| {
                let url = format!(
                    "sqlite:{}?synchronous={sync}",
                    dir.join(format!("api-{sync}-{round}.db")).display()
                );
                runtime.block_on(api_checkouts(url, args.checkouts))
            },
        );
    }
    if let Some(pg) = &args.postgres {
        let id = std::process::id();
        report(
            &format!("postgresql pool={}", args.pg_pool),
            args.rounds,
            |round| raw_postgres(pg, &format!("bench_raw_{id}_{round}"), args.checkouts),
            |round| {
                let schema = format!("bench_api_{id}_{round}");
                let result = runtime.block_on(api_checkouts(
                    format!("{pg}?schema={schema}&pool_size={}", args.pg_pool),
                    args.checkouts,
                ));
                let pg = pg.clone();
                std::thread::spawn(move || {
                    let mut client = postgres::Client::connect(&pg, postgres::NoTls).unwrap();
                    client
                        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                        .unwrap();
                })
                .join()
                .unwrap();
                result
            },
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!("(a) one transaction = insert loan + insert audit row, straight through the driver.");
    println!("(b) one checkout = session check, 4 policy decisions, patron standing, balance, loan count, item and hold reads, loan insert, item update, 4 chained audit entries; one transaction.");
}

/// `carrel-bench desk [CHECKOUTS] [ROUNDS]`: checkouts at 16 concurrent
/// desks through the desk's page against the JSON API, on SQLite: the page
/// should cost no more than the API plus rendering (issue 16: p99 under
/// 20 ms).
pub fn desk(argv: Vec<String>) {
    let checkouts: usize = argv.first().map_or(4000, |a| a.parse().expect("CHECKOUTS"));
    let rounds: usize = argv.get(1).map_or(3, |a| a.parse().expect("ROUNDS"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("carrel-bench-desk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "carrel-bench desk: {checkouts} checkouts a round, {rounds} rounds, {CLIENTS} concurrent desks, SQLite (synchronous=full), {} cores; medians over rounds",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<28} {:>14} {:>10} {:>10}",
        "via", "checkouts/s", "p50", "p99"
    );
    for (label, via) in [
        ("JSON API", Via::Api),
        ("desk form post (303)", Via::Post),
        ("desk post + patron page", Via::Page),
    ] {
        let (mut rates, mut p50s, mut p99s) = (vec![], vec![], vec![]);
        for round in 0..rounds {
            let url = format!(
                "sqlite:{}",
                dir.join(format!("{}-{round}.db", label.replace(' ', "-")))
                    .display()
            );
            let result = runtime.block_on(checkouts_via(url, checkouts, via));
            rates.push(result.per_second);
            p50s.push(result.p50);
            p99s.push(result.p99);
        }
        println!(
            "{:<28} {:>14.0} {:>10} {:>10}",
            label,
            median(rates),
            ms(median(p50s)),
            ms(median(p99s))
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
