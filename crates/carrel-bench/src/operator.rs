//! The operator's worst day, measured against the real `carrel` binary in
//! a process of its own (so memory figures are the server's alone):
//!
//! - `wal`: 16 clients check items out and in for `--minutes` (10 by
//!   default) on SQLite; the WAL's size is sampled every 5 s.
//! - `signin-flood`: a clerk's desk requests (a patron read every 50 ms),
//!   alone, then while 200 clients send wrong passwords as fast as they
//!   are answered; the server's resident memory before, at its peak and
//!   after.
//! - `signin-timing`: how long a refused patron sign-in takes, for a
//!   wrong PIN, a card that does not exist, a blocked card and a card
//!   locked by failed sign-ins: the answers are the same (C2), and so must
//!   be their time, or the time tells a guesser which cards exist. Then a
//!   wrong PIN at existing cards against missing card numbers, each within
//!   the per-account limit, with a clerk at the desk: p10, p50, p90 and
//!   how well the best threshold on time tells them apart.
//! - `cron-purge`: the same desk probe while `carrel purge` runs from
//!   another process against the live server's SQLite file, with a backlog
//!   from `carrel demo`; and the same purge with no server, for its time.
//!
//! Build the binary first: `cargo build --release`, then
//! `cargo run --release -p carrel-bench -- wal|signin-flood|signin-timing|cron-purge`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

const POLICY: &str = "policies/jefferson-county-mo.toml";

