//! The security kernel: who someone is ([`principal`], [`staff`] accounts
//! and [`patron_sessions`]), how they prove it ([`sign_in`], with
//! [`attempts`] and [`known_devices`] throttling guesses), what they may
//! reach ([`gate`]: no grant, no data), what is written down about it
//! ([`audit`], the MAC-chained log), and the keys behind all of that
//! (`secrets`). Everything else in the crate reaches personal data only
//! through a grant minted here.

pub mod attempts;
pub mod audit;
pub mod form_tokens;
pub mod gate;
pub mod known_devices;
pub mod patron_sessions;
pub mod principal;
pub(crate) mod secrets;
pub mod sign_in;
pub mod staff;
