//! A deterministic, realistic demo library: about 2,000 patrons (minors
//! linked to guardians), 20,000 items, and a year of loan history ending
//! today, with holds and some fines. The same seed and the same day give the
//! same library.
//!
//! All of it is fictional. It is written in one transaction, under system
//! grants, with one audit entry per record class (with counts), not one per
//! person.

use carrel_policy::loans::{due_at, overdue_fine_cents};
use carrel_policy::RecordClass;
use chrono::Duration;
use serde::Serialize;

use crate::db::params;
use crate::db::Only;
use crate::error::Error;
use carrel_policy::purpose;

use crate::gate::{
    authorize_system, Catalogue, Circulation, Create, ElectronicAccess, Fines, HomeDelivery,
    InterlibraryLoan, MailingList, ProgramRegistration, Registration,
};
use crate::items::ItemStatus;
use crate::principal::SystemTask;
use crate::secrets::hash_secret;
use crate::Store;

/// How big a demo library to generate.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    /// How many patrons; about 15% of them are minors when the policy has a
    /// minor's category.
    pub patrons: usize,
    /// How many items in the collection.
    pub items: usize,
}

impl Default for DemoSize {
    fn default() -> Self {
        DemoSize {
            patrons: 2_000,
            items: 20_000,
        }
    }
}

/// What [`generate`] wrote: how many records of each kind.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DemoSummary {
    /// Patron registrations written, minors included.
    pub patrons: usize,
    /// Of those, minors' cards, linked to an adult patron as guardian.
    pub minors: usize,
    /// Items in the collection.
    pub items: usize,
    /// Loans over the past year, returned or not.
    pub loans: usize,
    /// Of those, loans still out today.
    pub open_loans: usize,
    /// Holds placed.
    pub holds: usize,
    /// Overdue fines assessed, paid or not.
    pub fines: usize,
    /// The records of the other library services (interlibrary loans,
    /// deliveries, programs, computer sessions, mailing lists).
    pub services: ServicesSummary,
    /// A few card barcodes with PIN "1234", for trying patron sign-in later.
    pub sample_cards: Vec<String>,
}

/// splitmix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Carmen", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonah", "Keiko",
    "Luis", "Maya", "Noor", "Owen", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor",
    "Wen", "Yara", "Zeke",
];
const LAST: &[&str] = &[
    "Abbott",
    "Bauer",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fofana",
    "Garcia",
    "Holm",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Santos",
    "Takahashi",
    "Urquhart",
    "Varga",
    "Whitfield",
    "Xu",
    "Young",
    "Zielinski",
];
const STREETS: &[&str] = &[
    "Oak St",
    "Maple Ave",
    "Mill Rd",
    "Church St",
    "River Rd",
    "Highland Dr",
    "Lake View Ln",
    "Prairie Way",
    "Cedar Ct",
    "Main St",
    "Elm St",
    "Quarry Rd",
];
const TOWNS: &[&str] = &[
    "Hillsboro",
    "Arnold",
    "Festus",
    "De Soto",
    "Lakewood",
    "Golden",
    "Evergreen",
    "Arvada",
];
const ADJECTIVES: &[&str] = &[
    "Silent", "Hidden", "Last", "Quiet", "Burning", "Northern", "Secret", "Lost", "Bright",
    "Winter", "Patient", "Second", "Open", "Careful", "Little",
];
const NOUNS: &[&str] = &[
    "River",
    "Garden",
    "Library",
    "Harbor",
    "Orchard",
    "Lighthouse",
    "Map",
    "Kingdom",
    "Letter",
    "Archive",
    "Bridge",
    "Field",
    "Compass",
    "Island",
    "Atlas",
];
const SUBJECTS: &[(&str, &str)] = &[
    ("FIC", "Fiction"),
    ("J FIC", "Juvenile fiction"),
    ("641.5", "Cooking"),
    ("973", "US history"),
    ("523", "Astronomy"),
    ("616", "Health"),
    ("332", "Personal finance"),
    ("796", "Sports"),
];

