//! `carrel`: the one binary. Thin glue: read flags and files, open the
//! store, hand over to the server or a store function, print the outcome.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use carrel_policy::Policy;
use carrel_store::audit::AnchorFile;
use carrel_store::db::DatabaseUrl;
use carrel_store::{audit, demo, private_files, retention, staff, AuditKey, Store};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "carrel",
    version,
    about = "Patron records and circulation for public libraries, with the privacy policy enforced."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        library: LibraryArgs,
        /// Address to listen on.
        #[arg(long, env = "CARREL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// How often the server runs the retention purge: "24h", "1h",
        /// "30m", or "off" (then run `carrel purge` from cron instead).
        #[arg(long, env = "CARREL_PURGE_EVERY", default_value = "24h")]
        purge_every: String,
        /// E-mail hook for alerts to the Director (law-enforcement
        /// requests, search warrants, overdue documents): a shell command
        /// given the message on standard input, e.g. "sendmail
        /// director@library.example". Alerts show inside Carrel either way.
        #[arg(long, env = "CARREL_ALERT_COMMAND")]
        alert_command: Option<String>,
        /// How often the server records an anchor of the audit log in the
        /// anchor file (see --audit-anchor-file): "1h", "10m", or "off".
        #[arg(long, env = "CARREL_ANCHOR_EVERY", default_value = "1h")]
        anchor_every: String,
        /// Connections served at once, at most (default: the open-file
        /// limit less 64, at most 1024). One more is answered 503.
        #[arg(long, env = "CARREL_MAX_CONNECTIONS")]
        max_connections: Option<usize>,
        /// The address of a reverse proxy in front of Carrel (repeat for
        /// several): for connections from it, the client is the address
        /// its X-Forwarded-For header names. Failed sign-ins are limited
        /// per client address; without this, everyone behind the proxy
        /// counts as the proxy, and the header is ignored (any client can
        /// send it).
        #[arg(
            long = "trusted-proxy",
            env = "CARREL_TRUSTED_PROXIES",
            value_delimiter = ','
        )]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// The address staff and patrons use to reach Carrel
        /// (https://carrel.example.org, TLS ended by the proxy in front).
        /// When it is https, session cookies are marked Secure, so no
        /// browser sends them over plain http.
        #[arg(long = "public-url", env = "CARREL_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Destroy every record past its retention time, as the policy says
    /// (statistics first, then secure deletion). Resumes an interrupted run.
    Purge {
        #[command(flatten)]
        library: LibraryArgs,
        /// Count what would be destroyed and why records are kept; change
        /// nothing.
        #[arg(long)]
        dry_run: bool,
        /// Records destroyed per transaction, at most. On SQLite a
        /// transaction also ends as soon as a desk request waits for the
        /// database; fewer, larger commits make an idle purge faster.
        #[arg(long, default_value_t = carrel_store::retention::DEFAULT_BATCH)]
        batch_size: usize,
    },
    /// Generate the demo library into an empty database.
    Demo {
        #[command(flatten)]
        library: LibraryArgs,
        /// Seed of the generator: the same seed gives the same library.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many patrons.
        #[arg(long, default_value_t = 2_000)]
        patrons: usize,
        /// How many items.
        #[arg(long, default_value_t = 20_000)]
        items: usize,
    },
    /// Policy files: check them, print the notice one makes, record one as
    /// a new version of the notice.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Load records from another system.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Load a catalogue file into the collection: MARC 21 (ISO 2709 .mrc
    /// or MARCXML) with item fields (952 or 852 $p barcodes), or CSV with
    /// the columns barcode, title, author, call_number, material_type.
    /// Every record that cannot be read or loaded is listed with its number
    /// and why; the rest are loaded, in one transaction. Exits 0 when
    /// every record loaded, 2 when some did not, 1 when none did.
    Items {
        #[command(flatten)]
        library: LibraryArgs,
        /// The file to load.
        file: PathBuf,
    },
    /// Register patrons from another system's CSV export: one patron a
    /// row, each column a field the policy declares for registrations
    /// (named by its header, or mapped with --map). A column the policy
    /// does not declare refuses the whole file before anything is written;
    /// so does a row the rules refuse (named). No borrowing history is
    /// ever imported: the policy keeps none beyond its rule.
    Patrons {
        #[command(flatten)]
        library: LibraryArgs,
        /// The CSV file.
        file: PathBuf,
        /// Header renames, COLUMN=FIELD separated by commas, such as
        /// "Borrower=name,Street=address,Barcode=card_barcode".
        #[arg(long, default_value = "")]
        map: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate policy files; prints every mistake with file, line and column.
    Check { files: Vec<PathBuf> },
    /// Print the privacy notice a policy file makes (N1), without a server
    /// or a database: review a policy change before adopting it.
    Notice {
        /// The policy file.
        file: PathBuf,
        /// markdown, or html (a page to open in a browser).
        #[arg(long, default_value = "markdown")]
        format: NoticeFormat,
    },
    /// Record the policy file (--policy) as a version of the library's
    /// notice (N2) without starting the server, and print what it changes
    /// from the version before. The server records it too, when it starts
    /// with a changed file.
    Publish {
        #[command(flatten)]
        library: LibraryArgs,
    },
}

