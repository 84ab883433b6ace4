//! Infrastructure, no rules of its own: the database ([`db`]: one SQL
//! path over SQLite and PostgreSQL, migrations, the pool), files only their
//! owner can read ([`private_files`]), the policy versions a library ran
//! under ([`policy_versions`]), and logging that keeps personal
//! data out of the log ([`quiet_log`]).

pub mod db;
pub mod policy_versions;
pub mod private_files;
pub mod quiet_log;
