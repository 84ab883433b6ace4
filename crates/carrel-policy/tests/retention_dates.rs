//! D1: "60 days" and "6 months" counted in the library's time zone. The
//! cutoff rule is checked against its definition for every keep period and
//! date a property test can find.

use carrel_policy::retention::{cutoff_date, cutoff_instant, due_on};
use carrel_policy::Period;
use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use proptest::prelude::*;

fn any_period() -> impl Strategy<Value = Period> {
    prop_oneof![
        (0u32..800).prop_map(Period::Days),
        (0u32..40).prop_map(Period::Months),
        (0u32..5).prop_map(Period::Years),
    ]
}

fn any_date() -> impl Strategy<Value = NaiveDate> {
    // 2000-01-01 plus up to ~60 years, so leap days and month ends appear.
    (0u64..22_000).prop_map(|d| {
        NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap()
            .checked_add_days(Days::new(d))
            .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// A record is due on `today` exactly when its event date is on or
    /// before the cutoff: never a day early, never a day late.
    #[test]
    fn d1_due_exactly_when_the_event_is_on_or_before_the_cutoff(
        keep in any_period(),
        today in any_date(),
        back in 0u64..2_000,
    ) {
        let event = today.checked_sub_days(Days::new(back)).unwrap();
        let cutoff = cutoff_date(today, keep);
        prop_assert_eq!(event <= cutoff, due_on(event, keep) <= today,
            "event {} keep {} today {} cutoff {}", event, keep, today, cutoff);
    }

    /// The cutoff is the boundary itself: due on it, not due the day after
    /// (with `due_on` never decreasing, this is the whole rule).
    #[test]
    fn d1_the_cutoff_is_the_last_due_event_date(keep in any_period(), today in any_date()) {
        let cutoff = cutoff_date(today, keep);
        prop_assert!(due_on(cutoff, keep) <= today);
        prop_assert!(due_on(cutoff.succ_opt().unwrap(), keep) > today,
            "keep {} today {}: {} is also due", keep, today, cutoff.succ_opt().unwrap());
    }

    /// The instant form agrees with the date form in the library's zone,
    /// across daylight-saving changes.
    #[test]
    fn d1_the_cutoff_instant_splits_local_days(
        keep in any_period(),
        today in any_date(),
        back_minutes in 0i64..(3 * 366 * 24 * 60),
        zone in prop::sample::select(vec!["America/Chicago", "America/Denver", "Pacific/Auckland", "UTC"]),
    ) {
        let zone: Tz = zone.parse().unwrap();
        let noon = zone
            .from_local_datetime(&today.and_hms_opt(12, 0, 0).unwrap())
            .earliest()
            .unwrap();
        let event = noon - chrono::Duration::minutes(back_minutes);
        let event_day = event.with_timezone(&zone).date_naive();
        let cut = cutoff_instant(today, keep, zone);
        prop_assert_eq!(event < cut, due_on(event_day, keep) <= today);
    }
}
