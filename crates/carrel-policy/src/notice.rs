//! The public privacy notice (N1), made from the policy alone: what is
//! collected and why, how long it is kept and how it is destroyed, who on
//! staff may see it, when it may be disclosed and under which law, the
//! patron's choices and rights, and how to complain. The engine enforces
//! the same [`Policy`], so what the notice says and what Carrel does
//! cannot drift apart: change the file, and both change.
//!
//! [`Notice::of`] builds the notice as data, in plain words; the server
//! renders it as a page (`/privacy`) and [`Notice::to_markdown`] as text
//! for `carrel policy notice`. [`changes`] lists what one version changed
//! from another (N2).

use std::fmt::Write;

use crate::disclosure::{describe_group, Basis, RequesterKind};
use crate::model::{Action, Disposal, Period, Policy, RecordClass, RetentionClock};

/// One field of a record class, as the notice tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNotice {
    /// The field's name in plain words ("birth date").
    pub label: String,
    /// The field's name in the policy file (`birth_date`).
    pub name: String,
    /// Why the library holds it: the purpose's explanation.
    pub why: String,
    /// For what a patron gives at registration: whether it must be given
    /// (`Some(true)`) or is the patron's choice (`Some(false)`); `None`
    /// for what the library records or assigns itself.
    pub must_give: Option<bool>,
    /// Whether it is personal data about a patron.
    pub personal: bool,
}

/// Who on staff may do what with a class of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessNotice {
    /// The role as the library describes it ("Circulation desk staff").
    pub role: String,
    /// What the role may do, in words ("see, add, change").
    pub may: String,
}

/// One class of records, as the notice tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassNotice {
    /// The class's name in the policy file (`circulation`).
    pub name: &'static str,
    /// What the class holds, in the library's words.
    pub description: String,
    /// Why the library uses the class at all.
    pub purposes: Vec<String>,
    /// Every field the library may hold, each with its reason.
    pub fields: Vec<FieldNotice>,
    /// How long records are kept and how they are destroyed, in a
    /// sentence; `None` for a class with no personal data, which is kept.
    pub retention: Option<String>,
    /// Who on staff may see or handle the records.
    pub access: Vec<AccessNotice>,
}

/// One lawful ground for disclosing records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasisNotice {
    /// What the basis allows, in the library's words.
    pub description: String,
    /// The law or policy it rests on.
    pub citation: String,
    /// Who may ask under it.
    pub who_may_ask: String,
    /// What they must present, in words.
    pub requires: Vec<String>,
    /// Who on staff decides.
    pub decided_by: String,
    /// Where it may be asked: at the library, online or both; and any
    /// further condition (counsel's review, an exigent threat).
    pub conditions: Vec<String>,
}

/// The whole notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The library's name.
    pub library: String,
    /// The law on library records that the policy carries out.
    pub statute: String,
    /// The library's own name for this version of its policy.
    pub policy_version: String,
    /// Every class of records, in the order of the policy's classes.
    pub classes: Vec<ClassNotice>,
    /// When records are kept past their time, in sentences.
    pub kept_longer: Vec<String>,
    /// The lawful grounds for disclosure.
    pub disclosure: Vec<BasisNotice>,
    /// What the library does when law enforcement asks, in sentences.
    pub law_enforcement: Vec<String>,
    /// The patron's choices, in sentences.
    pub choices: Vec<String>,
    /// The patron's rights, in sentences.
    pub rights: Vec<String>,
    /// How to complain, in the library's words.
    pub complaints: String,
    /// What the website itself does (cookies, counting failed sign-ins),
    /// once given ([`Notice::with_website`]).
    pub website: Vec<String>,
}

