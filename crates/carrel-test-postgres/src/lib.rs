//! Where the PostgreSQL half of Carrel's tests runs.
//!
//! Every test that proves a behaviour on both engines asks [`server_url`]
//! for a PostgreSQL server. In order, it takes:
//!
//! 1. the server `CARREL_TEST_POSTGRES` names, when it is set;
//! 2. the one CI and this project's machines run, on 127.0.0.1:5432
//!    (trust auth, database `test`), when it answers;
//! 3. a throwaway cluster of its own, when PostgreSQL's binaries are
//!    installed but no server runs: `initdb` into a temporary directory,
//!    started on a free port, stopped and removed when the test process
//!    ends;
//! 4. none: the PostgreSQL half is skipped, with one loud line saying so
//!    and why. With `CARREL_REQUIRE_POSTGRES=1` (which `.ci/run` sets)
//!    there is no skipping: the test fails instead, so CI can never pass
//!    without PostgreSQL.
//!
//! The answer is found once per test process and kept.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The server tests use when nothing else is said.
pub const USUAL_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The environment variable naming the server to use.
pub const SERVER_VARIABLE: &str = "CARREL_TEST_POSTGRES";

/// The environment variable that forbids skipping the PostgreSQL half.
pub const REQUIRE_VARIABLE: &str = "CARREL_REQUIRE_POSTGRES";

/// The URL of the PostgreSQL server for this test process, or `None` when
/// the PostgreSQL half is to be skipped (said once, loudly, on stderr).
///
/// # Panics
/// When `CARREL_REQUIRE_POSTGRES=1` and no server can be had: CI must not
/// pass by skipping.
pub fn server_url() -> Option<&'static str> {
    static FOUND: OnceLock<Result<Found, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        // On a thread of its own: the synchronous client refuses to run on
        // a thread that drives an async runtime, as the server tests' do.
        let found = std::thread::spawn(find_server)
            .join()
            .unwrap_or_else(|_| Err("looking for a server panicked".to_string()));
        match &found {
            Err(why) => say(&format!(
                "\n*** PostgreSQL tests SKIPPED: {why}. Only SQLite was tested. \
                 Install PostgreSQL (Debian: apt-get install postgresql) or set \
                 {SERVER_VARIABLE} to a server's URL. ***\n"
            )),
            Ok(found) => {
                if let Some(directory) = &found.throwaway {
                    say(&format!(
                        "PostgreSQL tests run on a throwaway cluster in {}: no server answered on 127.0.0.1:5432",
                        directory.display()
                    ));
                }
            }
        }
        found
    });
    match found {
        Ok(found) => Some(found.url.as_str()),
        Err(why) if required() => panic!(
            "{REQUIRE_VARIABLE}=1 and there is no PostgreSQL to test on: {why}. \
             Start one on 127.0.0.1:5432 or set {SERVER_VARIABLE}."
        ),
        Err(_) => None,
    }
}

/// Writes to the process's stderr itself: the test harness captures
/// `eprintln!` from a test (shown only if it fails), and a skip must be seen.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn required() -> bool {
    std::env::var(REQUIRE_VARIABLE).is_ok_and(|value| value.trim() == "1")
}

/// What the machine offers, as [`find_server`] probes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// `CARREL_TEST_POSTGRES`, if set.
    pub named: Option<String>,
    /// Whether [`USUAL_SERVER`] answered.
    pub usual_answers: bool,
    /// Where `initdb` is, if installed.
    pub initdb: Option<PathBuf>,
}

/// What to do with an [`Offer`]: the decision, apart from the probing, so
/// that it can be tested on a machine that has everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Use this server.
    Use(String),
    /// Start a throwaway cluster with this `initdb`.
    StartCluster(PathBuf),
    /// Skip, for this reason.
    Skip(String),
}

/// Chooses, in the order the module documentation gives.
pub fn choose(offer: Offer) -> Choice {
    if let Some(named) = offer.named {
        return Choice::Use(named);
    }
    if offer.usual_answers {
        return Choice::Use(USUAL_SERVER.to_string());
    }
    match offer.initdb {
        Some(initdb) => Choice::StartCluster(initdb),
        None => Choice::Skip(
            "no server answers on 127.0.0.1:5432 and PostgreSQL's binaries (initdb) \
             are not installed"
                .to_string(),
        ),
    }
}

/// The server found, and the throwaway cluster's directory if it is one.
struct Found {
    url: String,
    throwaway: Option<PathBuf>,
}

fn find_server() -> Result<Found, String> {
    let named = std::env::var(SERVER_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty());
    let offer = Offer {
        usual_answers: named.is_none() && answers(USUAL_SERVER),
        named,
        initdb: None,
    };
    let offer = if offer.named.is_none() && !offer.usual_answers {
        Offer {
            initdb: find_initdb(),
            ..offer
        }
    } else {
        offer
    };
    match choose(offer) {
        Choice::Use(url) => Ok(Found {
            url,
            throwaway: None,
        }),
        Choice::StartCluster(initdb) => {
            let cluster = Cluster::start(&initdb).map_err(|why| {
                format!("no server answers on 127.0.0.1:5432, and a throwaway cluster did not start ({why})")
            })?;
            let found = Found {
                url: cluster.url(),
                throwaway: Some(cluster.directory.clone()),
            };
            cluster.remove_when_this_process_ends();
            Ok(found)
        }
        Choice::Skip(why) => Err(why),
    }
}

