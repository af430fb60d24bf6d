//! The demo organisation: its blueprints, its process runs (a hand-written table, so that
//! every demo key result can be checked by hand) and its members.

/// A blueprint (template) and its steps.
pub(crate) struct Blueprint {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    /// Step names; the task alias is `<blueprint>-<n>`.
    pub(crate) tasks: &'static [&'static str],
    /// Milestone names by task index, for blueprints with milestones.
    pub(crate) milestones: &'static [&'static str],
    /// Whether the last task has the satisfaction form and the kick-off asks for a tier.
    pub(crate) forms: bool,
}

/// The blueprints of the demo organisation.
pub(crate) const ONBOARDING: Blueprint = Blueprint {
    id: "bp-onboarding",
    name: "Customer Onboarding",
    tasks: &[
        "Kick-off call",
        "Collect documents",
        "Configure account",
        "Training session",
        "Go-live sign-off",
    ],
    milestones: &[],
    forms: true,
};
pub(crate) const VENDOR_REVIEW: Blueprint = Blueprint {
    id: "bp-vendor",
    name: "Vendor Review",
    tasks: &["Security questionnaire", "Legal review", "Approval"],
    milestones: &[],
    forms: false,
};
pub(crate) const ROLLOUT: Blueprint = Blueprint {
    id: "bp-rollout",
    name: "Self-serve Onboarding Rollout",
    tasks: &["Design", "Beta", "General availability", "Adoption"],
    milestones: &["Design signed off", "Beta live", "GA", "Adoption target"],
    forms: false,
};

/// One process run of the demo data.
pub(crate) struct ProcessSpec {
    pub(crate) id: &'static str,
    pub(crate) blueprint: &'static Blueprint,
    pub(crate) owner: (&'static str, &'static str),
    pub(crate) start: (i32, u32, u32),
    /// Days each task takes; `None` marks a task hidden by a rule. Only the first `done`
    /// tasks complete.
    pub(crate) days: Vec<Option<u64>>,
    pub(crate) done: usize,
    /// Reopened this many days after completing.
    pub(crate) reopened_after: Option<u64>,
    /// Answer to "How satisfied is the customer? (1-10)".
    pub(crate) csat: &'static str,
    /// Issues reported on the second task, and how many were resolved by the last snapshot.
    pub(crate) issues: (u32, u32),
}

const fn d(n: u64) -> Option<u64> {
    Some(n)
}

