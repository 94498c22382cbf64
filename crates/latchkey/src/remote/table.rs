//! How items are printed for people: a list as aligned columns that fit the
//! terminal, one item alone as a list of its fields.

use std::io::IsTerminal;

use chrono::{DateTime, SecondsFormat, Utc};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A column: its heading, whether it may shrink to fit, and whether a
/// terminal too narrow for every column leaves it out.
pub struct Column {
    pub heading: &'static str,
    pub flexible: bool,
    pub optional: bool,
}

impl Column {
    /// A column as wide as its widest cell.
    pub const fn fixed(heading: &'static str) -> Column {
        Column {
            heading,
            flexible: false,
            optional: false,
        }
    }

    /// A column that shrinks, with the other flexible ones, to fit.
    pub const fn flexible(heading: &'static str) -> Column {
        Column {
            heading,
            flexible: true,
            optional: false,
        }
    }

    /// A fixed column that a terminal too narrow for every column leaves
    /// out, rather than cut the flexible ones below [`LEAST_FLEXIBLE`].
    pub const fn optional(heading: &'static str) -> Column {
        Column {
            heading,
            flexible: false,
            optional: true,
        }
    }
}

/// The narrowest a flexible column is cut to.
const LEAST_FLEXIBLE: usize = 8;

/// The width a table must fit: on a terminal its width (else `COLUMNS`, else
/// 120); none when stdout is a pipe or a file, whose reader wants every
/// character.
fn width_to_fit() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let width = terminal_size::terminal_size()
        .map(|(width, _)| usize::from(width.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(120);
    Some(width)
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

/// Something the server sends that is printed for people: one row of a
/// table in a list, or a list of its fields when shown alone.
pub trait Item {
    const COLUMNS: &'static [Column];
    fn id(&self) -> &str;
    /// The table row, a cell for each of [`Item::COLUMNS`].
    fn cells(&self) -> Vec<String>;
    /// Every field, by its wire name, with the lines of its value (a scope
    /// per line, say).
    fn fields(&self) -> Vec<(&'static str, Vec<String>)>;
}

/// Prints `items` as a table, every cell [`printable`]: fit to the terminal,
/// or whole when stdout is not one.
pub fn print_rows<T: Item>(items: &[T]) {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| item.cells().iter().map(|cell| printable(cell)).collect())
        .collect();
    print!("{}", render(T::COLUMNS, &rows, width_to_fit()));
}

/// Prints one item as `field  value` lines, never cut, every value
/// [`printable`]; a value of several lines continues under the first.
pub fn print_fields<T: Item>(item: &T) {
    print!("{}", render_fields(&item.fields()));
}

fn render_fields(fields: &[(&str, Vec<String>)]) -> String {
    let label_width = fields.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, lines) in fields {
        let mut label = *label;
        for line in lines.iter().map(String::as_str).chain(lines.is_empty().then_some("")) {
            out.push_str(format!("{}  {}", pad(label, label_width), printable(line)).trim_end());
            out.push('\n');
            label = "";
        }
    }
    out
}

/// The columns to show (their indexes): all of them, less the rightmost
/// optional ones while the rest cannot fit `width` with every flexible
/// column at least [`LEAST_FLEXIBLE`] wide.
fn shown(columns: &[Column], natural: &[usize], width: Option<usize>) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..columns.len()).collect();
    let Some(width) = width else {
        return shown;
    };
    let least = |shown: &[usize]| -> usize {
        let cells: usize = shown
            .iter()
            .map(|&index| match columns[index].flexible {
                true => LEAST_FLEXIBLE,
                false => natural[index],
            })
            .sum();
        cells + 2 * shown.len().saturating_sub(1)
    };
    while least(&shown) > width {
        let Some(position) = shown.iter().rposition(|&index| columns[index].optional) else {
            break;
        };
        shown.remove(position);
    }
    shown
}