/// A field's name in words a patron reads: Carrel's own fields by what
/// they are ("library card number" for `card_barcode`), a library's own
/// fields by their name in words (`birth_date` as "birth date").
fn label(name: &str) -> String {
    let known = match name {
        "card_barcode" => "library card number",
        "pin" => "PIN (kept only as a one-way hash, never readable)",
        "category" => "card type",
        "expires_on" => "card expiry date",
        "status" => "card standing (in use or blocked)",
        "guardian" => "link to a parent or guardian's account",
        "birth_date" => "date of birth",
        "email" => "e-mail address",
        "phone" => "phone number",
        "email_consent" => {
            "your consent to keep an e-mail address (when, and under which version of this notice)"
        }
        "notices" => "which account notices you want by e-mail",
        "corrections" => "corrections to your details you send, until staff verify them",
        "patron" => "whose record it is",
        "borrower_category" => "the borrower's card type when the item was lent",
        "borrower_age_band" => "the borrower's age band when the item was lent",
        "record_id" => "which record (a number, never a name)",
        "record_class" => "which kind of record",
        "staff" => "which staff account",
        "at" => "when",
        "consent" => "your sign-up (when, and under which version of this notice)",
        "last_active" => "when the list was last used",
        other => return other.replace('_', " "),
    };
    known.to_string()
}

/// Fields kept from the patron's choices and corrections, not given.
const KEPT_FROM_CHOICES: [&str; 3] = ["email_consent", "notices", "corrections"];

/// Fields the library sets itself, not the patron.
const ASSIGNED_BY_THE_LIBRARY: [&str; 4] = ["card_barcode", "category", "expires_on", "status"];

/// "a, b and c".
fn listed(items: &[String]) -> String {
    joined(items, "and")
}

/// "a, b or c".
fn any_of(items: &[String]) -> String {
    joined(items, "or")
}

fn joined(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

/// What starts a class's retention clock, as the end of a sentence.
fn clock_words(clock: RetentionClock) -> &'static str {
    match clock {
        RetentionClock::AccountExpired => "your card expires",
        RetentionClock::LoanReturned => "the item is returned (for a hold: the hold ends)",
        RetentionClock::FineSettled => "the fine is paid or waived in full",
        RetentionClock::IllClosedAndPaid => "the interlibrary loan is closed and its fees are paid",
        RetentionClock::DeliveryCompleted => "the delivery is completed",
        RetentionClock::ProgramEnded => "the program ends",
        RetentionClock::ListLastActive => "the mailing list was last used",
        RetentionClock::SessionEnded => "the session ends",
        RetentionClock::EntryWritten => "the entry is written",
    }
}

/// The retention rule of a class as a sentence.
pub fn retention_sentence(rule: &crate::RetentionRule) -> String {
    let (clock, keep, disposal) = (rule.clock, rule.keep, rule.disposal);
    let when = match keep {
        Period::Days(0) => format!("as soon as {}", clock_words(clock)),
        keep => format!("{keep} after {}", clock_words(clock)),
    };
    match disposal {
        Disposal::Delete => format!(
            "Destroyed {when}: deleted from the database and from its journal, so it cannot be recovered."
        ),
        Disposal::Anonymise => format!(
            "{when}, the link to you is cut; what is left says nothing about who you are.",
            when = capitalised(&when)
        ),
    }
}

/// A retention rule in a few words, for a table: "60 days after the item
/// is returned (for a hold: the hold ends), then deleted".
pub fn rule_in_words(rule: &crate::RetentionRule) -> String {
    let when = match rule.keep {
        Period::Days(0) => format!("as soon as {}", clock_words(rule.clock)),
        keep => format!("{keep} after {}", clock_words(rule.clock)),
    };
    let how = match rule.disposal {
        Disposal::Delete => "deleted",
        Disposal::Anonymise => "made anonymous",
    };
    format!("{when}, then {how}")
}

/// "Keeping your account" as "keeping your account", but "PIN" stays.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.clone().next()) {
        (Some(first), Some(second)) if !second.is_uppercase() => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An action in plain words.
fn action_words(action: Action) -> &'static str {
    match action {
        Action::Read => "see",
        Action::Create => "add",
        Action::Update => "change",
        Action::Destroy => "destroy",
        Action::Export => "export",
        Action::Disclose => "release outside the library, on the grounds for disclosure below",
    }
}

