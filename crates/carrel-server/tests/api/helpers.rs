//! The test harness: every test spawns the real server on a random port,
//! with a fresh database (a new SQLite file, or a new PostgreSQL schema),
//! one staff account per role, and a clock the test controls. Tests talk
//! HTTP to it, as a client would.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use carrel_store::db::DatabaseUrl;
use carrel_store::{AuditKey, Store};
use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const MISSOURI: &str = include_str!("../../../../policies/jefferson-county-mo.toml");
pub const COLORADO: &str = include_str!("../../../../policies/jefferson-county-co.toml");

/// Where the PostgreSQL tests run: see `carrel_test_postgres` (a server
/// named by `CARREL_TEST_POSTGRES`, the usual one, or a throwaway cluster).
/// Only called by tests that [`skip_postgres`] let through.
pub fn postgres_url() -> String {
    carrel_test_postgres::server_url()
        .expect("a PostgreSQL test runs only when skip_postgres() said no")
        .to_string()
}

/// Whether this machine has no PostgreSQL to test on (said once, loudly;
/// never true under `CARREL_REQUIRE_POSTGRES=1`, which fails instead).
pub fn skip_postgres() -> bool {
    carrel_test_postgres::server_url().is_none()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Generates `mod name { sqlite(), postgres() }` test pairs from
/// `async fn name(engine: Engine)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::skip_postgres() {
                    return;
                }
                super::$name($crate::helpers::Engine::Postgres).await
            }
        }
    )+ };
}

// ---- log capture: everything the server side logs, kept for inspection ----

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,carrel_store=trace,carrel_server=trace,carrel_policy=trace,tower_http=trace,axum=trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buffer
    })
    .clone()
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

// ---- the app ----

/// The password of every staff account in the previous release's database.
pub const PREVIOUS_RELEASE_PASSWORD: &str = "fixture-password-1";

/// A database an earlier release made: its dump and its audit key.
struct Fixture {
    dump: &'static str,
    key: &'static str,
}

impl Fixture {
    /// Loads the dump into a new SQLite file, or a new PostgreSQL schema
    /// (the dump's schema renamed).
    fn load(&self, into: &RawDb) {
        match into {
            RawDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                // The dump creates tables in name order, each with its
                // rows, so a row may come before the row it refers to.
                conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
                conn.execute_batch(self.dump).unwrap();
            }
            RawDb::Postgres(schema) => {
                let mut client =
                    postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
                // pg_dump's psql meta-commands (`\restrict`) are not SQL.
                let sql: String = self
                    .dump
                    .lines()
                    .filter(|line| !line.starts_with('\\'))
                    .map(|line| format!("{line}\n"))
                    .collect();
                client
                    .batch_execute(&sql.replace("carrel_previous_release", schema))
                    .unwrap();
            }
        }
    }
}

#[derive(Clone)]
enum RawDb {
    Sqlite(PathBuf),
    Postgres(String),
}

/// The PIN of every patron [`TestApp::online_patron`] registers.
pub const PATRON_PIN: &str = "2468013579";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<Store>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    raw: RawDb,
    shutdown: Option<oneshot::Sender<()>>,
    /// The database's URL and audit key, to serve it again (see
    /// [`TestApp::restart_with_policy`]).
    database_url: String,
    audit_key: String,
    /// Personal data this test sent; none of it may appear in the logs.
    personal: Mutex<Vec<String>>,
    supervisor: Mutex<Option<String>>,
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A number unique within this test run, for barcodes and names.
pub fn unique() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    (u64::from(std::process::id()) % 100_000) * 100_000 + n
}

/// The instant every test starts at: a Monday afternoon in Missouri.
pub fn start_of_test() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 18, 0, 0).unwrap()
}

