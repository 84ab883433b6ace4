//! SQL functions Carrel's queries call that neither engine has built in:
//!
//! - `carrel_local_date(at, zone)`: the `YYYY-MM-DD` date of a Unix-seconds
//!   instant in an IANA time zone (the library's);
//! - `carrel_age_band(birth_date, on_date)`: the statistics age band
//!   ([`crate::retention::AGE_BANDS`]) of someone born on `birth_date`, on
//!   `on_date`, or `unknown`.
//!
//! They let the retention purge compute its statistics inside the database,
//! so a destroyed record never travels to Carrel and back. On SQLite they
//! are registered on each connection from the Rust below; on PostgreSQL the
//! migration `0004_set_based_purge.sql` defines them in SQL. A test runs
//! both against the Rust definitions over many dates, so the two engines
//! cannot count differently.

use chrono::NaiveDate;
use chrono_tz::Tz;
use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::retention::{age_band, local_date};

fn failed(message: &str) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(message.into())
}

pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("carrel_local_date", 2, flags, |ctx| {
        let Some(at) = ctx.get::<Option<i64>>(0)? else {
            return Ok(None);
        };
        let zone: Tz = ctx
            .get::<String>(1)?
            .parse()
            .map_err(|_| failed("carrel_local_date: unknown time zone"))?;
        let date = local_date(at, zone).map_err(|_| failed("carrel_local_date: out of range"))?;
        Ok(Some(date.to_string()))
    })?;
    conn.create_scalar_function("carrel_age_band", 2, flags, |ctx| {
        let birth = ctx.get::<Option<String>>(0)?;
        let on = ctx
            .get::<Option<String>>(1)?
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
        Ok(match on {
            Some(on) => age_band(birth.as_deref(), on),
            None => "unknown",
        })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Days, NaiveDate};
    use chrono_tz::Tz;

    use crate::db::{Only, Param, Pool};
    use crate::retention::{age_band, local_date};

    /// Instants around every local midnight (and the DST changes) for two
    /// years, in zones with DST north and south, a half-hour offset and
    /// the two seed libraries' zones.
    fn instants(zone: Tz) -> Vec<i64> {
        let mut out = Vec::new();
        let mut day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        while day < NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() {
            let midnight = day
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_local_timezone(zone)
                .earliest()
                .unwrap_or_else(|| {
                    day.and_hms_opt(1, 0, 0)
                        .unwrap()
                        .and_local_timezone(zone)
                        .earliest()
                        .unwrap()
                })
                .timestamp();
            out.extend([
                midnight - 1,
                midnight,
                midnight + 3 * 3600 - 1,
                midnight + 3 * 3600,
            ]);
            day = day + Days::new(3);
        }
        out
    }

    /// Birth dates around each band's edges (and 29 February), seen on
    /// days around their birthdays.
    fn ages() -> Vec<(Option<String>, String)> {
        let mut out = vec![(None, "2026-03-01".to_string())];
        for born in ["2008-02-29", "2013-06-15", "1961-12-31", "1996-01-01"] {
            let birth = NaiveDate::parse_from_str(born, "%Y-%m-%d").unwrap();
            for years in [0, 12, 13, 17, 18, 29, 30, 44, 45, 64, 65, 70] {
                let Some(anniversary) = birth.checked_add_months(chrono::Months::new(12 * years))
                else {
                    continue;
                };
                for delta in [-2i64, -1, 0, 1] {
                    let on = anniversary + chrono::Duration::days(delta);
                    out.push((Some(born.to_string()), on.to_string()));
                }
            }
            // Born after the day asked about.
            out.push((Some(born.to_string()), (birth - Days::new(1)).to_string()));
        }
        out
    }

    fn check(pool: &Pool) {
        pool.run(|mut conn| {
            for zone in [
                chrono_tz::America::Chicago,
                chrono_tz::America::Denver,
                chrono_tz::Pacific::Auckland,
                chrono_tz::Asia::Kolkata,
            ] {
                for at in instants(zone) {
                    let got = conn
                        .query_one(
                            "SELECT carrel_local_date(?, ?)",
                            &[Param::Int(at), Param::Text(zone.name())],
                        )?
                        .text(Only)?;
                    let want = local_date(at, zone)?.to_string();
                    assert_eq!(got, want, "local date of {at} in {}", zone.name());
                }
            }
            for (birth, on) in ages() {
                let got = conn
                    .query_one(
                        "SELECT carrel_age_band(?, ?)",
                        &[Param::from(birth.as_deref()), Param::Text(&on)],
                    )?
                    .text(Only)?;
                let on_date = NaiveDate::parse_from_str(&on, "%Y-%m-%d").unwrap();
                assert_eq!(
                    got,
                    age_band(birth.as_deref(), on_date),
                    "{birth:?} on {on}"
                );
            }
            Ok(())
        })
        .unwrap();
    }

    /// D3: statistics are computed inside the database on both engines;
    /// the SQL definitions must count exactly as the Rust ones do.
    #[test]
    fn d3_sql_local_date_and_age_band_match_rust_on_both_engines() {
        crate::db::on_both_engines("fn", check);
    }
}
