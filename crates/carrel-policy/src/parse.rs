//! Policy file → [`Policy`], or a list of mistakes each naming file, line and
//! problem. Every name in the file is checked against what Carrel knows and
//! against the rest of the file, so a typo cannot silently widen access.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::disclosure::{
    Basis, Channel, CounselFinding, DisclosureRules, DocumentKind, RequesterKind,
};
use crate::model::{
    Action, ClassSpec, Disposal, ExternalSite, FieldSpec, Library, LoanRules, PatronCategory,
    PatronRules, Period, Policy, RecordClass, RetentionClock, RetentionRule, Role, Statistics,
};
use crate::retention::LegalHoldRules;

/// Roles Carrel's own workflows refer to; every policy must define them.
pub const REQUIRED_ROLES: [&str; 6] = [
    "clerk",
    "supervisor",
    "director",
    "legal_counsel",
    "auditor",
    "administrator",
];

/// Classes Carrel stores; every policy must describe them: all of them.
pub const REQUIRED_CLASSES: &[RecordClass] = RecordClass::ALL;

/// One mistake in a policy file. `line` 0 means the file as a whole (for
/// example a section that is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The line of the mistake, counting from 1; 0 for the file as a whole.
    pub line: usize,
    /// The column of the mistake, in characters from 1; 0 for the file as a
    /// whole.
    pub column: usize,
    /// What is wrong, and how to put it right.
    pub message: String,
}

