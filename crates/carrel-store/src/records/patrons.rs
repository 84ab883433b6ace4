//! Patron registration records. Only fields the policy declares for the
//! registration class can be stored (N4); the rest of the input is refused
//! with the field named.

use std::collections::BTreeMap;

use carrel_policy::RecordClass;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value as Json;

use crate::db::Only;
use crate::db::{params, Conn};
use crate::error::Error;
use crate::gate::{Create, Grant, Read, Registration, Update};
use crate::secrets::hash_secret;
use crate::validate::{self, CardBarcode, Pin};
use crate::Tx;

/// A patron's registration record as staff with a read grant see it: the
/// fields that are not personal, and the personal fields the policy
/// declares for the read's purpose (a read for `account` has the name and
/// address, not the e-mail address or birth date). A patron reading their
/// own record sees all of it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PatronRecord {
    /// The patron's record id.
    pub id: i64,
    /// The library card's barcode; left out of the JSON when the read's
    /// purpose is not one the policy declares it for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_barcode: Option<String>,
    /// The card's category, a key of the policy's `[loans.categories]` (it sets
    /// the loan rules and whether the card is a minor's).
    pub category: String,
    /// Whether the card may be used.
    pub status: PatronStatus,
    /// The day the card expires (YYYY-MM-DD); it is valid through that day.
    pub expires_on: NaiveDate,
    /// The patron's date of birth (YYYY-MM-DD), if recorded and the read's
    /// purpose is the one the policy declares it for; else left out of the
    /// JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// The patron id of a minor's parent or guardian, if one is recorded
    /// (null too when the read's purpose is not the one the policy declares
    /// it for).
    #[schema(required = true)]
    pub guardian_id: Option<i64>,
    /// Whether a PIN is set for online sign-in (the PIN itself is never shown).
    pub has_pin: bool,
    /// Library-declared fields (name, address, e-mail, ...), those the
    /// read's purpose may see.
    pub fields: BTreeMap<String, String>,
    /// When the record was created, in Unix seconds.
    pub created_at: i64,
    /// When the record last changed, in Unix seconds.
    pub updated_at: i64,
}

/// Whether a card may be used: staff block a card (lost, misused) and
/// unblock it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PatronStatus {
    /// The card may be used.
    Active,
    /// Staff blocked the card: no new loans, holds or other services, and no
    /// sign-in, until it is unblocked.
    Blocked,
}

impl PatronStatus {
    /// The status as stored and shown (`active`, `blocked`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Input keys that map to Carrel's own columns, and the policy field each
/// one stores.
const COLUMN_KEYS: [(&str, &str); 7] = [
    ("card_barcode", "card_barcode"),
    ("pin", "pin"),
    ("category", "category"),
    ("expires_on", "expires_on"),
    ("status", "status"),
    ("birth_date", "birth_date"),
    ("guardian_card_barcode", "guardian"),
];

/// The shape of one key a registration or an update may carry, for the
/// API's description (the checks themselves are in `parse_changes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputShape {
    /// A card barcode: 4 to 32 letters or digits.
    CardBarcode,
    /// A PIN: 4 to 16 digits.
    Pin,
    /// One of the policy's patron categories.
    Category(Vec<String>),
    /// A date, `YYYY-MM-DD`.
    Date,
    /// `active` or `blocked`.
    Status,
    /// An e-mail address.
    Email,
    /// Free text of at most this many characters (see `validate::text`).
    Text(usize),
}

/// One key a registration or an update may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredInput {
    /// The key, as the request names it.
    pub key: String,
    /// What its value must look like.
    pub shape: InputShape,
    /// Whether a registration must give it.
    pub required: bool,
    /// Whether `null` may remove it.
    pub removable: bool,
}

/// Registration fields Carrel keeps from what the patron chooses and asks
/// for (the e-mail consent, the notices wanted, corrections waiting for
/// staff), and why staff blocked the card (set by [`set_block`]): declared in the policy like any stored field (N4), but never
/// keys of a registration or an update.
pub const KEPT_FROM_CHOICES: [&str; 4] =
    ["email_consent", "notices", "corrections", "block_reason"];

