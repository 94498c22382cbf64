//! `latchkey tokens …` and `latchkey apps …`: the HTTP client commands, for
//! Latchkey or any Losant-compatible base URL.

mod apps;
mod table;
mod tokens;

use std::io::Write;

use anyhow::bail;
use clap::{Args, ValueEnum};
use latchkey_client::{Client, Listing, Pager, SortDirection};
use serde::de::DeserializeOwned;
use serde::Serialize;
use table::{print_rows, Row};

pub use apps::AppsCommand;
pub use tokens::TokensCommand;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// The server's JSON.
    Json,
}

/// Where the API is and who calls it (global to the client commands).
#[derive(Args, Debug)]
pub struct Remote {
    /// Base URL of the API.
    #[arg(long, global = true, env = "LATCHKEY_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API token to call with.
    #[arg(long, global = true, env = "LATCHKEY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "table")]
    output: Output,
}

impl Remote {
    fn client(&self) -> anyhow::Result<Client> {
        let Some(token) = &self.token else {
            bail!("no API token: pass --token or set LATCHKEY_TOKEN");
        };
        Ok(Client::builder().base_url(&self.url).token(token).build()?)
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

/// Prints one item: a one-row table, or its JSON.
fn show<T: Row + Serialize>(item: &T, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => print_json(item),
        Output::Table => {
            print_rows(std::slice::from_ref(item));
            Ok(())
        }
    }
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
    P::Item: Row,
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
    }
}

/// Prints what a DELETE answered: `done` for people, the JSON otherwise.
fn deleted(success: &latchkey_client::Success, done: &str, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => print_json(success),
        Output::Table => {
            println!("{done}");
            Ok(())
        }
    }
}

fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Every page merged into one, telling stderr how far it got when there is
/// more than one page.
async fn fetch_all<P: Listing + DeserializeOwned>(pager: Pager<'_, P>, noun: &str) -> anyhow::Result<Option<P>> {
    let mut reported = false;
    let combined = pager
        .combined(|fetched, total| {
            if fetched < total || reported {
                eprint!("\rfetched {fetched} of {total} {noun}");
                reported = true;
            }
        })
        .await?;
    if reported {
        eprintln!();
    }
    Ok(combined)
}
