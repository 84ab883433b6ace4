//! Who does something: the one name the gate grants to and the audit log
//! records. Each principal has one label in the log (`staff:7`,
//! `patron:12`, `system:retention`, `anonymous`), made here and nowhere
//! else.
//!
//! A proven principal is a different thing: [`crate::gate::Actor`] (a
//! signed-in staff member, with role) and [`crate::gate::PatronActor`] (a
//! signed-in patron) are made only from live sessions, and each says which
//! `Principal` it is. A SIP2 terminal or a vendor account will be a new
//! variant here, with its own label, and a proven type of its own beside
//! those two.

use strum::{EnumString, IntoStaticStr};

/// Who did something, as the audit log names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A staff account, by id.
    Staff(i64),
    /// A patron online (or their card, for a sign-in), by patron id.
    Patron(i64),
    /// One of Carrel's own tasks.
    System(SystemTask),
    /// Nobody proven: a refused sign-in, a throttled address.
    Anonymous,
}

/// Carrel's own tasks, each a principal of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoStaticStr, EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum SystemTask {
    /// The retention purge (`carrel purge`, the schedule).
    Retention,
    /// Generating the demo library.
    Demo,
    /// The operator's `carrel staff` commands.
    StaffAdmin,
    /// A schema migration's own entries.
    Migration,
    /// The operator's `carrel import items`: loading a catalogue file.
    CatalogueImport,
    /// The operator's `carrel import patrons`: registrations from another
    /// system.
    PatronImport,
}

impl Principal {
    /// The principal's label in the audit log.
    pub fn label(&self) -> String {
        match self {
            Principal::Staff(id) => format!("staff:{id}"),
            Principal::Patron(id) => format!("patron:{id}"),
            Principal::System(task) => format!("system:{}", <&str>::from(*task)),
            Principal::Anonymous => "anonymous".to_string(),
        }
    }

    /// The principal a label names, or `None` for a label Carrel never
    /// writes (a hand-edited log).
    pub fn from_label(label: &str) -> Option<Principal> {
        if label == "anonymous" {
            return Some(Principal::Anonymous);
        }
        let (kind, rest) = label.split_once(':')?;
        let id = || rest.parse::<i64>().ok().filter(|id| *id > 0);
        match kind {
            "staff" => id().map(Principal::Staff),
            "patron" => id().map(Principal::Patron),
            "system" => rest.parse().ok().map(Principal::System),
            _ => None,
        }
    }
}

/// As its label: in the API, a request's timeline names who took each
/// step so.
/// Described as what it is on the wire: its label.
impl utoipa::PartialSchema for Principal {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^(staff:[1-9][0-9]*|patron:[1-9][0-9]*|system:[a-z-]+|anonymous)$"))
            .description(Some(
                "Who acted: `staff:` or `patron:` and an id, `system:` and one of Carrel's own tasks, or `anonymous`",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Principal {}

impl serde::Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.label())
    }
}

impl std::str::FromStr for Principal {
    type Err = ();

    fn from_str(label: &str) -> Result<Principal, ()> {
        Principal::from_label(label).ok_or(())
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_reads_back_as_its_principal() {
        let all = [
            Principal::Staff(7),
            Principal::Patron(12),
            Principal::System(SystemTask::Retention),
            Principal::System(SystemTask::Demo),
            Principal::System(SystemTask::StaffAdmin),
            Principal::System(SystemTask::Migration),
            Principal::Anonymous,
        ];
        for principal in all {
            assert_eq!(Principal::from_label(&principal.label()), Some(principal));
        }
    }

    /// The labels are what the log has always held: entries written before
    /// this type existed verify and read the same.
    #[test]
    fn the_labels_are_the_logs_own() {
        assert_eq!(Principal::Staff(3).label(), "staff:3");
        assert_eq!(Principal::Patron(9).label(), "patron:9");
        assert_eq!(
            Principal::System(SystemTask::Retention).label(),
            "system:retention"
        );
        assert_eq!(
            Principal::System(SystemTask::StaffAdmin).label(),
            "system:staff-admin"
        );
        assert_eq!(
            Principal::System(SystemTask::Migration).label(),
            "system:migration"
        );
        assert_eq!(Principal::Anonymous.label(), "anonymous");
    }

    #[test]
    fn labels_carrel_never_writes_name_nobody() {
        for label in [
            "",
            "staff:",
            "staff:x",
            "staff:-1",
            "system:cron",
            "root",
            "patron:0",
        ] {
            assert_eq!(Principal::from_label(label), None, "{label}");
        }
    }
}
