//! `latchkey apps create|list|get|delete`

use clap::Subcommand;
use latchkey_client::{
    Application, ApplicationFilterField, ApplicationListParams, ApplicationPost, ApplicationSortField, OwnerType,
};

use super::table::{date, Column, Row};
use super::{deleted, list, show, PageArgs, Remote};

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

impl Row for Application {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("ID"),
        Column::flexible("NAME"),
        Column::fixed("OWNER"),
        Column::fixed("CREATED"),
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            owner_text(self.owner_type).to_string(),
            date(self.creation_date, ""),
        ]
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
                };
                let apps = client.applications();
                list(apps.get(&params), apps.pager(&params), page.all, "applications", output).await?;
            }
            AppsAction::Get { app } => show(&client.application().get(&app).await?, output)?,
            AppsAction::Delete { app } => {
                let success = client.application().delete(&app).await?;
                deleted(&success, &format!("deleted application {app} and its tokens"), output)?;
            }
        }
        Ok(())
    }
}