/// Every key the policy lets a registration or an update carry (N4):
/// Carrel's own columns the policy declares, then the library's fields.
pub fn declared_inputs(policy: &carrel_policy::Policy) -> Vec<DeclaredInput> {
    let Some(class) = policy.class(RecordClass::Registration) else {
        return Vec::new();
    };
    let mut inputs = Vec::new();
    for (field, spec) in &class.fields {
        if KEPT_FROM_CHOICES.contains(&field.as_str()) {
            continue;
        }
        let column = COLUMN_KEYS.iter().find(|(_, f)| f == field);
        let (key, shape, required, removable) = match column.map(|(key, _)| *key) {
            Some(key @ "card_barcode") => (key, InputShape::CardBarcode, true, false),
            Some(key @ "pin") => (key, InputShape::Pin, false, true),
            Some(key @ "category") => (
                key,
                InputShape::Category(policy.loans.categories.keys().cloned().collect()),
                true,
                false,
            ),
            Some(key @ "expires_on") => (key, InputShape::Date, true, false),
            Some(key @ "status") => (key, InputShape::Status, false, false),
            Some(key @ "birth_date") => (key, InputShape::Date, false, true),
            Some(key) => (key, InputShape::CardBarcode, false, true),
            None if field == "email" => (
                field.as_str(),
                InputShape::Email,
                spec.required,
                !spec.required,
            ),
            None => (
                field.as_str(),
                InputShape::Text(500),
                spec.required,
                !spec.required,
            ),
        };
        inputs.push(DeclaredInput {
            key: key.to_string(),
            shape,
            required,
            removable,
        });
    }
    inputs
}

/// The checked form of a registration or an update: `None` = not given,
/// `Some(None)` = remove.
#[derive(Default)]
struct Changes {
    card_barcode: Option<CardBarcode>,
    pin_hash: Option<Option<String>>,
    category: Option<String>,
    expires_on: Option<NaiveDate>,
    status: Option<PatronStatus>,
    birth_date: Option<Option<NaiveDate>>,
    guardian: Option<Option<CardBarcode>>,
    fields: BTreeMap<String, Option<String>>,
}

fn as_text<'a>(key: &str, value: &'a Json) -> Result<Option<&'a str>, Error> {
    match value {
        Json::Null => Ok(None),
        Json::String(s) => Ok(Some(s)),
        _ => Err(Error::invalid(
            "wrong_type",
            format!("{key} must be text (a JSON string), or null to remove it"),
        )),
    }
}

fn required<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, Error> {
    value.ok_or_else(|| {
        Error::invalid(
            "missing_field",
            format!("{key} cannot be removed; give a value"),
        )
    })
}

/// Checks every key against the policy and the shapes Carrel accepts.
/// Checks one key and value as a registration update would, without
/// changing anything: for a correction sent online, checked when it is
/// sent and applied only once staff verify it.
pub(crate) fn check_input(tx: &Tx<'_>, key: &str, value: &Json) -> Result<(), Error> {
    let input = BTreeMap::from([(key.to_string(), value.clone())]);
    parse_changes(tx, &input).map(drop)
}

fn parse_changes(tx: &Tx<'_>, input: &BTreeMap<String, Json>) -> Result<Changes, Error> {
    let policy = tx.policy();
    let registration = policy
        .class(RecordClass::Registration)
        .ok_or_else(|| Error::internal("policy has no registration class"))?;
    let mut changes = Changes::default();
    for (key, value) in input {
        let declared_as = COLUMN_KEYS
            .iter()
            .find(|(k, _)| k == key)
            .map_or(key.as_str(), |(_, field)| field);
        if !registration.fields.contains_key(declared_as) {
            return Err(Error::invalid(
                "undeclared_field",
                format!(
                    "field {} is not declared by the library's policy for registration records, so Carrel will not store it; remove it (declared fields: {})",
                    validate::field_label(key),
                    declared_keys(tx).join(", ")
                ),
            ));
        }
        if KEPT_FROM_CHOICES.contains(&key.as_str()) {
            return Err(Error::invalid(
                "kept_by_carrel",
                format!(
                    "{} is kept by Carrel from what the patron chooses or staff do (a consent, the notices wanted, corrections, why a card is blocked), not set by a registration or an update; leave it out",
                    validate::field_label(key)
                ),
            ));
        }
        let text = as_text(key, value)?;
        match key.as_str() {
            "card_barcode" => {
                changes.card_barcode = Some(CardBarcode::parse(required(key, text)?)?)
            }
            "pin" => {
                changes.pin_hash = Some(match text {
                    Some(pin) => Some(hash_secret(Pin::parse(pin)?.as_str())?),
                    None => None,
                })
            }
            "category" => {
                let category = required(key, text)?;
                if policy.category(category).is_none() {
                    let known: Vec<&str> =
                        policy.loans.categories.keys().map(String::as_str).collect();
                    return Err(Error::invalid(
                        "unknown_category",
                        format!("category must be one of: {}", known.join(", ")),
                    ));
                }
                changes.category = Some(category.to_string());
            }
            "expires_on" => {
                changes.expires_on = Some(validate::date("expires_on", required(key, text)?)?)
            }
            "status" => {
                let status = required(key, text)?;
                changes.status = Some(status.parse().map_err(|_| {
                    Error::invalid("bad_status", "status must be \"active\" or \"blocked\"")
                })?);
            }
            "birth_date" => {
                changes.birth_date = Some(match text {
                    Some(d) => Some(validate::birth_date(d, tx.today())?),
                    None => None,
                })
            }
            "guardian_card_barcode" => {
                changes.guardian = Some(text.map(CardBarcode::parse).transpose()?);
            }
            field => {
                let spec = &registration.fields[field];
                if COLUMN_KEYS.iter().any(|(_, f)| *f == field) {
                    // "guardian" is stored via guardian_card_barcode.
                    return Err(Error::invalid(
                        "undeclared_field",
                        format!("'{field}' is set through its own key; see the API document"),
                    ));
                }
                let value = match text {
                    Some(v) if field == "email" => Some(validate::email(v)?),
                    Some(v) => Some(validate::text(field, v, 500)?),
                    None if spec.required => {
                        return Err(Error::invalid(
                            "missing_field",
                            format!(
                                "{field} is required by the library's policy and cannot be removed"
                            ),
                        ))
                    }
                    None => None,
                };
                changes.fields.insert(field.to_string(), value);
            }
        }
    }
    Ok(changes)
}

