//! Parse, don't validate: the shapes of input Carrel accepts. A value of
//! these types has been checked; messages say what is wrong without
//! repeating the value (it may be personal).

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::Error;

/// A library card barcode: 4 to 32 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBarcode(String);

impl CardBarcode {
    /// Checks the shape; the error names the field, never the value.
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

    /// The barcode as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An item barcode: 4 to 32 letters or digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemBarcode(String);

impl ItemBarcode {
    /// Checks the shape; the error names the field, never the value.
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

    /// The barcode as text.
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
    /// Checks the shape (4 to 16 digits); the error never repeats the PIN.
    pub fn parse(text: &str) -> Result<Pin, Error> {
        if (4..=16).contains(&text.len()) && text.chars().all(|c| c.is_ascii_digit()) {
            Ok(Pin(text.to_string()))
        } else {
            Err(Error::invalid("bad_pin", "pin must be 4 to 16 digits"))
        }
    }

    /// The PIN as typed, for hashing; never store or log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// The earliest date Carrel accepts in any record: no living patron was
/// born before it, and no loan, request or date range reaches back further.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => panic!("1900-01-01 is a date"),
};

/// The latest date Carrel accepts. A card expiry or program end further
/// out is a typing mistake (9999-12-31), and would keep a record from its
/// retention rule for centuries; 2200 leaves room for any real plan.
/// Within these bounds every year has four digits, so dates stored as
/// `YYYY-MM-DD` text also sort as text (the purge and the card checks
/// compare them in SQL).
pub const LATEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2200, 12, 31) {
    Some(d) => d,
    None => panic!("2200-12-31 is a date"),
};

/// A calendar date written `YYYY-MM-DD`, between [`EARLIEST_DATE`] and
/// [`LATEST_DATE`]. (0000-01-01 parses, and an `expires_on` of that day
/// registered a patron the next purge destroyed.)
pub fn date(field: &'static str, text: &str) -> Result<NaiveDate, Error> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Error::invalid(
            "bad_date",
            format!("{field} must be a date written YYYY-MM-DD, for example 2027-01-31"),
        )
    })?;
    in_date_range(field, date)?;
    Ok(date)
}

/// An instant (a program's start or end) whose date is within the bounds
/// of [`date`].
pub fn instant(field: &'static str, at: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    in_date_range(field, at.date_naive())?;
    Ok(at)
}

fn in_date_range(field: &str, date: NaiveDate) -> Result<(), Error> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&date) {
        Ok(())
    } else {
        Err(Error::invalid(
            "date_out_of_range",
            format!("{field} must be between {EARLIEST_DATE} and {LATEST_DATE}"),
        ))
    }
}

/// A date of birth: within the bounds of [`date`], and not after `today`.
pub fn birth_date(text: &str, today: NaiveDate) -> Result<NaiveDate, Error> {
    let date = date("birth_date", text)?;
    if date > today {
        return Err(Error::invalid(
            "date_out_of_range",
            "birth_date cannot be in the future",
        ));
    }
    Ok(date)
}

/// The largest amount of money Carrel records in one fine, fee or payment:
/// 1,000,000.00, in cents. A library's largest real charge (a rare book
/// lost) is far below it, and sums of many such amounts stay far from
/// overflowing 64 bits; i64::MAX cents was accepted before.
pub const MAX_CENTS: i64 = 100_000_000;

/// Whether an amount of money may be zero (a fee not yet known) or must be
/// more (a fine, a payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// Zero is accepted (a fee not yet known).
    Allowed,
    /// Zero is refused (a fine, a payment).
    Refused,
}

