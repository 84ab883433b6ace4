//! A MARC record as Carrel reads it: the leader and the fields, in order.

/// One MARC record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The 24-character leader (position 06 is the type of record).
    pub leader: String,
    /// The fields, in the order of the record.
    pub fields: Vec<Field>,
}

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A control field (tags 001 to 009): data without subfields.
    Control {
        /// The tag, such as `001`.
        tag: String,
        /// The field's data.
        data: String,
    },
    /// A data field: two indicators and subfields.
    Data {
        /// The tag, such as `245`.
        tag: String,
        /// The subfields, each a code and its data, in order.
        subfields: Vec<(char, String)>,
    },
}

impl Record {
    /// The data fields tagged `tag`, as their subfields.
    pub fn data_fields<'a>(
        &'a self,
        tag: &'a str,
    ) -> impl Iterator<Item = &'a [(char, String)]> + 'a {
        self.fields.iter().filter_map(move |field| match field {
            Field::Data { tag: t, subfields } if t == tag => Some(subfields.as_slice()),
            _ => None,
        })
    }

    /// The first subfield `code` of the first field tagged `tag`.
    pub fn first<'a>(&'a self, tag: &'a str, code: char) -> Option<&'a str> {
        self.data_fields(tag)
            .find_map(|subfields| subfield(subfields, code))
    }
}

/// The first subfield `code` of a field, if it has one that is not blank.
pub fn subfield(subfields: &[(char, String)], code: char) -> Option<&str> {
    subfields
        .iter()
        .find(|(c, data)| *c == code && !data.trim().is_empty())
        .map(|(_, data)| data.as_str())
}
