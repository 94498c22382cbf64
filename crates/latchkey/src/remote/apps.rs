//! `latchkey apps create|list|get|delete`

use clap::Subcommand;
use latchkey_client::{
    Application, ApplicationFilterField, ApplicationListParams, ApplicationPost, ApplicationSortField, Client,
    OwnerType,
};

use super::table::{date, full_date, Column, Item};
use super::{deleted, list, show, Output, PageArgs, Remote};

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
        /// The application's name.
        #[arg(long)]
        name: String,
        /// What the application is for.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// The id of the organization that owns it (you must be a member); yours when absent.
        #[arg(long, value_name = "ID")]
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
        /// The application's id.
        #[arg(long, value_name = "ID")]
        app: String,
    },
    /// Delete an application and all its tokens.
    Delete {
        /// The application's id.
        #[arg(long, value_name = "ID")]
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

impl Item for Application {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("ID"),
        Column::flexible("NAME"),
        Column::fixed("OWNER"),
        Column::fixed("CREATED"),
    ];

    fn id(&self) -> &str {
        &self.id
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            owner_text(self.owner_type).to_string(),
            date(self.creation_date, ""),
        ]
    }

    fn fields(&self) -> Vec<(&'static str, Vec<String>)> {
        let owner = match (self.owner_type, &self.owner_id) {
            (Some(kind), Some(id)) => vec![format!("{} {id}", owner_text(Some(kind)))],
            _ => vec![],
        };
        vec![
            ("id", vec![self.id.clone()]),
            ("name", vec![self.name.clone()]),
            ("description", self.description.iter().cloned().collect()),
            ("owner", owner),
            ("creationDate", full_date(self.creation_date, "")),
            ("lastUpdated", full_date(self.last_updated, "")),
        ]
    }
}

impl AppsCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let AppsCommand { remote, action } = self;
        let client = remote.client(false)?;
        action
            .run(&client, remote.output)
            .await
            .map_err(|error| remote.explain(error))
    }
}

impl AppsAction {
    async fn run(self, client: &Client, output: Output) -> anyhow::Result<()> {
        match self {
            AppsAction::Create { name, description, org } => {
                let post = ApplicationPost {
                    name,
                    description,
                    org_id: org,
                };
                show(&client.applications().post(&post).await?, output)?;
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
                    last_used_before: None,
                    created_before: None,
                };
                let apps = client.applications();
                list(apps.get(&params), apps.pager(&params), page.all, "applications", output).await?;
            }
            AppsAction::Get { app } => show(&client.application().get(&app).await?, output)?,
            AppsAction::Delete { app } => {
                let success = client.application().delete(&app).await?;
                deleted(
                    &success,
                    &app,
                    &format!("deleted application {app} and its tokens"),
                    output,
                )?;
            }
        }
        Ok(())
    }
}
