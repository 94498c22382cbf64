//! `--master-key-file FILE`: the master key that encrypts the signing keys
//! at rest (see `latchkey_core::master_key`), read from its file.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Args;
use latchkey_core::master_key::{KeyError, MalformedMasterKey, MasterKey};
use latchkey_server::keys::Loaded;
use latchkey_store::{Store, StoreError};
use zeroize::Zeroizing;

/// How the option is named in messages: it may come from either.
pub const OPTION: &str = "--master-key-file, LATCHKEY_MASTER_KEY_FILE";

/// A master key file holds 64 hex digits and a newline: reading more than
/// this finds a file that is not one, without reading it all.
const MOST_READ: u64 = 1024;

#[derive(Args, Debug, Clone)]
pub struct MasterKeyArgs {
    /// A file holding the master key that encrypts the signing keys at rest (64 hex digits; see `admin keys master-key generate`).
    #[arg(long, env = "LATCHKEY_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
}

/// A master key, and the file it came from, to name in messages.
pub struct MasterKeyFile {
    pub key: MasterKey,
    pub path: PathBuf,
}

impl MasterKeyArgs {
    /// The master key, when a file is given; an error naming the file (and
    /// never quoting it) when it cannot be read or holds no master key.
    pub fn read(&self) -> anyhow::Result<Option<MasterKeyFile>> {
        let Some(path) = &self.master_key_file else {
            return Ok(None);
        };
        let named = || format!("the master key file {} ({OPTION})", path.display());
        // Room for all it reads, so no copy is left behind by growing.
        let mut text = Zeroizing::new(Vec::with_capacity(MOST_READ as usize + 1));
        std::fs::File::open(path)
            .and_then(|file| file.take(MOST_READ).read_to_end(&mut text))
            .with_context(|| format!("cannot read {}", named()))?;
        let key = std::str::from_utf8(&text)
            .ok()
            .and_then(|text| MasterKey::from_hex(text).ok())
            .ok_or_else(|| anyhow!("{}: {MalformedMasterKey}", named()))?;
        Ok(Some(MasterKeyFile {
            key,
            path: path.clone(),
        }))
    }
}

/// The master key `admin keys encrypt` needs.
pub fn required(master_key: Option<MasterKeyFile>) -> anyhow::Result<MasterKeyFile> {
    master_key.with_context(|| {
        format!("encrypting the signing keys needs the master key: give its file ({OPTION}); `latchkey admin keys master-key generate --to FILE` makes one")
    })
}

/// The signing keys (see `latchkey_server::admin::load_keys`), with errors
/// that say which master key file, or that one is needed.
pub async fn load_keys(store: &dyn Store, master_key: Option<&MasterKeyFile>) -> anyhow::Result<Loaded> {
    latchkey_server::admin::load_keys(store, master_key.map(|given| &given.key))
        .await
        .map_err(|error| explain(error, master_key.map(|given| given.path.as_path())))
}

/// `error`, saying which master key file it concerns, or how to give one.
pub fn explain(error: StoreError, master_key_file: Option<&Path>) -> anyhow::Error {
    match (&error, master_key_file) {
        (StoreError::SigningKeys(KeyError::MasterKeyMissing), _) => {
            anyhow!("{error}: give its file ({OPTION})")
        }
        (StoreError::SigningKeys(_), Some(path)) => {
            anyhow::Error::new(error).context(format!("the master key file {} ({OPTION})", path.display()))
        }
        _ => error.into(),
    }
}

/// Writes a new master key to `path`, a new file only its owner may read.
pub fn generate(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    let key = MasterKey::generate();
    file.write_all(key.to_hex().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