/// A requester kind in plain words.
fn requester_words(kind: RequesterKind) -> &'static str {
    match kind {
        RequesterKind::Patron => "you",
        RequesterKind::Guardian => "a parent or legal guardian of a minor",
        RequesterKind::ThirdParty => "anyone else, with written consent",
        RequesterKind::LawEnforcement => "law enforcement",
        RequesterKind::Library => "the library itself, for its reasonable operation",
    }
}

impl ClassNotice {
    /// The class's fields grouped by why they are held, each reason once
    /// ("For keeping your library account: ..."), in the order first met.
    pub fn by_reason(&self) -> Vec<(String, Vec<&FieldNotice>)> {
        let mut groups: Vec<(&str, Vec<&FieldNotice>)> = Vec::new();
        for field in &self.fields {
            match groups.iter_mut().find(|(why, _)| *why == field.why) {
                Some((_, fields)) => fields.push(field),
                None => groups.push((field.why.as_str(), vec![field])),
            }
        }
        groups
            .into_iter()
            .map(|(why, fields)| (format!("For {}:", lowercase_first(why)), fields))
            .collect()
    }
}

/// What the notice says of the website itself (cookies, counting failed
/// sign-ins): Carrel's, not the policy's, so its figures are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Website {
    /// How long a patron's sign-in lasts, in minutes.
    pub session_minutes: i64,
    /// How long a browser is remembered as a known device, in days.
    pub device_days: i64,
    /// The window in which failed sign-ins are counted, in minutes.
    pub throttle_minutes: i64,
}

impl Website {
    /// The sentences the notice gives.
    pub fn sentences(self) -> Vec<String> {
        vec![
            "This site loads nothing from any other site: no tracking, no advertising, no fonts or scripts from elsewhere.".to_string(),
            format!("Signing in sets a cookie that keeps you signed in for {} minutes at most; signing out ends it at once. It holds a random token, nothing about you.", self.session_minutes),
            format!("Once you have signed in on a browser, it keeps a cookie for {} days so that others mistyping your card number cannot lock you out of it.", self.device_days),
            format!("Failed sign-ins are counted per card and per network address for {} minutes, to stop guessing; the addresses are not kept beyond that.", self.throttle_minutes),
        ]
    }
}

