//! What happens to records over time and under the law: [`retention`]
//! (the purge on the policy's schedule, its plan and statistics),
//! [`disclosures`] (requests for records, from the desk to a released
//! package) and [`legal_holds`] (records preserved for legal process).

pub mod corrections;
pub mod desk;
pub mod disclosures;
pub mod legal_holds;
pub mod my_account;
pub mod retention;
