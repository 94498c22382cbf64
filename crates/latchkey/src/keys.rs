//! `latchkey admin keys list|rotate|retire|encrypt|master-key`: the signing
//! keys, on the database directly, also while servers run on it (each
//! re-reads the keys twice a second).

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;
use latchkey_core::audit::AuditEntry;
use latchkey_core::master_key::to_stored;
use latchkey_core::model::{StoredKey, StoredSeed};
use latchkey_core::time::{now_millis, to_wire};
use latchkey_core::token::{generate_key, key_states, KEY_PROPAGATION};
use latchkey_server::admin::by_operator;
use latchkey_store::KeyRetirement;
use serde_json::json;

use crate::database::DatabaseArgs;
use crate::master_key::{explain, load_keys, required, MasterKeyArgs};
use crate::remote::table::{print_rows, Column, Item};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List every signing key with its state (signing, verifying or retired) and whether it is encrypted at rest.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
    /// Add a new key; it starts signing once every instance can verify its tokens (in 2 s), and the older keys keep verifying.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
    /// Retire a key: every instance refuses the tokens it signed within a second, and it is no longer published; another key must have signed for 2 s.
    Retire {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The key's id (its `kid`, as `keys list` shows it).
        // A kid is base64url: it may start with `-`.
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
    },
    /// Encrypt every key stored in clear with the master key, in one transaction (keys encrypted already are left alone); then restart every server with the master key.
    Encrypt {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        master_key: MasterKeyArgs,
    },
    /// The master key that encrypts the signing keys at rest.
    #[command(subcommand)]
    MasterKey(MasterKeyCommand),
}

#[derive(Subcommand, Debug)]
pub enum MasterKeyCommand {
    /// Write a new random master key (64 hex digits) to a new file that only its owner may read.
    Generate {
        /// The file to write; it must not exist.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

/// A key as `keys list` shows it.
struct KeyRow {
    kid: String,
    state: &'static str,
    created: String,
    signs_from: String,
    retired: String,
    seed: &'static str,
}

impl Item for KeyRow {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("KID"),
        Column::fixed("STATE"),
        Column::fixed("CREATED"),
        Column::fixed("SIGNS FROM"),
        Column::fixed("RETIRED"),
        Column::fixed("SEED"),
    ];

    fn id(&self) -> &str {
        &self.kid
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.kid.clone(),
            self.state.to_string(),
            self.created.clone(),
            self.signs_from.clone(),
            self.retired.clone(),
            self.seed.to_string(),
        ]
    }

    fn fields(&self) -> Vec<(&'static str, Vec<String>)> {
        Self::COLUMNS
            .iter()
            .map(|column| column.heading)
            .zip(self.cells())
            .map(|(heading, cell)| (heading, vec![cell]))
            .collect()
    }
}

fn rows(keys: &[StoredKey<StoredSeed>]) -> Vec<KeyRow> {
    keys.iter()
        .zip(key_states(keys, now_millis()))
        .map(|(key, state)| KeyRow {
            kid: key.kid.clone(),
            state: state.as_str(),
            created: to_wire(key.created_at),
            signs_from: to_wire(key.signs_from),
            retired: key.retired_at.map(to_wire).unwrap_or_default(),
            seed: match key.seed {
                StoredSeed::Clear(_) => "clear",
                StoredSeed::Sealed(_) => "encrypted",
            },
        })
        .collect()
}

impl KeysCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            KeysCommand::List { database, master_key } => {
                let master_key = master_key.read()?;
                let (store, _) = database.open_noting_new().await?;
                load_keys(&*store, master_key.as_ref()).await?;
                print_rows(&rows(&store.signing_keys().await?));
            }
            KeysCommand::Rotate { database, master_key } => {
                let master_key = master_key.read()?;
                let (store, _) = database.open_noting_new().await?;
                // Also checks that the new key is stored as the others are.
                load_keys(&*store, master_key.as_ref()).await?;
                let now = now_millis();
                let key = to_stored(
                    generate_key(now, now + KEY_PROPAGATION),
                    master_key.as_ref().map(|given| &given.key),
                );
                let audit = AuditEntry {
                    response_status: 201,
                    response_body: json!({"kid": key.kid, "signsFrom": to_wire(key.signs_from)}),
                    ..by_operator("signingKeys", "post", json!({}))
                };
                store.add_signing_key(&key, &audit).await?;
                println!("{}", key.kid);
            }
            KeysCommand::Retire { database, kid } => {
                let (store, _) = database.open_noting_new().await?;
                let audit = AuditEntry {
                    response_status: 200,
                    response_body: json!({"success": true}),
                    ..by_operator("signingKey", "retire", json!({"kid": kid}))
                };
                match store.retire_signing_key(&kid, now_millis(), &audit).await? {
                    KeyRetirement::Retired => println!("retired {kid}"),
                    KeyRetirement::NotFound => bail!("there is no such key; `latchkey admin keys list` shows them"),
                    KeyRetirement::AlreadyRetired => bail!("that key is retired already"),
                    KeyRetirement::LastSigner => bail!(
                        "that key is the last one that can sign; rotate first (`latchkey admin keys rotate`), then retire it once the new key has signed for 2 seconds"
                    ),
                }
            }
            KeysCommand::Encrypt { database, master_key } => {
                let master_key = required(master_key.read()?)?;
                let (store, _) = database.open_noting_new().await?;
                let audit = AuditEntry {
                    response_status: 200,
                    response_body: json!({"success": true}),
                    ..by_operator("signingKeys", "encrypt", json!({}))
                };
                let encrypted = store
                    .encrypt_signing_keys(&master_key.key, &audit)
                    .await
                    .map_err(|error| explain(error, Some(&master_key.path)))?;
                println!("encrypted {encrypted} signing keys; every key is encrypted now");
                eprintln!(
                    "latchkey: restart every server with this master key file (a server without it refuses to start)"
                );
            }
            KeysCommand::MasterKey(MasterKeyCommand::Generate { to }) => {
                crate::master_key::generate(&to)?;
                eprintln!(
                    "latchkey: wrote a new master key to {}; keep a copy apart from the database and its backups: \
                     without it, keys encrypted with it cannot be used",
                    to.display()
                );
            }
        }
        Ok(())
    }
}