/// Generates the demo library into an empty store.
pub fn generate(store: &Store, seed: u64, size: DemoSize) -> Result<DemoSummary, Error> {
    let policy = store.policy();
    let adult = policy
        .loans
        .categories
        .iter()
        .find(|(_, c)| !c.minor)
        .map(|(n, _)| n.clone())
        .ok_or_else(|| Error::config("the policy has no adult category; the demo needs one"))?;
    let minor = policy
        .loans
        .categories
        .iter()
        .find(|(_, c)| c.minor)
        .map(|(n, _)| n.clone());
    let declares = |field: &str| policy.field(RecordClass::Registration, field).is_some();
    let (has_email, has_phone, has_birth, has_address) = (
        declares("email"),
        declares("phone"),
        declares("birth_date"),
        declares("address"),
    );
    // Hash the demo PIN once: hashing 2,000 PINs with Argon2id would take
    // minutes, and only a few demo patrons need online access.
    let pin_hash = hash_secret("1234")?;

    store.transact(|tx| {
        let existing = tx.conn.query_one("SELECT COUNT(*) FROM patrons", params![])?.int(Only)?;
        if existing > 0 {
            return Err(Error::refused(
                "not_empty",
                "the database already holds patrons; the demo library is only generated into an empty database",
            ));
        }
        let registration = authorize_system::<Create, Registration>(tx, SystemTask::Demo, "account")?;
        let catalogue = authorize_system::<Create, Catalogue>(tx, SystemTask::Demo, "collection")?;
        let circulation = authorize_system::<Create, Circulation>(tx, SystemTask::Demo, "circulation")?;
        let fines_grant = authorize_system::<Create, Fines>(tx, SystemTask::Demo, "fines_and_fees")?;
        let mut rng = Rng(seed);
        let now = tx.now();
        let today = tx.today();
        let zone = tx.policy().library.time_zone;

        // Patrons: adults first, so minors can name one as guardian.
        let minors_wanted = if minor.is_some() { size.patrons * 15 / 100 } else { 0 };
        let mut patron_ids = Vec::with_capacity(size.patrons);
        let mut adult_ids = Vec::new();
        let mut categories = Vec::with_capacity(size.patrons);
        let mut sample_cards = Vec::new();
        for n in 0..size.patrons {
            let is_minor = n >= size.patrons - minors_wanted;
            let category = if is_minor { minor.clone().unwrap_or_else(|| adult.clone()) } else { adult.clone() };
            let barcode = format!("21234{:09}", n + 1);
            let age_years = if is_minor { 4 + rng.below(13) } else { 18 + rng.below(70) };
            let birth = today
                .checked_sub_signed(Duration::days((age_years * 365 + rng.below(365)) as i64))
                .unwrap_or(today);
            let expires = today + Duration::days(rng.below(3 * 365) as i64 - 60);
            let guardian = if is_minor && !adult_ids.is_empty() {
                Some(adult_ids[rng.below(adult_ids.len() as u64) as usize])
            } else {
                None
            };
            let pin: Option<&str> = (n < 10).then_some(pin_hash.as_str());
            if pin.is_some() {
                sample_cards.push(barcode.clone());
            }
            let mut status = if rng.chance(2) { "blocked" } else { "active" };
            let mut expires = expires;
            if pin.is_some() {
                // The sample cards printed for trying patron sign-in work.
                status = "active";
                expires = expires.max(today + Duration::days(365));
            }
            let created = (now - Duration::days(400 + rng.below(3000) as i64)).timestamp();
            let id = tx.conn.insert(
                "INSERT INTO patrons (card_barcode, pin_hash, category, status, expires_on, birth_date, guardian_id, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![&barcode, pin, &category, status, &expires.to_string(),
                    &has_birth.then(|| birth.to_string()), guardian, created, created],
            )?;
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let mut fields: Vec<(&str, String)> = vec![("name", format!("{first} {last}"))];
            if has_address {
                fields.push(("address", format!("{} {}, {}", 100 + rng.below(9900), rng.pick(STREETS), rng.pick(TOWNS))));
            }
            if has_email && !is_minor && rng.chance(60) {
                fields.push(("email", format!("{}.{}{}@example.org", first.to_lowercase(), last.to_lowercase(), n)));
            }
            if has_phone && rng.chance(70) {
                fields.push(("phone", format!("555-01{:02}-{:04}", rng.below(100), rng.below(10000))));
            }
            for (name, value) in fields {
                if tx.policy().field(RecordClass::Registration, name).is_some() {
                    tx.conn.execute(
                        "INSERT INTO patron_fields (patron_id, name, value) VALUES (?, ?, ?)",
                        params![id, name, &value],
                    )?;
                    // An address given is given with the patron's consent (C1).
                    if name == "email" {
                        crate::consents::set_email_consent(tx, id, true)?;
                    }
                }
            }
            if !is_minor {
                adult_ids.push(id);
            }
            patron_ids.push(id);
            categories.push(category);
        }
        registration.record(tx, None, Some(format!("demo: {} patrons", size.patrons)));

        let mut item_ids = Vec::with_capacity(size.items);
        for n in 0..size.items {
            let (call, _) = SUBJECTS[rng.below(SUBJECTS.len() as u64) as usize];
            let title = format!("The {} {}", rng.pick(ADJECTIVES), rng.pick(NOUNS));
            let author = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
            let id = tx.conn.insert(
                "INSERT INTO items (barcode, title, author, call_number, status, created_at) VALUES (?, ?, ?, ?, 'available', ?)",
                params![&format!("31234{:09}", n + 1), &title, &author,
                    &format!("{call} {}", &author[author.len() - 3..].to_uppercase()), now.timestamp()],
            )?;
            item_ids.push(id);
        }
        catalogue.record(tx, None, Some(format!("demo: {} items", size.items)));

        // A year of loans: each circulating item is lent in turn, never to two
        // patrons at once; the last loan may still be out today.
        let (mut loans, mut open_loans, mut fine_count) = (0, 0, 0);
        let year_ago = now - Duration::days(365);
        for &item_id in &item_ids {
            if !rng.chance(35) {
                continue;
            }
            let mut at = year_ago + Duration::hours(rng.below(60 * 24) as i64);
            while at < now {
                let who = rng.below(patron_ids.len() as u64) as usize;
                let patron_id = patron_ids[who];
                let rules = tx.policy().category(&categories[who]).cloned().ok_or_else(|| Error::internal("demo category"))?;
                let due = due_at(at, rules.loan_days, zone);
                // Most come back within the loan period; about one in ten late.
                let kept_days = if rng.chance(10) {
                    u64::from(rules.loan_days) + 1 + rng.below(20)
                } else {
                    2 + rng.below(u64::from(rules.loan_days).saturating_sub(2).max(1))
                };
                let kept = Duration::hours(kept_days as i64 * 24 + rng.below(10) as i64);
                let returned = at + kept;
                let still_out = returned > now;
                let lent_on = at.with_timezone(&zone).date_naive().to_string();
                let loan_id = tx.conn.insert(
                    "INSERT INTO loans (patron_id, item_id, checked_out_at, due_at, renewals, returned_at, borrower_category, borrower_age_band)
                     SELECT p.id, ?, ?, ?, 0, ?, p.category, carrel_age_band(p.birth_date, ?) FROM patrons p WHERE p.id = ?",
                    params![item_id, at.timestamp(), due.timestamp(), (!still_out).then(|| returned.timestamp()), &lent_on, patron_id],
                )?;
                loans += 1;
                if still_out {
                    open_loans += 1;
                    tx.conn.execute("UPDATE items SET status = ? WHERE id = ?", params![ItemStatus::OnLoan.name(), item_id])?;
                    break;
                }
                let amount = overdue_fine_cents(due, returned, &rules, zone);
                if amount > 0 {
                    let paid = if rng.chance(70) { amount } else { 0 };
                    tx.conn.insert(
                        "INSERT INTO fines (patron_id, loan_id, amount_cents, reason, assessed_at, paid_cents, waived_cents, settled_at)
                         VALUES (?, ?, ?, 'overdue', ?, ?, 0, ?)",
                        params![patron_id, loan_id, amount, returned.timestamp(), paid,
                            (paid == amount).then(|| (returned + Duration::days(rng.below(20) as i64)).timestamp())],
                    )?;
                    fine_count += 1;
                }
                at = returned + Duration::hours(rng.below(45 * 24) as i64 + 1);
            }
        }
        circulation.record(tx, None, Some(format!("demo: {loans} loans")));
        fines_grant.record(tx, None, Some(format!("demo: {fine_count} fines")));

        // Holds: queues on some items that are out today.
        let mut holds = 0;
        let out = tx.conn.query("SELECT id FROM items WHERE status = ? ORDER BY id", params![ItemStatus::OnLoan.name()])?;
        for row in out.iter().step_by(7) {
            let item_id = row.int(Only)?;
            for _ in 0..1 + rng.below(3) {
                let patron_id = patron_ids[rng.below(patron_ids.len() as u64) as usize];
                let placed = now - Duration::days(rng.below(20) as i64);
                tx.conn.insert(
                    "INSERT INTO holds (patron_id, item_id, placed_at, status) VALUES (?, ?, ?, 'waiting')",
                    params![patron_id, item_id, placed.timestamp()],
                )?;
                holds += 1;
            }
        }
        circulation.record(tx, None, Some(format!("demo: {holds} holds")));
        let services = library_services(tx, &mut rng, &patron_ids, &item_ids)?;
        Ok(DemoSummary {
            patrons: size.patrons,
            minors: minors_wanted,
            items: size.items,
            loans,
            open_loans,
            holds,
            fines: fine_count,
            services,
            sample_cards,
        })
    })
}

