//! `latchkey apps create|list|get|delete`

use clap::Subcommand;
use latchkey_client::{
    Application, ApplicationFilterField, ApplicationListParams, ApplicationPost, ApplicationSortField, Applications,
    OwnerType,
};

use super::table::{date, render, Column};
use super::{fetch_all, print_json, Output, PageArgs, Remote};

#[derive(clap::Args, Debug)]
pub struct AppsCommand {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    action: AppsAction,
}

#[derive(Subcommand, Debug)]
enum AppsAction {
    /// Create an application.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// The organization that owns it (you must be a member); yours when absent.
        #[arg(long)]
        org: Option<String>,
    },
    /// List the applications you can reach.
    List {
        /// Sort by: name, id, creationDate, lastUpdated.
        #[arg(long)]
        sort_field: Option<ApplicationSortField>,
        /// Filter on: name (with --filter).
        #[arg(long)]
        filter_field: Option<ApplicationFilterField>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one application.
    Get {
        #[arg(long)]
        app: String,
    },
    /// Delete an application and all its tokens.
    Delete {
        #[arg(long)]
        app: String,
    },
}

fn owner_text(owner: Option<OwnerType>) -> &'static str {
    match owner {
        Some(OwnerType::User) => "user",
        Some(OwnerType::Organization) => "organization",
        Some(OwnerType::Application) => "application",
        None => "",
    }
}

fn print_table(apps: &[Application]) {
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
            heading: "OWNER",
            flexible: false,
        },
        Column {
            heading: "CREATED",
            flexible: false,
        },
    ];
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            vec![
                app.id.clone(),
                app.name.clone(),
                owner_text(app.owner_type).to_string(),
                date(app.creation_date, ""),
            ]
        })
        .collect();
    print!("{}", render(&columns, &rows));
}

fn print_app(app: &Application, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Json => print_json(app),
        Output::Table => {
            print_table(std::slice::from_ref(app));
            Ok(())
        }
    }
}

impl AppsCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let client = self.remote.client()?;
        let output = self.remote.output;
        match self.action {
            AppsAction::Create { name, description, org } => {
                let post = ApplicationPost {
                    name,
                    description,
                    org_id: org,
                };
                print_app(&client.applications().post(&post).await?, output)?;
            }
            AppsAction::List {
                sort_field,
                filter_field,
                page,
            } => {
                let params = ApplicationListParams {
                    sort_field,
                    sort_direction: page.sort_direction,
                    page: page.page,
                    per_page: page.per_page,
                    filter_field,
                    filter: page.filter,
                };
                let listing: Applications = if page.all {
                    let Some(all) = fetch_all(client.applications().pager(&params), "applications").await? else {
                        return Ok(());
                    };
                    all
                } else {
                    client.applications().get(&params).await?
                };
                match output {
                    Output::Json => print_json(&listing)?,
                    Output::Table => print_table(&listing.items),
                }
            }
            AppsAction::Get { app } => print_app(&client.application().get(&app).await?, output)?,
            AppsAction::Delete { app } => {
                let success = client.application().delete(&app).await?;
                match output {
                    Output::Json => print_json(&success)?,
                    Output::Table => println!("deleted application {app} and its tokens"),
                }
            }
        }
        Ok(())
    }
}
