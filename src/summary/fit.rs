//! Fitting the summary to a width: how wide the table may be (the terminal's width, or
//! `COLUMNS`), and each column's width within it. The id and number columns keep their
//! content's width (the tree's indentation stays), titles and owners are shortened with `…`,
//! the note takes the rest and wraps; when even that does not fit, the least needed columns
//! are left out.

use comfy_table::{ColumnConstraint, Table, Width};

const TITLE: usize = 1;
const OWNER: usize = 2;
const EXPECTED: usize = 5;
const SCORE: usize = 6;
const HEALTH: usize = 8;
const VALUE: usize = 3;
const NOTE: usize = 9;

/// A title is not shortened below this many characters.
const TITLE_MIN: usize = 20;
/// A note wraps at no fewer than this many characters.
const NOTE_MIN: usize = 24;
/// Neither the title nor the note is narrower than this, even if the table is then too wide.
const FLOOR: usize = 8;
/// An owner is shortened to this many characters.
const OWNER_MAX: usize = 12;
/// The columns left out, in this order, while the title and the note have too little room.
const LEAVE_OUT: [usize; 5] = [SCORE, EXPECTED, HEALTH, OWNER, VALUE];

/// The width the summary fits when stdout is a terminal: `COLUMNS` when it is set to a number,
/// else the terminal's width. In a pipe or a file `None`, whatever `COLUMNS` says (a shell
/// may export it): as wide as the content, the output programs and tests read.
pub(crate) fn target_width() -> Option<u16> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&w| w > 0)
        .or_else(|| Table::new().width())
}

/// The characters of the longest line of `text` (the box-drawing characters, `↳` and `→` are
/// one column each).
fn chars(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// `text` shortened to `width` characters, its end replaced by `…` when cut.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// The columns' constraints for a table of `header` and `rows` at most `width` wide, the
/// titles and owners in `rows` shortened to their column. Wider than `width` only when the
/// id, progress and status columns with a title and a note of [`FLOOR`] characters do not fit.
pub(super) fn fit(header: &[&str], rows: &mut [Vec<String>], width: u16) -> Vec<ColumnConstraint> {
    let width = usize::from(width);
    let content: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| chars(&r[c]))
                .chain([chars(header[c])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let least = |c: usize, at_least: usize| content[c].min(at_least);
    let mut left_out = 0;
    let (shown, room) = loop {
        let shown: Vec<usize> = (0..header.len())
            .filter(|c| !LEAVE_OUT[..left_out].contains(c))
            .collect();
        // a border before each column and after the last, a space either side of each
        let frame = 1 + 3 * shown.len();
        let fixed: usize = shown
            .iter()
            .filter(|&&c| c != TITLE && c != NOTE)
            .map(|&c| {
                if c == OWNER {
                    least(c, OWNER_MAX)
                } else {
                    content[c]
                }
            })
            .sum();
        let room = width.saturating_sub(frame + fixed);
        if room >= least(TITLE, TITLE_MIN) + least(NOTE, NOTE_MIN) || left_out == LEAVE_OUT.len() {
            break (shown, room);
        }
        left_out += 1;
    };
    // the title takes up to half the room (at least its least when there is room for it),
    // the note the rest, the title what the note leaves; neither below FLOOR
    let roomy = room >= least(TITLE, TITLE_MIN) + least(NOTE, NOTE_MIN);
    let half = if roomy {
        (room / 2).max(TITLE_MIN)
    } else {
        room / 2
    };
    let title = content[TITLE].min(half).max(least(TITLE, FLOOR));
    let note = content[NOTE]
        .min(room.saturating_sub(title))
        .max(least(NOTE, FLOOR));
    let title = content[TITLE]
        .min(room.saturating_sub(note))
        .max(least(TITLE, FLOOR));
    let owner = least(OWNER, OWNER_MAX);
    for r in rows.iter_mut() {
        r[TITLE] = shorten(&r[TITLE], title);
        r[OWNER] = shorten(&r[OWNER], owner);
    }
    (0..header.len())
        .map(|c| {
            if !shown.contains(&c) {
                return ColumnConstraint::Hidden;
            }
            if c != NOTE {
                // the titles and owners are shortened to their width already
                return ColumnConstraint::ContentWidth;
            }
            // the width with the space either side
            ColumnConstraint::Absolute(Width::Fixed((note.max(1) + 2) as u16))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_keeps_short_text_and_marks_a_cut() {
        assert_eq!(
            shorten("Close 20 payment bugs", 21),
            "Close 20 payment bugs"
        );
        assert_eq!(shorten("Close 20 payment bugs", 10), "Close 20…");
        assert_eq!(shorten("Close 20 payment bugs", 10).chars().count(), 9);
        assert_eq!(shorten("abcdef", 4), "abc…");
    }

    #[test]
    fn columns_are_left_out_only_when_the_title_and_note_lack_room() {
        let header = [
            "id", "title", "owner", "value", "progress", "expected", "score", "status", "health",
            "note",
        ];
        let row = |title: &str, note: &str| -> Vec<String> {
            [
                "  O1-KR1", title, "dana", "12.50", "75%", "83%", "75%", "behind", "on_track", note,
            ]
            .map(String::from)
            .to_vec()
        };
        // wide enough: nothing left out, nothing shortened
        let mut rows = vec![row("Close 20 payment bugs", "short")];
        let c = fit(&header, &mut rows, 200);
        assert!(!c.contains(&ColumnConstraint::Hidden), "{c:?}");
        assert_eq!(rows[0][TITLE], "Close 20 payment bugs");
        // narrow: score and expected go first, the title is shortened, the note wraps
        let long_title = "Cut the median onboarding time from 20 to 10 days";
        let mut rows = vec![row(long_title, &"word ".repeat(60))];
        let c = fit(&header, &mut rows, 100);
        assert_eq!(c[SCORE], ColumnConstraint::Hidden);
        assert_eq!(c[EXPECTED], ColumnConstraint::Hidden);
        assert_ne!(c[0], ColumnConstraint::Hidden);
        assert_eq!(c[0], ColumnConstraint::ContentWidth);
        assert!(matches!(c[NOTE], ColumnConstraint::Absolute(Width::Fixed(w)) if w > 20));
        assert!(rows[0][TITLE].ends_with('…'), "{}", rows[0][TITLE]);
        assert!(rows[0][TITLE].chars().count() >= TITLE_MIN);
    }
}
