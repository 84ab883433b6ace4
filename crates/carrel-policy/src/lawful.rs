//! # Whether a release is lawful (L1, L3, L7, R3, R5)
//!
//! The most important decision Carrel makes: may these records leave the
//! library now, on this basis? It is decided here, as a pure function of
//! the policy's basis and plain facts the store gathers about the request
//! ([`ReleaseFacts`]), so it can be read in one place and tested against
//! every basis of every policy without a database. The store gathers the
//! facts, asks, and turns a refusal into an audited answer (`carrel-store`,
//! `disclosures::check_lawful`).
//!
//! The checks, in the order a refusal names the first that fails: the
//! records still exist; a reason is recorded where the basis wants one
//! (Colorado's "reasonable operation"); a guardian's basis still reaches
//! the subject (a minor today) and the requester is the guardian linked to
//! the minor's record; every document group the basis requires is
//! presented, unless the release is exigent (the document may follow, L3).
//! Who may take each step, and in which state, is decided elsewhere
//! ([`crate::disclosure::DisclosureRules::may`] and the store's steps).

use std::collections::BTreeSet;

use chrono::{Months, NaiveDate};

use crate::disclosure::{describe_group, Basis, DocumentKind};

/// What kind of release is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Every required document is on file.
    Ordinary,
    /// Released at once on counsel's advice; the document may follow (L3).
    Exigent,
}

/// The subject of a request, as the store finds them today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The patron's records are destroyed: nothing is left to release.
    Destroyed,
    /// Records are kept (in their tables, or for a restricted case), but
    /// the registration that says who the patron is has gone: whether
    /// they are a minor, and whose, cannot be known.
    RegistrationDestroyed,
    /// The registration is there.
    Registered {
        /// A minor today, under the policy (see [`is_minor`]).
        minor: bool,
        /// The requester is the patron linked as the subject's guardian.
        requester_is_linked_guardian: bool,
    },
}

/// The facts a release decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFacts {
    /// What is left of the patron the records identify, and whether they are a
    /// minor and whose.
    pub subject: Subject,
    /// A reason for this use is recorded on the request.
    pub reason_recorded: bool,
    /// The kinds of document on file.
    pub documents: BTreeSet<DocumentKind>,
}

/// Why a release is not lawful.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlawful {
    /// The patron's records are destroyed: there is nothing to release.
    RecordsDestroyed,
    /// The basis needs a reason recorded with each use, and none is (Colorado's
    /// R5).
    ReasonRequired,
    /// The subject is no longer a minor: a guardian's access has ended.
    MajorityReached,
    /// The requester is not the guardian linked to the minor's record (or
    /// the registration that would say so is destroyed).
    NotTheGuardian,
    /// A guardian's basis, for a patron whose registration is destroyed
    /// (their records are kept for a restricted case): nothing shows they
    /// are a minor, or whose.
    RegistrationDestroyed,
    /// These requirement groups are not met, in policy order.
    MissingDocuments(Vec<Vec<DocumentKind>>),
}