/// Whether a server at `url` accepts a connection and a query.
pub fn answers(url: &str) -> bool {
    let mut config: postgres::Config = match url.parse() {
        Ok(config) => config,
        Err(_) => return false,
    };
    config.connect_timeout(Duration::from_secs(3));
    config
        .connect(postgres::NoTls)
        .and_then(|mut client| client.simple_query("SELECT 1"))
        .is_ok()
}

/// `initdb` on the `PATH`, else in Debian's versioned folders (newest).
pub fn find_initdb() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    // Newest version first: the folders are named by major version.
    debian.sort_by_key(|dir| {
        std::cmp::Reverse(
            dir.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    on_path
        .into_iter()
        .chain(debian)
        .map(|dir| dir.join("initdb"))
        .find(|candidate| candidate.is_file())
}

/// A PostgreSQL cluster of the tests' own, in a temporary directory.
pub struct Cluster {
    /// Holds the data folder, the socket and the server's log.
    pub directory: PathBuf,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// The superuser's password, random, known only to this process.
    password: String,
    bin: PathBuf,
    /// `Some("postgres")` when this process is root: PostgreSQL refuses to
    /// run as root, so its commands run as that user instead.
    run_as: Option<String>,
}

impl Cluster {
    /// `initdb`, then `pg_ctl start` on a free port, waiting until the
    /// server accepts connections.
    pub fn start(initdb: &Path) -> Result<Cluster, String> {
        let bin = initdb.parent().ok_or("initdb has no folder")?.to_path_buf();
        let run_as = if running_as_root() {
            Some("postgres".to_string())
        } else {
            None
        };
        let directory = std::env::temp_dir().join(format!(
            "carrel-test-postgres-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&directory)
            .map_err(|e| format!("cannot make {}: {e}", directory.display()))?;
        // Only the cluster's owner may read its folder (data, socket, log).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", directory.display()))?;
        if let Some(user) = &run_as {
            let uid = uid_of(user)?;
            std::os::unix::fs::chown(&directory, Some(uid), None)
                .map_err(|e| format!("cannot give {} to {user}: {e}", directory.display()))?;
        }
        let port = free_port()?;
        let password = random_password()?;
        let cluster = Cluster {
            directory,
            port,
            password,
            bin,
            run_as,
        };
        let data = cluster.directory.join("data");
        // A password only this process knows: another user of the machine
        // can reach the port, and must not get a superuser by it.
        let password_file = cluster.directory.join("password");
        std::fs::write(&password_file, &cluster.password)
            .map_err(|e| format!("cannot write the password file: {e}"))?;
        if let Some(user) = &cluster.run_as {
            std::os::unix::fs::chown(&password_file, Some(uid_of(user)?), None)
                .map_err(|e| format!("cannot give the password file to {user}: {e}"))?;
        }
        let made = cluster.run(
            "initdb",
            &[
                "-D".into(),
                data.clone().into(),
                "--auth=scram-sha-256".into(),
                "--pwfile".into(),
                password_file.clone().into(),
                "-U".into(),
                "postgres".into(),
                "-E".into(),
                "UTF8".into(),
                "--no-sync".into(),
            ],
        );
        let _ = std::fs::remove_file(&password_file);
        made?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c unix_socket_permissions=0700 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            cluster.directory.display()
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D".into(),
                data.into(),
                "-l".into(),
                cluster.directory.join("server.log").into(),
                "-o".into(),
                options.into(),
                "-w".into(),
                "-t".into(),
                "60".into(),
                "start".into(),
            ],
        )?;
        Ok(cluster)
    }

    /// The cluster's `postgres` database, as its superuser.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// Stops the server now and removes its directory.
    pub fn stop(self) -> Result<(), String> {
        let data = self.directory.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D".into(),
                data.into(),
                "-m".into(),
                "immediate".into(),
                "-w".into(),
                "stop".into(),
            ],
        )?;
        std::fs::remove_dir_all(&self.directory)
            .map_err(|e| format!("cannot remove {}: {e}", self.directory.display()))
    }

    /// Leaves behind a small watcher that stops the server and removes its
    /// directory once this process has ended: a Rust test binary has no
    /// hook that runs after its last test.
    pub fn remove_when_this_process_ends(self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let as_user = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- "),
            None => String::new(),
        };
        // The watcher reads a pipe this process holds open until it ends
        // (however it ends): end of file is its cue. (Not its pid, which
        // the system may give to another process.)
        let script = format!(
            "cat >/dev/null; \
             {as_user}'{pg_ctl}' -D '{data}' -m immediate -w stop >/dev/null 2>&1; \
             rm -rf '{directory}'",
            pg_ctl = pg_ctl.display(),
            data = self.directory.join("data").display(),
            directory = self.directory.display(),
        );
        use std::os::unix::process::CommandExt;
        let watcher = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so the terminal's Ctrl-C that ends the
            // tests does not end the watcher before it has cleaned up.
            .process_group(0)
            .spawn();
        if let Ok(mut watcher) = watcher {
            // Kept open, never written, until this process exits.
            std::mem::forget(watcher.stdin.take());
        }
    }

    fn run(&self, program: &str, args: &[OsString]) -> Result<(), String> {
        let program_path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&program_path);
                command
            }
            None => Command::new(&program_path),
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

