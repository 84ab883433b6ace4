//! The shipped policy files and the policy checker's error messages (N1-N4, D6).

use carrel_policy::{parse, Action, Disposal, Period, RecordClass, RetentionClock};

const MISSOURI: &str = include_str!("../../../policies/jefferson-county-mo.toml");
const COLORADO: &str = include_str!("../../../policies/jefferson-county-co.toml");

#[test]
fn n1_both_shipped_policies_parse() {
    for (name, text) in [("mo", MISSOURI), ("co", COLORADO)] {
        let policy = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(policy.library.age_of_majority, 18);
        assert!(policy.roles.contains_key("director"));
    }
}

#[test]
fn d1_missouri_retention_numbers_are_the_policys() {
    let p = parse("mo", MISSOURI).unwrap();
    let rule = |c| p.class(c).unwrap().retention.clone().unwrap();
    let circ = rule(RecordClass::Circulation);
    assert_eq!(
        (circ.clock, circ.keep),
        (RetentionClock::LoanReturned, Period::Days(60))
    );
    let ill = rule(RecordClass::InterlibraryLoan);
    assert_eq!(
        (ill.clock, ill.keep),
        (RetentionClock::IllClosedAndPaid, Period::Days(0))
    );
    let prog = rule(RecordClass::ProgramRegistration);
    assert_eq!(
        (prog.clock, prog.keep),
        (RetentionClock::ProgramEnded, Period::Days(0))
    );
    let list = rule(RecordClass::MailingList);
    assert_eq!(
        (list.clock, list.keep),
        (RetentionClock::ListLastActive, Period::Months(6))
    );
    assert_eq!(circ.disposal, Disposal::Delete);
    assert_eq!(p.library.time_zone.name(), "America/Chicago");
}

#[test]
fn l1_only_the_director_may_disclose_in_both_policies() {
    for text in [MISSOURI, COLORADO] {
        let p = parse("p", text).unwrap();
        for (role, spec) in &p.roles {
            for &class in RecordClass::ALL {
                if spec.may(Action::Disclose, class) {
                    assert_eq!(role, "director", "{role} may disclose {class}");
                }
            }
        }
    }
}

#[test]
fn d3_only_the_director_and_administrator_read_statistics_in_both_policies() {
    for text in [MISSOURI, COLORADO] {
        let p = parse("p", text).unwrap();
        let readers: Vec<&str> = p
            .roles
            .keys()
            .filter(|role| {
                p.decide(role, Action::Read, RecordClass::Statistics, "statistics")
                    .is_allowed()
            })
            .map(String::as_str)
            .collect();
        assert_eq!(readers, ["administrator", "director"]);
        assert!(!p
            .class(RecordClass::Statistics)
            .unwrap()
            .holds_personal_data());
    }
}

#[test]
fn n4_every_field_in_both_policies_has_a_declared_purpose() {
    for text in [MISSOURI, COLORADO] {
        let p = parse("p", text).unwrap();
        for spec in p.classes.values() {
            for field in spec.fields.values() {
                assert!(p.purposes.contains_key(&field.purpose));
                assert!(spec.purposes.contains(&field.purpose));
            }
        }
    }
}

/// Replaces `from` (which must occur once) and returns the edited policy.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(
        MISSOURI.matches(from).count(),
        1,
        "'{from}' must occur once"
    );
    MISSOURI.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

fn first_error(text: &str) -> (usize, String) {
    let errors = parse("broken.toml", text).expect_err("policy must be rejected");
    let shown = errors.to_string();
    assert!(shown.starts_with("broken.toml:"), "{shown}");
    (errors.errors[0].line, errors.errors[0].message.clone())
}

#[test]
fn n4_unknown_class_is_named_with_its_line() {
    let text = edit("[classes.catalogue]", "[classes.catalog]");
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "[classes.catalog]"));
    assert!(
        message.contains("unknown record class 'catalog'"),
        "{message}"
    );
}

#[test]
fn d6_unknown_action_is_named_with_its_line() {
    let text = edit(
        "may.mailing_list = [\"read\", \"create\", \"update\"]\nmay.catalogue = [\"read\"]\n# How",
        "may.mailing_list = [\"read\", \"create\", \"update\"]\nmay.catalogue = [\"peek\"]\n# How",
    );
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "[\"peek\"]"));
    assert!(message.contains("'peek' is not an action"), "{message}");
}

#[test]
fn d6_both_policies_mask_the_desk_and_hide_contact_details_from_every_role_until_revealed() {
    use carrel_policy::display::Mask;
    for text in [MISSOURI, COLORADO] {
        let p = parse("p", text).unwrap();
        assert_eq!(p.display_of("clerk", "name"), Mask::FirstNameLastInitial);
        assert_eq!(p.display_of("clerk", "card_barcode"), Mask::LastFour);
        assert_eq!(p.display_of("clerk", "category"), Mask::Full);
        for role in p.roles.keys() {
            for field in ["address", "phone", "email", "birth_date"] {
                assert_eq!(p.display_of(role, field), Mask::Hidden, "{role} {field}");
            }
        }
    }
}

