//! The one access decision: may this role do this action on this class of
//! record for this purpose? Pure, so it can be checked exhaustively.

use std::fmt;

use crate::model::{Action, Policy, RecordClass};

/// Why an access was refused. Carries only policy names, never data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    /// The role is not one the policy defines.
    UnknownRole {
        /// The role's name, as given.
        role: String,
    },
    /// The policy does not declare this class of records.
    ClassNotInPolicy {
        /// The undeclared class.
        class: RecordClass,
    },
    /// The policy does not grant the role this action on this class.
    ActionNotGranted {
        /// The role that asked.
        role: String,
        /// The action it asked to take.
        action: Action,
        /// The class of records it asked to act on.
        class: RecordClass,
    },
    /// The stated purpose is not one for which the class's records may be used.
    PurposeNotDeclared {
        /// The purpose stated for the access.
        purpose: String,
        /// The class whose declared purposes do not include it.
        class: RecordClass,
    },
    /// Legal holds are placed only by the roles `[legal_holds]` names.
    NotALegalHoldRole {
        /// The role that tried to place, renew or release a hold.
        role: String,
    },
    /// The disclosure rules do not let this role take this step on a
    /// request under this basis (L1).
    DisclosureStep {
        /// The role that tried the step.
        role: String,
        /// The step it tried to take.
        step: crate::disclosure::Step,
        /// The name of the request's basis in the policy.
        basis: String,
    },
    /// Releasing would break the law the policy encodes (L7): a document is
    /// missing, a guardian's access has ended, no reason was recorded...
    /// `code` is stable for API clients; `message` names what is missing and
    /// what to do, never personal data.
    Unlawful {
        /// Names the condition that failed (`missing_document`,
        /// `reason_required`, ...).
        code: &'static str,
        /// What staff are told: what is missing and what to do.
        message: String,
    },
}

impl DenyReason {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::Unlawful { code, .. } => code,
            _ => "denied",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::UnknownRole { role } => {
                write!(f, "role '{role}' is not defined in the library's policy")
            }
            DenyReason::ClassNotInPolicy { class } => write!(
                f,
                "the library's policy does not declare record class '{class}', so no one may use it"
            ),
            DenyReason::ActionNotGranted {
                role,
                action,
                class,
            } => write!(
                f,
                "the policy does not let role '{role}' {action} records of class '{class}'"
            ),
            DenyReason::PurposeNotDeclared { purpose, class } => write!(
                f,
                "'{purpose}' is not a purpose for which the policy allows use of class '{class}'"
            ),
            DenyReason::NotALegalHoldRole { role } => write!(
                f,
                "the policy does not let role '{role}' place, renew or release legal holds"
            ),
            DenyReason::DisclosureStep { role, step, basis } => write!(
                f,
                "the policy does not let role '{role}' {step} a disclosure request under basis '{basis}'; record the request and refer it to a role that may"
            ),
            DenyReason::Unlawful { message, .. } => f.write_str(message),
        }
    }
}

/// The outcome of an access decision: allowed, or refused with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The access may go ahead.
    Allow,
    /// The access is refused, for the reason given.
    Deny(DenyReason),
}

impl Decision {
    /// Whether the access may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

impl Policy {
    /// Decides an access. Denies unless the role exists, the class is
    /// declared, the role is granted the action on the class, and the
    /// purpose is one the class is declared for.
    pub fn decide(
        &self,
        role: &str,
        action: Action,
        class: RecordClass,
        purpose: &str,
    ) -> Decision {
        let Some(role_spec) = self.roles.get(role) else {
            return Decision::Deny(DenyReason::UnknownRole {
                role: role.to_string(),
            });
        };
        let Some(class_spec) = self.classes.get(&class) else {
            return Decision::Deny(DenyReason::ClassNotInPolicy { class });
        };
        if !role_spec.may(action, class) {
            return Decision::Deny(DenyReason::ActionNotGranted {
                role: role.to_string(),
                action,
                class,
            });
        }
        if !class_spec.purposes.iter().any(|p| p == purpose) {
            return Decision::Deny(DenyReason::PurposeNotDeclared {
                purpose: purpose.to_string(),
                class,
            });
        }
        Decision::Allow
    }
}