/// The input keys the policy allows, for error messages.
fn declared_keys(tx: &Tx<'_>) -> Vec<String> {
    let Some(class) = tx.policy().class(RecordClass::Registration) else {
        return Vec::new();
    };
    class
        .fields
        .keys()
        .map(|f| {
            COLUMN_KEYS
                .iter()
                .find(|(_, field)| field == f)
                .map_or(f.clone(), |(key, _)| key.to_string())
        })
        .collect()
}

/// Finds the guardian named by card barcode: an existing patron, not a minor.
fn guardian_id(tx: &mut Tx<'_>, barcode: &CardBarcode, own_id: Option<i64>) -> Result<i64, Error> {
    let row = tx
        .conn
        .query_opt(
            "SELECT id, category FROM patrons WHERE card_barcode = ?",
            params![barcode.as_str()],
        )?
        .ok_or(Error::NotFound {
            what: "guardian's patron record",
        })?;
    let (id, category) = (row.int("id")?, row.text("category")?);
    if Some(id) == own_id {
        return Err(Error::invalid(
            "bad_guardian",
            "a patron cannot be their own guardian",
        ));
    }
    if tx.policy().category(&category).is_some_and(|c| c.minor) {
        return Err(Error::invalid(
            "bad_guardian",
            "the guardian's own card is a minor's card; a guardian must hold an adult card",
        ));
    }
    Ok(id)
}

fn barcode_taken(
    tx: &mut Tx<'_>,
    barcode: &CardBarcode,
    except: Option<i64>,
) -> Result<bool, Error> {
    Ok(tx
        .conn
        .query_opt(
            "SELECT id FROM patrons WHERE card_barcode = ?",
            params![barcode.as_str()],
        )?
        .is_some_and(|row| row.int(Only).ok() != except))
}

