//! Aligned columns that fit the terminal.

use chrono::{DateTime, Utc};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A column: its heading, and whether it may shrink to fit.
pub struct Column {
    pub heading: &'static str,
    pub flexible: bool,
}

impl Column {
    /// A column as wide as its widest cell.
    pub const fn fixed(heading: &'static str) -> Column {
        Column {
            heading,
            flexible: false,
        }
    }

    /// A column that shrinks, with the other flexible ones, to fit.
    pub const fn flexible(heading: &'static str) -> Column {
        Column {
            heading,
            flexible: true,
        }
    }
}

/// The width to fit: the terminal's, else `COLUMNS`, else 120.
fn terminal_width() -> usize {
    terminal_size::terminal_size()
        .map(|(width, _)| usize::from(width.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(120)
}

/// What replaces a character that could drive the terminal.
const REPLACEMENT: char = '\u{fffd}';

/// Whether `c` could move the cursor, clear or retitle the terminal, or
/// reorder the text around it: C0 and C1 controls, DEL, and the bidirectional
/// overrides and isolates.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A server's text made safe to print: every [`is_unsafe`] character becomes
/// `�`, so a name holding `ESC [ 2 J` shows up instead of clearing the screen.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe(c) { REPLACEMENT } else { c })
        .collect()
}

/// `text` cut to at most `width` terminal columns, ending in `…` when cut.
/// Columns, not characters: a CJK character or an emoji takes two.
fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let c_width = c.width().unwrap_or(0);
        if used + c_width + 1 > width {
            break;
        }
        cut.push(c);
        used += c_width;
    }
    cut.push('…');
    cut
}

/// `text` followed by spaces up to `width` columns.
fn pad(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// Something shown as one row of a table.
pub trait Row {
    const COLUMNS: &'static [Column];
    fn cells(&self) -> Vec<String>;
}

/// Prints `items` as a table that fits the terminal, every cell [`printable`].
pub fn print_rows<T: Row>(items: &[T]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| item.cells().iter().map(|cell| printable(cell)).collect())
        .collect();
    print!("{}", render(T::COLUMNS, &rows));
}

/// Renders rows under headings; flexible columns share what the fixed ones leave.
fn render(columns: &[Column], rows: &[Vec<String>]) -> String {
    render_to_width(columns, rows, terminal_width())
}

fn render_to_width(columns: &[Column], rows: &[Vec<String>], width: usize) -> String {
    let natural: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            rows.iter()
                .map(|row| row[index].width())
                .chain([column.heading.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let gaps = 2 * columns.len().saturating_sub(1);
    let fixed: usize = columns
        .iter()
        .zip(&natural)
        .filter(|(column, _)| !column.flexible)
        .map(|(_, w)| w)
        .sum();
    let flexible_count = columns.iter().filter(|column| column.flexible).count().max(1);
    let share = (width.saturating_sub(fixed + gaps) / flexible_count).max(8);
    let widths: Vec<usize> = columns
        .iter()
        .zip(&natural)
        .map(|(column, natural)| {
            if column.flexible {
                (*natural).min(share)
            } else {
                *natural
            }
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| pad(&truncate(cell, *width), *width))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(columns.iter().map(|column| column.heading.to_string()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

/// A date for a table cell: `2016-06-13 04:00`.
pub fn date(date: Option<DateTime<Utc>>, none: &str) -> String {
    date.map(|date| date.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| none.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_columns_shrink_to_fit() {
        let columns = [
            Column {
                heading: "ID",
                flexible: false,
            },
            Column {
                heading: "NAME",
                flexible: true,
            },
        ];
        let rows = vec![vec!["abc".to_string(), "a very long name indeed".to_string()]];
        let text = render_to_width(&columns, &rows, 15);
        assert_eq!(text, "ID   NAME\nabc  a very lo…\n");
        let wide = render_to_width(&columns, &rows, 80);
        assert!(wide.contains("a very long name indeed"));
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(printable("\u{1b}[2J\u{1b}]0;pwned\u{7}x\r"), "�[2J�]0;pwned�x�");
        assert_eq!(printable("\u{9b}31m\u{7f}\t\n"), "�31m���");
        assert_eq!(printable("abc\u{202e}fdp.exe\u{2066}"), "abc�fdp.exe�");
        assert_eq!(printable("名前 🔑 é"), "名前 🔑 é");
    }

    #[test]
    fn columns_are_measured_in_terminal_columns() {
        let columns = [Column::fixed("NAME"), Column::flexible("NOTE"), Column::fixed("END")];
        let rows: Vec<Vec<String>> = [["名前", "🔑🔑🔑"], ["ascii", "x"], ["é", "日本語のとても長い説明文"]]
            .iter()
            .map(|[name, note]| vec![name.to_string(), note.to_string(), "end".to_string()])
            .collect();
        let text = render_to_width(&columns, &rows, 20);
        let widths: Vec<usize> = text.lines().map(UnicodeWidthStr::width).collect();
        assert_eq!(widths, [20, 20, 20, 20], "{text}");
        assert!(text.contains("日本語…"), "{text}");
    }
}
