//! Pure loan arithmetic from the policy: due dates in the library's time
//! zone and overdue fines.

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::PatronCategory;

/// A loan is due at the end of the library day `days` after the day it was
/// lent, counted in the library's own time zone (DESIGN: "60 days" is
/// counted in that zone, and so is a loan period).
pub fn due_at(lent_at: DateTime<Utc>, days: u32, zone: Tz) -> DateTime<Utc> {
    let local_day = lent_at.with_timezone(&zone).date_naive();
    let due_day = local_day
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(local_day);
    let end_of_day = due_day.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("valid time"));
    // `latest` resolves a daylight-saving fold to the later instant; a gap
    // cannot happen at 23:59:59 in any zone Carrel is likely to meet, but if
    // it did we fall back to the UTC reading rather than panic.
    zone.from_local_datetime(&end_of_day)
        .latest()
        .map_or_else(|| end_of_day.and_utc(), |t| t.with_timezone(&Utc))
}

/// The fine for returning an item at `returned_at` that was due at `due`:
/// one daily rate per library day late, capped by the category maximum.
pub fn overdue_fine_cents(
    due: DateTime<Utc>,
    returned_at: DateTime<Utc>,
    category: &PatronCategory,
    zone: Tz,
) -> i64 {
    if returned_at <= due || category.daily_fine_cents == 0 {
        return 0;
    }
    let due_day = due.with_timezone(&zone).date_naive();
    let returned_day = returned_at.with_timezone(&zone).date_naive();
    let days_late = (returned_day - due_day).num_days().max(1);
    (days_late * category.daily_fine_cents).min(category.max_fine_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adult() -> PatronCategory {
        PatronCategory {
            description: String::new(),
            minor: false,
            loan_days: 21,
            renewals: 2,
            max_items: 10,
            max_holds: 5,
            daily_fine_cents: 10,
            max_fine_cents: 500,
        }
    }

    #[test]
    fn due_date_is_end_of_local_day() {
        let zone: Tz = "America/Chicago".parse().unwrap();
        // 2026-03-01 03:00 UTC is still 2026-02-28 in Chicago.
        let lent = Utc.with_ymd_and_hms(2026, 3, 1, 3, 0, 0).unwrap();
        let due = due_at(lent, 21, zone);
        let local = due.with_timezone(&zone);
        assert_eq!(local.date_naive().to_string(), "2026-03-21");
        assert_eq!(local.time().to_string(), "23:59:59");
    }

    #[test]
    fn fines_count_library_days_and_cap() {
        let zone: Tz = "America/Denver".parse().unwrap();
        let due = due_at(Utc.with_ymd_and_hms(2026, 1, 1, 18, 0, 0).unwrap(), 1, zone);
        let on_time = due - chrono::Duration::hours(1);
        assert_eq!(overdue_fine_cents(due, on_time, &adult(), zone), 0);
        let three_days = due + chrono::Duration::days(3);
        assert_eq!(overdue_fine_cents(due, three_days, &adult(), zone), 30);
        let very_late = due + chrono::Duration::days(400);
        assert_eq!(overdue_fine_cents(due, very_late, &adult(), zone), 500);
    }
}
