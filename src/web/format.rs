//! Values as people read them: moments as "3 days ago" (the exact time kept for a tooltip
//! and for machines, in `<time datetime=… title=…>`, see `templates/pages/macros.html`),
//! Fanvue's enum values (`SINGLE_RECIPIENT`, `followers-and-subscribers`) as words, and a
//! name's initial for an avatar placeholder.
//!
//! The server does not know the reader's time zone (that would take JavaScript), so exact
//! times say UTC; the relative part reads the same everywhere.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// A moment on a page: `relative` is shown, `full` is the tooltip, `iso` the `datetime`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct When {
    /// RFC 3339, for `<time datetime>` (empty when Fanvue sent something unreadable).
    pub iso: String,
    /// "3 days ago", "in 2 hours", "just now".
    pub relative: String,
    /// "26 Dec 2026, 11:46 UTC".
    pub full: String,
}

impl When {
    /// Fanvue's ISO 8601 timestamp (`2026-12-26T11:46:05.000Z`) relative to now. A value that
    /// does not parse is shown as it came (escaped by the template), never dropped.
    pub fn parse(raw: &str) -> Self {
        match OffsetDateTime::parse(raw, &Rfc3339) {
            Ok(at) => When::at(at, OffsetDateTime::now_utc()),
            Err(_) => When { iso: String::new(), relative: raw.to_owned(), full: raw.to_owned() },
        }
    }

    /// An optional timestamp; `None` gives an empty `When` (the template shows nothing).
    pub fn parse_opt(raw: Option<&str>) -> Self {
        raw.map(When::parse).unwrap_or_default()
    }

    /// `at` as seen at `now`.
    pub fn at(at: OffsetDateTime, now: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        When {
            iso: at.replace_nanosecond(0).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default(),
            relative: relative(at, now),
            full: full(at),
        }
    }

    /// Whether there is anything to show.
    pub fn is_empty(&self) -> bool {
        self.relative.is_empty()
    }
}

/// "26 Dec 2026, 11:46 UTC".
fn full(at: OffsetDateTime) -> String {
    let month = &format!("{:?}", at.month())[..3];
    format!("{} {month} {}, {:02}:{:02} UTC", at.day(), at.year(), at.hour(), at.minute())
}

/// How long before (or after) `now` `at` is, in the largest unit that fits.
pub fn relative(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let delta = now - at;
    let future = delta.is_negative();
    let span = delta.abs();
    if span < Duration::minutes(1) {
        return "just now".to_owned();
    }
    let (n, unit) = if span < Duration::hours(1) {
        (span.whole_minutes(), "minute")
    } else if span < Duration::days(1) {
        (span.whole_hours(), "hour")
    } else if span < Duration::days(2) {
        return if future { "tomorrow" } else { "yesterday" }.to_owned();
    } else if span < Duration::days(45) {
        (span.whole_days(), "day")
    } else if span < Duration::days(365) {
        (span.whole_days() / 30, "month")
    } else {
        (span.whole_days() / 365, "year")
    };
    let plural = if n == 1 { "" } else { "s" };
    if future { format!("in {n} {unit}{plural}") } else { format!("{n} {unit}{plural} ago") }
}

/// A Fanvue enum value as words: `SINGLE_RECIPIENT` → "Single recipient",
/// `followers-and-subscribers` → "Followers and subscribers", `tiktok` → "TikTok".
pub fn label(raw: &str) -> String {
    // Names with their own capitalisation.
    const NAMES: [(&str, &str); 5] = [
        ("tiktok", "TikTok"),
        ("youtube", "YouTube"),
        ("twitter", "X (Twitter)"),
        ("ppv", "Pay-per-view"),
        ("dm", "DM"),
    ];
    let lower = raw.trim().to_lowercase();
    if let Some((_, name)) = NAMES.iter().find(|(key, _)| *key == lower) {
        return (*name).to_owned();
    }
    let words = lower.replace(['_', '-'], " ");
    let mut chars = words.trim().chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The first letter of a name, upper-cased, for an avatar placeholder ("?" for no name).
pub fn initial(name: &str) -> String {
    name.trim_start_matches('@').chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn moments_read_as_people_say_them() {
        let now = datetime!(2026-12-29 12:00 UTC);
        for (at, said) in [
            (datetime!(2026-12-29 11:59:30 UTC), "just now"),
            (datetime!(2026-12-29 11:55 UTC), "5 minutes ago"),
            (datetime!(2026-12-29 11:00 UTC), "1 hour ago"),
            (datetime!(2026-12-28 09:00 UTC), "yesterday"),
            (datetime!(2026-12-26 11:46 UTC), "3 days ago"),
            (datetime!(2026-09-01 00:00 UTC), "3 months ago"),
            (datetime!(2024-12-01 00:00 UTC), "2 years ago"),
            (datetime!(2026-12-31 12:00 UTC), "in 2 days"),
        ] {
            assert_eq!(relative(at, now), said, "{at}");
        }
        let when = When::at(datetime!(2026-12-26 11:46:05 UTC), now);
        assert_eq!(when.iso, "2026-12-26T11:46:05Z");
        assert_eq!(when.full, "26 Dec 2026, 11:46 UTC");
    }

    #[test]
    fn unreadable_timestamps_are_shown_as_they_came() {
        let when = When::parse("sometime");
        assert_eq!((when.iso.as_str(), when.relative.as_str()), ("", "sometime"));
        assert!(When::parse_opt(None).is_empty());
        assert!(!When::parse("2026-12-26T11:46:05.000Z").iso.is_empty());
    }

    #[test]
    fn enum_values_become_words() {
        assert_eq!(label("SINGLE_RECIPIENT"), "Single recipient");
        assert_eq!(label("followers-and-subscribers"), "Followers and subscribers");
        assert_eq!(label("tiktok"), "TikTok");
        assert_eq!(label("instagram"), "Instagram");
        assert_eq!(label(""), "");
    }

    #[test]
    fn an_avatar_placeholder_shows_the_first_letter() {
        assert_eq!(initial("mia.rivera0"), "M");
        assert_eq!(initial("@élodie"), "É");
        assert_eq!(initial(""), "?");
    }
}