#[test]
fn d6_a_display_rule_must_name_a_personal_registration_field_and_a_known_mask() {
    let desk = "display.name = \"first_name_last_initial\"\ndisplay.card_barcode = \"last_four\"\n\n[roles.supervisor]";
    let text = edit(desk, &desk.replace("display.name =", "display.nickname ="));
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "display.nickname"));
    assert!(
        message.contains("'nickname', which is not a field"),
        "{message}"
    );

    let text = edit(desk, &desk.replace("display.name =", "display.category ="));
    let (_, message) = first_error(&text);
    assert!(message.contains("not personal"), "{message}");

    let text = edit(
        desk,
        &desk.replace("\"first_name_last_initial\"", "\"blurred\""),
    );
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "blurred"));
    assert!(
        message.contains("'blurred' is not a display mask; use full, first_name_last_initial"),
        "{message}"
    );
}

#[test]
fn d1_bad_duration_is_named_with_its_line() {
    let text = edit("keep = \"6 months\"", "keep = \"half a year\"");
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "half a year"));
    assert!(
        message.contains("'half a year' is not a duration"),
        "{message}"
    );
}

#[test]
fn d6_role_granting_an_undeclared_class_is_rejected() {
    // Remove the program_registration class; the roles still grant it.
    let start = MISSOURI.find("[classes.program_registration]").unwrap();
    let end = MISSOURI.find("[classes.mailing_list]").unwrap();
    let text = format!("{}{}", &MISSOURI[..start], &MISSOURI[end..]);
    let errors = parse("broken.toml", &text).unwrap_err();
    let clerk_line = text.find("may.program_registration").unwrap();
    let expected_line = text[..clerk_line].matches('\n').count() + 1;
    assert!(
        errors.errors.iter().any(|e| e.line == expected_line
            && e.message.contains(
                "grants access to class 'program_registration', which this policy does not declare"
            )),
        "{errors}"
    );
}

#[test]
fn n4_field_without_purpose_is_rejected() {
    let text = edit(
        "fields.phone = { personal = true, purpose = \"account_notices\" }",
        "fields.phone = { personal = true }",
    );
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "fields.phone"));
    assert!(
        message.contains("field 'phone' of class 'registration' has no purpose"),
        "{message}"
    );
}

#[test]
fn n4_field_with_undeclared_purpose_is_rejected() {
    let text = edit(
        "fields.phone = { personal = true, purpose = \"account_notices\" }",
        "fields.phone = { personal = true, purpose = \"marketing\" }",
    );
    let (_, message) = first_error(&text);
    assert!(message.contains("purpose 'marketing'"), "{message}");
}

#[test]
fn n1_syntax_errors_and_unknown_keys_name_the_line() {
    let text = edit("age_of_majority = 18", "age_of_majority = eighteen");
    let (line, _) = first_error(&text);
    assert_eq!(line, line_of(&text, "age_of_majority"));
    let text = edit(
        "age_of_majority = 18",
        "age_of_majority = 18\nfavourite_colour = \"red\"",
    );
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "favourite_colour"));
    assert!(message.contains("favourite_colour"), "{message}");
}

#[test]
fn n1_bad_time_zone_is_rejected() {
    let text = edit("\"America/Chicago\"", "\"Mars/Olympus\"");
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "Mars/Olympus"));
    assert!(message.contains("not a time zone"), "{message}");
}

#[test]
fn d6_missing_required_role_is_rejected() {
    let text = edit("[roles.auditor]", "[roles.inspector]");
    let errors = parse("broken.toml", &text).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("does not define role 'auditor'"),
        "{errors}"
    );
}

#[test]
fn n4_a_stored_field_must_be_declared() {
    let text = edit(
        "fields.renewals = { personal = false, purpose = \"circulation\" }\n",
        "",
    );
    let errors = parse("broken.toml", &text).unwrap_err();
    assert!(
        errors.to_string().contains("must declare field 'renewals'"),
        "{errors}"
    );
}

#[test]
fn n4_a_field_carrel_has_no_place_for_is_rejected() {
    let text = edit(
        "fields.renewals = { personal = false, purpose = \"circulation\" }",
        "fields.renewals = { personal = false, purpose = \"circulation\" }\nfields.mood = { personal = true, purpose = \"circulation\" }",
    );
    let (_, message) = first_error(&text);
    assert!(message.contains("no place for field 'mood'"), "{message}");
}

#[test]
fn d6_a_policy_must_allow_the_purposes_carrel_operations_state() {
    let text = edit(
        "purposes = [\"account\", \"online_access\", \"account_notices\", \"guardianship\"]",
        "purposes = [\"online_access\", \"account_notices\", \"guardianship\"]",
    );
    let errors = parse("broken.toml", &text).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("class 'registration' must list purpose 'account'"),
        "{errors}"
    );
}