impl Notice {
    /// The notice of `policy`.
    pub fn of(policy: &Policy) -> Notice {
        let role_name = |role: &str| {
            policy
                .roles
                .get(role)
                .map_or_else(|| label(role), |r| r.description.clone())
        };
        let purpose_text = |purpose: &str| {
            policy
                .purposes
                .get(purpose)
                .cloned()
                .unwrap_or_else(|| label(purpose))
        };
        let classes = policy
            .classes
            .iter()
            .map(|(&class, spec)| ClassNotice {
                name: class.name(),
                description: spec.description.clone(),
                purposes: spec.purposes.iter().map(|p| purpose_text(p)).collect(),
                fields: spec
                    .fields
                    .iter()
                    .map(|(name, field)| FieldNotice {
                        label: label(name),
                        name: name.clone(),
                        why: purpose_text(&field.purpose),
                        must_give: (class == RecordClass::Registration
                            && !ASSIGNED_BY_THE_LIBRARY.contains(&name.as_str())
                            && !KEPT_FROM_CHOICES.contains(&name.as_str()))
                        .then_some(field.required),
                        personal: field.personal,
                    })
                    .collect(),
                retention: spec.retention.as_ref().map(retention_sentence),
                access: policy
                    .roles
                    .values()
                    .filter_map(|role| {
                        let actions = role.may.get(&class)?;
                        let words: Vec<String> = actions
                            .iter()
                            .map(|a| action_words(*a).to_string())
                            .collect();
                        Some(AccessNotice {
                            role: role.description.clone(),
                            may: listed(&words),
                        })
                    })
                    .collect(),
            })
            .collect();
        let holds = &policy.legal_holds;
        let mut kept_longer = vec![
            "A record still needed is kept until the need ends, and not a day longer: an item not yet returned, a fine or fee not yet paid, a card with anything still out or owed.".to_string(),
        ];
        let placers: Vec<String> = holds.placed_by.iter().map(|r| role_name(r)).collect();
        kept_longer.push(format!(
            "At the request of a law-enforcement agent, named records may be preserved for {} days pending a court order, extendable by {} days {}, then destroyed as usual. Who may place such a hold: {}.",
            holds.days,
            holds.renewal_days,
            match holds.max_renewals {
                0 => "never".to_string(),
                1 => "once".to_string(),
                n => format!("up to {n} times"),
            },
            any_of(&placers),
        ));
        kept_longer.push(format!(
            "Before records are destroyed, the library may count them in anonymous totals (by month, item, card category and age band); a total of fewer than {} records is never published, so no one can be singled out.",
            policy.statistics.min_cell
        ));
        let disclosure = policy
            .disclosure
            .bases
            .values()
            .map(|basis| basis_notice(basis, &role_name))
            .collect();
        let deciders_for_police: Vec<String> = policy
            .disclosure
            .bases
            .values()
            .filter(|b| b.admits(RequesterKind::LawEnforcement))
            .flat_map(|b| b.decided_by.iter().map(|r| role_name(r)))
            .fold(Vec::new(), |mut all, r| {
                if !all.contains(&r) {
                    all.push(r);
                }
                all
            });
        let recorders: Vec<String> = policy
            .disclosure
            .recorded_by
            .iter()
            .map(|r| role_name(r))
            .collect();
        let counsel: Vec<String> = policy
            .disclosure
            .counsel
            .iter()
            .map(|r| role_name(r))
            .collect();
        let law_enforcement = vec![
            format!(
                "Who may release your records to law enforcement, and only on the grounds above: {}.",
                any_of(&deciders_for_police),
            ),
            format!(
                "Who may take a request from law enforcement, to record it and refer it: {}.",
                any_of(&recorders)
            ),
            format!(
                "Who reviews the legal process before anything is released, where the grounds call for it: {}.",
                any_of(&counsel)
            ),
            "Every request, every step taken on it and every release is recorded. Where a court order forbids the library to tell anyone about a request, the library cannot tell you about it while the order stands.".to_string(),
        ];
        let online: Vec<String> = policy
            .patrons
            .online_corrections
            .iter()
            .map(|f| label(f))
            .collect();
        let choices = vec![
            "You choose whether to give an e-mail address. It is used only for notices about your account, and you may remove it at any time: it is then gone at once.".to_string(),
            "Mailing lists about programs and events are separate, and only for those who sign up; you may leave a list at any time.".to_string(),
            format!(
                "Reading history is not offered. {}",
                policy.patrons.reading_history_not_offered
            ),
            "Every consent you give is recorded with the version of this notice it was given under. If a later version changes what a consent covers, you are asked again, and nothing new is collected under it until you answer.".to_string(),
        ];
        let online_corrections = if online.is_empty() {
            "Changes to your details are made in person at the library, where staff check a photo ID and record which kind of ID they checked (never its number).".to_string()
        } else {
            format!(
                "You may ask for corrections to your {} online; they wait until staff verify them. In person, staff check a photo ID and record which kind of ID they checked (never its number).",
                listed(&online)
            )
        };
        let rights = vec![
            "Sign in with your library card number and PIN to see everything the library holds about you, and to download it.".to_string(),
            "See who has looked at your records: the staff role and the reason, with the date (never the staff member's name).".to_string(),
            "See the requests for your records and where they stand, unless a court order forbids the library to tell you.".to_string(),
            online_corrections,
            "Links to sites the library does not control pass through a page that tells you the library's privacy protection ends there.".to_string(),
        ];
        Notice {
            library: policy.library.name.clone(),
            statute: policy.library.statute.clone(),
            policy_version: policy.library.version.clone(),
            classes,
            kept_longer,
            disclosure,
            law_enforcement,
            choices,
            rights,
            complaints: policy.patrons.complaints.clone(),
            website: Vec::new(),
        }
    }

