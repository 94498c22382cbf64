//! Aligned columns that fit the terminal.

use chrono::{DateTime, Utc};

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

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Something shown as one row of a table.
pub trait Row {
    const COLUMNS: &'static [Column];
    fn cells(&self) -> Vec<String>;
}

/// Prints `items` as a table that fits the terminal.
pub fn print_rows<T: Row>(items: &[T]) {
    let rows: Vec<Vec<String>> = items.iter().map(Row::cells).collect();
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
                .map(|row| row[index].chars().count())
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
            .map(|(cell, width)| format!("{:<width$}", truncate(cell, *width)))
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
}