#[test]
fn d1_a_retention_clock_carrel_does_not_run_for_the_class_is_rejected() {
    let text = edit(
        "retention = { clock = \"loan_returned\", keep = \"60 days\"",
        "retention = { clock = \"session_ended\", keep = \"60 days\"",
    );
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "clock = \"session_ended\", keep = \"60 days\", dispose = \"delete\" }\n\n[classes.fines]"));
    assert!(
        message.contains("runs this class's clock from 'loan_returned', not 'session_ended'"),
        "{message}"
    );
}

#[test]
fn d1_a_class_with_personal_data_needs_a_retention_rule() {
    let text = edit(
        "retention = { clock = \"program_ended\", keep = \"0 days\", dispose = \"delete\" }\n",
        "",
    );
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "[classes.program_registration]"));
    assert!(
        message.contains("holds personal data but has no retention rule")
            && message.contains("clock = \"program_ended\""),
        "{message}"
    );
}

#[test]
fn l5_both_policies_hold_records_ninety_days_renewable_once() {
    for text in [MISSOURI, COLORADO] {
        let p = parse("p", text).unwrap();
        assert_eq!(p.legal_holds.days, 90);
        assert_eq!(p.legal_holds.longest_days(), 180);
        assert_eq!(p.legal_holds.placed_by, vec!["director".to_string()]);
        assert_eq!(p.statistics.min_cell, 5);
    }
}

#[test]
fn l5_a_hold_role_that_does_not_exist_is_rejected() {
    let text = edit("placed_by = [\"director\"]", "placed_by = [\"sheriff\"]");
    let (line, message) = first_error(&text);
    assert_eq!(line, line_of(&text, "\"sheriff\""));
    assert!(message.contains("role 'sheriff'"), "{message}");
}

#[test]
fn d3_small_cell_threshold_defaults_to_five_and_cannot_be_zero() {
    let start = MISSOURI.find("[statistics]").unwrap();
    let without = MISSOURI.replacen("[statistics]\nmin_cell = 5\n", "", 1);
    assert!(without.len() < MISSOURI.len(), "section at {start} removed");
    assert_eq!(parse("p", &without).unwrap().statistics.min_cell, 5);
    let (_, message) = first_error(&edit("min_cell = 5", "min_cell = 0"));
    assert!(message.contains("min_cell must be at least 1"), "{message}");
}

/// The two statutes differ; the files must say so (R3, R5, L2, L3).
#[test]
fn l2_r5_the_two_files_differ_where_their_laws_differ() {
    use carrel_policy::disclosure::{DocumentKind, RequesterKind};
    use std::collections::BTreeSet;
    let mo = parse("mo", MISSOURI).unwrap().disclosure;
    let co = parse("co", COLORADO).unwrap().disclosure;
    let subpoena: BTreeSet<_> = [DocumentKind::Subpoena].into();
    // Missouri: a court order upon a finding; a subpoena alone is not enough.
    assert!(!mo
        .basis("court_order")
        .unwrap()
        .missing(&subpoena)
        .is_empty());
    // Colorado: "Pursuant to subpoena, upon court order".
    assert!(co
        .basis("legal_process")
        .unwrap()
        .missing(&subpoena)
        .is_empty());
    // Colorado's "reasonable operation of the library" (R5), with a reason.
    let operation = co.basis("library_operation").unwrap();
    assert!(operation.reason_required && operation.admits(RequesterKind::Library));
    assert!(!mo.bases.values().any(|b| b.admits(RequesterKind::Library)));
    // Colorado's guardian holding the minor's card sees records online (R3).
    assert!(co
        .bases
        .values()
        .any(|b| b.requester_is_guardian && b.channel.online()));
    assert!(!mo
        .bases
        .values()
        .any(|b| b.admits(RequesterKind::Guardian) && b.channel.online()));
    // Exigent release: Missouri's policy authorises it, Colorado's statute has no such exception.
    assert!(mo.bases.values().any(|b| b.exigent));
    assert!(!co.bases.values().any(|b| b.exigent));
    // L1: only the Director decides law-enforcement requests, in both.
    for rules in [&mo, &co] {
        for basis in rules.bases.values() {
            if basis.admits(RequesterKind::LawEnforcement) {
                assert_eq!(basis.decided_by, ["director"]);
                assert!(basis.counsel_review);
            }
        }
    }
}

#[test]
fn l2_a_law_enforcement_basis_without_counsel_review_is_refused() {
    let broken = MISSOURI.replacen(
        "decided_by = [\"director\"]\ncounsel_review = true\ncounsel_confirms = [\"competent_jurisdiction\", \"good_cause\", \"proper_form\"]\nexigent = true",
        "decided_by = [\"director\"]\nexigent = true",
        1,
    );
    assert_ne!(broken, MISSOURI);
    let err = parse("mo", &broken).unwrap_err().to_string();
    assert!(err.contains("counsel_review = true"), "{err}");
    assert!(err.contains("L2"), "{err}");
}