    /// The notice with what the website itself does.
    pub fn with_website(mut self, website: Website) -> Notice {
        self.website = website.sentences();
        self
    }

    /// The notice as Markdown, for `carrel policy notice`.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# How {} handles your information\n", self.library);
        let _ = writeln!(
            out,
            "This notice is generated from the policy the library's system enforces ({}), under {}.\n",
            self.policy_version, self.statute
        );
        let _ = writeln!(out, "## What the library keeps, why, and for how long\n");
        for class in &self.classes {
            let _ = writeln!(out, "### {}\n", class.description);
            if class.fields.is_empty() && !class.purposes.is_empty() {
                let _ = writeln!(out, "Used for: {}.\n", class.purposes.join("; "));
            }
            for (why, fields) in class.by_reason() {
                let _ = writeln!(out, "{why}");
                for field in fields {
                    let _ = writeln!(
                        out,
                        "- **{}**{}",
                        field.label,
                        if field.must_give == Some(false) {
                            " (if you choose to give it)"
                        } else {
                            ""
                        }
                    );
                }
            }
            if !class.fields.is_empty() {
                out.push('\n');
            }
            match &class.retention {
                Some(rule) => {
                    let _ = writeln!(out, "How long: {rule}\n");
                }
                None => {
                    let _ = writeln!(out, "How long: kept, as it holds nothing about you.\n");
                }
            }
            if class.access.is_empty() {
                let _ = writeln!(out, "Staff access: none.\n");
            } else {
                let _ = writeln!(out, "Staff access:");
                for access in &class.access {
                    let _ = writeln!(out, "- {} may {}", access.role, access.may);
                }
                out.push('\n');
            }
        }
        let _ = writeln!(out, "## When records are kept longer\n");
        for line in &self.kept_longer {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out, "\n## When your records may be disclosed\n");
        for basis in &self.disclosure {
            let _ = writeln!(out, "### {} ({})\n", basis.description, basis.citation);
            let _ = writeln!(out, "- Who may ask: {}", basis.who_may_ask);
            for requirement in &basis.requires {
                let _ = writeln!(out, "- Needs: {requirement}");
            }
            let _ = writeln!(out, "- Decided by: {}", basis.decided_by);
            for condition in &basis.conditions {
                let _ = writeln!(out, "- {condition}");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "## Law enforcement\n");
        for line in &self.law_enforcement {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out, "\n## Your choices\n");
        for line in &self.choices {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out, "\n## Your rights\n");
        for line in &self.rights {
            let _ = writeln!(out, "- {line}");
        }
        if !self.website.is_empty() {
            let _ = writeln!(out, "\n## This website\n");
            for line in &self.website {
                let _ = writeln!(out, "- {line}");
            }
        }
        let _ = writeln!(out, "\n## Questions and complaints\n\n{}", self.complaints);
        out
    }
}

fn basis_notice(basis: &Basis, role_name: &dyn Fn(&str) -> String) -> BasisNotice {
    let who: Vec<String> = basis
        .requesters
        .iter()
        .map(|k| requester_words(*k).to_string())
        .collect();
    let deciders: Vec<String> = basis.decided_by.iter().map(|r| role_name(r)).collect();
    let mut conditions = vec![match basis.channel {
        crate::disclosure::Channel::InPerson => "Asked in person at the library.".to_string(),
        crate::disclosure::Channel::Online => {
            "Asked online, signed in with the library card and PIN.".to_string()
        }
        crate::disclosure::Channel::Both => {
            "Asked in person at the library, or online signed in with the library card and PIN."
                .to_string()
        }
    }];
    if basis.subject_is_minor {
        conditions
            .push("Only for the records of a minor; it ends when the minor comes of age.".into());
    }
    if basis.requester_is_guardian {
        conditions.push("Only the parent or guardian linked to the minor's account.".into());
    }
    if basis.counsel_review {
        conditions
            .push("The library's legal counsel reviews the request before any release.".into());
    }
    if basis.exigent {
        conditions.push("In an exigent threat to life or safety, the records may be released first, on counsel's advice; the legal document must follow, and the system chases it until it does.".into());
    }
    if basis.reason_required {
        conditions.push("Each use is recorded with its reason.".into());
    }
    BasisNotice {
        description: basis.description.clone(),
        citation: basis.citation.clone(),
        who_may_ask: any_of(&who),
        requires: basis.requires.iter().map(|g| describe_group(g)).collect(),
        decided_by: any_of(&deciders),
        conditions,
    }
}