/// How many records of the library-service classes the demo holds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ServicesSummary {
    /// Interlibrary loan requests.
    pub ill_requests: usize,
    /// Home-delivery visits.
    pub deliveries: usize,
    /// Library programs.
    pub programs: usize,
    /// Registrations for those programs.
    pub program_registrations: usize,
    /// Public computer sessions.
    pub computer_sessions: usize,
    /// Mailing lists.
    pub mailing_lists: usize,
    /// Subscriptions to those lists.
    pub subscriptions: usize,
}

const LENDERS: &[&str] = &[
    "St. Louis County Library",
    "Denver Public Library",
    "University of Missouri Libraries",
    "Arapahoe Libraries",
];
const PROGRAMS: &[&str] = &[
    "Toddler story time",
    "Tax help clinic",
    "Teen coding club",
    "Genealogy basics",
    "Author talk",
    "Seed library swap",
];
const ROUTES: &[&str] = &["North route", "South route", "River route"];

/// Interlibrary loans, home deliveries, programs, computer sessions and
/// mailing lists over the last months: some open, some finished, some
/// already past their retention time (so a first purge has work to do).
fn library_services(
    tx: &mut crate::Tx<'_>,
    rng: &mut Rng,
    patron_ids: &[i64],
    item_ids: &[i64],
) -> Result<ServicesSummary, Error> {
    let now = tx.now();
    let mut summary = ServicesSummary::default();
    let patron = |rng: &mut Rng| patron_ids[rng.below(patron_ids.len() as u64) as usize];
    let ill = authorize_system::<Create, InterlibraryLoan>(
        tx,
        SystemTask::Demo,
        purpose::LIBRARY_SERVICES,
    )?;
    for _ in 0..patron_ids.len() / 20 {
        let requested = now - Duration::days(rng.below(200) as i64);
        let fees: i64 = if rng.chance(30) { 300 } else { 0 };
        let (status, paid) = match rng.below(4) {
            0 => ("requested", 0),
            1 => ("on_loan", 0),
            2 => ("returned", if rng.chance(80) { fees } else { 0 }),
            _ => ("cancelled", fees),
        };
        let closed = (matches!(status, "returned" | "cancelled") && paid == fees).then(|| {
            (requested + Duration::days(20 + rng.below(20) as i64))
                .min(now)
                .timestamp()
        });
        tx.conn.insert(
            "INSERT INTO ill_requests (patron_id, lender, title, status, fees_cents, fees_paid_cents, requested_at, closed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params![patron(rng), rng.pick(LENDERS), &format!("The {} {}", rng.pick(ADJECTIVES), rng.pick(NOUNS)),
                status, fees, paid, requested.timestamp(), closed],
        )?;
        summary.ill_requests += 1;
    }
    ill.record(
        tx,
        None,
        Some(format!("demo: {} requests", summary.ill_requests)),
    );

    let delivery =
        authorize_system::<Create, HomeDelivery>(tx, SystemTask::Demo, purpose::LIBRARY_SERVICES)?;
    let homebound: Vec<i64> = (0..(patron_ids.len() / 100).max(1))
        .map(|_| patron(rng))
        .collect();
    for week in 0..20i64 {
        for &who in &homebound {
            let visit = now - Duration::days(week * 7 + rng.below(5) as i64);
            let id = tx.conn.insert(
                "INSERT INTO deliveries (patron_id, route, scheduled_on, created_at, completed_at) VALUES (?, ?, ?, ?, ?)",
                params![who, rng.pick(ROUTES), &visit.date_naive().to_string(), (visit - Duration::days(3)).timestamp(),
                    (week > 0).then(|| visit.timestamp())],
            )?;
            for _ in 0..1 + rng.below(4) {
                tx.conn.execute(
                    "INSERT INTO delivery_items (delivery_id, item_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    params![id, item_ids[rng.below(item_ids.len() as u64) as usize]],
                )?;
            }
            summary.deliveries += 1;
        }
    }
    delivery.record(
        tx,
        None,
        Some(format!("demo: {} deliveries", summary.deliveries)),
    );

    let programs = authorize_system::<Create, ProgramRegistration>(
        tx,
        SystemTask::Demo,
        purpose::LIBRARY_SERVICES,
    )?;
    for n in 0..24i64 {
        // Two programs a week, from six weeks ago to six weeks ahead.
        let starts = now + Duration::days(n * 3 - 42) + Duration::hours(rng.below(8) as i64);
        let program = tx.conn.insert(
            "INSERT INTO programs (title, starts_at, ends_at, capacity, created_at) VALUES (?, ?, ?, ?, ?)",
            params![rng.pick(PROGRAMS), starts.timestamp(), (starts + Duration::hours(2)).timestamp(), 30i64, (starts - Duration::days(30)).timestamp()],
        )?;
        summary.programs += 1;
        for _ in 0..5 + rng.below(20) {
            tx.conn.execute(
                "INSERT INTO program_registrations (program_id, patron_id, registered_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                params![program, patron(rng), (starts - Duration::days(1 + rng.below(20) as i64)).timestamp()],
            )?;
            summary.program_registrations += 1;
        }
    }
    programs.record(
        tx,
        None,
        Some(format!(
            "demo: {} registrations",
            summary.program_registrations
        )),
    );

    let sessions = authorize_system::<Create, ElectronicAccess>(
        tx,
        SystemTask::Demo,
        purpose::ELECTRONIC_ACCESS,
    )?;
    for _ in 0..patron_ids.len() / 2 {
        let start = now - Duration::minutes(rng.below(120 * 24 * 60) as i64 + 90);
        tx.conn.insert(
            "INSERT INTO computer_sessions (patron_id, terminal, started_at, ended_at) VALUES (?, ?, ?, ?)",
            params![patron(rng), &format!("PC-{:02}", 1 + rng.below(12)), start.timestamp(),
                (start + Duration::minutes(15 + rng.below(75) as i64)).timestamp()],
        )?;
        summary.computer_sessions += 1;
    }
    sessions.record(
        tx,
        None,
        Some(format!("demo: {} sessions", summary.computer_sessions)),
    );

    let lists =
        authorize_system::<Create, MailingList>(tx, SystemTask::Demo, purpose::MAILING_LIST)?;
    // Each sign-up is the patron's consent, under the policy in force (C1).
    let (version, covers) =
        crate::consents::stamp(tx, carrel_policy::notice::ConsentKind::MailingList);
    for (name, description, idle_days) in [
        (
            "Program news",
            "Story times, classes and talks coming up at your branch, once a month",
            10i64,
        ),
        (
            "Book club",
            "The month's title and meeting dates of the library's book club",
            40,
        ),
        (
            "Summer reading 2025",
            "Last summer's reading challenge: news and prizes",
            400,
        ),
    ] {
        let list = tx.conn.insert(
            "INSERT INTO mailing_lists (name, description, created_at, last_active_at) VALUES (?, ?, ?, ?)",
            params![name, description, (now - Duration::days(idle_days + 300)).timestamp(), (now - Duration::days(idle_days)).timestamp()],
        )?;
        summary.mailing_lists += 1;
        for _ in 0..patron_ids.len() / 25 {
            let subscribed = (now - Duration::days(idle_days + rng.below(300) as i64)).timestamp();
            summary.subscriptions += tx.conn.execute(
                "INSERT INTO list_subscriptions (list_id, patron_id, subscribed_at, consent_at, consent_policy_version, consent_covers) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                params![list, patron(rng), subscribed, subscribed, version, &covers],
            )? as usize;
        }
    }
    lists.record(
        tx,
        None,
        Some(format!("demo: {} subscriptions", summary.subscriptions)),
    );
    Ok(summary)
}