/// How `carrel policy notice` prints the notice.
#[derive(Clone, Copy, clap::ValueEnum)]
enum NoticeFormat {
    Markdown,
    Html,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and name the first entry that does not fit.
    /// Prints an anchor (SEQ:HASH) to keep outside the database.
    Verify {
        #[command(flatten)]
        library: LibraryArgs,
        /// An anchor printed by an earlier verify: proves the log was not cut
        /// back or rewritten up to that entry since.
        #[arg(long)]
        anchor: Option<String>,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Add a staff account. The password is read from standard input.
    Add {
        #[command(flatten)]
        library: LibraryArgs,
        #[arg(long)]
        username: String,
        /// A role defined in the policy (clerk, supervisor, director, ...).
        #[arg(long)]
        role: String,
        /// The username of this person's supervisor: under a
        /// non-disclosure order, a case is visible to the staff member who
        /// took it and to their supervisor.
        #[arg(long)]
        supervisor: Option<String>,
    },
    /// Deactivate a staff account: no more sign-ins; open sessions end now.
    Deactivate {
        #[command(flatten)]
        library: LibraryArgs,
        #[arg(long)]
        username: String,
    },
}

#[derive(Args, Clone)]
struct LibraryArgs {
    /// Database URL: sqlite:FILE or postgres://USER@HOST/DB.
    #[arg(long, env = "CARREL_DATABASE_URL")]
    database: Option<String>,
    /// The demo library's database, carrel-demo.db, with one staff account
    /// per role and published passwords: `serve --demo` makes it (if it is
    /// empty) and serves it; every other command given --demo works on it.
    /// Not with --database: a demo never goes into a real library's
    /// database.
    #[arg(long)]
    demo: bool,
    /// The library's policy file.
    #[arg(
        long,
        env = "CARREL_POLICY",
        default_value = "policies/jefferson-county-mo.toml"
    )]
    policy: PathBuf,
    /// File holding the audit chain's secret key (default: beside the
    /// database). Made only for a database whose audit log is empty; keep
    /// it apart from database backups.
    #[arg(long, env = "CARREL_AUDIT_KEY_FILE")]
    audit_key_file: Option<PathBuf>,
    /// File where the server records anchors of the audit log (default:
    /// next to the database, `<database file>.audit-anchors`); `carrel
    /// audit verify` checks the newest. Keep a copy elsewhere too.
    #[arg(long, env = "CARREL_AUDIT_ANCHOR_FILE")]
    audit_anchor_file: Option<PathBuf>,
}

impl LibraryArgs {
    fn url(&self, default_database: &str) -> Result<DatabaseUrl, String> {
        if self.demo && self.database.is_some() {
            return Err("--demo uses a database of its own (carrel-demo.db), with published passwords: leave out --database (and CARREL_DATABASE_URL) to work on the demo, or --demo to work on your library".into());
        }
        let default_database = if self.demo {
            DEMO_DATABASE
        } else {
            default_database
        };
        let text = self
            .database
            .clone()
            .unwrap_or_else(|| default_database.to_string());
        DatabaseUrl::parse(&text).map_err(|e| e.to_string())
    }

    /// A file beside the SQLite database (`<database>.<suffix>`), or
    /// `carrel.<suffix>` in the working folder for PostgreSQL.
    fn beside_database(url: &DatabaseUrl, suffix: &str) -> PathBuf {
        match url {
            DatabaseUrl::Sqlite { path, .. } => PathBuf::from(format!("{path}.{suffix}")),
            DatabaseUrl::Postgres { .. } => PathBuf::from(format!("carrel.{suffix}")),
        }
    }

