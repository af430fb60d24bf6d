//! Periods: fiscal years (`FY27`), halves (`FY27-H1`) and quarters (`FY27-Q1`), resolved
//! against the job's fiscal-year start month, and the job's named custom periods.

use chrono::{Months, NaiveDate};
use std::collections::BTreeMap;
use std::fmt;

/// One period, with its first and last day (both inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// The label as written in the job file, normalised (`FY27-Q1`, `FY27`, `launch`).
    pub label: String,
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day of the period.
    pub end: NaiveDate,
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} – {})", self.label, self.start, self.end)
    }
}

impl Period {
    /// Parses `FY27`, `FY27-H1`, `FY27-Q1` (or with a four-digit year), or the name of one of
    /// the job's `custom` periods. Fiscal years are named after the calendar year they end
    /// in: with a February start, FY27 runs from 1 Feb 2026 to 31 Jan 2027, so FY27-Q1 is
    /// February to April 2026. With a January start, FY27 is calendar 2027.
    pub fn parse(
        label: &str,
        fiscal_year_start_month: u32,
        custom: &BTreeMap<String, Period>,
    ) -> Result<Period, String> {
        if let Some(p) = custom.get(label.trim()) {
            return Ok(p.clone());
        }
        Period::fiscal(label, fiscal_year_start_month).map_err(|e| {
            if custom.is_empty() {
                e
            } else {
                let names: Vec<&str> = custom.keys().map(String::as_str).collect();
                format!("{e}, or one of the job's [periods] ({})", names.join(", "))
            }
        })
    }

    /// Parses a fiscal label only: `FY27`, `FY27-H2`, `FY2027-Q3`.
    pub fn fiscal(label: &str, fiscal_year_start_month: u32) -> Result<Period, String> {
        let bad = || {
            format!(
                "period `{label}` is not a fiscal year, half or quarter such as `FY27`, `FY27-H1` or `FY2027-Q3`"
            )
        };
        let upper = label.trim().to_ascii_uppercase();
        let rest = upper.strip_prefix("FY").ok_or_else(bad)?;
        let (year, part) = match rest.split_once('-') {
            Some((y, p)) => (y, Some(p)),
            None => (rest, None),
        };
        if year.is_empty() || !year.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = match year.len() {
            2 => 2000 + year.parse::<i32>().map_err(|_| bad())?,
            4 => year.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        // (months from the fiscal year's start, length in months, label suffix)
        let (offset, months, suffix) = match part {
            None => (0, 12, String::new()),
            Some(p) => {
                let (unit, n) = p.split_at(p.len().min(1));
                let n: u32 = n.parse().map_err(|_| bad())?;
                match unit {
                    "Q" if (1..=4).contains(&n) => (3 * (n - 1), 3, format!("-Q{n}")),
                    "Q" => return Err(format!("period `{label}`: quarter must be Q1 to Q4")),
                    "H" if (1..=2).contains(&n) => (6 * (n - 1), 6, format!("-H{n}")),
                    "H" => return Err(format!("period `{label}`: half must be H1 or H2")),
                    _ => return Err(bad()),
                }
            }
        };
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
        let start = fy_start + Months::new(offset);
        let end = (start + Months::new(months)).pred_opt().ok_or_else(bad)?;
        Ok(Period {
            label: format!("FY{:02}{suffix}", year % 100),
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

    fn parse(label: &str, month: u32) -> Result<Period, String> {
        Period::parse(label, month, &BTreeMap::new())
    }

    #[test]
    fn february_fiscal_year_names_the_year_it_ends_in() {
        let p = parse("FY27-Q1", 2).unwrap();
        assert_eq!((p.start, p.end), (d(2026, 2, 1), d(2026, 4, 30)));
        assert_eq!(p.days(), 89);
        let q4 = parse("fy2026-q4", 2).unwrap();
        assert_eq!(q4.label, "FY26-Q4");
        assert_eq!((q4.start, q4.end), (d(2025, 11, 1), d(2026, 1, 31)));
    }

    #[test]
    fn calendar_fiscal_year() {
        let p = parse("FY27-Q3", 1).unwrap();
        assert_eq!((p.start, p.end), (d(2027, 7, 1), d(2027, 9, 30)));
    }

    #[test]
    fn a_period_is_closed_only_after_its_last_day() {
        let q1 = parse("FY27-Q1", 2).unwrap();
        assert_eq!(q1.closed_note(d(2026, 4, 30)), None);
        assert_eq!(
            q1.closed_note(d(2026, 12, 1)).unwrap(),
            "FY27-Q1 closed — final, as of 2026-04-30"
        );
    }

    #[test]
    fn years_and_halves() {
        let y = parse("fy27", 2).unwrap();
        assert_eq!(
            (y.label.as_str(), y.start, y.end),
            ("FY27", d(2026, 2, 1), d(2027, 1, 31))
        );
        assert_eq!(y.days(), 365);
        let h2 = parse("FY2027-H2", 2).unwrap();
        assert_eq!(
            (h2.label.as_str(), h2.start, h2.end),
            ("FY27-H2", d(2026, 8, 1), d(2027, 1, 31))
        );
        let h1 = parse("FY27-H1", 1).unwrap();
        assert_eq!((h1.start, h1.end), (d(2027, 1, 1), d(2027, 6, 30)));
    }

    #[test]
    fn custom_periods_by_name() {
        let launch = Period {
            label: "launch".into(),
            start: d(2026, 2, 15),
            end: d(2026, 6, 30),
        };
        let custom = BTreeMap::from([("launch".to_string(), launch.clone())]);
        assert_eq!(Period::parse("launch", 2, &custom).unwrap(), launch);
        let err = Period::parse("lunch", 2, &custom).unwrap_err();
        assert!(
            err.ends_with("or one of the job's [periods] (launch)"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_labels() {
        for bad in [
            "2027-Q1", "FY27Q1", "FY27-Q5", "FY7-Q1", "FYab-Q1", "FY27-Q", "FY27-H3", "FY27-", "FY",
        ] {
            assert!(parse(bad, 2).is_err(), "{bad} should be rejected");
        }
        assert!(
            parse("FY27-Q1", 13)
                .unwrap_err()
                .contains("fiscal_year_start_month")
        );
    }
}
