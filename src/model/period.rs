//! Fiscal periods: `FY27-Q1` and friends, resolved against the job's fiscal-year start month.

use chrono::{Months, NaiveDate};
use std::fmt;

/// One fiscal quarter, with its first and last day (both inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The label as written in the job file, normalised (`FY27-Q1`).
    pub label: String,
    /// First day of the quarter.
    pub start: NaiveDate,
    /// Last day of the quarter.
    pub end: NaiveDate,
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} – {})", self.label, self.start, self.end)
    }
}

impl Period {
    /// Parses `FY27-Q1` or `FY2027-Q1`. Fiscal years are named after the calendar year they end
    /// in: with a February start, FY27 runs from 1 Feb 2026 to 31 Jan 2027, so FY27-Q1 is
    /// February to April 2026. With a January start, FY27 is calendar 2027.
    pub fn parse(label: &str, fiscal_year_start_month: u32) -> Result<Period, String> {
        let bad =
            || format!("period `{label}` is not a fiscal quarter such as `FY27-Q1` or `FY2027-Q3`");
        let upper = label.trim().to_ascii_uppercase();
        let rest = upper.strip_prefix("FY").ok_or_else(bad)?;
        let (year, quarter) = rest.split_once("-Q").ok_or_else(bad)?;
        if year.is_empty() || !year.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = match year.len() {
            2 => 2000 + year.parse::<i32>().map_err(|_| bad())?,
            4 => year.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let quarter: u32 = quarter.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&quarter) {
            return Err(format!("period `{label}`: quarter must be Q1 to Q4"));
        }
        if !(1..=12).contains(&fiscal_year_start_month) {
            return Err(format!(
                "fiscal_year_start_month must be 1 to 12, not {fiscal_year_start_month}"
            ));
        }
        let first_year = if fiscal_year_start_month == 1 {
            year
        } else {
            year - 1
        };
        let fy_start =
            NaiveDate::from_ymd_opt(first_year, fiscal_year_start_month, 1).ok_or_else(bad)?;
        let start = fy_start + Months::new(3 * (quarter - 1));
        let end = (start + Months::new(3)).pred_opt().ok_or_else(bad)?;
        Ok(Period {
            label: format!("FY{:02}-Q{quarter}", year % 100),
            start,
            end,
        })
    }

    /// The number of days in the period.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The day a period is evaluated on for a run as of `as_of`: the run's date, or the
    /// period's last day once it is over, so that a closed quarter keeps its final numbers.
    pub fn evaluation_date(&self, as_of: NaiveDate) -> NaiveDate {
        as_of.min(self.end)
    }

    /// For a run after the period's last day, what every display says of it: `FY27-Q1
    /// closed — final, as of 2026-04-30`. `None` while the period runs.
    pub fn closed_note(&self, as_of: NaiveDate) -> Option<String> {
        (as_of > self.end).then(|| format!("{} closed — final, as of {}", self.label, self.end))
    }

    /// True when `day` falls inside the period.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn february_fiscal_year_names_the_year_it_ends_in() {
        let p = Period::parse("FY27-Q1", 2).unwrap();
        assert_eq!((p.start, p.end), (d(2026, 2, 1), d(2026, 4, 30)));
        assert_eq!(p.days(), 89);
        let q4 = Period::parse("fy2026-q4", 2).unwrap();
        assert_eq!(q4.label, "FY26-Q4");
        assert_eq!((q4.start, q4.end), (d(2025, 11, 1), d(2026, 1, 31)));
    }

    #[test]
    fn calendar_fiscal_year() {
        let p = Period::parse("FY27-Q3", 1).unwrap();
        assert_eq!((p.start, p.end), (d(2027, 7, 1), d(2027, 9, 30)));
    }

    #[test]
    fn a_period_is_closed_only_after_its_last_day() {
        let q1 = Period::parse("FY27-Q1", 2).unwrap();
        assert_eq!(q1.closed_note(d(2026, 4, 30)), None);
        assert_eq!(
            q1.closed_note(d(2026, 12, 1)).unwrap(),
            "FY27-Q1 closed — final, as of 2026-04-30"
        );
    }

    #[test]
    fn rejects_bad_labels() {
        for bad in [
            "2027-Q1", "FY27Q1", "FY27-Q5", "FY7-Q1", "FYab-Q1", "FY27-Q",
        ] {
            assert!(Period::parse(bad, 2).is_err(), "{bad} should be rejected");
        }
        assert!(
            Period::parse("FY27-Q1", 13)
                .unwrap_err()
                .contains("fiscal_year_start_month")
        );
    }
}
