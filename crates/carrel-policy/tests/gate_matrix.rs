//! D6: the decision function agrees with the policy's role table in every
//! cell, for both shipped policies. The expected answer is read from the raw
//! TOML here, independently of the crate's own parser.

use carrel_policy::{parse, Action, Decision, RecordClass};
use proptest::prelude::*;

const POLICIES: [(&str, &str); 2] = [
    (
        "mo",
        include_str!("../../../policies/jefferson-county-mo.toml"),
    ),
    (
        "co",
        include_str!("../../../policies/jefferson-county-co.toml"),
    ),
];

/// What the raw file says: does `role` list `action` for `class`, and does
/// `class` list `purpose`?
fn table_says(
    raw: &toml::Table,
    role: &str,
    action: Action,
    class: RecordClass,
    purpose: &str,
) -> bool {
    let granted = raw["roles"]
        .get(role)
        .and_then(|r| r.get("may"))
        .and_then(|m| m.get(class.name()))
        .and_then(|a| a.as_array())
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(action.name())));
    let purpose_ok = raw["classes"]
        .get(class.name())
        .and_then(|c| c.get("purposes"))
        .and_then(|p| p.as_array())
        .is_some_and(|p| p.iter().any(|v| v.as_str() == Some(purpose)));
    granted && purpose_ok
}

#[test]
fn d6_every_role_action_class_purpose_cell_matches_the_table() {
    for (name, text) in POLICIES {
        let policy = parse(name, text).unwrap();
        let raw: toml::Table = text.parse().unwrap();
        let mut allowed = 0;
        let mut cells = 0;
        for role in raw["roles"].as_table().unwrap().keys() {
            for &action in Action::ALL {
                for &class in RecordClass::ALL {
                    for purpose in raw["purposes"].as_table().unwrap().keys() {
                        cells += 1;
                        let expected = table_says(&raw, role, action, class, purpose);
                        let got = policy.decide(role, action, class, purpose);
                        assert_eq!(
                            got.is_allowed(),
                            expected,
                            "{name}: {role} {action} {class} for {purpose}: {got:?}"
                        );
                        allowed += usize::from(expected);
                    }
                }
            }
        }
        // The table must be neither all-deny nor all-allow for the test to mean anything.
        assert!(
            allowed > 0 && allowed < cells,
            "{name}: {allowed} of {cells}"
        );
    }
}

/// Colorado's statute names volunteers among those who may not disclose
/// (C.R.S. 24-90-119(3)), so its file has a volunteer role, with the least
/// access: the catalogue, read, for the purposes that class declares, and
/// no patron record of any class, for any action or purpose; no part in
/// disclosure or legal holds. The file cites the statute for it.
#[test]
fn d6_colorado_volunteers_read_the_catalogue_and_no_patron_record() {
    let text = POLICIES[1].1;
    let policy = parse("co", text).unwrap();
    assert!(
        policy.roles.contains_key("volunteer"),
        "the Colorado policy defines a volunteer role"
    );
    let catalogue_purposes = &policy.class(RecordClass::Catalogue).unwrap().purposes;
    for &action in Action::ALL {
        for &class in RecordClass::ALL {
            for purpose in policy.purposes.keys() {
                let expected = class == RecordClass::Catalogue
                    && action == Action::Read
                    && catalogue_purposes.contains(purpose);
                assert_eq!(
                    policy
                        .decide("volunteer", action, class, purpose)
                        .is_allowed(),
                    expected,
                    "volunteer {action} {class} for {purpose}"
                );
            }
        }
    }
    let rules = &policy.disclosure;
    for circle in [
        &rules.recorded_by,
        &rules.counsel,
        &rules.alert,
        &rules.gag_circle,
        &policy.legal_holds.placed_by,
    ] {
        assert!(!circle.iter().any(|r| r == "volunteer"));
    }
    let comment = &text[..text.find("[roles.volunteer]").unwrap()];
    let comment = &comment[comment.rfind("\n\n").unwrap()..];
    assert!(comment.contains("C.R.S. 24-90-119(3)") && comment.contains("volunteer"));
}

proptest! {
    /// Names that are not in the policy are always refused, whatever else is asked.
    #[test]
    fn d6_unknown_roles_and_purposes_are_denied(
        role in "[a-z_]{1,12}", purpose in "[a-z_]{1,12}",
        action in 0usize..6, class in 0usize..RecordClass::ALL.len(), which in 0usize..2,
    ) {
        let policy = parse("p", POLICIES[which].1).unwrap();
        let action = Action::ALL[action];
        let class = RecordClass::ALL[class];
        if !policy.roles.contains_key(&role) {
            prop_assert!(matches!(policy.decide(&role, action, class, "circulation"), Decision::Deny(_)));
        }
        if !policy.purposes.contains_key(&purpose) {
            for known_role in policy.roles.keys() {
                prop_assert!(!policy.decide(known_role, action, class, &purpose).is_allowed());
            }
        }
    }
}