/// The demo organisation's process runs, November 2025 to early May 2026.
pub(crate) fn demo_processes() -> Vec<ProcessSpec> {
    let dana = ("Dana Whitfield", "101");
    let lee = ("Lee Okafor", "102");
    let sam = ("Sam Rivera", "103");
    let onb = |id, start, days: Vec<Option<u64>>, done, csat, issues| ProcessSpec {
        id,
        blueprint: &ONBOARDING,
        owner: if id < "onb-09" { dana } else { lee },
        start,
        days,
        done,
        reopened_after: None,
        csat,
        issues,
    };
    let ven = |id, start, days: Vec<Option<u64>>, done| ProcessSpec {
        id,
        blueprint: &VENDOR_REVIEW,
        owner: sam,
        start,
        days,
        done,
        reopened_after: None,
        csat: "",
        issues: (0, 0),
    };
    vec![
        onb(
            "onb-01",
            (2025, 11, 3),
            vec![d(2), d(3), d(4), d(2), d(3)],
            5,
            "9",
            (0, 0),
        ),
        onb(
            "onb-02",
            (2025, 11, 17),
            vec![d(1), d(2), d(3), d(3), d(2)],
            5,
            "7",
            (0, 0),
        ),
        onb(
            "onb-03",
            (2025, 12, 8),
            vec![d(3), d(5), d(2), d(4), d(3)],
            5,
            "8",
            (1, 1),
        ),
        onb(
            "onb-04",
            (2026, 1, 12),
            vec![d(2), d(3), d(3), d(3), d(4)],
            5,
            "6",
            (0, 0),
        ),
        onb(
            "onb-05",
            (2026, 1, 20),
            vec![d(2), d(2), d(4), d(3), d(2)],
            5,
            "8",
            (0, 0),
        ),
        onb(
            "onb-06",
            (2026, 2, 2),
            vec![d(1), d(3), d(2), d(3), d(2)],
            5,
            "9",
            (0, 0),
        ),
        onb(
            "onb-07",
            (2026, 2, 9),
            vec![d(2), d(4), d(3), d(5), d(3)],
            5,
            "6",
            (2, 2),
        ),
        onb(
            "onb-08",
            (2026, 2, 16),
            vec![d(3), d(3), d(3), d(3), d(3)],
            5,
            "7",
            (0, 0),
        ),
        onb(
            "onb-09",
            (2026, 2, 23),
            vec![d(2), d(2), d(2), d(2), d(2)],
            5,
            "10",
            (0, 0),
        ),
        ProcessSpec {
            reopened_after: Some(3),
            ..onb(
                "onb-10",
                (2026, 3, 2),
                vec![d(4), d(3), d(6), d(2), d(3)],
                5,
                "5",
                (3, 1),
            )
        },
        onb(
            "onb-11",
            (2026, 3, 9),
            vec![d(2), d(3), d(2), None, d(3)],
            5,
            "8",
            (0, 0),
        ),
        onb(
            "onb-12",
            (2026, 3, 16),
            vec![d(3), d(2), d(3), d(3), d(4)],
            5,
            "n/a",
            (1, 0),
        ),
        onb(
            "onb-13",
            (2026, 3, 23),
            vec![d(2), d(3), d(3), d(2), d(2)],
            5,
            "9",
            (0, 0),
        ),
        onb(
            "onb-14",
            (2026, 4, 6),
            vec![d(1), d(2), d(2), d(3), d(2)],
            5,
            "7",
            (0, 0),
        ),
        onb(
            "onb-15",
            (2026, 4, 13),
            vec![d(2), d(3), d(3), d(3), d(3)],
            3,
            "",
            (2, 0),
        ),
        onb(
            "onb-16",
            (2026, 4, 27),
            vec![d(1), d(2), d(2), d(2), d(2)],
            1,
            "",
            (0, 0),
        ),
        onb(
            "onb-17",
            (2026, 4, 20),
            vec![d(2), d(2), d(3), d(2), d(3)],
            5,
            "8",
            (0, 0),
        ),
        ven("ven-00", (2026, 1, 5), vec![d(3), d(4), d(2)], 3),
        ven("ven-01", (2026, 2, 3), vec![d(3), d(5), d(1)], 3),
        ven("ven-02", (2026, 2, 17), vec![d(2), d(4), d(2)], 3),
        ven("ven-03", (2026, 3, 10), vec![d(4), d(6), d(1)], 3),
        ven("ven-04", (2026, 4, 7), vec![d(3), d(7), d(2)], 1),
        ven("ven-05", (2026, 4, 14), vec![d(2), d(3), d(1)], 3),
        ProcessSpec {
            id: "roll-01",
            blueprint: &ROLLOUT,
            owner: sam,
            start: (2026, 2, 2),
            days: vec![d(10), d(20), d(25), d(40)],
            done: 4,
            reopened_after: None,
            csat: "",
            issues: (0, 0),
        },
    ]
}

/// The member list of the demo organisation.
pub(crate) fn demo_members() -> Vec<[&'static str; 13]> {
    vec![
        [
            "101",
            "dana@example.com",
            "Dana Whitfield",
            "Dana",
            "Whitfield",
            "Onboarding lead",
            "Onboarding",
            "Yes",
            "No",
            "2024-02-01 10:00:00",
            "2026-04-29 08:12:00",
            "Europe/London",
            "GB",
        ],
        [
            "102",
            "lee@example.com",
            "Lee Okafor",
            "Lee",
            "Okafor",
            "Onboarding specialist",
            "Onboarding",
            "Yes",
            "No",
            "2025-06-15 09:30:00",
            "2026-04-30 16:40:00",
            "America/New_York",
            "US",
        ],
        [
            "103",
            "sam@example.com",
            "Sam Rivera",
            "Sam",
            "Rivera",
            "Product manager",
            "Product",
            "Yes",
            "No",
            "2023-09-01 12:00:00",
            "nan",
            "America/Chicago",
            "US",
        ],
    ]
}