/// Registers a new patron from the JSON fields of a registration form.
pub fn register(
    tx: &mut Tx<'_>,
    grant: &Grant<Create, Registration>,
    input: &BTreeMap<String, Json>,
) -> Result<PatronRecord, Error> {
    let changes = parse_changes(tx, input)?;
    let missing = |what: &str| {
        Error::invalid(
            "missing_field",
            format!("{what} is required to register a patron"),
        )
    };
    let barcode = changes
        .card_barcode
        .clone()
        .ok_or_else(|| missing("card_barcode"))?;
    let category = changes
        .category
        .clone()
        .ok_or_else(|| missing("category"))?;
    let expires_on = changes.expires_on.ok_or_else(|| missing("expires_on"))?;
    // A card registered already expired is not a current, valid user's
    // (N3), and the next purge would destroy it. (An update may still end
    // a card early: that is how staff close an account.)
    if expires_on < tx.today() {
        return Err(Error::invalid(
            "date_out_of_range",
            "expires_on cannot be before today when a card is registered",
        ));
    }
    if let Some(class) = tx.policy().class(RecordClass::Registration) {
        for (field, spec) in &class.fields {
            let is_column = COLUMN_KEYS.iter().any(|(_, f)| f == field);
            if spec.required && !is_column && !matches!(changes.fields.get(field), Some(Some(_))) {
                return Err(missing(field));
            }
        }
    }
    let minor = tx.policy().category(&category).is_some_and(|c| c.minor);
    let guardian = match changes.guardian.clone().flatten() {
        Some(barcode) => Some(guardian_id(tx, &barcode, None)?),
        None if minor => {
            return Err(Error::invalid(
                "guardian_required",
                format!("a '{category}' card is a minor's card: give guardian_card_barcode, the card of the parent or guardian"),
            ))
        }
        None => None,
    };
    if barcode_taken(tx, &barcode, None)? {
        return Err(Error::refused(
            "card_barcode_taken",
            "that card barcode is already registered to another patron",
        ));
    }
    let now = tx.now().timestamp();
    let id = new_patron_id(tx)?;
    tx.conn.execute(
        "INSERT INTO patrons (id, card_barcode, pin_hash, category, status, expires_on, birth_date, guardian_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            id,
            barcode.as_str(),
            &changes.pin_hash.clone().flatten(),
            &category,
            changes.status.unwrap_or(PatronStatus::Active).name(),
            &expires_on.to_string(),
            &changes.birth_date.flatten().map(|d| d.to_string()),
            guardian,
            now,
            now
        ],
    )
    .map_err(taken_meanwhile)?;
    write_fields(tx, id, &changes.fields)?;
    grant.used_on(tx, crate::retention::RecordKind::Patron, id);
    fetch(tx, id)?.ok_or(Error::NotFound { what: "patron" })
}

/// The card barcode was free when checked, and another desk registered it
/// before this transaction could (PostgreSQL): the answer a taken barcode
/// gets.
fn taken_meanwhile(error: Error) -> Error {
    match error {
        Error::Conflict { what } if what.contains("card_barcode") => Error::refused(
            "card_barcode_taken",
            "that card barcode is already registered to another patron",
        ),
        other => other,
    }
}

/// A patron id never given before, even to a registration since
/// destroyed: audit entries a patron wrote as actor keep their id, and a
/// new patron must not inherit them (D1, D7). Rows made without this (the
/// demo's bulk load) are caught up with by taking the table's highest id
/// into account.
fn new_patron_id(tx: &mut Tx<'_>) -> Result<i64, Error> {
    // `last_id + 1` reads the row being updated: on PostgreSQL a second
    // registration waiting on this row's lock reads the first's new value
    // once it commits (a subquery would read its own older snapshot, and
    // give both the same id). The patrons' highest id is a floor for ids
    // given before the high-water mark existed.
    tx.conn.execute(
        "UPDATE patron_id_high_water SET last_id = CASE
            WHEN last_id + 1 > (SELECT COALESCE(MAX(id), 0) + 1 FROM patrons) THEN last_id + 1
            ELSE (SELECT COALESCE(MAX(id), 0) + 1 FROM patrons) END
         WHERE id = 1",
        params![],
    )?;
    tx.conn
        .query_one(
            "SELECT last_id FROM patron_id_high_water WHERE id = 1",
            params![],
        )?
        .int(Only)
}

fn write_fields(
    tx: &mut Tx<'_>,
    id: i64,
    fields: &BTreeMap<String, Option<String>>,
) -> Result<(), Error> {
    for (name, value) in fields {
        tx.conn.execute(
            "DELETE FROM patron_fields WHERE patron_id = ? AND name = ?",
            params![id, name],
        )?;
        if let Some(value) = value {
            tx.conn.execute(
                "INSERT INTO patron_fields (patron_id, name, value) VALUES (?, ?, ?)",
                params![id, name, value],
            )?;
        }
    }
    // An e-mail address is kept only with the patron's consent (C1, C3):
    // setting one records the consent, under the policy in force;
    // removing it withdraws the consent, and the notices it carried.
    if let Some(email) = fields.get("email") {
        crate::consents::set_email_consent(tx, id, email.is_some())?;
    }
    Ok(())
}

