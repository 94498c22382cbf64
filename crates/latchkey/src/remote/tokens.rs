//! `latchkey tokens list|create|get|update|delete`

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use latchkey_client::{
    ApiToken, ApiTokenPatch, ApplicationApiTokenPost, TokenFilterField, TokenListParams, TokenSortField, TokenStatus,
};

use super::table::{date, Column, Row};
use super::{deleted, list, show, Output, PageArgs, Remote};

#[derive(clap::Args, Debug)]
pub struct TokensCommand {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    action: TokensAction,
}

fn parse_status(text: &str) -> Result<TokenStatus, String> {
    match text {
        "active" => Ok(TokenStatus::Active),
        "inactive" => Ok(TokenStatus::Inactive),
        _ => Err("expected one of: active, inactive".to_string()),
    }
}

#[derive(Subcommand, Debug)]
enum TokensAction {
    /// List an application's API tokens.
    List {
        /// The application's id.
        #[arg(long)]
        app: String,
        /// Sort by: name, status, id, creationDate, lastUpdated, expirationDate.
        #[arg(long)]
        sort_field: Option<TokenSortField>,
        /// Filter on: name or status (with --filter).
        #[arg(long)]
        filter_field: Option<TokenFilterField>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Create an API token; prints its secret once.
    Create {
        #[arg(long)]
        app: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// A scope (repeatable); all.Application when none is given.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// When the token stops working (RFC 3339).
        #[arg(long)]
        expires: Option<DateTime<Utc>>,
        /// active or inactive.
        #[arg(long, value_parser = parse_status)]
        status: Option<TokenStatus>,
    },
    /// Show one API token.
    Get {
        #[arg(long)]
        app: String,
        #[arg(long)]
        id: String,
    },
    /// Change a token's name, description or status.
    Update {
        #[arg(long)]
        app: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_parser = parse_status)]
        status: Option<TokenStatus>,
    },
    /// Delete (revoke) an API token.
    Delete {
        #[arg(long)]
        app: String,
        #[arg(long)]
        id: String,
    },
}

fn status_text(status: Option<TokenStatus>) -> &'static str {
    match status {
        Some(TokenStatus::Active) => "active",
        Some(TokenStatus::Inactive) => "inactive",
        None => "",
    }
}

/// The first scope, and how many more.
fn scope_summary(scope: &[String]) -> String {
    match scope {
        [] => String::new(),
        [only] => only.clone(),
        [first, rest @ ..] => format!("{first} +{}", rest.len()),
    }
}

impl Row for ApiToken {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("ID"),
        Column::flexible("NAME"),
        Column::fixed("STATUS"),
        Column::flexible("SCOPE"),
        Column::fixed("EXPIRES"),
        Column::fixed("CREATED"),
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            status_text(self.status).to_string(),
            scope_summary(&self.scope),
            date(self.expiration_date, "never"),
            date(self.creation_date, ""),
        ]
    }
}

impl TokensCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let client = self.remote.client()?;
        let output = self.remote.output;
        match self.action {
            TokensAction::List {
                app,
                sort_field,
                filter_field,
                page,
            } => {
                let params = TokenListParams {
                    sort_field,
                    sort_direction: page.sort_direction,
                    page: page.page,
                    per_page: page.per_page,
                    filter_field,
                    filter: page.filter,
                };
                let tokens = client.application_api_tokens();
                list(
                    tokens.get(&app, &params),
                    tokens.pager(&app, &params),
                    page.all,
                    "tokens",
                    output,
                )
                .await?;
            }
            TokensAction::Create {
                app,
                name,
                description,
                scopes,
                expires,
                status,
            } => {
                let post = ApplicationApiTokenPost {
                    name,
                    description,
                    expiration_date: expires,
                    scope: (!scopes.is_empty()).then_some(scopes),
                    status,
                };
                let token = client.application_api_tokens().post(&app, &post).await?;
                show(&token, output)?;
                if output == Output::Table {
                    let secret = token.token.as_deref().context("the server sent no secret")?;
                    println!(
                        "\nThe token's secret follows. It will not be shown again; store it now:\n{}",
                        super::printable(secret)
                    );
                }
            }
            TokensAction::Get { app, id } => {
                show(&client.application_api_token().get(&app, &id).await?, output)?;
            }
            TokensAction::Update {
                app,
                id,
                name,
                description,
                status,
            } => {
                let patch = ApiTokenPatch {
                    name,
                    description,
                    status,
                };
                show(&client.application_api_token().patch(&app, &id, &patch).await?, output)?;
            }
            TokensAction::Delete { app, id } => {
                let success = client.application_api_token().delete(&app, &id).await?;
                deleted(&success, &format!("deleted token {id}"), output)?;
            }
        }
        Ok(())
    }
}