    fn key_path(&self, url: &DatabaseUrl) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| Self::beside_database(url, "audit-key"))
    }

    fn anchor_file(&self, url: &DatabaseUrl) -> AnchorFile {
        AnchorFile {
            path: self
                .audit_anchor_file
                .clone()
                .unwrap_or_else(|| Self::beside_database(url, "audit-anchors")),
        }
    }
}

const DEFAULT_DATABASE: &str = "sqlite:carrel.db";
const DEMO_DATABASE: &str = "sqlite:carrel-demo.db";

fn main() -> ExitCode {
    // Every file Carrel creates holds personal data or guards it; a write
    // past the file size limit fails rather than killing the server; and
    // Argon2's large allocations go back to the system (see carrel_sys).
    carrel_sys::create_files_private();
    carrel_sys::survive_file_size_limit();
    carrel_sys::return_large_allocations();
    let cli = Cli::parse();
    // Rust ignores SIGPIPE, so `carrel purge --dry-run | head` panicked on
    // the closed pipe. Commands that print end quietly there, as Unix
    // tools do (a purge cut short resumes on its next run). The server
    // keeps ignoring it: a client hanging up must not end it.
    if !matches!(cli.command, Command::Serve { .. }) {
        carrel_sys::end_quietly_on_closed_pipe();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CARREL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("carrel: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Policy {
            command: PolicyCommand::Check { files },
        } => policy_check(&files),
        Command::Policy {
            command: PolicyCommand::Notice { file, format },
        } => policy_notice(&file, format),
        Command::Policy {
            command: PolicyCommand::Publish { library },
        } => policy_publish(&library),
        Command::Serve {
            library,
            listen,
            purge_every,
            alert_command,
            anchor_every,
            max_connections,
            trusted_proxies,
            public_url,
        } => serve(
            library,
            &listen,
            ServeOptions {
                purge_every,
                alert_command,
                anchor_every,
                max_connections,
                trusted_proxies,
                public_url,
            },
        ),
        Command::Purge {
            library,
            dry_run,
            batch_size,
        } => purge(&library, dry_run, batch_size),
        Command::Demo {
            library,
            seed,
            patrons,
            items,
        } => {
            let store = open(&library, DEFAULT_DATABASE, true)?;
            if staff::active_count(&store).map_err(|e| e.to_string())? > 0 {
                return Err("this database already has staff accounts, so it looks like a real library's; the demo library goes only into a new database (choose another --database)".into());
            }
            let summary = demo::generate(&store, seed, demo::DemoSize { patrons, items })
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify { library, anchor },
        } => verify(&library, anchor.as_deref()),
        Command::Staff {
            command: StaffCommand::Deactivate { library, username },
        } => deactivate(&library, &username),
        Command::Import {
            command: ImportCommand::Items { library, file },
        } => import_items(&library, &file),
        Command::Import {
            command: ImportCommand::Patrons { library, file, map },
        } => import_patrons(&library, &file, &map),
        Command::Staff {
            command:
                StaffCommand::Add {
                    library,
                    username,
                    role,
                    supervisor,
                },
        } => {
            let store = open(&library, DEFAULT_DATABASE, true)?;
            if std::io::stdin().is_terminal() {
                eprintln!("password for {username} (at least 10 characters), then Enter:");
            }
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .map_err(|e| e.to_string())?;
            let id = staff::add_with_supervisor(
                &store,
                &username,
                password.trim_end_matches(['\r', '\n']),
                &role,
                supervisor.as_deref(),
            )
            .map_err(|e| e.to_string())?;
            println!("added staff account {username} (id {id}) with role {role}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `carrel audit verify`: the whole chain, against the anchor given and
/// against every anchor the server recorded in the anchor file (an old
/// anchor given by hand must not hide a newer one the log lost).
fn verify(library: &LibraryArgs, given: Option<&str>) -> Result<ExitCode, String> {
    let store = open_for_verification(library)?;
    let file = library.anchor_file(&library.url(DEFAULT_DATABASE)?);
    let given = given
        .map(audit::Anchor::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let recorded = file.latest().map_err(|e| e.to_string())?;
    if let Some(a) = &recorded {
        println!(
            "checking against the newest anchor the server recorded in {}: entry {}",
            file.path.display(),
            a.seq
        );
    }
    let report = audit::verify(&store, given.as_ref()).map_err(|e| e.to_string())?;
    match &report.first_bad {
        None => {}
        Some((_, why)) if report.wrong_key => {
            println!("audit log NOT VERIFIED: {why}");
            return Ok(ExitCode::from(2));
        }
        Some((seq, why)) => {
            println!("audit log BROKEN at entry {seq}: {why}");
            println!("{} entries before it verified", report.entries_checked);
            return Ok(ExitCode::from(2));
        }
    }
    // The chain is whole; each recorded anchor needs only its entry looked up.
    if recorded.is_some() {
        if let Err(why) = file.check_all(&store).map_err(|e| e.to_string())? {
            println!("audit log BROKEN: {why}");
            println!(
                "(if you restored a database backup on purpose, this is expected: the backup ends before the anchor; keep {} and move it aside before starting the server)",
                file.path.display()
            );
            return Ok(ExitCode::from(2));
        }
    }
    if given.as_ref().is_some_and(|a| a.seq < report.floor) {
        println!("the anchored entry was itself destroyed under the retention rule, so it could not be checked; keep the new anchor below");
    }
    println!(
        "audit log intact: {} entries verified",
        report.entries_checked
    );
    if report.floor > 0 {
        println!(
            "entries 1 to {} were destroyed under the audit log's retention rule, as the purge that did it recorded",
            report.floor
        );
    }
    println!(
        "anchor: {}:{} (keep it outside the database; a later `carrel audit verify --anchor` with it proves the log was not cut back)",
        report.last_seq, report.last_hash
    );
    Ok(ExitCode::SUCCESS)
}

fn deactivate(library: &LibraryArgs, username: &str) -> Result<ExitCode, String> {
    let store = open(library, DEFAULT_DATABASE, false)?;
    let id = staff::deactivate(&store, username).map_err(|e| e.to_string())?;
    println!("deactivated staff account {username} (id {id}); its sessions have ended");
    Ok(ExitCode::SUCCESS)
}

/// `carrel import items`: a catalogue file into the collection, with a
/// progress line on a terminal and every record not loaded listed.
fn import_items(library: &LibraryArgs, file: &Path) -> Result<ExitCode, String> {
    use carrel_server::catalogue_import;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let store = open(library, DEFAULT_DATABASE, false)?;
    let (read, items) = catalogue_import::read_file(&bytes)
        .map_err(|why| format!("{}: nothing was loaded: {why}", file.display()))?;
    let total = items.len();
    let terminal = std::io::stderr().is_terminal();
    let mut progress = move |done: usize| {
        if terminal {
            eprint!("\rloading items: {done} of {total}");
        }
    };
    let (loaded, rejected) = carrel_store::items::import_as_operator(&store, &items, &mut progress)
        .map_err(|e| format!("nothing was loaded: {e}"))?;
    if terminal {
        eprintln!();
    }
    let report = catalogue_import::report(read, loaded, rejected);
    let problems = report.problems.len() + report.unlisted;
    println!(
        "{}: {} records read, {} items loaded, {} problems",
        file.display(),
        report.records,
        report.loaded,
        problems
    );
    for problem in &report.problems {
        println!("record {}: {}", problem.record, problem.reason);
    }
    if report.unlisted > 0 {
        println!("... and {} more not listed", report.unlisted);
    }
    // 0: everything loaded; 2: some records were not; 1 (an error):
    // nothing was.
    Ok(match (problems, report.loaded) {
        (0, _) => ExitCode::SUCCESS,
        (_, 0) => ExitCode::from(1),
        _ => ExitCode::from(2),
    })
}

/// `carrel import patrons`: registrations from a CSV file, all or none.
fn import_patrons(library: &LibraryArgs, file: &Path, map: &str) -> Result<ExitCode, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let map = carrel_server::patron_import::parse_map(map)?;
    let store = open(library, DEFAULT_DATABASE, false)?;
    let rows = carrel_server::patron_import::read(&bytes, &map, store.policy())
        .map_err(|why| format!("{}: {why}", file.display()))?;
    let registered = carrel_store::patrons::import_as_operator(&store, &rows)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    println!("{}: {registered} patrons registered", file.display());
    Ok(ExitCode::SUCCESS)
}

/// `carrel policy notice`: the notice of a policy file, on standard output.
fn policy_notice(file: &std::path::Path, format: NoticeFormat) -> Result<ExitCode, String> {
    let (policy, _) = load_policy(file)?;
    let text = match format {
        NoticeFormat::Markdown => carrel_policy::notice::Notice::of(&policy)
            .with_website(carrel_server::pages::notice::website())
            .to_markdown(),
        NoticeFormat::Html => carrel_server::pages::notice::standalone_html(&policy)
            .map_err(|e| format!("the notice page did not render: {e}"))?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `carrel policy publish`: records the policy as a version, as the
/// server does when it starts, and says what changed.
fn policy_publish(library: &LibraryArgs) -> Result<ExitCode, String> {
    let store = open(library, DEFAULT_DATABASE, true)?;
    let number = store.policy_version_id();
    let versions = carrel_store::policy_versions::list(&store).map_err(|e| e.to_string())?;
    let newest = versions.last().map_or(0, |v| v.number);
    println!(
        "{}: version {number} of the privacy notice ({}){}",
        library.policy.display(),
        store.policy().library.version,
        if number == newest && versions.len() > 1 {
            ""
        } else if number == newest {
            ", the first"
        } else {
            ", recorded before"
        }
    );
    match carrel_store::policy_versions::previous(&store, number).map_err(|e| e.to_string())? {
        None => println!("no version before it"),
        Some((before, source)) => match carrel_policy::parse("previous version", &source) {
            Err(_) => println!(
                "version {} before it was written for an earlier release; its changes cannot be listed",
                before.number
            ),
            Ok(old) => {
                let changes = carrel_policy::notice::changes(&old, store.policy());
                if changes.is_empty() {
                    println!("it changes nothing patrons are told from version {}", before.number);
                } else {
                    println!("what it changes from version {}:", before.number);
                    for change in changes {
                        println!("- {}: {}", change.about, change.what);
                    }
                }
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn policy_check(files: &[PathBuf]) -> Result<ExitCode, String> {
    if files.is_empty() {
        return Err("name at least one policy file, for example: carrel policy check policies/jefferson-county-mo.toml".into());
    }
    let mut ok = true;
    for file in files {
        match load_policy(file) {
            Ok((policy, _)) => println!(
                "{}: ok ({}, {} record classes, {} roles)",
                file.display(),
                policy.library.name,
                policy.classes.len(),
                policy.roles.len()
            ),
            Err(message) => {
                ok = false;
                eprintln!("{message}");
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn load_policy(path: &Path) -> Result<(Policy, String), String> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| {
            format!(
                "{}: cannot read the policy file: {e}. Run carrel from the folder that holds policies/ (the source checkout), or name the library's policy file with --policy FILE (or CARREL_POLICY)",
                path.display()
            )
        })?;
    let policy =
        carrel_policy::parse(&path.display().to_string(), &source).map_err(|e| e.to_string())?;
    Ok((policy, source))
}

/// Reads the audit key file; `None` if it does not exist.
fn read_key(path: &Path) -> Result<Option<AuditKey>, String> {
    private_files::warn_if_readable_by_others(
        path,
        "the audit key (whoever reads it can forge audit entries)",
    );
    match std::fs::read(path) {
        Ok(bytes) => AuditKey::from_hex(&String::from_utf8_lossy(&bytes))
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "{}: cannot read the audit key: {e}; pass --audit-key-file with the key this database was written with",
            path.display()
        )),
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut file = private_files::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// Opens the library's store. The audit key must verify the log's newest
/// entry. A missing key is made anew (with `create_key`) only while the log
/// has no entry: a server that made a new key for an old log would write on
/// with it, and the log written so far could never be verified again.
fn open(library: &LibraryArgs, default_database: &str, create_key: bool) -> Result<Store, String> {
    let (policy, source) = load_policy(&library.policy)?;
    let url = library.url(default_database)?;
    if !create_key {
        must_exist(&url)?;
    }
    let key_path = library.key_path(&url);
    if let Some(key) = read_key(&key_path)? {
        return Store::open(&url, policy, &source, key).map_err(|e| e.to_string());
    }
    let missing = |what: &str| {
        format!(
            "{}: the audit key file is missing{what}. Restore it from your backup of the key, or pass --audit-key-file with the key this database was written with. Carrel will not make a new key for a log that has entries: the entries written so far could never be verified again",
            key_path.display()
        )
    };
    if !create_key {
        return Err(missing(""));
    }
    let key = AuditKey::generate().map_err(|e| e.to_string())?;
    let store =
        Store::open_unverified(&url, policy, &source, key.clone()).map_err(|e| e.to_string())?;
    if !audit::is_empty(&store).map_err(|e| e.to_string())? {
        return Err(missing(", but the database's audit log has entries"));
    }
    write_private(&key_path, &key.to_hex())?;
    eprintln!(
        "created the audit key {}; back it up apart from the database: without it the audit log cannot be verified, and Carrel will not start",
        key_path.display()
    );
    Ok(store)
}

/// Commands that work on an existing library refuse a SQLite file that is
/// not there (a mistyped path, or cron running in another folder), rather
/// than make an empty database and then complain about its key.
fn must_exist(url: &DatabaseUrl) -> Result<(), String> {
    if let DatabaseUrl::Sqlite { path, .. } = url {
        if !Path::new(path).exists() {
            let shown = std::env::current_dir()
                .map(|dir| dir.join(path).display().to_string())
                .unwrap_or_else(|_| path.clone());
            return Err(format!(
                "there is no database at {shown}; check --database (or CARREL_DATABASE_URL), and the folder the command runs in"
            ));
        }
    }
    Ok(())
}

/// Opens the store for `carrel audit verify`, which reports a key that
/// does not fit the log itself. Read-only (`Store::open_read_only`): a
/// verification changes nothing, so it also works on a read-only copy of
/// the database (a backup on write-protected media) and never migrates.
fn open_for_verification(library: &LibraryArgs) -> Result<Store, String> {
    let (policy, source) = load_policy(&library.policy)?;
    let url = library.url(DEFAULT_DATABASE)?;
    must_exist(&url)?;
    let key_path = library.key_path(&url);
    let key = read_key(&key_path)?.ok_or_else(|| {
        format!(
            "{}: the audit key file is missing, so the log cannot be verified; pass --audit-key-file with the key this database was written with",
            key_path.display()
        )
    })?;
    Store::open_read_only(&url, policy, &source, key).map_err(|e| e.to_string())
}

/// "24h", "90m", "3600s" or "off".
fn parse_every(flag: &str, text: &str) -> Result<Option<std::time::Duration>, String> {
    if text == "off" {
        return Ok(None);
    }
    let bad =
        || format!("{flag} '{text}' is not a period; write for example 24h, 30m, 3600s, or off");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "h" => n * 3600,
        "m" => n * 60,
        "s" => n,
        _ => return Err(bad()),
    };
    if seconds == 0 {
        return Err(bad());
    }
    Ok(Some(std::time::Duration::from_secs(seconds)))
}

fn purge(library: &LibraryArgs, dry_run: bool, batch_size: usize) -> Result<ExitCode, String> {
    use carrel_store::retention;
    let store = open(library, DEFAULT_DATABASE, false)?;
    let plan = retention::plan(&store).map_err(|e| e.to_string())?;
    println!("{} · today {}", store.policy().library.name, plan.today);
    for class in &plan.classes {
        println!("{} ({})", class.class, class.rule);
        for t in &class.targets {
            let kept: Vec<String> = t
                .kept
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            println!(
                "  {:<28} held {:>9}  due {:>9}  within limit {:>9}  in use {:>9}  legal hold {:>6}{}",
                t.label,
                t.held,
                t.due,
                t.not_yet_due,
                t.in_use,
                t.legal_hold,
                if kept.is_empty() { String::new() } else { format!("  kept: {}", kept.join(", ")) }
            );
        }
    }
    if dry_run {
        println!(
            "dry run: {} records would be destroyed; nothing was changed",
            plan.total_due()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let total = plan.total_due().max(1);
    let on_terminal = std::io::stderr().is_terminal();
    let mut done_before = 0i64;
    let mut current = String::new();
    let mut last_destroyed = 0i64;
    let options = retention::PurgeOptions {
        batch_size,
        started_by: "cli".into(),
    };
    let summary = retention::purge(&store, &options, &mut |p| {
        if current != p.label {
            done_before += last_destroyed;
            current = p.label.to_string();
        }
        last_destroyed = p.destroyed;
        if on_terminal {
            let done = (done_before + p.destroyed).min(total);
            let width = 30;
            let filled = (done * width / total) as usize;
            eprint!(
                "\r[{}{}] {:>3}% {:<28} {:>9}",
                "#".repeat(filled),
                " ".repeat(width as usize - filled),
                done * 100 / total,
                p.label,
                p.destroyed
            );
        }
    })
    .map_err(|e| e.to_string())?;
    if on_terminal {
        eprintln!();
    }
    for t in &summary.targets {
        println!("destroyed {:>9} {}", t.destroyed, t.label);
    }
    println!(
        "purge run {}{}: {} records destroyed; statistics kept; audit log has one entry per class",
        summary.run_id,
        if summary.resumed {
            " (resumed an interrupted run)"
        } else {
            ""
        },
        summary.total()
    );
    Ok(ExitCode::SUCCESS)
}

struct ServeOptions {
    purge_every: String,
    alert_command: Option<String>,
    anchor_every: String,
    max_connections: Option<usize>,
    trusted_proxies: Vec<std::net::IpAddr>,
    public_url: Option<String>,
}

/// Whether `--public-url` is https (cookies then marked Secure). Anything
/// but an http or https address is refused, with what to give instead.
fn secure_public_url(url: Option<&str>) -> Result<bool, String> {
    match url {
        None => Ok(false),
        Some(url) if url.starts_with("https://") && url.len() > "https://".len() => Ok(true),
        Some(url) if url.starts_with("http://") && url.len() > "http://".len() => Ok(false),
        Some(_) => Err("--public-url must be the address people use, starting with https:// (or http:// for a test server), for example https://carrel.example.org".into()),
    }
}

fn serve(library: LibraryArgs, listen: &str, options: ServeOptions) -> Result<ExitCode, String> {
    let demo_mode = library.demo;
    let purge_every = parse_every("--purge-every", &options.purge_every)?;
    let secure_cookies = secure_public_url(options.public_url.as_deref())?;
    let anchor_every = parse_every("--anchor-every", &options.anchor_every)?;
    let default_database = DEFAULT_DATABASE;
    let store = open(&library, default_database, true)?;
    store.claim_for_server().map_err(|e| e.to_string())?;
    let anchors = library.anchor_file(&library.url(default_database)?);
    check_anchor(&store, &anchors)?;
    if demo_mode {
        prepare_demo(&store)?;
    } else if staff::active_count(&store).map_err(|e| e.to_string())? == 0 {
        println!(
            "no staff accounts yet, so nobody can sign in: add one with `carrel staff add --username NAME --role director` (the password is read from standard input)"
        );
    }
    if anchor_every.is_some() {
        // The first anchor before serving, so the file exists from the
        // start (the anchors before it were checked just above).
        anchors
            .append_head(&store)
            .map_err(|e| format!("cannot record the audit anchor: {e}"))?;
        private_files::warn_if_readable_by_others(&anchors.path, "the audit anchors");
    }
    let mut limits = carrel_server::Limits::default();
    if let Some(n) = options.max_connections {
        if n > limits.max_connections {
            eprintln!(
                "carrel: --max-connections {n} is more than this process can serve with its open-file limit (`ulimit -n`); serving at most {}",
                limits.max_connections
            );
        }
        limits.max_connections = n.clamp(1, limits.max_connections);
    }
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    let store = Arc::new(store);
    let served = store.clone();
    let scheduled_anchors = anchors.clone();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}; choose another address with --listen"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let shutdown = shutdown_signal();
        println!(
            "Carrel is serving {} on http://{address}/ (API: http://{address}/api/v1/openapi.json); Ctrl-C stops it.",
            served.policy().library.name
        );
        if let Some(every) = purge_every {
            carrel_server::spawn_purge_schedule(served.clone(), every);
        }
        if let Some(every) = anchor_every {
            carrel_server::spawn_anchor_schedule(served.clone(), scheduled_anchors, every);
        }
        carrel_server::spawn_alert_hook(
            served.clone(),
            options.alert_command,
            std::time::Duration::from_secs(30),
        );
        let config = carrel_server::Config {
            limits,
            trusted_proxies: options.trusted_proxies,
            secure_cookies,
        };
        carrel_server::serve_configured(listener, served, config, shutdown)
        .await
        .map_err(|e| format!("the server stopped: {e}"))
    })?;
    // The last anchor, so the next start can check the log it left behind.
    if anchor_every.is_some() {
        match anchors
            .record(&store)
            .and_then(|()| audit::head_anchor(&store))
        {
            Ok(Some(anchor)) => println!(
                "stopped; the audit log's newest entry is {}:{} (recorded in {})",
                anchor.seq,
                anchor.hash,
                anchors.path.display()
            ),
            Ok(None) => println!("stopped"),
            Err(e) => eprintln!("carrel: could not record the last audit anchor: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM (what a service manager sends). The
/// handlers are installed when this is called, not when the future is
/// first polled, so a signal that comes just after the server says it
/// listens still stops it cleanly.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, interrupt) {
                (Some(mut term), Some(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Before serving: the audit log must still hold the newest anchor the
/// server recorded outside the database. A log wiped and its head reset
/// looks whole from inside; the anchor file is what shows it was cut.
fn check_anchor(store: &Store, anchors: &AnchorFile) -> Result<(), String> {
    let Some(_) = anchors.latest().map_err(|e| e.to_string())? else {
        if !audit::is_empty(store).map_err(|e| e.to_string())? {
            eprintln!(
                "carrel: warning: there is no audit anchor file at {}, though the audit log has entries. On a first start with this version that is expected; otherwise the file was moved or deleted, and the log cannot be checked against it. A new one is started now",
                anchors.path.display()
            );
        }
        return Ok(());
    };
    match anchors.check_all(store).map_err(|e| e.to_string())? {
        Ok(()) => Ok(()),
        Err(why) => Err(format!(
            "the audit log does not match the anchors recorded in {path}: {why}. If you restored a database backup on purpose, that is expected (the backup ends before the anchor): move {path} aside, keep it, and start again. If not, the log may have been tampered with, and Carrel will not write on after it: run `carrel audit verify`, keep the database and the anchor file as evidence, and tell the Director",
            path = anchors.path.display()
        )),
    }
}

/// Fills an empty demo database and prints the demo staff logins.
fn prepare_demo(store: &Store) -> Result<(), String> {
    match demo::generate(store, 1, demo::DemoSize::default()) {
        Ok(summary) => {
            println!(
                "generated the demo library: {} patrons ({} minors), {} items, {} loans ({} out now), {} holds, {} fines",
                summary.patrons, summary.minors, summary.items, summary.loans, summary.open_loans, summary.holds, summary.fines
            );
            demo::demo_staff(store).map_err(|e| e.to_string())?;
            // A year of made-up history, kept as the policy keeps real
            // history: what is past its time goes now, into anonymous
            // statistics, rather than in the first scheduled purge (which
            // made a fresh demo's dashboard red with records due).
            let options = retention::PurgeOptions {
                started_by: "demo".into(),
                ..Default::default()
            };
            let purged =
                retention::purge(store, &options, &mut |_| {}).map_err(|e| e.to_string())?;
            println!(
                "kept as the policy says: {} records of that year were past their retention time and were destroyed at once (their anonymous counts are in the statistics)",
                purged.total()
            );
            println!(
                "demo patrons: sign in at /my/sign-in with card {} or {}, PIN 1234 (cards {} to {}, PIN 1234, all work; the JSON API: POST /api/v1/patron-session)",
                summary.sample_cards.first().map_or("", String::as_str),
                summary.sample_cards.get(1).map_or("", String::as_str),
                summary.sample_cards.first().map_or("", String::as_str),
                summary.sample_cards.last().map_or("", String::as_str),
            );
            let reference = demo::demo_disclosure(store).map_err(|e| e.to_string())?;
            println!("a law-enforcement request ({reference}) waits for the Director: /staff/disclosures");
        }
        Err(carrel_store::Error::Refused {
            code: "not_empty", ..
        }) => {
            println!("using the existing demo library; its patrons sign in at /my/sign-in with the cards printed when it was made (21234000000001 and on), PIN 1234");
        }
        Err(e) => return Err(e.to_string()),
    }
    println!("demo staff: sign in at /staff/sign-in (the JSON API: POST /api/v1/session); username = role with '-' for '_', password demo-<username>-pass");
    for role in store.policy().roles.keys() {
        let username = role.replace('_', "-");
        println!("  {username:<14} password demo-{username}-pass  ({role})");
    }
    Ok(())
}