/// Applies changes from staff (a JSON object of fields; null removes an
/// optional field, such as an e-mail address the patron withdrew, C3).
pub fn update(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Registration>,
    id: i64,
    input: &BTreeMap<String, Json>,
) -> Result<PatronRecord, Error> {
    let changes = parse_changes(tx, input)?;
    let current = fetch(tx, id)?.ok_or(Error::NotFound { what: "patron" })?;
    if let Some(barcode) = &changes.card_barcode {
        if barcode_taken(tx, barcode, Some(id))? {
            return Err(Error::refused(
                "card_barcode_taken",
                "that card barcode is already registered to another patron",
            ));
        }
        tx.conn
            .execute(
                "UPDATE patrons SET card_barcode = ? WHERE id = ?",
                params![barcode.as_str(), id],
            )
            .map_err(taken_meanwhile)?;
    }
    if let Some(pin_hash) = &changes.pin_hash {
        tx.conn.execute(
            "UPDATE patrons SET pin_hash = ? WHERE id = ?",
            params![pin_hash, id],
        )?;
    }
    let category = changes.category.clone().unwrap_or(current.category.clone());
    if let Some(c) = &changes.category {
        tx.conn.execute(
            "UPDATE patrons SET category = ? WHERE id = ?",
            params![c, id],
        )?;
    }
    if let Some(d) = changes.expires_on {
        tx.conn.execute(
            "UPDATE patrons SET expires_on = ? WHERE id = ?",
            params![&d.to_string(), id],
        )?;
    }
    if let Some(s) = changes.status {
        // Any change of status ends the old block's reason: unblocking
        // clears it, and a block through here gives none (the desk's block
        // sets it after, [`set_block`]).
        tx.conn.execute(
            "UPDATE patrons SET status = ?, block_reason = NULL WHERE id = ?",
            params![s.name(), id],
        )?;
    }
    if let Some(b) = changes.birth_date {
        tx.conn.execute(
            "UPDATE patrons SET birth_date = ? WHERE id = ?",
            params![&b.map(|d| d.to_string()), id],
        )?;
    }
    let guardian = match &changes.guardian {
        Some(Some(barcode)) => Some(guardian_id(tx, barcode, Some(id))?),
        Some(None) => None,
        None => current.guardian_id,
    };
    if tx.policy().category(&category).is_some_and(|c| c.minor) && guardian.is_none() {
        return Err(Error::invalid(
            "guardian_required",
            format!("a '{category}' card is a minor's card and must keep a guardian_card_barcode"),
        ));
    }
    tx.conn.execute(
        "UPDATE patrons SET guardian_id = ?, updated_at = ? WHERE id = ?",
        params![guardian, tx.now().timestamp(), id],
    )?;
    write_fields(tx, id, &changes.fields)?;
    // A new PIN or card number, or a new standing, ends every session the
    // card has open: whoever learnt the old PIN, or holds the lost card, is
    // out at once, not when the session runs out. So does a new expiry
    // date: a session its card's expiry stopped (in the past, by time or
    // by staff) must not work again when the card is renewed.
    let new_standing = changes
        .status
        .is_some_and(|status| status != current.status);
    let new_expiry = changes
        .expires_on
        .is_some_and(|date| date != current.expires_on);
    // A new PIN, card number or standing may mean someone else has the
    // PIN or the card: the card's known devices end too (a new expiry
    // date is no such sign, and a device of an expired card cannot sign
    // in anyway).
    if changes.pin_hash.is_some() || changes.card_barcode.is_some() || new_standing {
        crate::patron_sessions::end_all_and_devices(tx, id)?;
    } else if new_expiry {
        crate::patron_sessions::end_all(tx, id)?;
    }
    grant.record(
        tx,
        Some(format!("patron:{id}")),
        Some(format!(
            "changed: {}",
            input.keys().cloned().collect::<Vec<_>>().join(",")
        )),
    );
    let record = fetch(tx, id)?.ok_or(Error::NotFound { what: "patron" })?;
    if grant.is_the_patron(id) {
        return Ok(record);
    }
    // Staff get back what the update's purpose may see, and the fields they
    // just sent (which they know already): not the rest of the record.
    let sent: Vec<&str> = input.keys().map(String::as_str).collect();
    Ok(record.only_for(tx.policy(), grant.purpose(), &sent))
}

/// Keys whose new value would hand the account, or a minor's records, to
/// whoever asked: a new card, PIN, e-mail address or guardian. Set in
/// person only against a photo ID, like the policy's `online_corrections`
/// (removing one, `null`, needs none: it hands nothing over).
const TAKES_OVER_THE_ACCOUNT: [&str; 4] = ["card_barcode", "pin", "email", "guardian_card_barcode"];

