//! `latchkey admin keys list|rotate|retire`: the signing keys, on the
//! database directly, also while servers run on it (each re-reads the keys
//! twice a second).

use anyhow::bail;
use clap::Subcommand;
use latchkey_core::audit::AuditEntry;
use latchkey_core::model::StoredKey;
use latchkey_core::time::{now_millis, to_wire};
use latchkey_core::token::{generate_key, key_states, KEY_PROPAGATION};
use latchkey_server::admin::{by_operator, load_keys};
use latchkey_store::KeyRetirement;
use serde_json::json;

use crate::database::DatabaseArgs;
use crate::remote::table::{print_rows, Column, Item};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List every signing key with its state: signing, verifying or retired.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Add a new key; it starts signing once every instance can verify its tokens (in 2 s), and the older keys keep verifying.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
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
}

/// A key as `keys list` shows it.
struct KeyRow {
    kid: String,
    state: &'static str,
    created: String,
    signs_from: String,
    retired: String,
}

impl Item for KeyRow {
    const COLUMNS: &'static [Column] = &[
        Column::fixed("KID"),
        Column::fixed("STATE"),
        Column::fixed("CREATED"),
        Column::fixed("SIGNS FROM"),
        Column::fixed("RETIRED"),
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

fn rows(keys: &[StoredKey]) -> Vec<KeyRow> {
    keys.iter()
        .zip(key_states(keys, now_millis()))
        .map(|(key, state)| KeyRow {
            kid: key.kid.clone(),
            state: state.as_str(),
            created: to_wire(key.created_at),
            signs_from: to_wire(key.signs_from),
            retired: key.retired_at.map(to_wire).unwrap_or_default(),
        })
        .collect()
}

impl KeysCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            KeysCommand::List { database } => {
                let (store, _) = database.open_noting_new().await?;
                load_keys(&*store).await?;
                print_rows(&rows(&store.signing_keys().await?));
            }
            KeysCommand::Rotate { database } => {
                let (store, _) = database.open_noting_new().await?;
                load_keys(&*store).await?;
                let now = now_millis();
                let key = generate_key(now, now + KEY_PROPAGATION);
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
        }
        Ok(())
    }
}
