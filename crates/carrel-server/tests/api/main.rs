//! Black-box tests of the API, each on SQLite and on PostgreSQL. Test names
//! carry the requirement they prove (see shared/REQUIREMENTS.md).

mod described;
mod helpers;

mod audit;
mod bad_input;
mod catalogue;
mod choices;
mod circulation;
mod cross_site;
mod desk;
mod disclosures;
mod faults;
mod fines;
mod gag_twins;
mod gate;
mod kept_in_secret;
mod kept_in_secret_second_review;
mod openapi;
mod pages;
mod patron_pages;
mod patrons;
mod retention;
mod review_14;
mod services;
mod sessions;
mod sign_in;
mod upgrade;