/// [`update`] made at the desk (A2): a change to the details a patron
/// could otherwise only send as a correction (name, address, ..., the
/// policy's `online_corrections`), or one that would hand over the account
/// ([`TAKES_OVER_THE_ACCOUNT`]), needs the kind of photo ID staff checked,
/// never its number, and is recorded with it and who made it.
pub fn update_in_person(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Registration>,
    id: i64,
    input: &BTreeMap<String, Json>,
    photo_id: Option<crate::disclosures::IdKind>,
) -> Result<PatronRecord, Error> {
    let record = update(tx, grant, id, input)?;
    let identity: Vec<String> = input
        .iter()
        .filter(|(key, value)| {
            tx.policy().patrons.online_corrections.contains(key)
                || (TAKES_OVER_THE_ACCOUNT.contains(&key.as_str()) && !value.is_null())
        })
        .map(|(key, _)| key.clone())
        .collect();
    if identity.is_empty() {
        return Ok(record);
    }
    let Some(kind) = photo_id else {
        return Err(Error::invalid(
            "photo_id_required",
            format!(
                "a change to {} in person needs photo_id: the kind of photo ID you checked (never its number)",
                identity.join(", ")
            ),
        ));
    };
    if let Some(staff) = grant.staff_id() {
        crate::corrections::record_in_person(tx, staff, id, &identity, kind)?;
    }
    Ok(record)
}

impl PatronRecord {
    /// The record with only what a read for `purpose` may see: the fields
    /// that are not personal, the personal ones the policy declares for
    /// that purpose, and those named in `also`.
    pub(crate) fn only_for(
        mut self,
        policy: &carrel_policy::Policy,
        purpose: &str,
        also: &[&str],
    ) -> Self {
        let serves = |field: &str| {
            also.contains(&field) || policy.field_serves(RecordClass::Registration, field, purpose)
        };
        if !serves("card_barcode") {
            self.card_barcode = None;
        }
        if !serves("birth_date") {
            self.birth_date = None;
        }
        if !serves("guardian") {
            self.guardian_id = None;
        }
        self.fields.retain(|name, _| serves(name));
        self
    }
}

/// A patron by id: staff see what the grant's purpose may see
/// ([`PatronRecord::only_for`]); the patron themself, everything.
pub fn load(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Registration>,
    id: i64,
) -> Result<PatronRecord, Error> {
    let record = fetch(tx, id)?.ok_or(Error::NotFound { what: "patron" })?;
    grant.used_on(tx, crate::retention::RecordKind::Patron, id);
    if grant.is_the_patron(id) {
        return Ok(record);
    }
    Ok(record.only_for(tx.policy(), grant.purpose(), &[]))
}

/// Why staff block a card: a closed list, never free text.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    utoipa::ToSchema,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// The patron reported the card lost.
    CardLost,
    /// The patron reported the card stolen.
    CardStolen,
    /// The card was misused (by whoever held it).
    Misuse,
    /// The patron asked for the card to be blocked.
    PatronAsked,
}