/// What a patron consents to (C1): keeping their e-mail address for
/// account notices, or a mailing list's sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentKind {
    /// The e-mail address, for account notices.
    Email,
    /// A mailing list's sign-up.
    MailingList,
}

/// What the policy says a consent covers, in the notice's words: the
/// records it allows, why they are kept, and for how long. Carrel keeps
/// the SHA-256 of this text with each consent; when the policy in force
/// says something else, the patron is asked again.
pub fn consent_covers(policy: &Policy, kind: ConsentKind) -> String {
    let notice = Notice::of(policy);
    let (class, fields): (&str, &[&str]) = match kind {
        ConsentKind::Email => ("registration", &["email", "email_consent", "notices"]),
        ConsentKind::MailingList => ("mailing_list", &[]),
    };
    let Some(class) = notice.classes.iter().find(|c| c.name == class) else {
        return String::new();
    };
    let mut text = String::new();
    if kind == ConsentKind::MailingList {
        let _ = writeln!(text, "{}", class.description);
        let _ = writeln!(text, "{}", class.purposes.join("; "));
    }
    for field in class
        .fields
        .iter()
        .filter(|f| fields.is_empty() || fields.contains(&f.name.as_str()))
    {
        let _ = writeln!(text, "{}: {}", field.label, field.why);
    }
    let _ = writeln!(text, "{}", class.retention.as_deref().unwrap_or("kept"));
    text
}

/// One difference between two versions of the policy, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What the change is about ("Circulation information").
    pub about: String,
    /// What changed, in a sentence.
    pub what: String,
}