/// The release `carrel` binary beside this benchmark's.
fn carrel_binary() -> PathBuf {
    let here = std::env::current_exe().expect("the benchmark knows where it is");
    let binary = here.with_file_name("carrel");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --release` first",
        binary.display()
    );
    binary
}

fn policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(POLICY)
}

fn carrel(dir: &Path, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = Command::new(carrel_binary())
        .args(args)
        .current_dir(dir)
        .env("CARREL_POLICY", policy())
        .env("CARREL_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "carrel {args:?} failed");
}

/// `carrel serve` on `database` in `dir`, in the background.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path, database: &str) -> Server {
        let mut child = Command::new(carrel_binary())
            .args([
                "serve",
                "--database",
                database,
                "--listen",
                "127.0.0.1:0",
                "--purge-every",
                "off",
            ])
            .current_dir(dir)
            .env("CARREL_POLICY", policy())
            .env("CARREL_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server says where it listens")
                .unwrap();
            if let Some(rest) = line.split(" on http://").nth(1) {
                break format!("http://{}", rest.split('/').next().unwrap());
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's resident memory, in MiB.
    fn resident_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

async fn sign_in(client: &reqwest::Client, server: &Server, user: &str) -> String {
    crate::sign_in(
        client,
        &server.base,
        user,
        &format!("{user}-bench-password"),
    )
    .await
}

fn add_staff(dir: &Path, database: &str, user: &str, role: &str) {
    carrel(
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
        Some(&format!("{user}-bench-password\n")),
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("carrel-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wal_mib(db: &Path) -> f64 {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    std::fs::metadata(wal).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Latency figures of a run of requests.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn pick(&self, q: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
    }

    fn summary(&self) -> String {
        format!(
            "{} requests, p50 {}, p99 {}, max {}",
            self.0.len(),
            ms(self.pick(0.50)),
            ms(self.pick(0.99)),
            ms(self.pick(1.0))
        )
    }
}

/// A clerk at the desk: reads a patron every 50 ms until finished, timing
/// each read and counting those not answered 200.
struct DeskProbe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Latencies, usize)>,
}

impl DeskProbe {
    fn start(client: &reqwest::Client, url: &str, token: &str) -> DeskProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let (client, url, token, stopped) = (
            client.clone(),
            url.to_string(),
            token.to_string(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            while !stopped.load(Ordering::SeqCst) {
                let started = Instant::now();
                let ok = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                latencies.push(started.elapsed());
                failed += usize::from(!ok);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (Latencies(latencies), failed)
        });
        DeskProbe { stop, task }
    }

    async fn finish(self) -> (Latencies, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap()
    }
}

pub fn main(mode: &str, argv: Vec<String>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    match mode {
        "wal" => {
            let minutes = argv
                .iter()
                .position(|a| a == "--minutes")
                .and_then(|i| argv.get(i + 1))
                .map_or(10.0, |m| {
                    m.parse::<f64>().expect("--minutes takes a number")
                });
            runtime.block_on(wal(Duration::from_secs_f64(minutes * 60.0)));
        }
        "signin-flood" => runtime.block_on(signin_flood()),
        "signin-timing" => runtime.block_on(signin_timing()),
        "cron-purge" => runtime.block_on(cron_purge()),
        other => panic!("unknown mode {other}"),
    }
}

const CLIENTS: usize = 16;
const PATRONS: usize = 320;
const ITEMS: usize = 3_200;

/// 16 clients check out and check in for `length`; the WAL is sampled
/// every 5 s (its largest, and where it ends).
async fn wal(length: Duration) {
    let dir = scratch("wal");
    let database = "sqlite:lib.db";
    add_staff(&dir, database, "desk", "clerk");
    add_staff(&dir, database, "boss", "supervisor");
    let server = Server::start(&dir, database);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let desk = sign_in(&client, &server, "desk").await;
    let boss = sign_in(&client, &server, "boss").await;
    for i in 0..PATRONS {
        let r = client.post(server.url("/api/v1/patrons")).bearer_auth(&desk)
            .json(&json!({"card_barcode": format!("21{i:012}"), "category": "adult", "expires_on": "2099-12-31", "name": format!("Bench Patron {i}"), "address": "1 Main St"}))
            .send().await.unwrap();
        assert_eq!(r.status(), 201);
    }
    for i in 0..ITEMS {
        let r = client
            .post(server.url("/api/v1/items"))
            .bearer_auth(&boss)
            .json(&json!({"barcode": format!("31{i:012}"), "title": "Bench Item"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    println!(
        "wal: {CLIENTS} clients checking out and in for {:.0} s on SQLite (synchronous=full), server {}",
        length.as_secs_f64(),
        carrel_binary().display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (client, desk, stop, done, latencies) = (
            client.clone(),
            desk.clone(),
            stop.clone(),
            done.clone(),
            latencies.clone(),
        );
        let (checkouts, checkins) = (
            server.url("/api/v1/checkouts"),
            server.url("/api/v1/checkins"),
        );
        tasks.push(tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                // Each client has its own items and patrons.
                let i = c + CLIENTS * (round % (ITEMS / CLIENTS));
                let item = format!("31{i:012}");
                let patron = format!("21{:012}", i % PATRONS);
                let started = Instant::now();
                let r = client
                    .post(&checkouts)
                    .bearer_auth(&desk)
                    .json(&json!({"patron_barcode": patron, "item_barcode": item}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
                let r = client
                    .post(&checkins)
                    .bearer_auth(&desk)
                    .json(&json!({"item_barcode": item}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
                latencies.lock().unwrap().push(started.elapsed());
                done.fetch_add(2, Ordering::Relaxed);
                round += 1;
            }
        }));
    }
    let db = dir.join("lib.db");
    let started = Instant::now();
    let mut largest: f64 = 0.0;
    println!("{:>8} {:>12} {:>14}", "seconds", "WAL MiB", "requests/s");
    let mut last = 0;
    while started.elapsed() < length {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let size = wal_mib(&db);
        largest = largest.max(size);
        let now = done.load(Ordering::Relaxed);
        if started.elapsed().as_secs() % 60 < 5 {
            println!(
                "{:>8.0} {:>12.1} {:>14.0}",
                started.elapsed().as_secs_f64(),
                size,
                (now - last) as f64 / 5.0
            );
        }
        last = now;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let total = done.load(Ordering::Relaxed);
    let pairs = Latencies(latencies.lock().unwrap().clone());
    println!(
        "after {:.0} s: WAL {:.1} MiB (largest sample {:.1} MiB), database {:.1} MiB; {} requests ({:.0}/s); checkout+checkin pair: {}",
        started.elapsed().as_secs_f64(),
        wal_mib(&db),
        largest,
        std::fs::metadata(&db).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0)),
        total,
        total as f64 / started.elapsed().as_secs_f64(),
        pairs.summary()
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client whose connections come from the `n`th loopback address after
/// 127.0.0.1 (all of 127.0.0.0/8 reaches a server listening on
/// 127.0.0.1), to be one of many machines.
fn client_from(n: u32) -> reqwest::Client {
    let n = n + 1;
    let address = std::net::Ipv4Addr::new(127, 0, (n / 250) as u8, (n % 250 + 1) as u8);
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(address))
        .build()
        .unwrap()
}

/// Desk latency alone, then during 200 clients' wrong sign-ins.
async fn signin_flood() {
    let dir = scratch("flood");
    let database = "sqlite:lib.db";
    add_staff(&dir, database, "desk", "clerk");
    let server = Server::start(&dir, database);
    let client = reqwest::Client::new();
    let desk = sign_in(&client, &server, "desk").await;
    let r = client.post(server.url("/api/v1/patrons")).bearer_auth(&desk)
        .json(&json!({"card_barcode": "21000000000001", "category": "adult", "expires_on": "2099-12-31", "name": "Bench Patron", "address": "1 Main St"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 201);
    let patron = server.url("/api/v1/patrons/1");
    let rss_before = server.resident_mib();

    let probe = DeskProbe::start(&client, &patron, &desk);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (alone, alone_failed) = probe.finish().await;

    let flooding = Arc::new(AtomicBool::new(true));
    let answers = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let mut attackers = Vec::new();
    for a in 0..200 {
        let (flooding, answers) = (flooding.clone(), answers.clone());
        // A client of its own each, from an address of its own, as 200
        // machines would be (the server limits failed sign-ins per
        // address: from one address, all but five would be refused at
        // once, unhashed).
        let client = client_from(a);
        let url = server.url("/api/v1/session");
        attackers.push(tokio::spawn(async move {
            let mut n = 0;
            while flooding.load(Ordering::SeqCst) {
                let status = client
                    .post(&url)
                    .json(&json!({"username": format!("guess{}", a % 20), "password": format!("wrong-{a}-{n}")}))
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                *answers.lock().unwrap().entry(status).or_default() += 1;
                n += 1;
            }
        }));
    }
    let probe = DeskProbe::start(&client, &patron, &desk);
    let mut rss_peak: f64 = 0.0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_peak = rss_peak.max(server.resident_mib());
    }
    let (flood, flood_failed) = probe.finish().await;
    flooding.store(false, Ordering::SeqCst);
    for a in attackers {
        a.await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_after = server.resident_mib();
    println!(
        "signin-flood: {} cores; a clerk reads a patron every 50 ms",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "  desk alone:                 {} ({alone_failed} not 200)",
        alone.summary()
    );
    println!(
        "  desk during 200 sign-ins:   {} ({flood_failed} not 200)",
        flood.summary()
    );
    println!(
        "  sign-in answers in 30 s:    {:?} (status: count)",
        answers.lock().unwrap()
    );
    println!("  server resident memory:     {rss_before:.0} MiB before, {rss_peak:.0} MiB at the peak, {rss_after:.0} MiB 5 s after");
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Refused patron sign-ins, one kind after another in rounds, each from an
/// address of its own (so the address limit stays out of the way): the
/// time each kind takes, which must not tell them apart.
async fn signin_timing() {
    let dir = scratch("timing");
    let database = "sqlite:lib.db";
    add_staff(&dir, database, "desk", "clerk");
    let server = Server::start(&dir, database);
    let client = reqwest::Client::new();
    let desk = sign_in(&client, &server, "desk").await;
    let pin = "2804";
    let register = |n: u64, extra: serde_json::Value| {
        let (client, desk, url) = (client.clone(), desk.clone(), server.url("/api/v1/patrons"));
        async move {
            let mut body = json!({"card_barcode": format!("2100000000{n:04}"), "category": "adult",
                "expires_on": "2099-12-31", "name": "Bench Patron", "address": "1 Main St", "pin": pin});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let r = client
                .post(url)
                .bearer_auth(desk)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            format!("2100000000{n:04}")
        }
    };
    let holder = register(1, json!({})).await;
    let blocked = register(2, json!({"status": "blocked"})).await;
    let locked = register(3, json!({})).await;
    let mut address = 0;
    let mut attempt = |card: String, pin: &'static str| {
        address += 1;
        let client = client_from(address);
        let url = server.url("/api/v1/patron-session");
        async move {
            let started = Instant::now();
            let r = client
                .post(url)
                .json(&json!({"card_barcode": card, "pin": pin}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            (started.elapsed(), status, body)
        }
    };
    for _ in 0..10 {
        attempt(locked.clone(), "9999").await;
    }
    let kinds = [
        ("wrong PIN", holder.clone(), "9999"),
        ("no such card", "21999999999999".to_string(), pin),
        ("blocked card", blocked.clone(), pin),
        ("locked card, right PIN", locked.clone(), pin),
    ];
    let mut times: Vec<Latencies> = kinds.iter().map(|_| Latencies(Vec::new())).collect();
    let mut answers = std::collections::BTreeSet::new();
    for _ in 0..50 {
        for (i, (_, card, pin)) in kinds.iter().enumerate() {
            let (took, status, body) = attempt(card.clone(), pin).await;
            times[i].0.push(took);
            answers.insert((status, body));
        }
    }
    println!(
        "signin-timing: {} cores; refused patron sign-ins, 50 of each kind, interleaved",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for ((kind, _, _), t) in kinds.iter().zip(&times) {
        println!("  {kind:<24} {}", t.summary());
    }
    println!("  distinct answers (status and body): {}", answers.len());

    // A wrong PIN at a card that exists against a card number that does
    // not, both within the per-account limit (so each writes its count),
    // while a clerk works at the desk: 40 cards and 40 missing numbers,
    // five attempts each, interleaved. A missing card used to skip the
    // count's write and commit, and was told apart by its time.
    let mut existing = Vec::new();
    for n in 100..140 {
        existing.push(register(n, json!({})).await);
    }
    let missing: Vec<String> = (0..40).map(|n| format!("2199999999{n:04}")).collect();
    let patron = server.url("/api/v1/patrons/1");
    let probe = DeskProbe::start(&client, &patron, &desk);
    let (mut wrong_pin, mut no_card) = (Latencies(Vec::new()), Latencies(Vec::new()));
    for _ in 0..5 {
        for (card, number) in existing.iter().zip(&missing) {
            wrong_pin.0.push(attempt(card.clone(), "9999").await.0);
            no_card.0.push(attempt(number.clone(), "9999").await.0);
        }
    }
    let (desk_times, _) = probe.finish().await;
    println!(
        "  with a clerk at the desk (desk: {}):",
        desk_times.summary()
    );
    for (kind, t) in [
        ("existing card, wrong PIN", &wrong_pin),
        ("missing card", &no_card),
    ] {
        println!(
            "  {kind:<24} {} requests, p10 {}, p50 {}, p90 {}",
            t.0.len(),
            ms(t.pick(0.10)),
            ms(t.pick(0.50)),
            ms(t.pick(0.90))
        );
    }
    println!(
        "  the best single threshold on time tells them apart {:.0}% of the time (50% is a coin)",
        best_threshold_accuracy(&wrong_pin.0, &no_card.0) * 100.0
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// How often the best classifier of the form "slower than t is one kind"
/// is right, over two equally large samples: 0.5 when time tells nothing.
fn best_threshold_accuracy(a: &[Duration], b: &[Duration]) -> f64 {
    let mut all: Vec<(Duration, bool)> = a
        .iter()
        .map(|d| (*d, true))
        .chain(b.iter().map(|d| (*d, false)))
        .collect();
    all.sort();
    let total = all.len() as f64;
    let (mut a_below, mut b_below) = (0usize, 0usize);
    let mut best: f64 = 0.5;
    for (_, is_a) in &all {
        if *is_a {
            a_below += 1;
        } else {
            b_below += 1;
        }
        // "At or below the threshold is b": right for b below, a above.
        let b_fast = (b_below + (a.len() - a_below)) as f64 / total;
        let a_fast = (a_below + (b.len() - b_below)) as f64 / total;
        best = best.max(b_fast).max(a_fast);
    }
    best
}

/// `carrel purge` from another process beside a live server: the desk's
/// latency during it, and the purge's time with and without the server.
async fn cron_purge() {
    let dir = scratch("cron");
    let database = "sqlite:lib.db";
    let demo = |dir: &Path| {
        carrel(
            dir,
            &[
                "demo",
                "--database",
                database,
                "--patrons",
                "20000",
                "--items",
                "100000",
            ],
            None,
        )
    };
    demo(&dir);
    add_staff(&dir, database, "desk", "clerk");
    // The same library twice: one purged alone, one beside the server.
    let alone = dir.join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    for file in ["lib.db", "lib.db-wal", "lib.db.audit-key"] {
        if dir.join(file).exists() {
            std::fs::copy(dir.join(file), alone.join(file)).unwrap();
        }
    }
    let started = Instant::now();
    carrel(&alone, &["purge", "--database", database], None);
    let purge_alone = started.elapsed();

    let server = Server::start(&dir, database);
    let client = reqwest::Client::new();
    let desk = sign_in(&client, &server, "desk").await;
    let patron = server.url("/api/v1/patrons/1");
    let probe = DeskProbe::start(&client, &patron, &desk);
    let started = Instant::now();
    let purge_dir = dir.clone();
    tokio::task::spawn_blocking(move || {
        carrel(&purge_dir, &["purge", "--database", database], None)
    })
    .await
    .unwrap();
    let purge_beside = started.elapsed();
    let (during, failed) = probe.finish().await;
    println!("cron-purge: `carrel demo --patrons 60000 --items 300000`, then `carrel purge` from another process");
    println!(
        "  purge with no server:       {:.1} s",
        purge_alone.as_secs_f64()
    );
    println!(
        "  purge beside the server:    {:.1} s",
        purge_beside.as_secs_f64()
    );
    println!(
        "  desk during that purge:     {} ({failed} not 200)",
        during.summary()
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
