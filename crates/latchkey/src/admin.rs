//! The administrator's commands: they work on the database directly, also
//! while a server runs on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use latchkey_core::audit::AuditEntry;
use latchkey_core::model::{
    Application, Creator, CreatorType, Organization, Status, TokenOwnerType, TokenRecord, User,
};
use latchkey_core::scope::catalog;
use latchkey_core::time::now_millis;
use latchkey_core::token::{NewToken, Signer};
use latchkey_core::validate::shown;
use latchkey_core::Id;
use latchkey_server::admin::{by_operator, issue_user_token, ADMIN_USER, DEFAULT_USER_SCOPE};
use latchkey_store::Store;
use serde_json::json;

use crate::database::{masked, DatabaseArgs};
use crate::master_key::{load_keys, MasterKeyArgs};

#[derive(Args, Debug)]
pub struct AdminTokenArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    master_key: MasterKeyArgs,
    /// The user the token belongs to.
    #[arg(long, default_value = ADMIN_USER)]
    user: String,
    /// A scope the token holds (repeatable).
    #[arg(long = "scope", default_value = DEFAULT_USER_SCOPE)]
    scopes: Vec<String>,
    #[arg(long, value_name = "WHEN", value_parser = crate::expiry::parse, help = crate::expiry::HELP)]
    expires: Option<DateTime<Utc>>,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Insert many tokens into one application quickly (for benchmarks).
    Seed(SeedArgs),
    /// Copy a SQLite database consistently while servers use it.
    Backup(crate::backup::BackupArgs),
    /// Put a backup back as a SQLite database.
    Restore(crate::backup::RestoreArgs),
    /// Copy a database into a new one, SQLite or PostgreSQL, every token and id kept.
    Copy(crate::copy::CopyArgs),
    /// Signing keys: list, rotate, retire.
    #[command(subcommand)]
    Keys(crate::keys::KeysCommand),
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints its id.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The user's name, unique (1 to 255 characters).
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organization with members; prints its id.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The organization's name, unique (1 to 255 characters).
        #[arg(long)]
        name: String,
        /// The name of a user who is a member (repeatable).
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct SeedArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    master_key: MasterKeyArgs,
    /// The id of the application that receives the tokens.
    #[arg(long)]
    app: String,
    /// How many tokens to insert.
    #[arg(long)]
    count: u64,
    /// Names are PREFIX-0000000, PREFIX-0000001, …
    #[arg(long, default_value = "seed")]
    prefix: String,
}

fn check_name(what: &str, name: &str) -> anyhow::Result<()> {
    if name.trim().is_empty() || name.chars().count() > 255 || name.contains('\0') {
        bail!("{what} must be 1 to 255 characters");
    }
    Ok(())
}

async fn user_named(store: &dyn Store, name: &str) -> anyhow::Result<User> {
    store.user_by_name(name).await?.with_context(|| {
        format!("there is no user {name:?}; create it with: latchkey admin user create --name {name:?}")
    })
}

pub async fn admin_token(args: AdminTokenArgs) -> anyhow::Result<()> {
    for scope in &args.scopes {
        if !catalog().is_known_scope(scope) {
            bail!("--scope {} is not a scope name (see spec/scopes.json)", shown(scope));
        }
    }
    let expires = args.expires.map(|at| at.timestamp_millis());
    let master_key = args.master_key.read()?;
    let (store, announced_new) = args.database.open_noting_new().await?;
    let signer = load_keys(&*store, master_key.as_ref()).await?.signer;
    let user = if args.user == ADMIN_USER {
        let (admin, created) = store.user_or_create(ADMIN_USER, now_millis()).await?;
        // A server creates the admin user on its first start, so a database
        // without one is not the one a server runs on.
        if created && !announced_new {
            eprintln!(
                "latchkey: created the admin user in {}, which had none: no server has started on this \
                 database yet (if one runs, is --database / LATCHKEY_DATABASE the server's?)",
                masked(&args.database.database)
            );
        }
        admin
    } else {
        user_named(&*store, &args.user).await?
    };
    let token = issue_user_token(&*store, &signer, &user, "latchkey admin-token", args.scopes, expires).await?;
    println!("{token}");
    Ok(())
}

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::User(UserCommand::Create { database, name }) => {
            check_name("--name", &name)?;
            let (store, _) = database.open_noting_new().await?;
            let user = User {
                id: Id::generate(now_millis() / 1000),
                name,
            };
            let audit = AuditEntry {
                response_status: 201,
                response_body: json!({"id": user.id, "name": user.name}),
                ..by_operator("users", "post", json!({"name": user.name}))
            };
            store.create_user(&user, now_millis(), &audit).await?;
            println!("{}", user.id);
        }
        AdminCommand::Org(OrgCommand::Create {
            database,
            name,
            members,
        }) => {
            check_name("--name", &name)?;
            let (store, _) = database.open_noting_new().await?;
            let mut member_ids = Vec::with_capacity(members.len());
            for member in &members {
                member_ids.push(user_named(&*store, member).await?.id);
            }
            let org = Organization {
                id: Id::generate(now_millis() / 1000),
                name,
                members: member_ids,
            };
            let audit = AuditEntry {
                org_id: Some(org.id),
                response_status: 201,
                response_body: json!({"id": org.id, "name": org.name}),
                ..by_operator("orgs", "post", json!({"name": org.name, "members": members}))
            };
            store.create_organization(&org, now_millis(), &audit).await?;
            println!("{}", org.id);
        }
        AdminCommand::Seed(args) => seed(args).await?,
        AdminCommand::Keys(command) => command.run().await?,
        AdminCommand::Backup(args) => crate::backup::backup(args)?,
        AdminCommand::Restore(args) => crate::backup::restore(args)?,
        AdminCommand::Copy(args) => crate::copy::run(args).await?,
    }
    Ok(())
}