impl BlockReason {
    /// The reason as stored and shown.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Blocks the card for `reason`, or unblocks it (`None`). Blocking ends
/// the card's online sessions, as any change of status does.
pub fn set_block(
    tx: &mut Tx<'_>,
    grant: &Grant<Update, Registration>,
    id: i64,
    reason: Option<BlockReason>,
) -> Result<(), Error> {
    let status = if reason.is_some() {
        PatronStatus::Blocked
    } else {
        PatronStatus::Active
    };
    let change = BTreeMap::from([("status".to_string(), Json::String(status.name().into()))]);
    update(tx, grant, id, &change)?;
    if let Some(reason) = reason {
        tx.conn.execute(
            "UPDATE patrons SET block_reason = ? WHERE id = ?",
            params![reason.name(), id],
        )?;
    }
    Ok(())
}

/// Why the card is blocked, if it is (no audit entry: callers read the
/// registration through their grant).
pub(crate) fn block_reason(tx: &mut Tx<'_>, id: i64) -> Result<Option<BlockReason>, Error> {
    Ok(tx
        .conn
        .query_opt("SELECT block_reason FROM patrons WHERE id = ?", params![id])?
        .map(|row| row.opt_text("block_reason"))
        .transpose()?
        .flatten()
        .and_then(|name| name.parse().ok()))
}

/// Registers patrons brought from another system (`carrel import
/// patrons`), each row a registration as [`register`] takes it, with its
/// row number; as Carrel's own patron-import task, in one transaction:
/// every row is registered, or (at the first row the rules refuse) none
/// is, and the error names the row. A guardian's row must come before the
/// minor's.
pub fn import_as_operator(
    store: &crate::Store,
    rows: &[(usize, BTreeMap<String, Json>)],
) -> Result<usize, Error> {
    store.transact(|tx| {
        let grant = crate::gate::authorize_system(
            tx,
            crate::principal::SystemTask::PatronImport,
            carrel_policy::purpose::ACCOUNT,
        )?;
        for (row, fields) in rows {
            register(tx, &grant, fields).map_err(|e| match e {
                Error::Invalid { code, message } => Error::Invalid {
                    code,
                    message: format!("row {row}: {message}; nothing was imported"),
                },
                Error::Refused { code, message } => Error::Refused {
                    code,
                    message: format!("row {row}: {message}; nothing was imported"),
                },
                Error::NotFound { what } => Error::invalid(
                    "not_found",
                    format!("row {row}: {what} not found (a guardian's row must come before the minor's); nothing was imported"),
                ),
                other => other,
            })?;
        }
        Ok(rows.len())
    })
}

/// The most patrons a search by name answers with.
pub const NAME_SEARCH_LIMIT: usize = 20;

/// Patrons whose name contains `words` (any case), at most
/// [`NAME_SEARCH_LIMIT`], each as the grant's purpose may see them. A
/// search by name is a read of every patron it finds (each audited, with
/// the grant's purpose); the words searched for are never recorded.
pub fn find_by_name(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Registration>,
    words: &str,
) -> Result<Vec<PatronRecord>, Error> {
    let words = validate::text("name", words.trim(), 200)?;
    if words.chars().count() < 2 {
        return Err(Error::invalid(
            "query_too_short",
            "search for at least two letters of the name",
        ));
    }
    let pattern = format!("%{}%", crate::items::like_escaped(&words.to_lowercase()));
    let ids: Vec<i64> = tx
        .conn
        .query(
            &format!(
                "SELECT patron_id FROM patron_fields WHERE name = 'name' AND LOWER(value) LIKE ? ESCAPE '\\'
                 ORDER BY patron_id LIMIT {NAME_SEARCH_LIMIT}"
            ),
            params![&pattern],
        )?
        .iter()
        .map(|row| row.int("patron_id"))
        .collect::<Result<_, _>>()?;
    grant.record(
        tx,
        None,
        Some(format!("search by name: {} found", ids.len())),
    );
    ids.into_iter().map(|id| load(tx, grant, id)).collect()
}

/// A patron by card barcode (the desk scans the card).
pub fn find_by_barcode(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Registration>,
    barcode: &CardBarcode,
) -> Result<PatronRecord, Error> {
    let id = id_by_barcode(tx, barcode)?;
    load(tx, grant, id)
}

/// The patron id behind a card barcode, with no audit entry; callers in
/// this crate record the access through their grant.
pub(crate) fn id_by_barcode(tx: &mut Tx<'_>, barcode: &CardBarcode) -> Result<i64, Error> {
    tx.conn
        .query_opt(
            "SELECT id FROM patrons WHERE card_barcode = ?",
            params![barcode.as_str()],
        )?
        .ok_or(Error::NotFound { what: "patron" })?
        .int(Only)
}

/// What the desk needs to decide a loan or hold: whether the card is in good
/// standing, and its category. Not the name, address or contact details: a
/// checkout does not need them, so it does not read them (D6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The patron's record id.
    pub id: i64,
    /// The card's category, a key of the policy's `[loans.categories]`.
    pub category: String,
    /// Whether the card is active or blocked.
    pub status: PatronStatus,
    /// The day the card expires (YYYY-MM-DD); it is valid through that day.
    pub expires_on: NaiveDate,
}

impl Standing {
    /// Whether the card's expiry date is before `today` (a date in the
    /// library's time zone).
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires_on < today
    }

    /// Whether the card belongs to a current, valid user today: active and
    /// not expired. Only such a card gets new records: loans, holds,
    /// program registrations, computer sessions, interlibrary loans,
    /// deliveries, list subscriptions (N3: "limited to current and valid
    /// library users").
    pub fn check_current(&self, today: NaiveDate) -> Result<(), Error> {
        if self.status != PatronStatus::Active {
            return Err(Error::refused(
                "patron_blocked",
                "the patron's account is blocked; a supervisor can unblock it",
            ));
        }
        if self.is_expired(today) {
            return Err(Error::refused(
                "patron_expired",
                "the patron's card has expired; renew the card (update expires_on) first",
            ));
        }
        Ok(())
    }
}

