//! Where a reader of the change log stands. An entry's number is handed out
//! when it is appended, just before its transaction commits; on PostgreSQL
//! writers append at the same time (no lock orders them: that would let only
//! one commit at a time), so a number can become visible after a higher
//! one. A reader therefore keeps, besides the highest number it has read,
//! the lower numbers it has not seen — gaps: an entry still committing, or
//! a number whose transaction rolled back — and looks for them on each read
//! for [`GAP_PATIENCE`]. Nothing above a gap waits for it.

use std::fmt;
use std::str::FromStr;

use latchkey_core::time::Millis;

/// How long a reader looks for a number it has not seen. A transaction
/// holds its number only from its append to its commit (milliseconds);
/// past this it rolled back.
pub const GAP_PATIENCE: Millis = 60_000;

/// Most gaps a position keeps (the lowest go first): the numbers that can
/// be committing at once are bounded by the connections of all instances.
pub const MAX_GAPS: usize = 1_000;

/// How far below the log's end a reader starting afresh looks, at most, for
/// numbers still committing.
pub const START_WINDOW: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogPosition {
    /// The highest number read.
    seen: u64,
    /// Numbers below `seen` not read yet, ascending.
    gaps: Vec<Gap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    number: u64,
    /// The database's time when a reader first missed it.
    noticed_at: Millis,
}

impl LogPosition {
    /// The position of a reader starting at the log's end (`newest`), given
    /// the number of the last entry appended more than [`GAP_PATIENCE`] ago
    /// (`settled`: nothing below it can still be committing) and the numbers
    /// the log holds above `start_floor(settled, newest)`, ascending: the
    /// numbers it lacks there may still be committing.
    pub fn start(recent: &[u64], settled: u64, newest: u64, now: Millis) -> LogPosition {
        let lowest = LogPosition::start_floor(settled, newest);
        let mut position = LogPosition {
            seen: lowest,
            gaps: Vec::new(),
        };
        position.advance(recent.iter().filter(|number| **number > lowest).copied(), now);
        position.add_gaps(position.seen, newest + 1, now);
        position.seen = position.seen.max(newest);
        position
    }

    /// Where a reader starting at `newest` begins to look for numbers still
    /// committing.
    pub fn start_floor(settled: u64, newest: u64) -> u64 {
        newest.saturating_sub(START_WINDOW).max(settled)
    }

    /// The highest number read: the next read asks for entries above it…
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// …and for these, still missing.
    pub fn gaps(&self) -> impl Iterator<Item = u64> + '_ {
        self.gaps.iter().map(|gap| gap.number)
    }

    /// Moves past the numbers of one read (ascending: entries above
    /// [`seen`](Self::seen) and gaps filled), at the database's time `now`.
    pub fn advance(&mut self, numbers: impl IntoIterator<Item = u64>, now: Millis) {
        for number in numbers {
            if number > self.seen {
                self.add_gaps(self.seen, number, now);
                self.seen = number;
            } else {
                self.gaps.retain(|gap| gap.number != number);
            }
        }
        self.gaps.retain(|gap| now - gap.noticed_at <= GAP_PATIENCE);
        let excess = self.gaps.len().saturating_sub(MAX_GAPS);
        self.gaps.drain(..excess);
    }

    /// Records the numbers strictly between `low` and `high` as gaps (only
    /// the highest [`MAX_GAPS`] of a longer run).
    fn add_gaps(&mut self, low: u64, high: u64, now: Millis) {
        let from = (low + 1).max(high.saturating_sub(MAX_GAPS as u64));
        self.gaps.extend((from..high).map(|number| Gap {
            number,
            noticed_at: now,
        }));
    }
}

