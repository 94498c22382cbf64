//! `latchkey tokens list|create|get|update|delete`

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use latchkey_client::{
    ApiToken, ApiTokenPatch, ApiTokens, ApplicationApiTokenPost, TokenFilterField, TokenListParams, TokenSortField,
    TokenStatus,
};

use super::table::{date, render, Column};
use super::{fetch_all, print_json, Output, PageArgs, Remote};

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

fn print_table(tokens: &[ApiToken]) {
    let columns = [
        Column {
            heading: "ID",
            flexible: false,
        },
        Column {
            heading: "NAME",
            flexible: true,
        },
        Column {
            heading: "STATUS",
            flexible: false,
        },
        Column {
            heading: "SCOPE",
            flexible: true,
        },
        Column {
            heading: "EXPIRES",
            flexible: false,
        },
        Column {
            heading: "CREATED",
            flexible: false,
        },
    ];
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|token| {
            vec![
                token.id.clone(),
                token.name.clone(),
                status_text(token.status).to_string(),
                scope_summary(&token.scope),
                date(token.expiration_date, "never"),
                date(token.creation_date, ""),
            ]
        })
        .collect();
    print!("{}", render(&columns, &rows));
}

fn print_token(token: &ApiToken, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => print_json(token),
        Output::Table => {
            print_table(std::slice::from_ref(token));
            Ok(())
        }
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
                let resource = client.application_api_tokens();
                let listing: ApiTokens = if page.all {
                    let Some(all) = fetch_all(resource.pager(&app, &params), "tokens").await? else {
                        return Ok(());
                    };
                    all
                } else {
                    resource.get(&app, &params).await?
                };
                match output {
                    Output::Json => print_json(&listing)?,
                    Output::Table => print_table(&listing.items),
                }
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
                match output {
                    Output::Json => print_json(&token)?,
                    Output::Table => {
                        print_table(std::slice::from_ref(&token));
                        let secret = token.token.as_deref().context("the server sent no secret")?;
                        println!("\nThe token's secret follows. It will not be shown again; store it now:\n{secret}");
                    }
                }
            }
            TokensAction::Get { app, id } => {
                print_token(&client.application_api_token().get(&app, &id).await?, output)?;
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
                print_token(&client.application_api_token().patch(&app, &id, &patch).await?, output)?;
            }
            TokensAction::Delete { app, id } => {
                let success = client.application_api_token().delete(&app, &id).await?;
                match output {
                    Output::Json => print_json(&success)?,
                    Output::Table => println!("deleted token {id}"),
                }
            }
        }
        Ok(())
    }
}
