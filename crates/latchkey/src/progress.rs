//! Progress bars on stderr, drawn only when stderr is a terminal: a pipe or a
//! log file gets no `\r`-redrawn lines.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// `{verb} [#########           ]  450000/1000000 {noun}`, or a hidden bar
/// when stderr is not a terminal.
pub fn bar(total: u64, verb: &str, noun: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(&format!("{verb} [{{bar:30}}] {{pos:>}}/{{len}} {noun}"))
        .expect("the template is valid")
        .progress_chars("## ");
    ProgressBar::new(total).with_style(style)
}
