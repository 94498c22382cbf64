//! `latchkey tokens …`, `latchkey apps …` and `latchkey audit …`: the HTTP
//! client commands, for Latchkey or any Losant-compatible base URL.

mod apps;
mod audit;
pub(crate) mod table;
mod tokens;

use std::io::Write;

use anyhow::bail;
use clap::{Args, ValueEnum};
use latchkey_client::{Client, Listing, Pager, SortDirection};
use serde::de::DeserializeOwned;
use serde::Serialize;
use table::{print_fields, print_rows, Item};

pub use table::printable;

pub use apps::AppsCommand;
pub use audit::AuditCommand;
pub use tokens::TokensCommand;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for a list, a field per line for one item.
    Table,
    /// The server's JSON, and nothing else.
    Json,
    /// Only ids, one per line.
    Id,
    /// Only the new token's secret (tokens create).
    Token,
}

const GLOBAL: &str = "Global options";

/// Where the API is and who calls it (global to the client commands).
#[derive(Args)]
pub struct Remote {
    /// Base URL of the API.
    #[arg(
        long,
        global = true,
        env = "LATCHKEY_URL",
        default_value = "http://127.0.0.1:8080",
        help_heading = GLOBAL
    )]
    url: String,
    /// API token to call with.
    #[arg(long, global = true, env = "LATCHKEY_TOKEN", hide_env_values = true, help_heading = GLOBAL)]
    token: Option<String>,
    /// What to print on stdout.
    #[arg(long, global = true, value_enum, default_value = "table", help_heading = GLOBAL)]
    output: Output,
}

impl std::fmt::Debug for Remote {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("output", &self.output)
            .finish()
    }
}

impl Remote {
    /// The client to call with, once the options are known to make sense:
    /// `--output token` is refused before anything is sent unless the
    /// command creates a token.
    fn client(&self, creates_a_token: bool) -> anyhow::Result<Client> {
        if self.output == Output::Token && !creates_a_token {
            bail!("--output token is only for `latchkey tokens create`; use --output id or json here");
        }
        let Some(token) = &self.token else {
            bail!("no API token: pass --token or set LATCHKEY_TOKEN (`latchkey admin-token` mints one)");
        };
        Ok(Client::builder().base_url(&self.url).token(token).build()?)
    }

    /// `error` said once and plainly. A request that never got an answer is
    /// described by its innermost cause (the client's own message repeats
    /// the URL at every level), with what to check.
    fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        let Some(latchkey_client::Error::Transport(transport)) = error.downcast_ref::<latchkey_client::Error>() else {
            return error;
        };
        let mut cause: &dyn std::error::Error = transport;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let url = crate::database::masked(&self.url);
        if transport.is_connect() || transport.is_timeout() {
            anyhow::anyhow!(
                "cannot reach {url} ({cause}): is the server running (latchkey serve), and is --url / LATCHKEY_URL right?"
            )
        } else {
            anyhow::anyhow!("the request to {url} failed: {cause}")
        }
    }
}

/// The listing flags both `tokens list` and `apps list` take.
#[derive(Args, Debug)]
pub struct PageArgs {
    /// Sort direction: asc or desc.
    #[arg(long)]
    sort_direction: Option<SortDirection>,
    /// Page number, from 0.
    #[arg(long)]
    page: Option<u64>,
    /// Items per page, 1 to 1000.
    #[arg(long)]
    per_page: Option<u32>,
    /// A glob for --filter-field: `*` matches any run of characters, case-insensitively.
    #[arg(long)]
    filter: Option<String>,
    /// Follow every page and print one combined result.
    #[arg(long)]
    all: bool,
}

/// Prints one item: its fields, its JSON, or its id.
fn show<T: Item + Serialize>(item: &T, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => print_json(item),
        Output::Table => {
            print_fields(item);
            Ok(())
        }
        Output::Id | Output::Token => print_ids([item.id()]),
    }
}

/// Prints each id on a line of its own.
fn print_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for id in ids {
        writeln!(stdout, "{}", printable(id))?;
    }
    Ok(())
}

/// Prints one page from `one_page`, or with `all` every page merged.
async fn list<P>(
    one_page: impl std::future::Future<Output = Result<P, latchkey_client::Error>>,
    pager: Pager<'_, P>,
    all: bool,
    noun: &str,
    output: Output,
) -> anyhow::Result<()>
where
    P: Listing + Serialize + DeserializeOwned,
    P::Item: Item,
{
    let listing = match all {
        false => one_page.await?,
        true => match fetch_all(pager, noun).await? {
            Some(listing) => listing,
            None => return Ok(()),
        },
    };
    match output {
        Output::Json => print_json(&listing),
        Output::Table => {
            print_rows(listing.items());
            Ok(())
        }
        Output::Id | Output::Token => print_ids(listing.items().iter().map(Item::id)),
    }
}

/// Prints what a DELETE of `id` answered: `done` for people, the JSON, or the id.
fn deleted(success: &latchkey_client::Success, id: &str, done: &str, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => print_json(success),
        Output::Table => {
            println!("{done}");
            Ok(())
        }
        Output::Id | Output::Token => print_ids([id]),
    }
}

/// Prints `value` as JSON that cannot drive the terminal: serde_json escapes
/// the C0 controls in strings; DEL, the C1 controls and the bidirectional
/// overrides it leaves raw, so they are escaped here too. They can only occur
/// inside strings, where `\uXXXX` means the same character.
fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut inert = String::with_capacity(text.len());
    for c in text.chars() {
        if table::is_unsafe(c) && c > '\u{1f}' {
            inert.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            inert.push(c);
        }
    }
    writeln!(std::io::stdout().lock(), "{inert}")?;
    Ok(())
}

/// Every page merged into one, with a progress bar on a terminal's stderr
/// once there is more than one page.
async fn fetch_all<P: Listing + DeserializeOwned>(pager: Pager<'_, P>, noun: &str) -> anyhow::Result<Option<P>> {
    let mut bar = None;
    let combined = pager
        .combined(|fetched, total| {
            if fetched < total || bar.is_some() {
                let bar = bar.get_or_insert_with(|| crate::progress::bar(total, "fetching", noun));
                bar.set_length(total);
                bar.set_position(fetched);
            }
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(combined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let remote = Remote {
            url: "http://127.0.0.1:8080".to_string(),
            token: Some("eyJsecret.token.value".to_string()),
            output: Output::Table,
        };
        let debug = format!("{remote:?}");
        assert!(!debug.contains("eyJsecret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }
}