/// `SEEN` then `.NUMBER~NOTICED_AT` per gap: the feed's cursor.
impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seen)?;
        for gap in &self.gaps {
            write!(f, ".{}~{}", gap.number, gap.noticed_at)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPosition;

impl FromStr for LogPosition {
    type Err = InvalidPosition;

    fn from_str(text: &str) -> Result<LogPosition, InvalidPosition> {
        // Entries are numbered by the databases' signed 64-bit integers.
        let number = |text: &str| {
            text.parse::<i64>()
                .ok()
                .and_then(|number| u64::try_from(number).ok())
                .ok_or(InvalidPosition)
        };
        let mut parts = text.split('.');
        let seen = number(parts.next().ok_or(InvalidPosition)?)?;
        let mut gaps: Vec<Gap> = Vec::new();
        for part in parts {
            let (gap_number, noticed_at) = part.split_once('~').ok_or(InvalidPosition)?;
            let gap = Gap {
                number: number(gap_number)?,
                noticed_at: noticed_at.parse().map_err(|_| InvalidPosition)?,
            };
            let ascending = gaps.last().is_none_or(|last| last.number < gap.number);
            if gap.number == 0 || gap.number >= seen || !ascending || gaps.len() == MAX_GAPS {
                return Err(InvalidPosition);
            }
            gaps.push(gap);
        }
        Ok(LogPosition { seen, gaps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(position: &LogPosition) -> Vec<u64> {
        position.gaps().collect()
    }

    #[test]
    fn a_number_seen_late_is_read_late_and_nothing_above_it_waits() {
        let mut position = LogPosition::default();
        position.advance([1, 2, 5, 6], 1_000);
        assert_eq!((position.seen(), gaps(&position)), (6, vec![3, 4]));
        position.advance([4, 7], 1_500);
        assert_eq!((position.seen(), gaps(&position)), (7, vec![3]));
        // Number 3 rolled back: given up after the patience.
        position.advance([], 1_000 + GAP_PATIENCE + 1);
        assert_eq!((position.seen(), gaps(&position)), (7, vec![]));
    }

    #[test]
    fn a_fresh_reader_waits_for_what_may_still_commit() {
        // Settled up to 3; the log holds 4..=10 but 7 and 9: they may be
        // committing.
        let position = LogPosition::start(&[4, 5, 6, 8, 10], 3, 10, 0);
        assert_eq!((position.seen(), gaps(&position)), (10, vec![7, 9]));
        // A log with its first entries still committing.
        let early = LogPosition::start(&[3], 0, 3, 0);
        assert_eq!((early.seen(), gaps(&early)), (3, vec![1, 2]));
        // An empty log, or one settled to its newest entry.
        assert_eq!(LogPosition::start(&[], 0, 0, 0), LogPosition::default());
        let quiet = LogPosition::start(&[], 40, 40, 0);
        assert_eq!((quiet.seen(), gaps(&quiet)), (40, vec![]));
        // Far below the end, nothing is committing any more; within the
        // window, at most MAX_GAPS numbers are waited for.
        let long = LogPosition::start(&[START_WINDOW + 50], 0, START_WINDOW + 50, 0);
        assert_eq!(gaps(&long).len(), MAX_GAPS);
        assert!(gaps(&long).iter().all(|number| *number > 50));
    }

    #[test]
    fn gaps_are_bounded() {
        let mut position = LogPosition::default();
        position.advance([1, 10_000_000], 0);
        assert_eq!(gaps(&position).len(), MAX_GAPS);
        assert_eq!(gaps(&position).last(), Some(&9_999_999));
    }

    #[test]
    fn a_position_round_trips_through_its_text_and_garbage_is_refused() {
        let mut position = LogPosition::default();
        position.advance([1, 4, 6], 123);
        let text = position.to_string();
        assert_eq!(text, "6.2~123.3~123.5~123");
        assert_eq!(text.parse::<LogPosition>(), Ok(position));
        assert_eq!("0".parse::<LogPosition>(), Ok(LogPosition::default()));
        for garbage in [
            "",
            "x",
            "-1",
            "5.",
            "5.3",
            "5.3~",
            "5.6~1",
            "5.3~1.2~1",
            "5.0~1",
            "5.3~1.3~1",
            "1e3",
            // Past the databases' numbers.
            "9223372036854775808",
            "9999999999999999999.9223372036854775808~0",
        ] {
            assert!(garbage.parse::<LogPosition>().is_err(), "{garbage:?}");
        }
    }
}