const STANDING: &str = "SELECT id, category, status, expires_on FROM patrons";

fn standing_from(row: &crate::db::Row) -> Result<Standing, Error> {
    Ok(Standing {
        id: row.int("id")?,
        category: row.text("category")?,
        status: row.name("status")?,
        expires_on: row.date("expires_on")?,
    })
}

/// A patron's standing, by the card the desk scanned.
pub fn standing_by_barcode(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Registration>,
    barcode: &CardBarcode,
) -> Result<Standing, Error> {
    let row = tx
        .conn
        .query_opt(
            &format!("{STANDING} WHERE card_barcode = ?"),
            params![barcode.as_str()],
        )?
        .ok_or(Error::NotFound { what: "patron" })?;
    let standing = standing_from(&row)?;
    grant.record(
        tx,
        Some(format!("patron:{}", standing.id)),
        Some("standing".into()),
    );
    Ok(standing)
}

/// A patron's standing, by id.
pub fn standing(
    tx: &mut Tx<'_>,
    grant: &Grant<Read, Registration>,
    id: i64,
) -> Result<Standing, Error> {
    let row = tx
        .conn
        .query_opt(&format!("{STANDING} WHERE id = ?"), params![id])?
        .ok_or(Error::NotFound { what: "patron" })?;
    grant.record(tx, Some(format!("patron:{id}")), Some("standing".into()));
    standing_from(&row)
}

/// The patron exists (without a lock: for reads). A list of a patron's
/// records answers "patron not found" for a patron who is not there,
/// rather than an empty list that says nothing.
pub fn must_exist(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    tx.conn
        .query_opt("SELECT 1 FROM patrons WHERE id = ?", params![id])?
        .map(|_| ())
        .ok_or(Error::NotFound { what: "patron" })
}

/// Fails with "patron not found" unless the patron exists. On PostgreSQL
/// the row is locked for the rest of the transaction, so a purge cannot
/// destroy the patron while a record is being linked to them.
pub(crate) fn require(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    let lock = tx.conn.for_update();
    tx.conn
        .query_opt(
            &format!("SELECT id FROM patrons WHERE id = ?{lock}"),
            params![id],
        )?
        .map(|_| ())
        .ok_or(Error::NotFound { what: "patron" })
}

/// Fails unless the patron exists and their card is current and valid
/// ([`Standing::check_current`]); for a record that is about to be made
/// for them. Locks the patron's row like [`require`].
pub(crate) fn require_current(tx: &mut Tx<'_>, id: i64) -> Result<(), Error> {
    let lock = tx.conn.for_update();
    let row = tx
        .conn
        .query_opt(&format!("{STANDING} WHERE id = ?{lock}"), params![id])?
        .ok_or(Error::NotFound { what: "patron" })?;
    standing_from(&row)?.check_current(tx.today())
}

/// Reads a record with no audit entry; callers in this crate record the
/// access through their grant.
pub(crate) fn fetch(tx: &mut Tx<'_>, id: i64) -> Result<Option<PatronRecord>, Error> {
    fetch_on(&mut tx.conn, id)
}

/// [`fetch`] on a connection (a migration has no transaction of the
/// store's).
pub(crate) fn fetch_on(conn: &mut Conn<'_>, id: i64) -> Result<Option<PatronRecord>, Error> {
    let Some(row) = conn.query_opt(
        "SELECT id, card_barcode, category, status, expires_on, birth_date, guardian_id, pin_hash IS NOT NULL AS has_pin, created_at, updated_at
         FROM patrons WHERE id = ?",
        params![id],
    )?
    else {
        return Ok(None);
    };
    let mut fields = BTreeMap::new();
    for f in conn.query(
        "SELECT name, value FROM patron_fields WHERE patron_id = ?",
        params![id],
    )? {
        fields.insert(f.text("name")?, f.text("value")?);
    }
    Ok(Some(PatronRecord {
        id: row.int("id")?,
        card_barcode: Some(row.text("card_barcode")?),
        category: row.text("category")?,
        status: row.name("status")?,
        expires_on: row.date("expires_on")?,
        birth_date: row.opt_date("birth_date")?,
        guardian_id: row.opt_int("guardian_id")?,
        has_pin: row.int("has_pin")? != 0,
        fields,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    }))
}