/// The demo staff accounts: one per role, password `demo-<role>-pass`;
/// the clerk's supervisor is the supervisor.
pub fn demo_staff(store: &Store) -> Result<Vec<(String, String, String)>, Error> {
    let mut accounts = Vec::new();
    for role in store.policy().roles.keys() {
        let username = role.replace('_', "-");
        let password = format!("demo-{username}-pass");
        crate::staff::add(store, &username, &password, role)?;
        accounts.push((username, password, role.clone()));
    }
    // The clerk works under the supervisor, who so sees a restricted case
    // the clerk takes (L6), as the README's walk-through says.
    let roles = store.policy().roles.clone();
    if roles.contains_key("clerk") && roles.contains_key("supervisor") {
        crate::staff::set_supervisor(store, "clerk", Some("supervisor"))?;
    }
    Ok(accounts)
}

/// A law-enforcement request in the demo queue, recorded by the demo clerk
/// with a subpoena and referred to the Director, who has an alert for it:
/// what a library sees the first time an officer comes to the desk. Run
/// after [`demo_staff`]; returns its reference.
pub fn demo_disclosure(store: &Store) -> Result<String, Error> {
    use crate::disclosures::{self, NewDocument, NewRequest};
    use carrel_policy::disclosure::{DocumentKind, RequesterKind};
    let basis = store
        .policy()
        .disclosure
        .bases
        .iter()
        .find(|(_, b)| {
            b.admits(RequesterKind::LawEnforcement)
                && !b.wants(DocumentKind::NationalSecurityLetter)
        })
        .map(|(name, _)| name.clone())
        .ok_or_else(|| {
            Error::config("the policy has no law-enforcement basis; the demo needs one")
        })?;
    store.transact(|tx| {
        let clerk = tx
            .conn
            .query_one(
                "SELECT id FROM staff WHERE role = 'clerk' AND active = 1 ORDER BY id LIMIT 1",
                params![],
            )?
            .int(Only)?;
        let patron = tx
            .conn
            .query_one("SELECT MIN(id) FROM patrons", params![])?
            .int(Only)?;
        let today = tx.today();
        let request = NewRequest {
            requester_kind: "law_enforcement".into(),
            requester: Some("Demo: a county sheriff's detective".into()),
            subject_patron_id: patron,
            basis,
            classes: vec!["circulation".into(), "electronic_access".into()],
            from_date: (today - Duration::days(90)).to_string(),
            to_date: today.to_string(),
            documents: vec![NewDocument {
                kind: "subpoena".into(),
                reference: Some("DEMO-2026-001".into()),
                ..NewDocument::default()
            }],
            ..NewRequest::default()
        };
        let actor = crate::gate::Actor::staff(clerk, "clerk".into());
        Ok(disclosures::record(tx, &actor, request)?.reference)
    })
}

#[cfg(test)]
mod tests {
    use crate::db::{on_both_databases, params, Only};
    use crate::{AuditKey, Store};

    const MISSOURI: &str = include_str!("../../../policies/jefferson-county-mo.toml");

    /// L6, as the README walks through it: in the demo library the clerk
    /// works under the supervisor, so a restricted case the clerk takes is
    /// the supervisor's to see.
    #[test]
    fn l6_the_demo_clerks_supervisor_is_the_supervisor_on_both_engines() {
        on_both_databases("demo_staff", |url| {
            let policy = carrel_policy::parse("mo", MISSOURI).unwrap();
            let store = Store::open(url, policy, MISSOURI, AuditKey::generate().unwrap()).unwrap();
            super::demo_staff(&store).unwrap();
            let supervised_by = store
                .transact(|tx| {
                    tx.conn
                        .query_one(
                            "SELECT s.username FROM staff c JOIN staff s ON s.id = c.supervisor_id WHERE c.username = 'clerk'",
                            params![],
                        )?
                        .text(Only)
                })
                .unwrap();
            assert_eq!(supervised_by, "supervisor");
        });
    }
}