/// 128 random bits, as hex, from the system's random source.
fn random_password() -> Result<String, String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|e| format!("no randomness for a password: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn uid_of(user: &str) -> Result<u32, String> {
    let output = Command::new("id")
        .args(["-u", user])
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "this process is root, which PostgreSQL refuses, and there is no user {user} to run it as"
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("id -u {user} printed no number"))
}

/// A port nothing listens on now (the kernel picks it; another program
/// could take it before the server does, which `pg_ctl start` would report).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Offer {
        Offer {
            named: None,
            usual_answers: false,
            initdb: None,
        }
    }

    #[test]
    fn a_named_server_is_used_whatever_else_there_is() {
        let choice = choose(Offer {
            named: Some("postgres://elsewhere/db".into()),
            usual_answers: true,
            initdb: Some("/usr/bin/initdb".into()),
        });
        assert_eq!(choice, Choice::Use("postgres://elsewhere/db".into()));
    }

    #[test]
    fn the_usual_server_is_used_when_it_answers() {
        let choice = choose(Offer {
            usual_answers: true,
            initdb: Some("/usr/bin/initdb".into()),
            ..offer()
        });
        assert_eq!(choice, Choice::Use(USUAL_SERVER.into()));
    }

    #[test]
    fn a_cluster_is_started_when_only_the_binaries_are_there() {
        let choice = choose(Offer {
            initdb: Some("/usr/bin/initdb".into()),
            ..offer()
        });
        assert_eq!(choice, Choice::StartCluster("/usr/bin/initdb".into()));
    }

    #[test]
    fn nothing_at_all_is_a_skip_that_says_why() {
        match choose(offer()) {
            Choice::Skip(why) => assert!(why.contains("not installed"), "{why}"),
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    /// The throwaway cluster really starts, answers, stops and leaves no
    /// directory behind. Runs wherever the binaries are installed (CI has
    /// them; `CARREL_REQUIRE_POSTGRES=1` makes their absence a failure).
    #[test]
    fn a_throwaway_cluster_starts_answers_and_is_removed() {
        let Some(initdb) = find_initdb() else {
            assert!(
                !required(),
                "{REQUIRE_VARIABLE}=1 but initdb is not installed"
            );
            eprintln!("initdb is not installed: the throwaway cluster is not tested here");
            return;
        };
        let cluster = Cluster::start(&initdb).expect("the cluster starts");
        let directory = cluster.directory.clone();
        assert!(answers(&cluster.url()), "the cluster answers");
        // Review: another user of the machine reaches the port, but not
        // the superuser without the password only this process knows.
        let port = cluster.port;
        assert!(!answers(&format!(
            "postgres://postgres@127.0.0.1:{port}/postgres"
        )));
        assert!(!answers(&format!(
            "postgres://postgres:guess@127.0.0.1:{port}/postgres"
        )));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&directory).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "its folder is its owner's only: {mode:o}");
        let url = cluster.url();
        cluster.stop().expect("the cluster stops");
        assert!(!answers(&url), "the stopped cluster no longer answers");
        assert!(!directory.exists(), "its directory is removed");
    }

    /// The watcher cleans up after a process that ends: a child test
    /// process starts a cluster and exits; the watcher then stops the
    /// server and removes the directory.
    #[test]
    fn the_watcher_removes_the_cluster_after_its_process_ends() {
        let Some(initdb) = find_initdb() else {
            assert!(
                !required(),
                "{REQUIRE_VARIABLE}=1 but initdb is not installed"
            );
            return;
        };
        if std::env::var_os("CARREL_TEST_POSTGRES_CHILD").is_some() {
            // In the child: start, print where, leave it to the watcher.
            let cluster = Cluster::start(&initdb).expect("the cluster starts");
            println!("CLUSTER {} {}", cluster.directory.display(), cluster.url());
            cluster.remove_when_this_process_ends();
            return;
        }
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::the_watcher_removes_the_cluster_after_its_process_ends",
                "--nocapture",
            ])
            .env("CARREL_TEST_POSTGRES_CHILD", "1")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|line| line.strip_prefix("CLUSTER "))
            .expect("the child says where its cluster is");
        let (directory, url) = line.split_once(' ').unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while Path::new(directory).exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            !Path::new(directory).exists(),
            "the watcher removed {directory}"
        );
        assert!(!answers(url), "the watcher stopped the server");
    }
}
