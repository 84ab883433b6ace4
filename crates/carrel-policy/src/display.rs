//! How a staff screen shows a patron's personal details (D6: "the screen
//! masks personal data until it is needed").
//!
//! Each role may have a `display` table in the policy file, naming for some
//! registration fields how that role's screens show them:
//!
//! ```toml
//! [roles.clerk]
//! display.name = "first_name_last_initial"
//! display.card_barcode = "last_four"
//! ```
//!
//! A personal field the table does not name is hidden: it appears only
//! when a member of staff reveals it for a stated purpose, an action the
//! gate decides and the audit log records. Fields that are not personal
//! (the card's category, status, expiry) are always shown.
//!
//! A screen is not the API: what a read returns is decided by its purpose
//! (the fields declared for that purpose), and the display rule then
//! decides how much of that a screen paints before anyone asks.

use crate::model::Policy;
use crate::RecordClass;

/// How much of one field a role's screens show before a reveal.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum Mask {
    /// The whole value.
    Full,
    /// A name as its first word and the last word's initial: "Ada L.".
    FirstNameLastInitial,
    /// A name as the initials of its words: "A. L.".
    Initials,
    /// The last four characters, the rest as dots: "••••0001". For card
    /// barcodes, which the patron has just handed over.
    LastFour,
    /// Nothing: the field appears only when revealed.
    Hidden,
}

impl Mask {
    /// The mask's name in the policy file.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// `value` as this mask shows it; `None` when it shows nothing.
    pub fn apply(self, value: &str) -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        match self {
            Mask::Full => Some(value.to_string()),
            Mask::FirstNameLastInitial => {
                let (given, family) = name_parts(value);
                match (given.first(), family) {
                    (Some(first), Some(family)) => Some(format!("{first} {}.", initial(family))),
                    (Some(first), None) => Some((*first).to_string()),
                    (None, Some(family)) => Some(format!("{}.", initial(family))),
                    (None, None) => None,
                }
            }
            Mask::Initials => {
                let (given, family) = name_parts(value);
                let initials: Vec<String> = given
                    .iter()
                    .copied()
                    .chain(family)
                    .map(|word| format!("{}.", initial(word)))
                    .collect();
                Some(initials.join(" "))
            }
            Mask::LastFour => {
                let chars: Vec<char> = value.chars().collect();
                let shown = chars.len().min(4);
                let hidden = chars.len() - shown;
                let tail: String = chars[hidden..].iter().collect();
                let dots = if hidden > 0 { "••••" } else { "" };
                Some(format!("{dots}{tail}"))
            }
            Mask::Hidden => None,
        }
    }
}

/// A name's given words and its family word. "Lovelace, Ada" (family name
/// first, with a comma, as library systems often store it) and "Ada
/// Lovelace" both give (["Ada"], Some("Lovelace")).
fn name_parts(value: &str) -> (Vec<&str>, Option<&str>) {
    if let Some((family, given)) = value.split_once(',') {
        let family = family.split_whitespace().last();
        return (given.split_whitespace().collect(), family);
    }
    let mut words: Vec<&str> = value.split_whitespace().collect();
    let family = if words.len() > 1 { words.pop() } else { None };
    (words, family)
}

/// A word's first letter, upper-cased where the script has case.
fn initial(word: &str) -> String {
    word.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

impl Policy {
    /// How `role`'s screens show registration field `field` before a reveal:
    /// the role's `display` rule; else the whole value for a field that is
    /// not personal, and nothing for one that is.
    pub fn display_of(&self, role: &str, field: &str) -> Mask {
        if let Some(mask) = self.roles.get(role).and_then(|r| r.display.get(field)) {
            return *mask;
        }
        let personal = self
            .classes
            .get(&RecordClass::Registration)
            .and_then(|class| class.fields.get(field))
            .is_none_or(|spec| spec.personal);
        if personal {
            Mask::Hidden
        } else {
            Mask::Full
        }
    }

    /// Whether a read of a registration for `purpose` returns `field`: a
    /// field that is not personal always, a personal one only when it is
    /// declared for that purpose. An undeclared field never.
    pub fn field_serves(&self, class: RecordClass, field: &str, purpose: &str) -> bool {
        self.classes
            .get(&class)
            .and_then(|c| c.fields.get(field))
            .is_some_and(|spec| !spec.personal || spec.purpose == purpose)
    }
}

#[cfg(test)]
mod tests {
    use super::Mask;

    #[test]
    fn names_are_shortened_whichever_way_round_they_are_written() {
        let short = Mask::FirstNameLastInitial;
        assert_eq!(short.apply("Ada Lovelace").as_deref(), Some("Ada L."));
        assert_eq!(short.apply("Lovelace, Ada").as_deref(), Some("Ada L."));
        assert_eq!(
            short.apply("Ada Augusta King Lovelace").as_deref(),
            Some("Ada L.")
        );
        assert_eq!(short.apply("Cher").as_deref(), Some("Cher"));
        assert_eq!(short.apply("  ").as_deref(), None);
        assert_eq!(short.apply("émile zola").as_deref(), Some("émile Z."));
        assert_eq!(
            Mask::Initials.apply("Ada Lovelace").as_deref(),
            Some("A. L.")
        );
        assert_eq!(
            Mask::Initials.apply("Lovelace, Ada").as_deref(),
            Some("A. L.")
        );
    }

    #[test]
    fn no_mask_but_full_gives_the_whole_of_a_longer_value() {
        let name = "Ada Lovelace";
        for mask in [Mask::FirstNameLastInitial, Mask::Initials, Mask::Hidden] {
            assert_ne!(mask.apply(name).as_deref(), Some(name), "{mask:?}");
        }
        assert_eq!(Mask::Full.apply(name).as_deref(), Some(name));
    }

    #[test]
    fn last_four_shows_four_characters_and_never_says_how_long_the_value_is() {
        assert_eq!(
            Mask::LastFour.apply("21234000000001").as_deref(),
            Some("••••0001")
        );
        assert_eq!(Mask::LastFour.apply("123456").as_deref(), Some("••••3456"));
        assert_eq!(Mask::LastFour.apply("12").as_deref(), Some("12"));
    }
}