/// Renders rows under headings. Given a width to fit, optional columns may
/// be left out and flexible columns share what the fixed ones leave;
/// without one, every column is shown as wide as its widest cell.
fn render(columns: &[Column], rows: &[Vec<String>], width: Option<usize>) -> String {
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
    let shown = shown(columns, &natural, width);
    let pick = |cells: &[String]| -> Vec<String> { shown.iter().map(|&index| cells[index].clone()).collect() };
    let rows: Vec<Vec<String>> = rows.iter().map(|row| pick(row)).collect();
    let natural: Vec<usize> = shown.iter().map(|&index| natural[index]).collect();
    let columns: Vec<&Column> = shown.iter().map(|&index| &columns[index]).collect();
    let gaps = 2 * columns.len().saturating_sub(1);
    let fixed: usize = columns
        .iter()
        .zip(&natural)
        .filter(|(column, _)| !column.flexible)
        .map(|(_, w)| w)
        .sum();
    let flexible_count = columns.iter().filter(|column| column.flexible).count().max(1);
    let share = width.map_or(usize::MAX, |width| {
        (width.saturating_sub(fixed + gaps) / flexible_count).max(LEAST_FLEXIBLE)
    });
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
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// A date for a table cell: `2016-06-13 04:00`.
pub fn date(date: Option<DateTime<Utc>>, none: &str) -> String {
    date.map(|date| date.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| none.to_string())
}

/// A date for a field of one item, whole: `2016-06-13T04:00:00.000Z`.
pub fn full_date(date: Option<DateTime<Utc>>, none: &str) -> Vec<String> {
    vec![date.map_or_else(
        || none.to_string(),
        |date| date.to_rfc3339_opts(SecondsFormat::Millis, true),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_columns_shrink_to_fit() {
        let columns = [Column::fixed("ID"), Column::flexible("NAME")];
        let rows = vec![vec!["abc".to_string(), "a very long name indeed".to_string()]];
        let text = render(&columns, &rows, Some(15));
        assert_eq!(text, "ID   NAME\nabc  a very lo…\n");
        let wide = render(&columns, &rows, Some(80));
        assert!(wide.contains("a very long name indeed"));
        assert_eq!(
            render(&columns, &rows, None),
            "ID   NAME\nabc  a very long name indeed\n"
        );
    }

    #[test]
    fn a_narrow_terminal_leaves_out_optional_columns_from_the_right() {
        let columns = [
            Column::fixed("ID"),
            Column::flexible("NAME"),
            Column::optional("ONE"),
            Column::optional("TWO"),
        ];
        let rows = vec![["abc", "a long name", "1", "2"].map(String::from).to_vec()];
        assert_eq!(
            render(&columns, &rows, Some(20)),
            "ID   NAME        ONE\nabc  a long na…  1\n",
            "TWO goes first"
        );
        assert_eq!(render(&columns, &rows, Some(5)), "ID   NAME\nabc  a long …\n");
        let all = "ID   NAME         ONE  TWO\nabc  a long name  1    2\n";
        assert_eq!(render(&columns, &rows, Some(80)), all);
        assert_eq!(render(&columns, &rows, None), all, "a pipe gets every column");
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
        let text = render(&columns, &rows, Some(20));
        let widths: Vec<usize> = text.lines().map(UnicodeWidthStr::width).collect();
        assert_eq!(widths, [20, 20, 20, 20], "{text}");
        assert!(text.contains("日本語…"), "{text}");
    }

    #[test]
    fn one_item_is_a_list_of_every_field() {
        let fields = [
            ("id", vec!["abc".to_string()]),
            ("description", vec![]),
            (
                "scope",
                vec!["device.get".to_string(), "device.sendState\u{1b}[2J".to_string()],
            ),
        ];
        assert_eq!(
            render_fields(&fields),
            "id           abc\ndescription\nscope        device.get\n             device.sendState�[2J\n"
        );
    }
}
