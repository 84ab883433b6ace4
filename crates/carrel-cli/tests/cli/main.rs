//! The `carrel` binary as an operator uses it.

mod faults;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn carrel(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    carrel_with_policy(dir, "jefferson-county-mo.toml", args, stdin)
}

fn carrel_with_policy(dir: &Path, policy_file: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carrel"))
        .args(args)
        .current_dir(dir)
        .env_remove("CARREL_DATABASE_URL")
        .env("CARREL_POLICY", policy(policy_file))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn policy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("carrel-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn n1_policy_check_accepts_both_shipped_policies() {
    let dir = scratch("policy-ok");
    let out = carrel(
        &dir,
        &[
            "policy",
            "check",
            policy("jefferson-county-mo.toml").to_str().unwrap(),
            policy("jefferson-county-co.toml").to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Jefferson County Library")
            && stdout.contains("Jefferson County Public Library")
    );
}

#[test]
fn n1_policy_check_names_file_line_and_problem() {
    let dir = scratch("policy-bad");
    let source = std::fs::read_to_string(policy("jefferson-county-mo.toml")).unwrap();
    let broken = source.replacen("keep = \"60 days\"", "keep = \"sixty days\"", 1);
    let line = broken[..broken.find("sixty days").unwrap()]
        .matches('\n')
        .count()
        + 1;
    std::fs::write(dir.join("broken.toml"), broken).unwrap();
    let out = carrel(&dir, &["policy", "check", "broken.toml"], None);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("broken.toml:{line}:")), "{stderr}");
    assert!(
        stderr.contains("'sixty' is not a whole number of days"),
        "{stderr}"
    );
}