/// What `new` changes from `old`, in words a patron can read: a class's
/// retention, a field added or removed (or its reason changed), a role's
/// access, a ground for disclosure, a choice or a right. Empty when the two
/// notices say the same.
pub fn changes(old: &Policy, new: &Policy) -> Vec<Change> {
    let (before, after) = (Notice::of(old), Notice::of(new));
    let mut out = Vec::new();
    let mut change = |about: &str, what: String| {
        out.push(Change {
            about: about.to_string(),
            what,
        })
    };
    for class in RecordClass::ALL {
        let name = class.name();
        let old_class = before.classes.iter().find(|c| c.name == name);
        let new_class = after.classes.iter().find(|c| c.name == name);
        let (old_class, new_class) = match (old_class, new_class) {
            (Some(o), Some(n)) => (o, n),
            (None, Some(n)) => {
                change(&n.description, "This kind of record is new.".into());
                continue;
            }
            (Some(o), None) => {
                change(
                    &o.description,
                    "This kind of record is no longer kept.".into(),
                );
                continue;
            }
            (None, None) => continue,
        };
        let about = new_class.description.as_str();
        if old_class.description != new_class.description {
            change(
                about,
                format!(
                    "Described as \"{}\" (was \"{}\").",
                    new_class.description, old_class.description
                ),
            );
        }
        if old_class.retention != new_class.retention {
            change(
                about,
                format!(
                    "How long it is kept: {} (was: {})",
                    new_class.retention.as_deref().unwrap_or("kept"),
                    old_class.retention.as_deref().unwrap_or("kept"),
                ),
            );
        }
        for field in &new_class.fields {
            match old_class.fields.iter().find(|f| f.name == field.name) {
                None => change(
                    about,
                    format!("New field: {} ({}).", field.label, field.why),
                ),
                Some(was) if was.why != field.why => change(
                    about,
                    format!(
                        "The {} is now held for: {} (was: {}).",
                        field.label, field.why, was.why
                    ),
                ),
                Some(was) if was.must_give != field.must_give => change(
                    about,
                    format!(
                        "The {} is now {}.",
                        field.label,
                        if field.must_give == Some(true) {
                            "required"
                        } else {
                            "optional"
                        }
                    ),
                ),
                Some(_) => {}
            }
        }
        for field in &old_class.fields {
            if !new_class.fields.iter().any(|f| f.name == field.name) {
                change(about, format!("No longer held: {}.", field.label));
            }
        }
        for access in &new_class.access {
            match old_class.access.iter().find(|a| a.role == access.role) {
                None => change(about, format!("{} may now {}.", access.role, access.may)),
                Some(was) if was.may != access.may => change(
                    about,
                    format!("{} may now {} (was: {}).", access.role, access.may, was.may),
                ),
                Some(_) => {}
            }
        }
        for access in &old_class.access {
            if !new_class.access.iter().any(|a| a.role == access.role) {
                change(about, format!("{} no longer has access.", access.role));
            }
        }
    }
    let sections: [(&str, &Vec<String>, &Vec<String>); 4] = [
        (
            "When records are kept longer",
            &before.kept_longer,
            &after.kept_longer,
        ),
        (
            "Law enforcement",
            &before.law_enforcement,
            &after.law_enforcement,
        ),
        ("Your choices", &before.choices, &after.choices),
        ("Your rights", &before.rights, &after.rights),
    ];
    for (about, old_lines, new_lines) in sections {
        for line in new_lines.iter().filter(|l| !old_lines.contains(l)) {
            change(about, format!("Now: {line}"));
        }
        for line in old_lines.iter().filter(|l| !new_lines.contains(l)) {
            change(about, format!("No longer: {line}"));
        }
    }
    for basis in &after.disclosure {
        match before
            .disclosure
            .iter()
            .find(|b| b.description == basis.description)
        {
            None => change(
                "When your records may be disclosed",
                format!("New ground: {} ({}).", basis.description, basis.citation),
            ),
            Some(was) if was != basis => change(
                "When your records may be disclosed",
                format!("Changed: {} ({}).", basis.description, basis.citation),
            ),
            Some(_) => {}
        }
    }
    for basis in &before.disclosure {
        if !after
            .disclosure
            .iter()
            .any(|b| b.description == basis.description)
        {
            change(
                "When your records may be disclosed",
                format!(
                    "No longer a ground: {} ({}).",
                    basis.description, basis.citation
                ),
            );
        }
    }
    if before.complaints != after.complaints {
        change(
            "Questions and complaints",
            format!("Now: {}", after.complaints),
        );
    }
    if before.policy_version != after.policy_version {
        change(
            "The policy",
            format!(
                "The library's policy is now \"{}\" (was \"{}\").",
                after.policy_version, before.policy_version
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str) -> Policy {
        let path = format!("{}/../../policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(&path).unwrap();
        crate::parse(&path, &source).unwrap()
    }

    /// N1: every class, every field with its purpose, and every retention
    /// rule of both shipped policies is in the notice, so a rule cannot
    /// exist without the patron being told.
    #[test]
    fn n1_the_notice_covers_every_class_field_purpose_and_retention_rule() {
        for name in ["jefferson-county-mo", "jefferson-county-co"] {
            let policy = policy(name);
            let notice = Notice::of(&policy);
            let text = notice.to_markdown();
            for (class, spec) in &policy.classes {
                let shown = notice
                    .classes
                    .iter()
                    .find(|c| c.name == class.name())
                    .unwrap_or_else(|| panic!("{name}: class {class} missing"));
                assert!(text.contains(&spec.description), "{name}: {class}");
                for purpose in &spec.purposes {
                    let said = &policy.purposes[purpose];
                    assert!(
                        text.contains(said.as_str()) || text.contains(&lowercase_first(said)),
                        "{name}: {class} purpose {purpose}"
                    );
                }
                for (field, declared) in &spec.fields {
                    let line = format!("**{}**", label(field));
                    assert!(text.contains(&line), "{name}: {class}.{field}");
                    let field_notice = shown.fields.iter().find(|f| &f.name == field).unwrap();
                    assert_eq!(
                        field_notice.why, policy.purposes[&declared.purpose],
                        "{name}: {class}.{field}"
                    );
                }
                match &spec.retention {
                    Some(rule) => {
                        let sentence = shown.retention.as_deref().unwrap();
                        assert!(text.contains(sentence), "{name}: {class}");
                        assert!(
                            sentence.contains(clock_words(rule.clock)),
                            "{name}: {class}"
                        );
                        if rule.keep != Period::Days(0) {
                            assert!(sentence.contains(&rule.keep.to_string()), "{name}: {class}");
                        }
                    }
                    None => assert!(shown.retention.is_none()),
                }
                for role in policy.roles.values().filter(|r| r.may.contains_key(class)) {
                    assert!(
                        shown.access.iter().any(|a| a.role == role.description),
                        "{name}: {class} access of {}",
                        role.description
                    );
                }
            }
            for basis in policy.disclosure.bases.values() {
                assert!(text.contains(&basis.citation), "{name}: {}", basis.citation);
            }
            assert!(
                text.contains(&policy.patrons.complaints),
                "{name}: complaints"
            );
            assert!(text.contains(&policy.library.statute), "{name}: statute");
        }
    }

    /// C1: what a consent covers changes only when the policy changes what
    /// the consent is about: a mailing list's retention changes the list
    /// consent and not the e-mail one.
    #[test]
    fn c1_a_consent_covers_only_what_it_is_about() {
        let old = policy("jefferson-county-mo");
        let mut new = old.clone();
        if let Some(rule) = new
            .classes
            .get_mut(&RecordClass::MailingList)
            .and_then(|c| c.retention.as_mut())
        {
            rule.keep = Period::Months(12);
        }
        assert_ne!(
            consent_covers(&old, ConsentKind::MailingList),
            consent_covers(&new, ConsentKind::MailingList)
        );
        assert_eq!(
            consent_covers(&old, ConsentKind::Email),
            consent_covers(&new, ConsentKind::Email)
        );
        assert!(consent_covers(&old, ConsentKind::Email).contains("e-mail address: Notifying you"));
    }

    /// N2: the list of changes names a retention change, a field added and
    /// a role's new access, and is empty between a policy and itself.
    #[test]
    fn n2_changes_name_retention_fields_and_access() {
        let old = policy("jefferson-county-mo");
        assert!(changes(&old, &old).is_empty());
        let mut new = old.clone();
        if let Some(rule) = new
            .classes
            .get_mut(&RecordClass::Circulation)
            .and_then(|c| c.retention.as_mut())
        {
            rule.keep = Period::Days(30);
        }
        new.classes
            .get_mut(&RecordClass::Registration)
            .unwrap()
            .fields
            .insert(
                "pronouns".into(),
                crate::FieldSpec {
                    personal: true,
                    required: false,
                    purpose: "account".into(),
                },
            );
        new.roles
            .get_mut("auditor")
            .unwrap()
            .may
            .insert(RecordClass::Circulation, vec![Action::Read]);
        let listed = changes(&old, &new);
        let text: Vec<String> = listed
            .iter()
            .map(|c| format!("{}: {}", c.about, c.what))
            .collect();
        assert!(
            text.iter()
                .any(|t| t.contains("30 days after the item is returned")
                    && t.contains("was: Destroyed 60 days")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains("New field: pronouns")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("Privacy auditor may now see")),
            "{text:#?}"
        );
        assert_eq!(listed.len(), 3, "{text:#?}");
    }
}