pub fn password(role: &str) -> String {
    format!("test-{role}-password")
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> TestApp {
        TestApp::spawn_with(engine, MISSOURI).await
    }

    pub async fn spawn_with(engine: Engine, policy_text: &str) -> TestApp {
        TestApp::spawn_limited(engine, policy_text, carrel_server::Limits::default()).await
    }

    /// A server with its own connection and time limits.
    pub async fn spawn_limited(
        engine: Engine,
        policy_text: &str,
        limits: carrel_server::Limits,
    ) -> TestApp {
        let config = carrel_server::Config {
            limits,
            ..carrel_server::Config::default()
        };
        TestApp::spawn_configured(engine, policy_text, config).await
    }

    /// A server set up as `config` says (limits, trusted proxies).
    pub async fn spawn_configured(
        engine: Engine,
        policy_text: &str,
        config: carrel_server::Config,
    ) -> TestApp {
        TestApp::spawn_inner(engine, policy_text, config, None).await
    }

    /// A server on a database an earlier release made and used (see
    /// `tests/api/fixtures/previous-release/README.md`): its dump is
    /// loaded into the test's database, which the server then upgrades in
    /// place, with that release's audit key. Its staff sign in with
    /// [`PREVIOUS_RELEASE_PASSWORD`]; the clock starts after its records.
    pub async fn spawn_on_previous_release(engine: Engine) -> TestApp {
        let dump = match engine {
            Engine::Sqlite => include_str!("fixtures/previous-release/sqlite.sql"),
            Engine::Postgres => include_str!("fixtures/previous-release/postgres.sql"),
        };
        let key = match engine {
            Engine::Sqlite => include_str!("fixtures/previous-release/sqlite-audit-key.hex"),
            Engine::Postgres => include_str!("fixtures/previous-release/postgres-audit-key.hex"),
        };
        let fixture = Fixture { dump, key };
        TestApp::spawn_inner(
            engine,
            MISSOURI,
            carrel_server::Config::default(),
            Some(fixture),
        )
        .await
    }

    async fn spawn_inner(
        engine: Engine,
        policy_text: &str,
        config: carrel_server::Config,
        fixture: Option<Fixture>,
    ) -> TestApp {
        logs();
        let policy =
            carrel_policy::parse("test-policy.toml", policy_text).expect("test policy parses");
        let id = unique();
        let (url, raw) = match engine {
            Engine::Sqlite => {
                let path = std::env::temp_dir().join(format!("carrel-test-{id}.db"));
                (format!("sqlite:{}", path.display()), RawDb::Sqlite(path))
            }
            Engine::Postgres => {
                let schema = format!("carrel_test_{id}");
                (
                    format!("{}?schema={schema}&pool_size=4", postgres_url()),
                    RawDb::Postgres(schema),
                )
            }
        };
        let start = match fixture {
            None => start_of_test(),
            // The earlier release's records were made in late November 2026.
            Some(_) => Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap(),
        };
        let clock = Arc::new(Mutex::new(start));
        let clock_for_store = clock.clone();
        let text = policy_text.to_string();
        let loading = raw.clone();
        let database_url = url.clone();
        let key = match &fixture {
            Some(fixture) => AuditKey::from_hex(fixture.key.trim()).unwrap(),
            None => AuditKey::generate().unwrap(),
        };
        let audit_key = key.to_hex();
        let store = tokio::task::spawn_blocking(move || {
            if let Some(fixture) = &fixture {
                fixture.load(&loading);
            }
            let url = DatabaseUrl::parse(&url).unwrap();
            let store = Store::open(&url, policy, &text, key)
                .expect("the test database opens (is PostgreSQL running?)")
                .with_clock(Arc::new(move || *clock_for_store.lock().unwrap()));
            if fixture.is_none() {
                for role in store.policy().roles.keys().cloned().collect::<Vec<_>>() {
                    carrel_store::staff::add(
                        &store,
                        &role.replace('_', "-"),
                        &password(&role),
                        &role,
                    )
                    .unwrap();
                }
            }
            Arc::new(store)
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(carrel_server::serve_configured(
            listener,
            store.clone(),
            config,
            async {
                let _ = rx.await;
            },
        ));
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            clock,
            raw,
            shutdown: Some(tx),
            database_url,
            audit_key,
            personal: Mutex::new(Vec::new()),
            supervisor: Mutex::new(None),
        }
    }

    /// Stops the server and serves the same database again under
    /// `policy_text` (a library adopting a changed policy), on a new port;
    /// the clock goes on where it was. Sessions stay what the database
    /// says they are.
    pub async fn restart_with_policy(&mut self, policy_text: &str) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let policy =
            carrel_policy::parse("test-policy.toml", policy_text).expect("test policy parses");
        let (url, key, text) = (
            self.database_url.clone(),
            self.audit_key.clone(),
            policy_text.to_string(),
        );
        let clock = self.clock.clone();
        let store = tokio::task::spawn_blocking(move || {
            let url = DatabaseUrl::parse(&url).unwrap();
            let key = AuditKey::from_hex(&key).unwrap();
            Arc::new(
                Store::open(&url, policy, &text, key)
                    .expect("the database opens again")
                    .with_clock(Arc::new(move || *clock.lock().unwrap())),
            )
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(carrel_server::serve_configured(
            listener,
            store.clone(),
            carrel_server::Config::default(),
            async {
                let _ = rx.await;
            },
        ));
        self.store = store;
        self.shutdown = Some(tx);
    }

    /// A browser of its own on this app: it keeps cookies, follows no
    /// redirects, and sends what a browser sends with a form.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    /// Runs the retention purge now, as the director, and returns its summary.
    pub async fn purge(&self) -> Value {
        let director = self.sign_in("director").await;
        let (status, summary) = self
            .call(Some(&director), "POST", "/api/v1/retention/runs", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{summary}");
        summary
    }

    /// How many records of a kind a purge summary says it destroyed.
    pub fn destroyed(summary: &Value, label: &str) -> i64 {
        summary["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {summary}"))["destroyed"]
            .as_i64()
            .unwrap()
    }

    /// The SQLite database file, when the test runs on SQLite.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        match &self.raw {
            RawDb::Sqlite(path) => Some(path.clone()),
            RawDb::Postgres(_) => None,
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.clock.lock().unwrap() += by;
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
    }

    /// Adds a staff account (password: `password(username)`), optionally
    /// naming its supervisor's username.
    pub async fn add_staff(&self, username: &str, role: &str, supervisor: Option<&str>) {
        let store = self.store.clone();
        let (username, role, supervisor) = (
            username.to_string(),
            role.to_string(),
            supervisor.map(str::to_string),
        );
        tokio::task::spawn_blocking(move || {
            carrel_store::staff::add_with_supervisor(
                &store,
                &username,
                &password(&username),
                &role,
                supervisor.as_deref(),
            )
            .unwrap();
        })
        .await
        .unwrap();
    }

    /// Sets an existing account's supervisor.
    pub async fn set_supervisor(&self, username: &str, supervisor: &str) {
        let store = self.store.clone();
        let (username, supervisor) = (username.to_string(), supervisor.to_string());
        tokio::task::spawn_blocking(move || {
            carrel_store::staff::set_supervisor(&store, &username, Some(&supervisor)).unwrap();
        })
        .await
        .unwrap();
    }

    /// Signs in as an account made by [`Self::add_staff`].
    pub async fn sign_in_user(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                None,
                "POST",
                "/api/v1/session",
                Some(json!({"username": username, "password": password(username)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// A page or file as text, with its status.
    pub async fn get_text(&self, token: &str, path: &str) -> (StatusCode, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    /// Posts an HTML form, as a staff page does, with the session's form
    /// token; returns status and body.
    pub async fn post_form(
        &self,
        token: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let form_token = carrel_server::pages::form_token(token);
        let body: Vec<String> = fields
            .iter()
            .chain([&("form_token", form_token.as_str())])
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect();
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.text().await.unwrap())
    }

    /// Signs in as the demo account of `role`; returns the bearer token.
    pub async fn sign_in(&self, role: &str) -> String {
        let (status, body) = self
            .call(
                None,
                "POST",
                "/api/v1/session",
                Some(json!({"username": role.replace('_', "-"), "password": password(role)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_via(&self.client, token, method, path, body).await
    }

    /// [`Self::call`] through `client` (see [`client_from`]).
    pub async fn call_via(
        &self,
        client: &reqwest::Client,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = client.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        match body {
            Some(b) => req = req.json(&b),
            // A change with no body still says it is JSON, as every client
            // of the API must (`api::require_declared_body`).
            None if method != "GET" => req = req.header("content-type", "application/json"),
            None => {}
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        crate::described::check(method, path, status.as_u16(), &value, json);
        (status, value)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Some(token), "GET", path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Some(token), "POST", path, Some(body)).await
    }

    /// Sends raw bytes with a content type, for malformed-input tests.
    pub async fn post_raw(
        &self,
        token: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Notes personal data this test sent, to check the logs for it.
    pub fn note_personal(&self, values: &[&str]) {
        self.personal
            .lock()
            .unwrap()
            .extend(values.iter().map(|v| v.to_string()));
    }

    /// Registers an adult patron with a PIN ([`PATRON_PIN`]), who can sign
    /// in online.
    pub async fn online_patron(&self, token: &str) -> Patron {
        self.new_patron_with(token, json!({"pin": PATRON_PIN}))
            .await
    }

    /// Registers an adult patron with distinctive personal data.
    pub async fn new_patron(&self, token: &str) -> Patron {
        self.new_patron_with(token, json!({})).await
    }

    pub async fn new_patron_with(&self, token: &str, extra: Value) -> Patron {
        let n = unique();
        let barcode = format!("29{n:012}");
        let name = format!("Ottoline Vexley{n}");
        let email = format!("ottoline.vexley{n}@example.org");
        let mut body = json!({
            "card_barcode": barcode, "category": "adult", "expires_on": "2027-12-31",
            "name": name, "address": format!("{n} Quarry Rd, Hillsboro"), "email": email,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.note_personal(&[&barcode, &name, &email]);
        let (status, record) = self.post(token, "/api/v1/patrons", body).await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        Patron {
            id: record["id"].as_i64().unwrap(),
            barcode,
            name,
            email,
        }
    }

    /// Registers a patron whose card has since expired: registered valid
    /// (a card cannot be registered expired), then its expiry moved to two
    /// days ago, as staff close an account.
    pub async fn expired_patron(&self, token: &str) -> Patron {
        let patron = self.new_patron(token).await;
        let expired_on = (self.now() - Duration::days(2)).date_naive().to_string();
        let (status, body) = self
            .call(
                Some(token),
                "PATCH",
                &format!("/api/v1/patrons/{}", patron.id),
                Some(json!({"expires_on": expired_on})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        patron
    }

    /// Registers a patron whose card is blocked.
    pub async fn blocked_patron(&self, token: &str) -> Patron {
        self.new_patron_with(token, json!({"status": "blocked"}))
            .await
    }

    /// Lends `item` to the patron with card `patron` and takes it back, as
    /// `token`; the loan as checkout answered it.
    pub async fn lend_and_return(&self, token: &str, patron: &str, item: &str) -> Value {
        let (status, loan) = self
            .post(
                token,
                "/api/v1/checkouts",
                json!({"patron_barcode": patron, "item_barcode": item}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{loan}");
        let (status, back) = self
            .post(token, "/api/v1/checkins", json!({"item_barcode": item}))
            .await;
        assert_eq!(status, StatusCode::OK, "{back}");
        loan
    }

    /// Adds an item to the collection (as a supervisor: clerks may not).
    pub async fn new_item(&self) -> String {
        let cached = self.supervisor.lock().unwrap().clone();
        let token = match cached {
            Some(t) => t,
            None => {
                let t = self.sign_in("supervisor").await;
                *self.supervisor.lock().unwrap() = Some(t.clone());
                t
            }
        };
        let barcode = format!("39{:012}", unique());
        let item = json!({"barcode": barcode, "title": "The Quiet Atlas", "author": "R. Holm"});
        let (mut status, mut body) = self.post(&token, "/api/v1/items", item.clone()).await;
        if status == StatusCode::UNAUTHORIZED {
            // The cached session ended (the test moved the clock on).
            let token = self.sign_in("supervisor").await;
            *self.supervisor.lock().unwrap() = Some(token.clone());
            (status, body) = self.post(&token, "/api/v1/items", item).await;
        }
        assert_eq!(status, StatusCode::CREATED, "{body}");
        barcode
    }

    /// The test's PostgreSQL schema, when it runs on PostgreSQL.
    pub fn postgres_schema(&self) -> Option<String> {
        match &self.raw {
            RawDb::Postgres(schema) => Some(schema.clone()),
            RawDb::Sqlite(_) => None,
        }
    }

    /// Runs SQL directly against the database, behind Carrel's back.
    pub fn raw_execute(&self, sql: &str) {
        let sql = sql.to_string();
        match &self.raw {
            RawDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .unwrap();
                conn.execute_batch(&sql).unwrap();
            }
            RawDb::Postgres(schema) => {
                with_raw_postgres(schema, move |client| client.batch_execute(&sql).unwrap())
            }
        }
    }

    /// A single integer from the database, behind Carrel's back.
    pub fn raw_count(&self, sql: &str) -> i64 {
        let sql = sql.to_string();
        match &self.raw {
            RawDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(&sql, [], |r| r.get(0)).unwrap()
            }
            RawDb::Postgres(schema) => with_raw_postgres(schema, move |client| {
                client.query_one(&sql, &[]).unwrap().get::<_, i64>(0)
            }),
        }
    }

    /// All text stored in the audit log, to check it holds no personal data.
    pub fn raw_audit_text(&self) -> String {
        self.raw_strings("SELECT actor || '|' || action || '|' || record_class || '|' || COALESCE(record_id, '') || '|' || purpose || '|' || COALESCE(detail, '') FROM audit_log")
            .join("\n")
    }

    /// One text column of every row a query returns, behind Carrel's back.
    pub fn raw_strings(&self, sql: &str) -> Vec<String> {
        let sql = sql.to_string();
        match &self.raw {
            RawDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(&sql).unwrap();
                let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
                rows.map(Result::unwrap).collect()
            }
            RawDb::Postgres(schema) => with_raw_postgres(schema, move |client| {
                let rows = client.query(&sql, &[]).unwrap();
                rows.iter().map(|r| r.get::<_, String>(0)).collect()
            }),
        }
    }

    /// Ends the test: no personal data this test sent may be in the logs.
    pub fn finish(self) {
        let logs = captured_logs();
        assert!(
            logs.contains("finished processing request"),
            "log capture is not working"
        );
        for value in self.personal.lock().unwrap().iter() {
            assert!(
                !logs.contains(value.as_str()),
                "personal data appeared in the logs"
            );
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match &self.raw {
            RawDb::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            RawDb::Postgres(schema) => {
                let schema = schema.clone();
                let _ = std::thread::spawn(move || {
                    if let Ok(mut client) =
                        postgres::Client::connect(&postgres_url(), postgres::NoTls)
                    {
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                    }
                })
                .join();
            }
        }
    }
}

/// Runs `work` on a plain PostgreSQL connection in the test's schema, on a
/// thread of its own (the sync client cannot block an async worker).
fn with_raw_postgres<T: Send + 'static>(
    schema: &str,
    work: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
) -> T {
    let schema = schema.to_string();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&postgres_url(), postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("SET search_path TO {schema}"))
            .unwrap();
        work(&mut client)
    })
    .join()
    .unwrap()
}

/// A client whose connections come from `address`, a loopback address
/// other than 127.0.0.1 (the whole of 127.0.0.0/8 reaches the server), so
/// that a test can be several machines, as the address throttle sees them.
/// A browser's view of the pages (see [`TestApp::browser`]).
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

/// A page as a browser got it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
}

impl Page {
    /// The form token of the page's forms.
    pub fn form_token(&self) -> String {
        self.html
            .split("name=\"form_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page has a form with a form token")
            .to_string()
    }
}

impl Browser {
    async fn page(response: reqwest::Response) -> Page {
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Page {
            status,
            location,
            html: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        Browser::page(response).await
    }

    /// Posts a form as a browser does from one of Carrel's own pages
    /// (`Sec-Fetch-Site: same-origin`, `Origin: null` under no-referrer).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(
            path,
            fields,
            &[("sec-fetch-site", "same-origin"), ("origin", "null")],
        )
        .await
    }

    /// Posts a form with the headers given.
    pub async fn post_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Browser::page(request.send().await.unwrap()).await
    }

    /// Signs in on the staff sign-in page as the test account of `role`;
    /// the answer to the form (303 to /staff).
    pub async fn staff_sign_in(&self, role: &str) -> Page {
        let form = self.get("/staff/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.form_token();
        let username = role.replace('_', "-");
        let password = password(role);
        let page = self
            .post(
                "/staff/sign-in",
                &[
                    ("form_token", &token),
                    ("username", &username),
                    ("password", &password),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        page
    }

    /// Posts a form with a file, as a browser does (`multipart/form-data`,
    /// the form token first).
    pub async fn upload(&self, path: &str, token: &str, file_name: &str, file: &[u8]) -> Page {
        let boundary = "----carrel-test-boundary-7d1f";
        let mut body = Vec::new();
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"form_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
            .await
            .unwrap();
        Browser::page(response).await
    }

    /// Follows a 303 the way a browser does: the page it points to.
    pub async fn follow(&self, page: &Page) -> Page {
        let to = page.location.as_deref().expect("a redirect");
        self.get(to).await
    }

    /// Signs in on the patron sign-in page; the answer to the form.
    pub async fn patron_sign_in(&self, card: &str, pin: &str) -> Page {
        let form = self.get("/my/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.form_token();
        self.post(
            "/my/sign-in",
            &[("form_token", &token), ("card_barcode", card), ("pin", pin)],
        )
        .await
    }
}

pub fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// The `n`th loopback address other than 127.0.0.1, for [`client_from`].
pub fn loopback(n: u32) -> String {
    let n = n + 2;
    format!("127.0.{}.{}", n / 250, n % 250 + 1)
}

pub struct Patron {
    pub id: i64,
    pub barcode: String,
    pub name: String,
    pub email: String,
}

/// The error code of an error response.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Every byte of a SQLite database's files (database, WAL, shared memory),
/// to search for what should be gone (D2).
pub fn database_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(content) = std::fs::read(&file) {
            bytes.extend(content);
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