#[test]
fn d7_audit_verify_reports_intact_then_names_the_tampered_entry() {
    let dir = scratch("audit");
    for (user, role) in [
        ("desk1", "clerk"),
        ("boss", "director"),
        ("sup", "supervisor"),
    ] {
        let out = carrel(
            &dir,
            &[
                "staff",
                "add",
                "--database",
                "sqlite:lib.db",
                "--username",
                user,
                "--role",
                role,
            ],
            Some("a-long-enough-password\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("audit log intact: 3 entries verified"));
    let anchor = stdout
        .lines()
        .find_map(|l| l.strip_prefix("anchor: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("verify prints an anchor")
        .to_string();
    let out = carrel(
        &dir,
        &[
            "audit",
            "verify",
            "--database",
            "sqlite:lib.db",
            "--anchor",
            &anchor,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stdout));

    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    conn.execute("UPDATE audit_log SET action = 'destroy' WHERE seq = 2", [])
        .unwrap();
    drop(conn);
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("BROKEN at entry 2"),
        "{}",
        text(&out.stdout)
    );

    // Without its key the log cannot be checked, and Carrel says so.
    std::fs::remove_file(dir.join("lib.db.audit-key")).unwrap();
    let out = carrel(
        &dir,
        &["audit", "verify", "--database", "sqlite:lib.db"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("audit key"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `carrel args` with `dir` made read-only for it: by a read-only
/// bind mount in a namespace of its own (`unshare`), which holds even for
/// root; failing that, for a user other than root, by permissions (folder
/// 555, files 444), which root would ignore.
fn carrel_in_read_only(dir: &Path, args: &[&str]) -> Output {
    let mount = "mount --bind \"$1\" \"$1\" && mount -o remount,ro,bind \"$1\"";
    let probe = Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            &format!("{mount} && ! touch \"$1/probe\" 2>/dev/null"),
            "sh",
        ])
        .arg(dir)
        .output();
    // Only there if the mount did not make the folder read-only.
    let _ = std::fs::remove_file(dir.join("probe"));
    if probe.is_ok_and(|out| out.status.success()) {
        return Command::new("unshare")
            .args([
                "-rm",
                "sh",
                "-c",
                &format!("{mount} && shift && exec \"$@\""),
                "sh",
            ])
            .arg(dir)
            .arg(env!("CARGO_BIN_EXE_carrel"))
            .args(args)
            .current_dir(dir)
            .env_remove("CARREL_DATABASE_URL")
            .env("CARREL_POLICY", policy("jefferson-county-mo.toml"))
            .output()
            .unwrap();
    }
    use std::os::unix::fs::MetadataExt;
    assert_ne!(
        std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0),
        0,
        "cannot make a read-only folder: `unshare -rm` does not work here, and root ignores permissions"
    );
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let out = carrel(dir, args, None);
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    out
}

/// The names of the files in a folder, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// D7: `carrel audit verify` only reads. It verifies a copy of a library's
/// database and key in a read-only folder (a backup on write-protected
/// media); beside a copy in a writable folder it creates nothing (no
/// write-ahead log, shared memory, lock or key file) and changes no byte;
/// a database at an older schema version is named as such and left as it
/// is, not migrated.
#[test]
fn d7_audit_verify_reads_a_read_only_copy_and_changes_nothing() {
    let dir = scratch("verify-read-only");
    for user in ["desk1", "desk2", "desk3"] {
        let out = carrel(
            &dir,
            &[
                "staff",
                "add",
                "--database",
                "sqlite:lib.db",
                "--username",
                user,
                "--role",
                "clerk",
            ],
            Some("a-long-enough-password\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let copy = |name: &str| {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for file in ["lib.db", "lib.db.audit-key"] {
            std::fs::copy(dir.join(file), to.join(file)).unwrap();
        }
        to
    };
    let verify_args = |at: &Path| {
        vec![
            "audit".to_string(),
            "verify".to_string(),
            "--database".to_string(),
            format!("sqlite:{}", at.join("lib.db").display()),
        ]
    };

    let read_only = copy("read-only");
    let args = verify_args(&read_only);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = carrel_in_read_only(&read_only, &args);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("audit log intact: 3 entries verified"),
        "{}",
        text(&out.stdout)
    );

    let writable = copy("writable");
    let before = std::fs::read(writable.join("lib.db")).unwrap();
    let args = verify_args(&writable);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = carrel(&writable, &args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        files_in(&writable),
        ["lib.db", "lib.db.audit-key"],
        "nothing was created beside the database"
    );
    assert_eq!(
        std::fs::read(writable.join("lib.db")).unwrap(),
        before,
        "not a byte changed"
    );

    let older = copy("older");
    let conn = rusqlite::Connection::open(older.join("lib.db")).unwrap();
    let newest: i64 = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    conn.execute("DELETE FROM schema_migrations WHERE version = ?", [newest])
        .unwrap();
    drop(conn);
    let before = std::fs::read(older.join("lib.db")).unwrap();
    let args = verify_args(&older);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = carrel(&older, &args, None);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("schema version {}", newest - 1))
            && stderr.contains("not migrated"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(older.join("lib.db")).unwrap(),
        before,
        "not migrated"
    );
    assert_eq!(files_in(&older), ["lib.db", "lib.db.audit-key"]);
}

/// D7: a copy taken while the database was open has changes waiting in its
/// write-ahead log. With its shared-memory file, `carrel audit verify`
/// reads it in a read-only folder; without it (SQLite cannot build one
/// there), it says what is missing and how to make a copy it can read.
#[test]
fn d7_audit_verify_reads_a_copy_with_its_write_ahead_log() {
    let dir = scratch("verify-wal");
    let out = carrel(
        &dir,
        &[
            "staff",
            "add",
            "--database",
            "sqlite:lib.db",
            "--username",
            "desk1",
            "--role",
            "clerk",
        ],
        Some("a-long-enough-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Another program holds the database open with a change in its log.
    let open = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    open.execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE pending_note (x INTEGER);")
        .unwrap();
    assert!(std::fs::metadata(dir.join("lib.db-wal")).unwrap().len() > 0);
    for (name, files) in [
        (
            "with-shm",
            &["lib.db", "lib.db-wal", "lib.db-shm", "lib.db.audit-key"][..],
        ),
        (
            "without-shm",
            &["lib.db", "lib.db-wal", "lib.db.audit-key"][..],
        ),
    ] {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for file in files {
            std::fs::copy(dir.join(file), to.join(file)).unwrap();
        }
    }
    drop(open);
    let database = |at: &str| format!("sqlite:{}", dir.join(at).join("lib.db").display());
    let with_shm = database("with-shm");
    let out = carrel_in_read_only(
        &dir.join("with-shm"),
        &["audit", "verify", "--database", &with_shm],
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("audit log intact: 1 entries verified"));
    let without_shm = database("without-shm");
    let out = carrel_in_read_only(
        &dir.join("without-shm"),
        &["audit", "verify", "--database", &without_shm],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("-shm") && stderr.contains(".backup"),
        "{stderr}"
    );
}

#[test]
fn d6_staff_add_refuses_unknown_roles_and_weak_passwords() {
    let dir = scratch("staff");
    let out = carrel(
        &dir,
        &["staff", "add", "--username", "x1", "--role", "janitor"],
        Some("a-long-enough-password\n"),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not one of the policy's roles"), "{stderr}");
    assert!(
        !stderr.contains("janitor"),
        "the value is not echoed: {stderr}"
    );
    let out = carrel(
        &dir,
        &["staff", "add", "--username", "x1", "--role", "clerk"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("at least 10 characters"));
}

fn book(number: usize, barcodes: &[&str]) -> carrel_marc::Record {
    use carrel_marc::{Field, Record};
    let data = |tag: &str, subfields: Vec<(char, String)>| Field::Data {
        tag: tag.into(),
        subfields,
    };
    let mut fields = vec![
        data("100", vec![('a', format!("Writer{number}, Ann,"))]),
        data("245", vec![('a', format!("Book number {number} /"))]),
        data("092", vec![('a', "823.9".into()), ('b', "WRI".into())]),
    ];
    for barcode in barcodes {
        fields.push(data(
            "952",
            vec![('p', barcode.to_string()), ('y', "BK".into())],
        ));
    }
    Record {
        leader: "00000nam a2200000 a 4500".into(),
        fields,
    }
}

fn items_in(dir: &Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join("carrel.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .unwrap()
}

/// Issue 16 item 4: `carrel import items` loads a MARC file, reports each
/// record it could not read or load by number and why, and loads the
/// rest; MARCXML too; a CSV with a column Carrel does not read is refused
/// whole, naming it, with nothing written.
#[test]
fn a_marc_catalogue_is_imported_and_each_bad_record_is_named() {
    use carrel_marc::iso2709::write;
    let dir = scratch("import");
    let out = carrel(
        &dir,
        &[
            "staff",
            "add",
            "--username",
            "admin",
            "--role",
            "administrator",
        ],
        Some("a-long-enough-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut file = Vec::new();
    file.extend(write(&book(1, &["31000000000001"])));
    file.extend(write(&book(2, &["31000000000002", "31000000000003"])));
    file.extend(write(&book(3, &["31000000000004"])));
    let mut broken = write(&book(4, &["31000000000005"]));
    broken[..5].copy_from_slice(b"00010");
    file.extend(broken);
    file.extend(write(&book(5, &[])));
    file.extend(write(&book(6, &["31000000000001"])));
    file.extend(write(&book(7, &["not a barcode!"])));
    std::fs::write(dir.join("catalogue.mrc"), &file).unwrap();

    let out = carrel(&dir, &["import", "items", "catalogue.mrc"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "some not loaded: {}",
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert!(
        said.contains("7 records read, 4 items loaded, 4 problems"),
        "{said}"
    );
    assert!(
        said.contains("record 4: the leader says the record is 10 bytes long"),
        "{said}"
    );
    assert!(
        said.contains("record 5: the record has no item with a barcode"),
        "{said}"
    );
    assert!(
        said.contains("record 6: the barcode is given twice in the file"),
        "{said}"
    );
    assert!(said.contains("record 7: "), "{said}");
    assert_eq!(items_in(&dir), 4);

    // Again: nothing new, each said to be there already.
    let out = carrel(&dir, &["import", "items", "catalogue.mrc"], None);
    assert_eq!(out.status.code(), Some(1), "nothing loaded");
    let said = text(&out.stdout);
    assert!(said.contains("0 items loaded"), "{said}");
    assert!(said.contains("already in the catalogue"), "{said}");
    assert_eq!(items_in(&dir), 4);

    // MARCXML.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<collection xmlns="http://www.loc.gov/MARC21/slim">
<record><leader>00000ngm a2200000 a 4500</leader>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">Planet earth.</subfield></datafield>
<datafield tag="852" ind1=" " ind2=" "><subfield code="h">DVD 508</subfield><subfield code="p">31000000000009</subfield></datafield>
</record></collection>"#;
    std::fs::write(dir.join("catalogue.xml"), xml).unwrap();
    let out = carrel(&dir, &["import", "items", "catalogue.xml"], None);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("1 items loaded"),
        "{}",
        text(&out.stdout)
    );
    let db = rusqlite::Connection::open(dir.join("carrel.db")).unwrap();
    let (call, kind): (String, String) = db
        .query_row(
            "SELECT call_number, material_type FROM items WHERE barcode = '31000000000009'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((call.as_str(), kind.as_str()), ("DVD 508", "video"));

    // A CSV with a column Carrel does not read: refused whole.
    std::fs::write(
        dir.join("items.csv"),
        "barcode,title,last_borrower\n31000000000010,Emma,Someone\n",
    )
    .unwrap();
    let out = carrel(&dir, &["import", "items", "items.csv"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("'last_borrower'"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("nothing was loaded"));
    assert_eq!(items_in(&dir), 5);
}

fn patrons_in(dir: &Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join("carrel.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM patrons", [], |r| r.get(0))
        .unwrap()
}

/// Issue 16 item 5, N4: patrons come from another system's CSV only in
/// the columns the policy declares; a column it does not (a borrowing
/// history, a religion) refuses the file, named, before anything is
/// written; a row the rules refuse refuses the file too, named.
#[test]
fn n4_a_patron_import_takes_only_declared_columns() {
    let dir = scratch("import-patrons");
    let out = carrel(
        &dir,
        &[
            "staff",
            "add",
            "--username",
            "admin",
            "--role",
            "administrator",
        ],
        Some("a-long-enough-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let map = "Barcode=card_barcode,Borrower=name,Street=address,Type=category,Expiry=expires_on";
    std::fs::write(
        dir.join("with-history.csv"),
        "Barcode,Borrower,Street,Type,Expiry,Last Checkouts\n29880000000001,Hester Pell,1 Elm St,adult,2028-01-01,\"Dune; Emma\"\n",
    )
    .unwrap();
    let out = carrel(
        &dir,
        &["import", "patrons", "with-history.csv", "--map", map],
        None,
    );
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("'Last Checkouts'"), "{said}");
    assert!(said.contains("Nothing was imported"), "{said}");
    assert!(
        !said.contains("Hester") && !said.contains("Dune"),
        "no values: {said}"
    );
    assert_eq!(patrons_in(&dir), 0);

    // A row the rules refuse: nothing is imported, the row is named.
    std::fs::write(
        dir.join("bad-row.csv"),
        "Barcode,Borrower,Street,Type,Expiry\n29880000000001,Hester Pell,1 Elm St,adult,2028-01-01\n29880000000002,Ivo Strand,2 Elm St,gold,2028-01-01\n",
    )
    .unwrap();
    let out = carrel(
        &dir,
        &["import", "patrons", "bad-row.csv", "--map", map],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("row 2:"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(patrons_in(&dir), 0);

    std::fs::write(
        dir.join("good.csv"),
        "Barcode,Borrower,Street,Type,Expiry,email\n29880000000001,Hester Pell,1 Elm St,adult,2028-01-01,hester@example.org\n29880000000002,Ivo Strand,2 Elm St,adult,2028-01-01,\n",
    )
    .unwrap();
    let out = carrel(&dir, &["import", "patrons", "good.csv", "--map", map], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 patrons registered"));
    assert_eq!(patrons_in(&dir), 2);
}

#[test]
fn d6_staff_deactivate_ends_the_account() {
    let dir = scratch("deactivate");
    let out = carrel(
        &dir,
        &["staff", "add", "--username", "leaver", "--role", "clerk"],
        Some("a-long-enough-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = carrel(&dir, &["staff", "deactivate", "--username", "leaver"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = rusqlite::Connection::open(dir.join("carrel.db")).unwrap();
    let active: i64 = conn
        .query_row(
            "SELECT active FROM staff WHERE username = 'leaver'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(active, 0);
    let out = carrel(&dir, &["staff", "deactivate", "--username", "leaver"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn demo_library_is_deterministic_and_realistic() {
    let dir = scratch("demo");
    let args = |db: &'static str| {
        [
            "demo",
            "--database",
            db,
            "--patrons",
            "300",
            "--items",
            "1500",
            "--seed",
            "7",
        ]
    };
    let first = carrel(&dir, &args("sqlite:a.db"), None);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = carrel(&dir, &args("sqlite:b.db"), None);
    assert_eq!(
        text(&first.stdout),
        text(&second.stdout),
        "same seed, same library"
    );
    let summary: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(summary["patrons"], 300);
    assert_eq!(summary["items"], 1500);
    assert!(summary["minors"].as_u64().unwrap() > 0);
    assert!(
        summary["loans"].as_u64().unwrap() > 1500,
        "a year of history"
    );
    assert!(
        summary["open_loans"].as_u64().unwrap() > 0
            && summary["fines"].as_u64().unwrap() > 0
            && summary["holds"].as_u64().unwrap() > 0
    );

    let conn = rusqlite::Connection::open(dir.join("a.db")).unwrap();
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM patrons p JOIN patrons g ON g.id = p.guardian_id WHERE p.category = 'juvenile' AND g.category = 'juvenile'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "every guardian is an adult");
    let unguarded: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM patrons WHERE category = 'juvenile' AND guardian_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unguarded, 0, "every minor has a guardian");
    let double: i64 = conn
        .query_row("SELECT COUNT(*) FROM (SELECT item_id FROM loans WHERE returned_at IS NULL GROUP BY item_id HAVING COUNT(*) > 1)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(double, 0, "no item is lent twice at once");
    // Demo generation is audited per class, with counts, not per person.
    let entries: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'system:demo'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Patrons, items, loans, fines, holds, and one per library service class.
    assert_eq!(entries, 10);
    // Refuses to generate into a database that holds patrons.
    let again = carrel(&dir, &args("sqlite:a.db"), None);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("empty database"));
}

#[test]
fn n2_each_policy_text_is_kept_as_a_version() {
    let dir = scratch("versions");
    // A new version of Missouri's policy: the same library, another text.
    let amended = std::fs::read_to_string(policy("jefferson-county-mo.toml")).unwrap()
        + "\n# Amended by the Board.\n";
    std::fs::write(dir.join("amended-mo.toml"), amended).unwrap();
    let add = |user: &str, policy_file: &Path| {
        let args = [
            "staff",
            "add",
            "--database",
            "sqlite:lib.db",
            "--policy",
            policy_file.to_str().unwrap(),
            "--username",
            user,
            "--role",
            "clerk",
        ];
        let out = carrel(&dir, &args, Some("a-long-enough-password\n"));
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    add("one", &policy("jefferson-county-mo.toml"));
    add("two", &dir.join("amended-mo.toml"));
    add("three", &policy("jefferson-county-mo.toml"));
    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM policy_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        versions, 2,
        "the same text is one version; a new text is a new one"
    );
}

/// D1: a database runs only under its own library's policy. Colorado's
/// database opened without `--policy` (whose default is Missouri's file)
/// would purge on Missouri's schedule: refused, naming both libraries and
/// what to do; a deliberate move needs the new library's name spelled out.
#[test]
fn d1_a_database_refuses_another_librarys_policy() {
    let dir = scratch("other-library");
    let add = |user: &str, policy_file: &str, switch: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_carrel"));
        command
            .args([
                "staff",
                "add",
                "--database",
                "sqlite:lib.db",
                "--username",
                user,
                "--role",
                "clerk",
            ])
            .current_dir(&dir)
            .env_remove("CARREL_DATABASE_URL")
            .env_remove("CARREL_SWITCH_LIBRARY_TO")
            .env("CARREL_POLICY", policy(policy_file))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(name) = switch {
            command.env("CARREL_SWITCH_LIBRARY_TO", name);
        }
        let mut child = command.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a-long-enough-password\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add("colorado", "jefferson-county-co.toml", None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = add("missouri", "jefferson-county-mo.toml", None);
    assert!(!out.status.success(), "ran under another library's policy");
    let why = text(&out.stderr);
    assert!(
        why.contains("Jefferson County Public Library")
            && why.contains("Jefferson County Library")
            && why.contains("--policy")
            && why.contains("CARREL_SWITCH_LIBRARY_TO"),
        "{why}"
    );
    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    let staff: i64 = conn
        .query_row("SELECT COUNT(*) FROM staff", [], |r| r.get(0))
        .unwrap();
    assert_eq!(staff, 1, "nothing was written");
    // A switch variable left set for some other library does not count.
    let out = add(
        "missouri",
        "jefferson-county-mo.toml",
        Some("Somewhere Else"),
    );
    assert!(!out.status.success());
    let out = add(
        "missouri",
        "jefferson-county-mo.toml",
        Some("Jefferson County Library"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = add("again", "jefferson-county-mo.toml", None);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// D1: `carrel purge --dry-run` counts per class and reason and changes
/// nothing; a purge killed with SIGKILL part-way leaves a consistent
/// database, and the next run resumes it: every destroyed record counted
/// once in the statistics, one audit entry per class, the chain intact.
#[test]
fn d1_purge_dry_run_changes_nothing_and_a_killed_purge_resumes() {
    let dir = scratch("purge");
    let db = ["--database", "sqlite:p.db"];
    let demo = carrel(
        &dir,
        &["demo", db[0], db[1], "--patrons", "300", "--items", "2000"],
        None,
    );
    assert!(demo.status.success(), "{}", text(&demo.stderr));
    let loans_before = || {
        let conn = rusqlite::Connection::open(dir.join("p.db")).unwrap();
        conn.query_row("SELECT COUNT(*) FROM loans", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let held = loans_before();

    let dry = carrel(&dir, &["purge", "--dry-run", db[0], db[1]], None);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let out = text(&dry.stdout);
    assert!(
        out.contains("loans") && out.contains("kept:") && out.contains("unpaid fine"),
        "{out}"
    );
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(loans_before(), held, "a dry run changes nothing");

    // One record per transaction, so the kill lands mid-run.
    let mut child = Command::new(env!("CARGO_BIN_EXE_carrel"))
        .args(["purge", "--batch-size", "1", db[0], db[1]])
        .current_dir(&dir)
        .env("CARREL_POLICY", policy("jefferson-county-mo.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while loans_before() == held && started.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the purge was killed before it finished");
    let partly = loans_before();
    assert!(partly < held, "some loans were destroyed before the kill");

    let resumed = carrel(&dir, &["purge", db[0], db[1]], None);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(
        text(&resumed.stdout).contains("resumed an interrupted run"),
        "{}",
        text(&resumed.stdout)
    );
    let again = carrel(&dir, &["purge", "--dry-run", db[0], db[1]], None);
    assert!(
        text(&again.stdout).contains("0 records would be destroyed"),
        "{}",
        text(&again.stdout)
    );

    let conn = rusqlite::Connection::open(dir.join("p.db")).unwrap();
    let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let destroyed = held - loans_before();
    assert_eq!(
        one("SELECT destroyed FROM purge_progress WHERE run_id = 1 AND target = 'loan'"),
        destroyed
    );
    assert_eq!(
        one("SELECT SUM(records) FROM statistics WHERE record_class = 'circulation' AND dimensions LIKE 'item=%'"),
        destroyed,
        "every destroyed loan counted once in the statistics"
    );
    assert_eq!(
        one("SELECT COUNT(*) FROM audit_log WHERE actor = 'system:retention' AND record_class = 'circulation'"),
        1,
        "one audit entry per class for the run, however many batches and restarts"
    );
    let verify = carrel(&dir, &["audit", "verify", db[0], db[1]], None);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}

/// L6 needs each staff member's supervisor: `staff add --supervisor`
/// records it in the same transaction as the account, so an unknown
/// supervisor leaves no account behind.
#[test]
fn l6_staff_add_records_the_supervisor_or_nothing() {
    let dir = scratch("supervisor");
    let add = |user: &str, role: &str, supervisor: Option<&str>| {
        let mut args = vec![
            "staff",
            "add",
            "--database",
            "sqlite:lib.db",
            "--username",
            user,
            "--role",
            role,
        ];
        if let Some(s) = supervisor {
            args.extend(["--supervisor", s]);
        }
        carrel(&dir, &args, Some("a-long-enough-password\n"))
    };
    assert!(add("maria", "supervisor", None).status.success());
    let out = add("joe", "clerk", Some("maria"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = add("ann", "clerk", Some("nobody"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("active staff account with that username not found"),
        "{}",
        text(&out.stderr)
    );
    // "ann" was not added: adding her again (with a real supervisor) works.
    let out = add("ann", "clerk", Some("maria"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conn = rusqlite::Connection::open(dir.join("lib.db")).unwrap();
    let supervised: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM staff s JOIN staff m ON m.id = s.supervisor_id WHERE m.username = 'maria'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(supervised, 2);
}

/// D7: a mistyped or shortened anchor is a usage error that says how an
/// anchor is written, not a report that the log was rewritten or cut
/// (`--anchor 17:deadbeef` said "audit log BROKEN").
#[test]
fn d7_a_malformed_anchor_is_a_mistake_not_tampering() {
    let dir = scratch("verify-bad-anchor");
    let out = carrel(
        &dir,
        &[
            "staff",
            "add",
            "--database",
            "sqlite:lib.db",
            "--username",
            "desk1",
            "--role",
            "clerk",
        ],
        Some("a-long-enough-password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for anchor in ["1:deadbeef", "4211:9f2c...", "1:"] {
        let out = carrel(
            &dir,
            &[
                "audit",
                "verify",
                "--database",
                "sqlite:lib.db",
                "--anchor",
                anchor,
            ],
            None,
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{anchor}: {stdout}");
        assert!(!stdout.contains("BROKEN"), "{anchor}: {stdout}");
        assert!(stderr.contains("64 hexadecimal"), "{anchor}: {stderr}");
    }
}

/// N1: `carrel policy notice` prints the notice a policy file makes, as
/// Markdown or as a page, without a server or a database.
#[test]
fn n1_policy_notice_prints_the_notice_of_a_file() {
    let dir = scratch("notice");
    for name in ["jefferson-county-mo.toml", "jefferson-county-co.toml"] {
        let file = policy(name);
        let source = std::fs::read_to_string(&file).unwrap();
        let parsed = carrel_policy::parse(name, &source).unwrap();
        let out = carrel(&dir, &["policy", "notice", file.to_str().unwrap()], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let markdown = text(&out.stdout);
        assert!(markdown.starts_with(&format!(
            "# How {} handles your information",
            parsed.library.name
        )));
        for class in parsed.classes.values() {
            assert!(
                markdown.contains(&class.description),
                "{name}: {}",
                class.description
            );
        }
        let out = carrel(
            &dir,
            &[
                "policy",
                "notice",
                file.to_str().unwrap(),
                "--format",
                "html",
            ],
            None,
        );
        assert!(out.status.success());
        let html = text(&out.stdout);
        assert!(html.starts_with("<!doctype html>") && html.contains("name=\"viewport\""));
    }
    assert!(files_in(&dir).is_empty(), "no database was made");
}

/// N2: `carrel policy publish` records a changed policy as a new version
/// and says what it changes, without a server.
#[test]
fn n2_policy_publish_records_a_version_and_its_changes() {
    let dir = scratch("publish");
    let first = carrel(
        &dir,
        &["policy", "publish", "--database", "sqlite:lib.db"],
        None,
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("version 1 of the privacy notice"),
        "{}",
        text(&first.stdout)
    );
    let changed = std::fs::read_to_string(policy("jefferson-county-mo.toml"))
        .unwrap()
        .replace(
            "retention = { clock = \"program_ended\", keep = \"0 days\", dispose = \"delete\" }",
            "retention = { clock = \"program_ended\", keep = \"7 days\", dispose = \"delete\" }",
        );
    let file = dir.join("changed.toml");
    std::fs::write(&file, changed).unwrap();
    let second = carrel(
        &dir,
        &[
            "policy",
            "publish",
            "--database",
            "sqlite:lib.db",
            "--policy",
            file.to_str().unwrap(),
        ],
        None,
    );
    let said = text(&second.stdout);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(said.contains("version 2 of the privacy notice"), "{said}");
    assert!(said.contains("7 days after the program ends"), "{said}");
}

/// Issue 15 item 9: every command takes --demo and then works on the
/// database `serve --demo` made, not on carrel.db.
#[test]
fn demo_commands_find_the_demo_database() {
    let dir = scratch("demo-db");
    let made = carrel(
        &dir,
        &["demo", "--demo", "--patrons", "50", "--items", "200"],
        None,
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    assert!(dir.join("carrel-demo.db").exists());
    let verified = carrel(&dir, &["audit", "verify", "--demo"], None);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains("audit log intact"));
    let dry = carrel(&dir, &["purge", "--demo", "--dry-run"], None);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        !dir.join("carrel.db").exists(),
        "nothing looked for carrel.db"
    );
}