impl Unlawful {
    /// The refusal's code, as the API answers it.
    pub fn code(&self) -> &'static str {
        match self {
            Unlawful::RecordsDestroyed => "records_destroyed",
            Unlawful::ReasonRequired => "reason_required",
            Unlawful::MajorityReached => "majority_reached",
            Unlawful::NotTheGuardian => "not_the_guardian",
            Unlawful::RegistrationDestroyed => "registration_destroyed",
            Unlawful::MissingDocuments(_) => "missing_document",
        }
    }

    /// What staff are told: what is wrong and what to do. `basis_name` and
    /// `request` are the policy's and Carrel's own words, never a
    /// requester's.
    pub fn message(
        &self,
        basis_name: &str,
        basis: &Basis,
        request: &str,
        age_of_majority: u32,
    ) -> String {
        match self {
            Unlawful::RecordsDestroyed => "the patron's records have been destroyed under the retention policy; there is nothing to release. Close the request".into(),
            Unlawful::ReasonRequired => format!(
                "basis '{basis_name}' ({}) needs its reason recorded; it cannot be released without one",
                basis.citation
            ),
            Unlawful::MajorityReached => format!(
                "the patron is no longer a minor under the policy (age of majority {age_of_majority}): a guardian's access has ended. The patron may ask for their own records, or give written consent"
            ),
            Unlawful::NotTheGuardian => "the requester is not the guardian linked to the minor's record; proof of guardianship must match the guardian on the minor's account (update the account first, with proof)".into(),
            Unlawful::RegistrationDestroyed => format!(
                "the patron's registration has been destroyed, so nothing shows that they are a minor or who their guardian is: basis '{basis_name}' cannot be used. Refuse the request"
            ),
            Unlawful::MissingDocuments(groups) => format!(
                "request {request} cannot be released: basis '{basis_name}' ({}) requires {}, which is not recorded. Attach it, or refuse the request",
                basis.citation,
                groups.iter().map(|g| describe_group(g)).collect::<Vec<_>>().join("; and ")
            ),
        }
    }
}

/// Whether `basis` lets these records go now, for this kind of release.
pub fn release_is_lawful(
    basis: &Basis,
    release: Release,
    facts: &ReleaseFacts,
) -> Result<(), Unlawful> {
    if facts.subject == Subject::Destroyed {
        return Err(Unlawful::RecordsDestroyed);
    }
    if basis.reason_required && !facts.reason_recorded {
        return Err(Unlawful::ReasonRequired);
    }
    guardian_reaches(basis, facts.subject)?;
    if release == Release::Ordinary {
        let missing: Vec<Vec<DocumentKind>> = basis
            .missing(&facts.documents)
            .into_iter()
            .map(<[DocumentKind]>::to_vec)
            .collect();
        if !missing.is_empty() {
            return Err(Unlawful::MissingDocuments(missing));
        }
    }
    Ok(())
}

/// The part of [`release_is_lawful`] a guardian's basis adds (R3): the
/// subject is a minor today, and the requester is the guardian linked to
/// their record. Bases that are not a guardian's pass.
pub fn guardian_reaches(basis: &Basis, subject: Subject) -> Result<(), Unlawful> {
    if !basis.subject_is_minor && !basis.requester_is_guardian {
        return Ok(());
    }
    let (minor, linked) = match subject {
        Subject::Destroyed => return Err(Unlawful::RecordsDestroyed),
        // No registration says the patron is a minor, or whose.
        Subject::RegistrationDestroyed => return Err(Unlawful::RegistrationDestroyed),
        Subject::Registered {
            minor,
            requester_is_linked_guardian,
        } => (minor, requester_is_linked_guardian),
    };
    if basis.subject_is_minor && !minor {
        return Err(Unlawful::MajorityReached);
    }
    if basis.requester_is_guardian && !linked {
        return Err(Unlawful::NotTheGuardian);
    }
    Ok(())
}

