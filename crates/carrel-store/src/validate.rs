//! Parse, don't validate: the shapes of input Carrel accepts. A value of
//! these types has been checked; messages say what is wrong without
//! repeating the value (it may be personal).

use chrono::NaiveDate;

use crate::error::Error;

/// A library card barcode: 4 to 32 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBarcode(String);

impl CardBarcode {
    pub fn parse(text: &str) -> Result<CardBarcode, Error> {
        if barcode_shape(text) {
            Ok(CardBarcode(text.to_string()))
        } else {
            Err(Error::invalid(
                "bad_card_barcode",
                "card_barcode must be 4 to 32 letters or digits, with no spaces or symbols",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An item barcode: 4 to 32 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemBarcode(String);

impl ItemBarcode {
    pub fn parse(text: &str) -> Result<ItemBarcode, Error> {
        if barcode_shape(text) {
            Ok(ItemBarcode(text.to_string()))
        } else {
            Err(Error::invalid(
                "bad_item_barcode",
                "item barcode must be 4 to 32 letters or digits, with no spaces or symbols",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn barcode_shape(text: &str) -> bool {
    (4..=32).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A patron's PIN: 4 to 16 digits.
pub struct Pin(String);

impl Pin {
    pub fn parse(text: &str) -> Result<Pin, Error> {
        if (4..=16).contains(&text.len()) && text.chars().all(|c| c.is_ascii_digit()) {
            Ok(Pin(text.to_string()))
        } else {
            Err(Error::invalid("bad_pin", "pin must be 4 to 16 digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// A calendar date written `YYYY-MM-DD`.
pub fn date(field: &'static str, text: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            "bad_date",
            format!("{field} must be a date written YYYY-MM-DD, for example 2027-01-31"),
        )
    })
}

/// How an error message names a field the client sent under a name of its
/// own (an unknown JSON key): by that name if it has the shape of a field
/// name (lower-case letters, digits and `_`, at most 40 characters), and
/// otherwise not at all. A key is input too: a client that keys an object
/// by a patron's name must not see the name come back, or reach a log.
pub fn field_label(key: &str) -> String {
    let shaped = (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if shaped {
        format!("'{key}'")
    } else {
        "a field whose name is not a field name (names are lower-case letters, digits and _)"
            .to_string()
    }
}

/// Free text kept in a record: not empty, at most `max` characters, no
/// control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(
            "empty_field",
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > max {
        return Err(Error::invalid(
            "field_too_long",
            format!("{field} must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(
            "bad_characters",
            format!("{field} must not contain control characters such as tabs or line breaks"),
        ));
    }
    Ok(trimmed.to_string())
}

/// An e-mail address of a plausible shape (one `@`, a dot in the domain).
pub fn email(value: &str) -> Result<String, Error> {
    let value = text("email", value, 254)?;
    let ok = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !value.contains(char::is_whitespace)
            && value.matches('@').count() == 1
    });
    if ok {
        Ok(value)
    } else {
        Err(Error::invalid(
            "bad_email",
            "email must look like name@example.org",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_pins_and_emails_have_shapes() {
        assert!(CardBarcode::parse("21234000012345").is_ok());
        assert!(CardBarcode::parse("123").is_err());
        assert!(CardBarcode::parse("1234 5678").is_err());
        assert!(CardBarcode::parse(&"9".repeat(33)).is_err());
        assert!(Pin::parse("1234").is_ok());
        assert!(Pin::parse("12a4").is_err());
        assert!(email("reader@example.org").is_ok());
        assert!(email("reader@example").is_err());
        assert!(email("a@b@c.org").is_err());
        assert!(date("expires_on", "2027-02-30").is_err());
    }

    #[test]
    fn field_labels_name_only_field_shaped_keys() {
        assert_eq!(field_label("phone"), "'phone'");
        for key in ["Zelda Secretname", "zelda@example.org", "", &"a".repeat(41)] {
            assert!(!field_label(key).contains(key) || key.is_empty(), "{key}");
        }
    }

    #[test]
    fn error_messages_never_repeat_the_value() {
        let secret = "Secret Name 123";
        for err in [
            CardBarcode::parse(secret).unwrap_err(),
            Pin::parse(secret).unwrap_err(),
            email(secret).unwrap_err(),
            date("birth_date", secret).unwrap_err(),
        ] {
            assert!(!err.to_string().contains(secret));
        }
    }
}