/// Every mistake found in one policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors {
    /// The file's name, as given to [`parse`].
    pub file: String,
    /// The mistakes, in the order they were found.
    pub errors: Vec<PolicyError>,
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if e.line == 0 {
                write!(f, "{}: {}", self.file, e.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.file, e.line, e.column, e.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    library: RawLibrary,
    purposes: BTreeMap<Spanned<String>, String>,
    classes: BTreeMap<Spanned<String>, RawClass>,
    roles: BTreeMap<Spanned<String>, RawRole>,
    loans: RawLoans,
    legal_holds: RawLegalHolds,
    statistics: Option<RawStatistics>,
    disclosure: RawDisclosure,
    patrons: RawPatrons,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatrons {
    complaints: String,
    online_corrections: Vec<Spanned<String>>,
    reading_history: RawReadingHistory,
    #[serde(default)]
    external_sites: Vec<RawExternalSite>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReadingHistory {
    offered: Spanned<bool>,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExternalSite {
    name: String,
    url: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisclosure {
    recorded_by: Vec<Spanned<String>>,
    counsel: Vec<Spanned<String>>,
    alert: Vec<Spanned<String>>,
    gag_circle: Vec<Spanned<String>>,
    exigent_document_days: Spanned<u32>,
    bases: BTreeMap<Spanned<String>, RawBasis>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasis {
    citation: String,
    description: String,
    requesters: Vec<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Vec<Spanned<String>>>,
    decided_by: Vec<Spanned<String>>,
    #[serde(default)]
    counsel_review: bool,
    #[serde(default)]
    exigent: bool,
    #[serde(default)]
    subject_is_minor: bool,
    #[serde(default)]
    requester_is_guardian: bool,
    #[serde(default)]
    reason_required: bool,
    #[serde(default)]
    counsel_confirms: Vec<Spanned<String>>,
    channel: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLegalHolds {
    placed_by: Vec<Spanned<String>>,
    days: Spanned<u32>,
    renewal_days: u32,
    max_renewals: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatistics {
    min_cell: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLibrary {
    name: String,
    jurisdiction: String,
    statute: String,
    time_zone: Spanned<String>,
    age_of_majority: u32,
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    description: String,
    purposes: Vec<Spanned<String>>,
    #[serde(default)]
    fields: BTreeMap<Spanned<String>, RawField>,
    retention: Option<RawRetention>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    personal: bool,
    #[serde(default)]
    required: bool,
    purpose: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    clock: Spanned<String>,
    keep: Spanned<String>,
    dispose: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    description: String,
    #[serde(default)]
    may: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    display: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoans {
    block_at_owed_cents: i64,
    categories: BTreeMap<Spanned<String>, RawCategory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    description: String,
    minor: bool,
    loan_days: Spanned<u32>,
    renewals: u32,
    max_items: Spanned<u32>,
    max_holds: u32,
    daily_fine_cents: Spanned<i64>,
    max_fine_cents: Spanned<i64>,
}

/// Collects mistakes with their position in the source.
struct Problems<'s> {
    source: &'s str,
    errors: Vec<PolicyError>,
}

impl Problems<'_> {
    /// A mistake about the file as a whole, with no one place to point at.
    fn whole_file(&mut self, message: impl Into<String>) {
        self.errors.push(PolicyError {
            line: 0,
            column: 0,
            message: message.into(),
        });
    }

    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_and_column(self.source, span.start);
        self.errors.push(PolicyError {
            line,
            column,
            message: message.into(),
        });
    }
}

fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parses and validates a policy. `file` is only used in error messages.
pub fn parse(file: &str, source: &str) -> Result<Policy, PolicyErrors> {
    let raw: RawPolicy = toml::from_str(source).map_err(|e| {
        let (line, column) = e
            .span()
            .map_or((1, 1), |span| line_and_column(source, span.start));
        PolicyErrors {
            file: file.to_string(),
            errors: vec![PolicyError {
                line,
                column,
                message: e.message().to_string(),
            }],
        }
    })?;
    let mut problems = Problems {
        source,
        errors: Vec::new(),
    };
    let policy = build(raw, &mut problems);
    if problems.errors.is_empty() {
        Ok(policy)
    } else {
        // Positioned mistakes first, in file order; whole-file ones last.
        problems
            .errors
            .sort_by_key(|e| (e.line == 0, e.line, e.column));
        Err(PolicyErrors {
            file: file.to_string(),
            errors: problems.errors,
        })
    }
}

fn build(raw: RawPolicy, problems: &mut Problems) -> Policy {
    let library = build_library(raw.library, problems);
    let purposes: BTreeMap<String, String> = raw
        .purposes
        .into_iter()
        .map(|(k, v)| {
            if !is_identifier(k.get_ref()) {
                problems.at(
                    k.span(),
                    format!("purpose name '{}' must be lower_snake_case", k.get_ref()),
                );
            }
            (k.into_inner(), v)
        })
        .collect();

    let mut classes = BTreeMap::new();
    for (name, raw_class) in raw.classes {
        let Some(class) = RecordClass::from_name(name.get_ref()) else {
            problems.at(
                name.span(),
                format!(
                    "unknown record class '{}'; the classes are: {}",
                    name.get_ref(),
                    crate::names_of::<RecordClass>()
                ),
            );
            continue;
        };
        let spec = build_class(class, name.span(), raw_class, &purposes, problems);
        classes.insert(class, spec);
    }
    for &class in REQUIRED_CLASSES {
        if !classes.contains_key(&class) {
            problems.whole_file(
                format!(
                    "the policy does not describe record class '{class}'; Carrel stores it, so add [classes.{class}] saying what it holds and why"
                ),
            );
        }
    }

    for (class, purpose) in crate::purpose::USED {
        if let Some(spec) = classes.get(&class) {
            if !spec.purposes.iter().any(|p| p == purpose) {
                problems.whole_file(format!(
                    "class '{class}' must list purpose '{purpose}' among its purposes: Carrel's desk operations use {class} records for it"
                ));
            }
        }
    }

    let mut roles = BTreeMap::new();
    for (name, raw_role) in raw.roles {
        if !is_identifier(name.get_ref()) {
            problems.at(
                name.span(),
                format!("role name '{}' must be lower_snake_case", name.get_ref()),
            );
        }
        let role = build_role(name.get_ref(), raw_role, &classes, problems);
        roles.insert(name.into_inner(), role);
    }
    for required in REQUIRED_ROLES {
        if !roles.contains_key(required) {
            problems.whole_file(
                format!("the policy does not define role '{required}'; Carrel's workflows need it (add [roles.{required}], even with no permissions)"),
            );
        }
    }

    let loans = build_loans(raw.loans, problems);
    let legal_holds = build_legal_holds(raw.legal_holds, &roles, problems);
    let disclosure = build_disclosure(raw.disclosure, &roles, problems);
    let statistics = match raw.statistics {
        None => Statistics::default(),
        Some(s) => {
            if *s.min_cell.get_ref() == 0 {
                problems.at(
                    s.min_cell.span(),
                    "min_cell must be at least 1 (5 or more is usual): a report cell smaller than it is suppressed",
                );
            }
            Statistics {
                min_cell: s.min_cell.into_inner(),
            }
        }
    };
    let patrons = build_patrons(raw.patrons, &classes, problems);
    Policy {
        library,
        purposes,
        classes,
        roles,
        loans,
        legal_holds,
        statistics,
        disclosure,
        patrons,
    }
}

fn check_roles(
    what: &str,
    names: Vec<Spanned<String>>,
    roles: &BTreeMap<String, Role>,
    problems: &mut Problems,
) -> Vec<String> {
    for role in &names {
        if !roles.contains_key(role.get_ref()) {
            problems.at(
                role.span(),
                format!(
                    "{what} names role '{}', which is not defined under [roles]",
                    role.get_ref()
                ),
            );
        }
    }
    names.into_iter().map(Spanned::into_inner).collect()
}

fn build_disclosure(
    raw: RawDisclosure,
    roles: &BTreeMap<String, Role>,
    problems: &mut Problems,
) -> DisclosureRules {
    let recorded_by = check_roles("disclosure.recorded_by", raw.recorded_by, roles, problems);
    let counsel = check_roles("disclosure.counsel", raw.counsel, roles, problems);
    let alert = check_roles("disclosure.alert", raw.alert, roles, problems);
    let gag_circle = check_roles("disclosure.gag_circle", raw.gag_circle, roles, problems);
    if *raw.exigent_document_days.get_ref() == 0 {
        problems.at(
            raw.exigent_document_days.span(),
            "disclosure.exigent_document_days must be at least 1: the days an officer has to bring the document after an exigent release",
        );
    }
    let mut bases = BTreeMap::new();
    for (name, raw_basis) in raw.bases {
        if !is_identifier(name.get_ref()) {
            problems.at(
                name.span(),
                format!("basis name '{}' must be lower_snake_case", name.get_ref()),
            );
        }
        let basis = build_basis(name.get_ref(), name.span(), raw_basis, roles, problems);
        bases.insert(name.into_inner(), basis);
    }
    if bases.is_empty() {
        problems.whole_file("[disclosure.bases] is empty: without a basis no one, not even a patron, can obtain their records (R2)");
    }
    DisclosureRules {
        recorded_by,
        counsel,
        alert,
        gag_circle,
        exigent_document_days: raw.exigent_document_days.into_inner(),
        bases,
    }
}

fn build_basis(
    name: &str,
    span: Range<usize>,
    raw: RawBasis,
    roles: &BTreeMap<String, Role>,
    problems: &mut Problems,
) -> Basis {
    let mut requesters = Vec::new();
    for r in &raw.requesters {
        match RequesterKind::from_name(r.get_ref()) {
            Some(kind) => requesters.push(kind),
            None => problems.at(
                r.span(),
                format!(
                    "basis '{name}': '{}' is not a requester kind; use {}",
                    r.get_ref(),
                    crate::names_of::<RequesterKind>()
                ),
            ),
        }
    }
    if raw.requesters.is_empty() {
        problems.at(span.clone(), format!("basis '{name}' names no requesters"));
    }
    let mut requires = Vec::new();
    for group in &raw.requires {
        let mut kinds = Vec::new();
        for d in group {
            match DocumentKind::from_name(d.get_ref()) {
                Some(kind) => kinds.push(kind),
                None => problems.at(
                    d.span(),
                    format!(
                        "basis '{name}': '{}' is not a document kind; use {}",
                        d.get_ref(),
                        crate::names_of::<DocumentKind>()
                    ),
                ),
            }
        }
        if group.is_empty() {
            problems.at(
                span.clone(),
                format!("basis '{name}': an empty document group can never be met; remove it"),
            );
        }
        requires.push(kinds);
    }
    let decided_by = check_roles(
        &format!("basis '{name}' decided_by"),
        raw.decided_by,
        roles,
        problems,
    );
    if decided_by.is_empty() {
        problems.at(
            span.clone(),
            format!(
                "basis '{name}' names no role in decided_by, so no request could ever be approved"
            ),
        );
    }
    let channel = Channel::from_name(raw.channel.get_ref()).unwrap_or_else(|| {
        problems.at(
            raw.channel.span(),
            format!(
                "basis '{name}': channel must be \"in_person\", \"online\" or \"both\", not '{}'",
                raw.channel.get_ref()
            ),
        );
        Channel::InPerson
    });
    let law_enforcement = requesters.contains(&RequesterKind::LawEnforcement);
    // L2: records go to law enforcement only on legal process, reviewed with counsel.
    if law_enforcement && (!raw.counsel_review || requires.is_empty()) {
        problems.at(
            span.clone(),
            format!("basis '{name}' admits law_enforcement, so it must set counsel_review = true and require legal process (REQUIREMENTS L2)"),
        );
    }
    if raw.exigent && !law_enforcement {
        problems.at(
            span.clone(),
            format!("basis '{name}': exigent release is for law-enforcement requests only (REQUIREMENTS L3)"),
        );
    }
    if raw.requester_is_guardian && requesters != [RequesterKind::Guardian] {
        problems.at(
            span.clone(),
            format!("basis '{name}': requester_is_guardian needs requesters = [\"guardian\"]"),
        );
    }
    if raw.requester_is_guardian && !raw.subject_is_minor {
        problems.at(
            span.clone(),
            format!("basis '{name}': a guardian basis must set subject_is_minor = true, so access ends at the age of majority"),
        );
    }
    let mut counsel_confirms = Vec::new();
    for f in &raw.counsel_confirms {
        match CounselFinding::from_name(f.get_ref()) {
            Some(finding) if !counsel_confirms.contains(&finding) => counsel_confirms.push(finding),
            Some(_) => {}
            None => problems.at(
                f.span(),
                format!(
                    "basis '{name}': '{}' is not something counsel confirms; use {}",
                    f.get_ref(),
                    crate::names_of::<CounselFinding>()
                ),
            ),
        }
    }
    if !counsel_confirms.is_empty() && !raw.counsel_review {
        problems.at(
            span.clone(),
            format!("basis '{name}': counsel_confirms needs counsel_review = true"),
        );
    }
    let online_only_requesters = requesters
        .iter()
        .all(|r| matches!(r, RequesterKind::Patron | RequesterKind::Guardian));
    if channel.online() && !online_only_requesters {
        problems.at(
            raw.channel.span(),
            format!("basis '{name}': only patrons and guardians can be served online"),
        );
    }
    Basis {
        citation: raw.citation,
        description: raw.description,
        requesters,
        requires,
        decided_by,
        counsel_review: raw.counsel_review,
        exigent: raw.exigent,
        subject_is_minor: raw.subject_is_minor,
        requester_is_guardian: raw.requester_is_guardian,
        reason_required: raw.reason_required,
        counsel_confirms,
        channel,
    }
}

/// Registration fields a patron may never change online: the card and
/// its standing are the library's to set, the PIN has its own form, the
/// e-mail address is the patron's choice and changes at once (C3), and a
/// guardian link needs proof of guardianship at the desk.
pub const NEVER_CORRECTED_ONLINE: [&str; 7] = [
    "card_barcode",
    "pin",
    "category",
    "expires_on",
    "status",
    "email",
    "guardian",
];

fn build_patrons(
    raw: RawPatrons,
    classes: &BTreeMap<RecordClass, ClassSpec>,
    problems: &mut Problems,
) -> PatronRules {
    let registration = classes.get(&RecordClass::Registration);
    let mut online_corrections = Vec::new();
    for field in raw.online_corrections {
        let name = field.get_ref();
        if NEVER_CORRECTED_ONLINE.contains(&name.as_str()) {
            problems.at(
                field.span(),
                format!("'{name}' cannot be corrected online (the card, its standing and the guardian link are the library's to set at the desk; the PIN and e-mail have their own forms); remove it from online_corrections"),
            );
        } else if registration.is_some_and(|c| !c.fields.contains_key(name.as_str())) {
            problems.at(
                field.span(),
                format!("'{name}' is not a field of [classes.registration]; online_corrections may list only declared registration fields"),
            );
        } else if online_corrections.contains(name) {
            problems.at(field.span(), format!("'{name}' is listed twice"));
        } else {
            online_corrections.push(field.into_inner());
        }
    }
    if *raw.reading_history.offered.get_ref() {
        problems.at(
            raw.reading_history.offered.span(),
            "Carrel cannot keep reading history on a patron's request yet; set offered = false and say why in 'why'",
        );
    }
    if raw.reading_history.why.trim().is_empty() {
        problems.whole_file("[patrons] reading_history.why must say why reading history is not offered; the privacy notice tells patrons");
    }
    if raw.complaints.trim().is_empty() {
        problems.whole_file("[patrons] complaints must say how to question or complain about the library's handling of privacy; the privacy notice tells patrons");
    }
    let mut external_sites = Vec::new();
    for site in raw.external_sites {
        let url = site.url.get_ref();
        let host = url.strip_prefix("https://").unwrap_or("");
        let host = host.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            problems.at(
                site.url.span(),
                format!(
                    "'{url}' is not an https:// address; external sites are linked only over https"
                ),
            );
            continue;
        }
        external_sites.push(ExternalSite {
            name: site.name,
            url: site.url.into_inner(),
        });
    }
    PatronRules {
        complaints: raw.complaints,
        online_corrections,
        reading_history_not_offered: raw.reading_history.why,
        external_sites,
    }
}

fn build_legal_holds(
    raw: RawLegalHolds,
    roles: &BTreeMap<String, Role>,
    problems: &mut Problems,
) -> LegalHoldRules {
    for role in &raw.placed_by {
        if !roles.contains_key(role.get_ref()) {
            problems.at(
                role.span(),
                format!(
                    "legal_holds.placed_by names role '{}', which is not defined under [roles]",
                    role.get_ref()
                ),
            );
        }
    }
    if *raw.days.get_ref() == 0 {
        problems.at(
            raw.days.span(),
            "legal_holds.days must be at least 1 (the shipped policies preserve records for 90 days)",
        );
    }
    LegalHoldRules {
        placed_by: raw.placed_by.into_iter().map(Spanned::into_inner).collect(),
        days: raw.days.into_inner(),
        renewal_days: raw.renewal_days,
        max_renewals: raw.max_renewals,
    }
}

fn build_library(raw: RawLibrary, problems: &mut Problems) -> Library {
    let time_zone = match raw.time_zone.get_ref().parse::<chrono_tz::Tz>() {
        Ok(tz) => tz,
        Err(_) => {
            problems.at(
                raw.time_zone.span(),
                format!(
                    "'{}' is not a time zone; use an IANA name such as \"America/Chicago\" or \"America/Denver\"",
                    raw.time_zone.get_ref()
                ),
            );
            chrono_tz::UTC
        }
    };
    Library {
        name: raw.name,
        jurisdiction: raw.jurisdiction,
        statute: raw.statute,
        time_zone,
        age_of_majority: raw.age_of_majority,
        version: raw.version,
    }
}

fn build_class(
    class: RecordClass,
    class_span: Range<usize>,
    raw: RawClass,
    purposes: &BTreeMap<String, String>,
    problems: &mut Problems,
) -> ClassSpec {
    let mut class_purposes = Vec::new();
    for purpose in raw.purposes {
        if !purposes.contains_key(purpose.get_ref()) {
            problems.at(
                purpose.span(),
                format!(
                    "class '{class}' names purpose '{}', which is not declared under [purposes]",
                    purpose.get_ref()
                ),
            );
        }
        class_purposes.push(purpose.into_inner());
    }

    let mut fields = BTreeMap::new();
    for (field_name, raw_field) in raw.fields {
        let name = field_name.get_ref();
        if !is_identifier(name) {
            problems.at(
                field_name.span(),
                format!("field name '{name}' must be lower_snake_case"),
            );
        }
        let stored = class.stored_fields().iter().any(|(f, _)| f == name);
        if !stored && !class.accepts_extra_fields() {
            problems.at(
                field_name.span(),
                format!(
                    "class '{class}' has no place for field '{name}'; Carrel stores only: {}",
                    class
                        .stored_fields()
                        .iter()
                        .map(|(f, _)| *f)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let purpose = match raw_field.purpose {
            None => {
                problems.at(
                    field_name.span(),
                    format!("field '{name}' of class '{class}' has no purpose; add purpose = \"...\" naming why the library needs it, or remove the field"),
                );
                String::new()
            }
            Some(p) => {
                if !class_purposes.contains(p.get_ref()) {
                    problems.at(
                        p.span(),
                        format!(
                            "field '{name}' has purpose '{}', which is not one of class '{class}' purposes ({})",
                            p.get_ref(),
                            class_purposes.join(", ")
                        ),
                    );
                }
                p.into_inner()
            }
        };
        fields.insert(
            field_name.into_inner(),
            FieldSpec {
                personal: raw_field.personal,
                required: raw_field.required,
                purpose,
            },
        );
    }
    for (stored, must) in class.stored_fields() {
        if *must && !fields.contains_key(*stored) {
            problems.at(
                class_span.clone(),
                format!("class '{class}' must declare field '{stored}' (Carrel stores it), with whether it is personal and its purpose"),
            );
        }
    }

    let holds_personal_data = fields.values().any(|f: &FieldSpec| f.personal);
    let retention = match raw.retention {
        Some(r) => build_retention(class, r, problems),
        None => {
            if holds_personal_data {
                problems.at(
                    class_span.clone(),
                    format!(
                        "class '{class}' holds personal data but has no retention rule; add retention = {{ clock = \"{}\", keep = \"...\", dispose = \"delete\" }}",
                        class.retention_clock().map_or("?", |c| c.name())
                    ),
                );
            }
            None
        }
    };
    ClassSpec {
        description: raw.description,
        purposes: class_purposes,
        fields,
        retention,
    }
}

fn build_retention(
    class: RecordClass,
    raw: RawRetention,
    problems: &mut Problems,
) -> Option<RetentionRule> {
    let clock = RetentionClock::from_name(raw.clock.get_ref());
    match (clock, class.retention_clock()) {
        (None, _) => problems.at(
            raw.clock.span(),
            format!(
                "retention of class '{class}': '{}' is not a clock event; use one of {}",
                raw.clock.get_ref(),
                crate::names_of::<RetentionClock>()
            ),
        ),
        (Some(_), None) => problems.at(
            raw.clock.span(),
            format!("class '{class}' holds no personal data and is never purged; remove its retention rule"),
        ),
        (Some(named), Some(runs)) if named != runs => problems.at(
            raw.clock.span(),
            format!(
                "retention of class '{class}': Carrel runs this class's clock from '{}', not '{}'; write clock = \"{}\"",
                runs.name(),
                named.name(),
                runs.name()
            ),
        ),
        _ => {}
    }
    let keep = Period::parse(raw.keep.get_ref())
        .map_err(|message| {
            problems.at(
                raw.keep.span(),
                format!("retention of class '{class}': {message}"),
            )
        })
        .ok();
    let disposal = match raw.dispose.get_ref().as_str() {
        "delete" => Some(Disposal::Delete),
        "anonymise" | "anonymize" if class.can_anonymise() => Some(Disposal::Anonymise),
        "anonymise" | "anonymize" => {
            problems.at(
                raw.dispose.span(),
                format!("retention of class '{class}': its records cannot be anonymised (without the patron nothing is left); use dispose = \"delete\""),
            );
            None
        }
        other => {
            problems.at(
                raw.dispose.span(),
                format!("retention of class '{class}': dispose = '{other}' is unknown; use \"delete\" or \"anonymise\""),
            );
            None
        }
    };
    Some(RetentionRule {
        clock: clock?,
        keep: keep?,
        disposal: disposal?,
    })
}

fn build_role(
    role_name: &str,
    raw: RawRole,
    classes: &BTreeMap<RecordClass, ClassSpec>,
    problems: &mut Problems,
) -> Role {
    let mut may = BTreeMap::new();
    for (class_name, actions) in raw.may {
        let Some(class) = RecordClass::from_name(class_name.get_ref()) else {
            problems.at(
                class_name.span(),
                format!(
                    "role '{role_name}' grants access to unknown record class '{}'",
                    class_name.get_ref()
                ),
            );
            continue;
        };
        if !classes.contains_key(&class) {
            problems.at(
                class_name.span(),
                format!("role '{role_name}' grants access to class '{class}', which this policy does not declare under [classes]"),
            );
        }
        let mut granted = BTreeSet::new();
        for action in actions {
            match Action::from_name(action.get_ref()) {
                Some(a) => {
                    granted.insert(a);
                }
                None => problems.at(
                    action.span(),
                    format!(
                        "role '{role_name}': '{}' is not an action; use {}",
                        action.get_ref(),
                        crate::names_of::<Action>()
                    ),
                ),
            }
        }
        may.insert(class, granted.into_iter().collect());
    }
    let display = build_display(role_name, raw.display, classes, problems);
    Role {
        description: raw.description,
        may,
        display,
    }
}

/// A role's `display` table: registration fields that are personal, each
/// with a mask Carrel knows.
fn build_display(
    role_name: &str,
    raw: BTreeMap<Spanned<String>, Spanned<String>>,
    classes: &BTreeMap<RecordClass, ClassSpec>,
    problems: &mut Problems,
) -> BTreeMap<String, crate::display::Mask> {
    let registration = classes.get(&RecordClass::Registration);
    let mut display = BTreeMap::new();
    for (field, mask) in raw {
        match registration.and_then(|class| class.fields.get(field.get_ref())) {
            None => problems.at(
                field.span(),
                format!(
                    "role '{role_name}': display names '{}', which is not a field of [classes.registration]",
                    field.get_ref()
                ),
            ),
            Some(spec) if !spec.personal => problems.at(
                field.span(),
                format!(
                    "role '{role_name}': display names '{}', which is not personal and is always shown; remove it",
                    field.get_ref()
                ),
            ),
            Some(_) => {}
        }
        match mask.get_ref().parse::<crate::display::Mask>() {
            Ok(parsed) => {
                display.insert(field.into_inner(), parsed);
            }
            Err(_) => problems.at(
                mask.span(),
                format!(
                    "role '{role_name}': '{}' is not a display mask; use {}",
                    mask.get_ref(),
                    crate::names_of::<crate::display::Mask>()
                ),
            ),
        }
    }
    display
}

fn build_loans(raw: RawLoans, problems: &mut Problems) -> LoanRules {
    let mut categories = BTreeMap::new();
    if raw.categories.is_empty() {
        problems.whole_file(
            "[loans.categories] must define at least one patron category, such as adult",
        );
    }
    for (name, c) in raw.categories {
        if !is_identifier(name.get_ref()) {
            problems.at(
                name.span(),
                format!(
                    "category name '{}' must be lower_snake_case",
                    name.get_ref()
                ),
            );
        }
        if *c.loan_days.get_ref() == 0 {
            problems.at(c.loan_days.span(), "loan_days must be at least 1");
        }
        if *c.max_items.get_ref() == 0 {
            problems.at(
                c.max_items.span(),
                "max_items must be at least 1, or the category cannot borrow at all",
            );
        }
        if *c.daily_fine_cents.get_ref() < 0 {
            problems.at(
                c.daily_fine_cents.span(),
                "daily_fine_cents cannot be negative",
            );
        }
        if *c.max_fine_cents.get_ref() < 0 {
            problems.at(c.max_fine_cents.span(), "max_fine_cents cannot be negative");
        }
        categories.insert(
            name.into_inner(),
            PatronCategory {
                description: c.description,
                minor: c.minor,
                loan_days: c.loan_days.into_inner(),
                renewals: c.renewals,
                max_items: c.max_items.into_inner(),
                max_holds: c.max_holds,
                daily_fine_cents: c.daily_fine_cents.into_inner(),
                max_fine_cents: c.max_fine_cents.into_inner(),
            },
        );
    }
    LoanRules {
        block_at_owed_cents: raw.block_at_owed_cents,
        categories,
    }
}

/// The library a policy text is for (its `[library]` name), read leniently
/// so that a text an older Carrel accepted still answers: a database
/// remembers every policy text it ran under, and a policy for another
/// library must not be run against it by mistake.
pub fn library_name(source: &str) -> Option<String> {
    let value: toml::Value = toml::from_str(source).ok()?;
    Some(value.get("library")?.get("name")?.as_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_counts_from_one() {
        assert_eq!(line_and_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn periods_parse_and_reject() {
        assert_eq!(Period::parse("60 days"), Ok(Period::Days(60)));
        assert_eq!(Period::parse("1 year"), Ok(Period::Years(1)));
        assert_eq!(Period::parse("6 months"), Ok(Period::Months(6)));
        assert!(Period::parse("sixty days").is_err());
        assert!(Period::parse("60 fortnights").is_err());
        assert!(Period::parse("60").is_err());
        assert!(Period::parse("-1 days").is_err());
    }
}
