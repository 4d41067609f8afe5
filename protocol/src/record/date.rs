//! Calendar dates, `YYYY-MM-DD`, in the proleptic Gregorian calendar.
//!
//! The format is exactly ten ASCII bytes: a four-digit year from `0001` to
//! `9999`, a two-digit month `01`..`12` and a two-digit day valid for that
//! month (28, 29, 30 or 31 days; February has 29 days in years divisible by 4
//! but not by 100, or divisible by 400). No time, no zone, no other layout.
//!
//! Arithmetic is done on day numbers relative to 1970-01-01 (the civil-days
//! algorithm), so nothing here reads a clock.

use std::fmt;

use super::ValueError;
use super::text::shown;

const SECONDS_PER_DAY: i64 = 86_400;

/// A validated calendar date.
///
/// Ordering is chronological.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Whether `year` is a leap year in the Gregorian calendar.
pub fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Number of days in `month` (1..=12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// Earliest representable date.
    pub const MIN: Date = Date {
        year: 1,
        month: 1,
        day: 1,
    };
    /// Latest representable date.
    pub const MAX: Date = Date {
        year: 9999,
        month: 12,
        day: 31,
    };

    /// The date `year-month-day`.
    ///
    /// # Errors
    /// [`ValueError`] when the year is outside 1..=9999, the month outside
    /// 1..=12 or the day outside the month.
    pub fn from_ymd(year: u16, month: u8, day: u8) -> Result<Self, ValueError> {
        if !(1..=9999).contains(&year) {
            return Err(ValueError::new(format!(
                "year {year} is outside 0001..9999"
            )));
        }
        if !(1..=12).contains(&month) {
            return Err(ValueError::new(format!("month {month:02} does not exist")));
        }
        let n_days = days_in_month(year, month);
        if day == 0 || day > n_days {
            return Err(ValueError::new(format!(
                "day {day:02} does not exist in {year:04}-{month:02}, which has {n_days} days"
            )));
        }
        Ok(Self { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    /// [`ValueError`] when `s` does not have that exact layout or names a day
    /// that does not exist.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let layout_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !layout_ok {
            return Err(ValueError::new(format!(
                "{} is not a date in YYYY-MM-DD form",
                shown(s)
            )));
        }
        let number = |range: std::ops::Range<usize>| {
            b[range]
                .iter()
                .fold(0u16, |n, c| n * 10 + u16::from(c - b'0'))
        };
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        // month and day have two digits, so they fit in a u8.
        Self::from_ymd(year, month as u8, day as u8).map_err(|e| {
            ValueError::new(format!("{} is not a valid date: {}", shown(s), e.reason()))
        })
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn unix_days(&self) -> i64 {
        // Civil-from-days inverse: years start on 1 March so that the leap
        // day is the last day of the computational year.
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` days after 1970-01-01, or `None` outside
    /// [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_unix_days(days: i64) -> Option<Self> {
        if days < Self::MIN.unix_days() || days > Self::MAX.unix_days() {
            return None;
        }
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        let year = u16::try_from(year).ok()?;
        let month = u8::try_from(month).ok()?;
        let day = u8::try_from(day).ok()?;
        Self::from_ymd(year, month, day).ok()
    }

    /// The UTC date of the instant `secs` seconds after the Unix epoch, or
    /// `None` when it falls outside [`Date::MIN`]..=[`Date::MAX`].
    pub fn from_unix_seconds(secs: i64) -> Option<Self> {
        Self::from_unix_days(secs.div_euclid(SECONDS_PER_DAY))
    }

    /// The same day and month `years` years later; 29 February becomes
    /// 28 February in a year that is not a leap year. `None` past year 9999.
    pub fn add_years(&self, years: u16) -> Option<Self> {
        let year = self.year.checked_add(years).filter(|y| *y <= 9999)?;
        let day = self.day.min(days_in_month(year, self.month));
        Self::from_ymd(year, self.month, day).ok()
    }

    /// The date `days` days later (or earlier when negative), or `None`
    /// outside [`Date::MIN`]..=[`Date::MAX`].
    pub fn add_days(&self, days: i64) -> Option<Self> {
        Self::from_unix_days(self.unix_days().checked_add(days)?)
    }
}

impl TryFrom<String> for Date {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Date> for String {
    fn from(d: Date) -> Self {
        d.to_string()
    }
}

impl std::str::FromStr for Date {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}