const SEED_BATCH: u64 = 10_000;

/// The audit entry of one batch of seeded tokens: one entry per batch, not
/// per token.
fn seed_entry(app: &Application, batch: &[TokenRecord]) -> AuditEntry {
    let name = |token: Option<&TokenRecord>| token.map(|token| token.name.clone());
    let asked = json!({"count": batch.len(), "first": name(batch.first()), "last": name(batch.last())});
    let mut entry = AuditEntry {
        response_status: 201,
        response_body: json!({"count": batch.len()}),
        ..by_operator("applicationApiTokens", "seed", asked)
    };
    latchkey_server::audit::about(&mut entry, app);
    entry
}

/// What one seeding thread needs to mint its share of the tokens.
#[derive(Clone)]
struct Minter {
    signer: Signer,
    application: Id,
    creator: Creator,
    prefix: String,
}

impl Minter {
    /// Tokens number `range`, made exactly as the API makes them.
    fn batch(&self, range: std::ops::Range<u64>) -> Vec<TokenRecord> {
        let now = now_millis();
        range
            .map(|n| {
                let new = NewToken {
                    owner_type: TokenOwnerType::Application,
                    owner_id: self.application,
                    creator: self.creator.clone(),
                    name: format!("{}-{n:07}", self.prefix),
                    description: String::new(),
                    scope: vec!["all.Application.read".to_string()],
                    status: Status::Active,
                    expiration_date: None,
                };
                self.signer.issue(new, now).0
            })
            .collect()
    }
}

/// Inserts `count` tokens made exactly as the API makes them (signed, only
/// the digest stored), in batches of one transaction each. Signing is the
/// costly part, so threads on every core mint batches while this task
/// inserts the ones already made.
async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let application: Id = args
        .app
        .parse()
        .context("--app must be an application id (24 hex characters)")?;
    let master_key = args.master_key.read()?;
    let (store, _) = args.database.open_noting_new().await?;
    let Some(app) = store.application(application).await? else {
        bail!("there is no application {application}");
    };
    let signer = load_keys(&*store, master_key.as_ref()).await?.signer;
    let (admin, _) = store.user_or_create(ADMIN_USER, now_millis()).await?;
    let minter = Minter {
        signer,
        application,
        creator: Creator {
            kind: CreatorType::User,
            id: admin.id,
            name: admin.name,
        },
        prefix: args.prefix,
    };
    let count = args.count;
    let next = Arc::new(AtomicU64::new(0));
    let (made, mut ready) = tokio::sync::mpsc::channel::<Vec<TokenRecord>>(4);
    let threads = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    for _ in 0..threads {
        let (minter, next, made) = (minter.clone(), next.clone(), made.clone());
        std::thread::spawn(move || loop {
            let start = next.fetch_add(SEED_BATCH, Ordering::Relaxed);
            if start >= count
                || made
                    .blocking_send(minter.batch(start..count.min(start + SEED_BATCH)))
                    .is_err()
            {
                break;
            }
        });
    }
    drop(made);
    let bar = crate::progress::bar(count, "seeding", "tokens");
    while let Some(batch) = ready.recv().await {
        store.insert_tokens(&batch, &seed_entry(&app, &batch)).await?;
        bar.inc(batch.len() as u64);
    }
    bar.finish();
    store.refresh_statistics().await?;
    Ok(())
}
