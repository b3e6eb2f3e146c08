//! [`DayRange`]: the date range of Fanvue's insights endpoints, typed.
//!
//! People pick whole days; Fanvue's reference wants `startDate` and `endDate` as ISO 8601
//! date-times with an offset (`format: date-time`, e.g. `2024-10-20T00:00:00Z`) and reads
//! `endDate` as exclusive ("data before this date is included", the earnings page). A bare
//! date is refused with a 400, so the conversion lives here, once, for both the creator's
//! routes (`/insights/…`) and an agency's (`/creators/{creatorUserUuid}/insights/…`).

use time::{Date, Duration};

/// Whole days from `first` to `last`, both included, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    first: Date,
    last: Date,
}

impl DayRange {
    /// The days `first..=last`; `None` when `first` is after `last` or `last` is the
    /// calendar's last day (its exclusive end cannot be written).
    pub fn new(first: Date, last: Date) -> Option<Self> {
        (first <= last && last.next_day().is_some()).then_some(Self { first, last })
    }

    /// The first day.
    pub fn first(&self) -> Date {
        self.first
    }

    /// The last day (included).
    pub fn last(&self) -> Date {
        self.last
    }

    /// Number of days, both ends included.
    pub fn days(&self) -> i64 {
        (self.last - self.first).whole_days() + 1
    }

    /// `startDate`: midnight UTC of the first day, e.g. `2026-10-28T00:00:00Z`.
    pub fn start_date(&self) -> String {
        midnight(self.first)
    }

    /// `endDate`: midnight UTC of the day after the last (exclusive).
    pub fn end_date(&self) -> String {
        midnight(self.last + Duration::days(1))
    }

    /// The two query parameters.
    pub fn query(&self) -> [(&'static str, String); 2] {
        [("startDate", self.start_date()), ("endDate", self.end_date())]
    }
}

fn midnight(day: Date) -> String {
    format!("{day}T00:00:00Z")
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn a_range_is_sent_as_date_times_with_an_exclusive_end() {
        let range = DayRange::new(date!(2026 - 10 - 28), date!(2026 - 10 - 31)).unwrap();
        assert_eq!(range.start_date(), "2026-10-28T00:00:00Z");
        assert_eq!(range.end_date(), "2026-11-01T00:00:00Z");
        assert_eq!(range.days(), 4);
        assert!(DayRange::new(date!(2026 - 10 - 28), date!(2026 - 10 - 27)).is_none());
    }
}
