//! Pure retention arithmetic: when a record falls due for destruction, and
//! how long a legal hold lasts. No clock and no database: callers pass
//! "today" (in the library's time zone) and the event's instant.
//!
//! The rule (REQUIREMENTS D1, DESIGN "60 days is counted in that zone"): a
//! record whose clock event happened on local date `E` is due on `E + keep`,
//! and may be destroyed by any purge that runs on or after that date. So on
//! `today`, every record whose event date is on or before
//! [`cutoff_date`]`(today, keep)` is due, and none after it.

use chrono::{DateTime, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::Period;

impl Period {
    /// `date` plus this period. Months and years keep the day of the month,
    /// clamped to the month's end (31 January + 1 month = 28 or 29 February).
    /// `None` only past the end of the calendar chrono can represent.
    pub fn after(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Days(n) => date.checked_add_days(Days::new(u64::from(n))),
            Period::Months(n) => date.checked_add_months(Months::new(n)),
            Period::Years(n) => date.checked_add_months(Months::new(n.checked_mul(12)?)),
        }
    }

    /// `date` minus this period, clamped like [`Period::after`].
    fn before(self, date: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Days(n) => date.checked_sub_days(Days::new(u64::from(n))),
            Period::Months(n) => date.checked_sub_months(Months::new(n)),
            Period::Years(n) => date.checked_sub_months(Months::new(n.checked_mul(12)?)),
        }
    }
}

/// The date a record becomes due, given the local date of its clock event.
pub fn due_on(event: NaiveDate, keep: Period) -> NaiveDate {
    keep.after(event).unwrap_or(NaiveDate::MAX)
}

/// The latest event date whose record is due on `today`: `d` is due exactly
/// when `d <= cutoff_date(today, keep)`.
///
/// Subtracting the period gets within a few days of the answer; month
/// lengths make "minus a month" and "plus a month" disagree near a month's
/// end (31 March - 1 month = 28 February, but 29 February + 1 month =
/// 29 March), so the answer is then stepped to the exact boundary.
pub fn cutoff_date(today: NaiveDate, keep: Period) -> NaiveDate {
    let mut d = keep.before(today).unwrap_or(NaiveDate::MIN);
    while due_on(d, keep) > today {
        d = d.pred_opt().unwrap_or(NaiveDate::MIN);
    }
    while let Some(next) = d.succ_opt() {
        if due_on(next, keep) > today {
            break;
        }
        d = next;
    }
    d
}

/// The first instant of the local day after `date`: a record whose event
/// happened strictly before this instant has an event date on or before
/// `date`. A daylight-saving gap at midnight moves it to the first valid
/// local time that day.
pub fn start_of_day_after(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let next = date.succ_opt().unwrap_or(NaiveDate::MAX);
    start_of_day(next, zone)
}

/// The first instant of a local date.
pub fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut local = date.and_time(NaiveTime::MIN);
    // No zone skips more than a few hours; step until the clock exists.
    for _ in 0..48 {
        if let Some(t) = zone.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += chrono::Duration::minutes(30);
    }
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The instant before which a record's clock event must lie for it to be due
/// on `today` (see the module doc).
pub fn cutoff_instant(today: NaiveDate, keep: Period, zone: Tz) -> DateTime<Utc> {
    start_of_day_after(cutoff_date(today, keep), zone)
}

/// How legal holds (preservation requests, L5) work in this library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHoldRules {
    /// Roles that may place, renew and release a hold.
    pub placed_by: Vec<String>,
    /// How long a new hold lasts.
    pub days: u32,
    /// How long each renewal adds.
    pub renewal_days: u32,
    /// How many renewals a hold may have.
    pub max_renewals: u32,
}

impl LegalHoldRules {
    /// Whether `role` may place, renew and release legal holds.
    pub fn may_place(&self, role: &str) -> bool {
        self.placed_by.iter().any(|r| r == role)
    }

    /// When a hold placed at `placed_at` expires after `renewals` renewals.
    /// Counted in whole days of 24 hours from the moment it was placed, so a
    /// hold placed at 15:00 lasts until 15:00 ninety days on.
    pub fn expires_at(&self, placed_at: DateTime<Utc>, renewals: u32) -> DateTime<Utc> {
        let days = i64::from(self.days) + i64::from(renewals) * i64::from(self.renewal_days);
        placed_at + chrono::Duration::days(days)
    }

    /// The longest a hold can last: "180 days at most" in both shipped
    /// policies.
    pub fn longest_days(&self) -> u32 {
        self.days + self.max_renewals * self.renewal_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn sixty_days_after_a_return_is_due_on_the_sixtieth_day() {
        let today = date("2026-03-02");
        // 1 January + 60 days = 2 March.
        assert_eq!(cutoff_date(today, Period::Days(60)), date("2026-01-01"));
        assert_eq!(due_on(date("2026-01-01"), Period::Days(60)), today);
    }

    #[test]
    fn zero_days_is_due_the_same_day() {
        let today = date("2026-05-10");
        assert_eq!(cutoff_date(today, Period::Days(0)), today);
    }

    #[test]
    fn months_clamp_at_the_end_of_the_month() {
        // 31 August + 6 months = 28 February; so on 28 February 2027
        // everything up to 31 August 2026 is due.
        assert_eq!(
            cutoff_date(date("2027-02-28"), Period::Months(6)),
            date("2026-08-31")
        );
        assert_eq!(
            cutoff_date(date("2027-02-27"), Period::Months(6)),
            date("2026-08-27")
        );
    }

    #[test]
    fn the_cutoff_instant_is_local_midnight() {
        let zone: Tz = "America/Chicago".parse().unwrap();
        // 2 March in Chicago starts at 06:00 UTC (CST, UTC-6).
        let cut = cutoff_instant(date("2026-03-02"), Period::Days(60), zone);
        assert_eq!(cut.to_rfc3339(), "2026-01-02T06:00:00+00:00");
    }

    #[test]
    fn a_midnight_without_a_clock_starts_at_the_first_valid_time() {
        // Havana springs forward at midnight: 8 March 2026 starts at 01:00.
        let zone: Tz = "America/Havana".parse().unwrap();
        let start = start_of_day(date("2026-03-08"), zone);
        let local = start.with_timezone(&zone);
        assert_eq!(local.date_naive(), date("2026-03-08"));
        assert!(local.time() <= NaiveTime::from_hms_opt(1, 0, 0).unwrap());
    }

    #[test]
    fn legal_holds_last_ninety_days_and_one_renewal_more() {
        let rules = LegalHoldRules {
            placed_by: vec!["director".into()],
            days: 90,
            renewal_days: 90,
            max_renewals: 1,
        };
        let placed: DateTime<Utc> = "2026-01-01T15:00:00Z".parse().unwrap();
        assert_eq!(
            rules.expires_at(placed, 0).to_rfc3339(),
            "2026-04-01T15:00:00+00:00"
        );
        assert_eq!(
            rules.expires_at(placed, 1).to_rfc3339(),
            "2026-06-30T15:00:00+00:00"
        );
        assert_eq!(rules.longest_days(), 180);
    }
}
