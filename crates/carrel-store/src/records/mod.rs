//! One module per kind of record a library keeps (REQUIREMENTS N3):
//! registrations ([`patrons`]), the catalogue ([`items`]), loans and holds
//! ([`circulation`]), [`fines`], interlibrary loans ([`ill`]), home
//! [`delivery`], [`programs`] and their registrations, public
//! [`computer_sessions`] and [`mailing_lists`]. Every function that reads
//! or writes one takes the grant of its action and class. [`validate`]
//! holds the checked forms of what clients send.

pub mod circulation;
pub mod computer_sessions;
pub mod consents;
pub mod delivery;
pub mod fines;
pub mod ill;
pub mod items;
pub mod mailing_lists;
pub mod patrons;
pub mod programs;
pub mod validate;