/// Whether a patron is a minor on `today`: by birth date and the age of
/// majority when the birth date is known, else by whether their card
/// category is a minor's.
pub fn is_minor(
    birth_date: Option<NaiveDate>,
    category_is_minor: bool,
    age_of_majority: u32,
    today: NaiveDate,
) -> bool {
    match birth_date {
        Some(birth) => {
            let of_age_on = birth
                .checked_add_months(Months::new(age_of_majority.saturating_mul(12)))
                .unwrap_or(NaiveDate::MAX);
            today < of_age_on
        }
        None => category_is_minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disclosure::Basis;
    use proptest::prelude::*;

    const MISSOURI: &str = include_str!("../../../policies/jefferson-county-mo.toml");
    const COLORADO: &str = include_str!("../../../policies/jefferson-county-co.toml");

    fn bases() -> Vec<(String, String, Basis)> {
        let mut all = Vec::new();
        for (library, text) in [("missouri", MISSOURI), ("colorado", COLORADO)] {
            let policy = crate::parse(library, text).unwrap();
            for (name, basis) in &policy.disclosure.bases {
                all.push((library.to_string(), name.clone(), basis.clone()));
            }
        }
        all
    }

    fn basis(library: &str, name: &str) -> Basis {
        bases()
            .into_iter()
            .find(|(l, n, _)| l == library && n == name)
            .map(|(_, _, b)| b)
            .unwrap_or_else(|| panic!("{library} has no basis {name}"))
    }

    fn facts(subject: Subject, reason: bool, documents: &[DocumentKind]) -> ReleaseFacts {
        ReleaseFacts {
            subject,
            reason_recorded: reason,
            documents: documents.iter().copied().collect(),
        }
    }

    const ADULT: Subject = Subject::Registered {
        minor: false,
        requester_is_linked_guardian: false,
    };

    /// L1: Missouri releases to law enforcement only on a court order or
    /// a search warrant; a subpoena alone does not do.
    #[test]
    fn l1_missouri_court_order_needs_the_order_or_a_warrant() {
        let order = basis("missouri", "court_order");
        let lawful = |docs: &[DocumentKind]| {
            release_is_lawful(&order, Release::Ordinary, &facts(ADULT, false, docs))
        };
        assert_eq!(lawful(&[DocumentKind::CourtOrder]), Ok(()));
        assert_eq!(lawful(&[DocumentKind::SearchWarrant]), Ok(()));
        assert_eq!(
            lawful(&[DocumentKind::Subpoena]).unwrap_err().code(),
            "missing_document"
        );
        assert_eq!(lawful(&[]).unwrap_err().code(), "missing_document");
    }

    /// L3: an exigent release goes before the document; an ordinary one
    /// of the same request does not.
    #[test]
    fn l3_an_exigent_release_lets_the_document_follow() {
        for (library, name, basis) in bases().into_iter().filter(|(_, _, b)| b.exigent) {
            let none = facts(ADULT, true, &[]);
            assert_eq!(
                release_is_lawful(&basis, Release::Exigent, &none),
                Ok(()),
                "{library} {name}"
            );
            assert!(
                release_is_lawful(&basis, Release::Ordinary, &none).is_err()
                    || basis.requires.is_empty()
            );
        }
    }

    /// R5: Colorado's "reasonable operation of the library" needs its
    /// reason recorded.
    #[test]
    fn r5_colorado_library_operation_needs_its_reason() {
        let operation = basis("colorado", "library_operation");
        let docs: Vec<DocumentKind> = operation.requires.iter().map(|g| g[0]).collect();
        assert_eq!(
            release_is_lawful(&operation, Release::Ordinary, &facts(ADULT, false, &docs)),
            Err(Unlawful::ReasonRequired)
        );
        assert_eq!(
            release_is_lawful(&operation, Release::Ordinary, &facts(ADULT, true, &docs)),
            Ok(())
        );
    }

    /// R3: a guardian's basis reaches a minor only, and only for the
    /// guardian linked to the minor's record; with the registration
    /// destroyed it cannot be shown to reach anyone.
    #[test]
    fn r3_a_guardians_basis_reaches_a_minor_for_the_linked_guardian_only() {
        for (library, name, basis) in bases()
            .into_iter()
            .filter(|(_, _, b)| b.subject_is_minor && b.requester_is_guardian)
        {
            let docs: Vec<DocumentKind> = basis.requires.iter().map(|g| g[0]).collect();
            let ask = |subject| {
                release_is_lawful(&basis, Release::Ordinary, &facts(subject, true, &docs))
            };
            let minor = |linked| Subject::Registered {
                minor: true,
                requester_is_linked_guardian: linked,
            };
            assert_eq!(ask(minor(true)), Ok(()), "{library} {name}");
            assert_eq!(
                ask(minor(false)),
                Err(Unlawful::NotTheGuardian),
                "{library} {name}"
            );
            assert_eq!(
                ask(Subject::Registered {
                    minor: false,
                    requester_is_linked_guardian: true
                }),
                Err(Unlawful::MajorityReached),
                "{library} {name}"
            );
            assert_eq!(
                ask(Subject::RegistrationDestroyed),
                Err(Unlawful::RegistrationDestroyed)
            );
            assert_eq!(ask(Subject::Destroyed), Err(Unlawful::RecordsDestroyed));
        }
    }

    /// A patron comes of age on their birthday, in the policy's years; a
    /// card category says so only when the birth date is not known.
    #[test]
    fn r3_minority_ends_on_the_birthday() {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let birth = Some(day("2008-03-20"));
        assert!(is_minor(birth, false, 18, day("2026-03-19")));
        assert!(!is_minor(birth, true, 18, day("2026-03-20")));
        assert!(is_minor(None, true, 18, day("2026-03-20")));
        assert!(!is_minor(None, false, 18, day("2026-03-20")));
        // Born on 29 February: of age on 28 February of a common year? No:
        // chrono's month arithmetic clamps to the 28th.
        assert!(!is_minor(
            Some(day("2008-02-29")),
            false,
            18,
            day("2026-02-28")
        ));
    }

    fn any_subject() -> impl Strategy<Value = Subject> {
        prop_oneof![
            Just(Subject::Destroyed),
            Just(Subject::RegistrationDestroyed),
            (any::<bool>(), any::<bool>()).prop_map(|(minor, linked)| Subject::Registered {
                minor,
                requester_is_linked_guardian: linked
            }),
        ]
    }

    fn any_documents() -> impl Strategy<Value = BTreeSet<DocumentKind>> {
        proptest::collection::btree_set(proptest::sample::select(DocumentKind::ALL.to_vec()), 0..5)
    }

    proptest! {
        /// L7: for every basis of both policies and any facts, a release is
        /// lawful exactly when each of the policy's conditions holds, and
        /// a refusal names a condition that fails. The conditions are
        /// written here from the policy file's fields, not from the
        /// decision's code.
        #[test]
        fn l7_a_release_is_lawful_exactly_when_the_policy_says(
            which in 0usize..64,
            exigent in any::<bool>(),
            subject in any_subject(),
            reason in any::<bool>(),
            documents in any_documents(),
        ) {
            let all = bases();
            let (library, name, basis) = &all[which % all.len()];
            let release = if exigent { Release::Exigent } else { Release::Ordinary };
            let facts = ReleaseFacts { subject, reason_recorded: reason, documents: documents.clone() };
            let exists = subject != Subject::Destroyed;
            let guardians = basis.subject_is_minor || basis.requester_is_guardian;
            let registered = matches!(subject, Subject::Registered { .. });
            let (minor, linked) = match subject {
                Subject::Registered { minor, requester_is_linked_guardian } => (minor, requester_is_linked_guardian),
                _ => (false, false),
            };
            let reason_ok = !basis.reason_required || reason;
            let registration_ok = !guardians || registered;
            let minor_ok = !basis.subject_is_minor || minor;
            let guardian_ok = !basis.requester_is_guardian || linked;
            let documents_ok = exigent
                || basis.requires.iter().all(|group| group.iter().any(|kind| documents.contains(kind)));
            let lawful = exists && reason_ok && registration_ok && minor_ok && guardian_ok && documents_ok;
            let decided = release_is_lawful(basis, release, &facts);
            prop_assert_eq!(decided.is_ok(), lawful, "{} {}: {:?}", library, name, decided);
            if let Err(why) = decided {
                let named_fails = match why {
                    Unlawful::RecordsDestroyed => !exists,
                    Unlawful::ReasonRequired => !reason_ok,
                    Unlawful::MajorityReached => !minor_ok,
                    Unlawful::NotTheGuardian => !guardian_ok,
                    Unlawful::RegistrationDestroyed => !registration_ok,
                    Unlawful::MissingDocuments(groups) => !documents_ok && !groups.is_empty(),
                };
                prop_assert!(named_fails, "{} {}", library, name);
            }
        }
    }
}