/// An amount of money in cents: at most [`MAX_CENTS`], not negative, and
/// not zero unless `zero` allows it.
pub fn cents(field: &str, cents: i64, zero: Zero) -> Result<i64, Error> {
    let least = if zero == Zero::Allowed { 0 } else { 1 };
    if cents < least {
        let what = if zero == Zero::Allowed {
            "zero or a positive"
        } else {
            "a positive"
        };
        return Err(Error::invalid(
            "bad_amount",
            format!("{field} must be {what} whole number of cents"),
        ));
    }
    if cents > MAX_CENTS {
        return Err(Error::invalid(
            "amount_out_of_range",
            format!(
                "{field} must be at most {MAX_CENTS} cents ({}.00)",
                MAX_CENTS / 100
            ),
        ));
    }
    Ok(cents)
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
    // Text of nothing but invisible characters (zero-width spaces, joiners,
    // a byte-order mark) reads as empty on screen: a reason recorded that
    // way says nothing.
    if trimmed
        .chars()
        .all(|c| c.is_whitespace() || is_invisible(c))
    {
        return Err(Error::invalid(
            "empty_field",
            format!("{field} must not be empty"),
        ));
    }
    // Counted as sent, spaces around it included: what a client may send
    // is what the API's description says (`maxLength`).
    if value.chars().count() > max {
        return Err(Error::invalid(
            "field_too_long",
            format!("{field} must be at most {max} characters"),
        ));
    }
    // Line and paragraph separators break a line as a line feed does,
    // though they are not control characters.
    if trimmed
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(Error::invalid(
            "bad_characters",
            format!("{field} must not contain control characters such as tabs or line breaks"),
        ));
    }
    // U+FFFD stands where bytes that were not text were sent (a form in
    // another encoding): what the sender meant is lost, so nothing of it
    // is stored.
    if trimmed.contains('\u{FFFD}') {
        return Err(Error::invalid(
            "bad_characters",
            format!("{field} must be text as typed (it held bytes that are not UTF-8 text)"),
        ));
    }
    // Bidirectional overrides and isolates make text display in another
    // order than it is stored (a name or a reason that reads differently on
    // a screen than in an export). Marks (U+200E, U+200F) stay: scripts
    // written right to left need them.
    if trimmed
        .chars()
        .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    {
        return Err(Error::invalid(
            "bad_characters",
            format!("{field} must not contain bidirectional override characters"),
        ));
    }
    Ok(trimmed.to_string())
}

/// Characters that show nothing: the soft hyphen, zero-width space,
/// joiners, the word joiner and invisible operators, the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
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
    #[test]
    fn text_of_invisible_characters_is_empty_and_overrides_are_refused() {
        assert!(text("reason", "\u{200B}\u{200B}", 100).is_err());
        assert!(text("reason", " \u{FEFF} ", 100).is_err());
        assert!(text("name", "Ada\u{202E}ecalvoL", 100).is_err());
        assert!(text("name", "\u{2067}x\u{2069}", 100).is_err());
        assert_eq!(text("name", "\u{200F}שלום", 100).unwrap(), "\u{200F}שלום");
        assert_eq!(text("reason", " a reason ", 100).unwrap(), "a reason");
        // Soft hyphens alone show nothing; a line separator breaks a line.
        assert!(text("name", "\u{00AD}\u{00AD}", 100).is_err());
        assert!(text("name", "Ada\u{2028}Lovelace", 100).is_err());
        assert!(text("name", "Ada\u{2029}Lovelace", 100).is_err());
        assert!(email("a@b.org\u{FFFD}\u{FFFD}").is_err());
        assert_eq!(
            text("name", "Ada\u{00AD}Lovelace", 100).unwrap(),
            "Ada\u{00AD}Lovelace"
        );
    }

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
    fn dates_and_amounts_have_bounds() {
        for text in ["0000-01-01", "1899-12-31", "2201-01-01", "9999-12-31"] {
            let err = date("expires_on", text).unwrap_err();
            assert_eq!(err.code(), "date_out_of_range", "{text}");
        }
        for text in ["1900-01-01", "2200-12-31"] {
            assert!(date("expires_on", text).is_ok(), "{text}");
        }
        let today = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert!(birth_date("2026-03-02", today).is_ok());
        assert!(birth_date("2026-03-03", today).is_err());
        assert_eq!(
            cents("amount_cents", MAX_CENTS, Zero::Refused).ok(),
            Some(MAX_CENTS)
        );
        for (amount, zero, code) in [
            (i64::MAX, Zero::Refused, "amount_out_of_range"),
            (MAX_CENTS + 1, Zero::Allowed, "amount_out_of_range"),
            (0, Zero::Refused, "bad_amount"),
            (-1, Zero::Allowed, "bad_amount"),
            (i64::MIN, Zero::Allowed, "bad_amount"),
        ] {
            assert_eq!(cents("fees_cents", amount, zero).unwrap_err().code(), code);
        }
        assert!(cents("fees_cents", 0, Zero::Allowed).is_ok());
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
