//! Signing keys encrypted at rest (README, "Operations: signing keys
//! encrypted at rest"): with a master key, the database alone cannot sign;
//! a missing, wrong, unreadable or malformed master key stops a start with
//! a clear error and never makes a new key; `admin keys encrypt` converts a
//! clear database once; backups keep the keys encrypted.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::{
    audit_documents, cli, each_backend, execute_sql, open_store, postgres_tool, psql, query_texts, unique, Backend,
    CliOutput, Server,
};
use latchkey_core::master_key::{open_keys, MasterKey};
use latchkey_core::model::{StoredKey, StoredSeed};
use reqwest::Method;

const MASTER_KEY_VAR: &str = "LATCHKEY_MASTER_KEY_FILE";

/// A new master key file in `dir`, made by the CLI.
fn new_master_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let made = cli(
        &[
            "admin",
            "keys",
            "master-key",
            "generate",
            "--to",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(made.success, "{}", made.stderr);
    path
}

fn master_key_in(path: &Path) -> MasterKey {
    MasterKey::from_hex(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs a command that must succeed; its standard output, trimmed.
fn run_with(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = cli(args, env);
    assert!(output.success, "latchkey {args:?} failed: {}", output.stderr);
    output.stdout.trim().to_string()
}

/// A command that must fail with exit status 1; what it said.
#[track_caller]
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let output: CliOutput = cli(args, env);
    assert_eq!(output.code, Some(1), "latchkey {args:?}: {output:?}");
    assert!(!output.stderr.contains("listening"), "{output:?}");
    output.stderr
}

/// `serve` on `database`, which must refuse to start; what it said.
#[track_caller]
fn refused_start(database: &str, env: &[(&str, &str)]) -> String {
    refused(&["serve", "--listen", "127.0.0.1:0", "--database", database], env)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn stored_keys(database: &str) -> Vec<StoredKey<StoredSeed>> {
    open_store(database).await.signing_keys().await.unwrap()
}

/// Each key's row as the database holds it: `kid seed-in-hex seed_cipher`.
async fn key_rows(backend: &Backend, database: &str) -> Vec<String> {
    let seed = if backend.is_file_backed() {
        "lower(hex(seed))"
    } else {
        "encode(seed, 'hex')"
    };
    let sql = format!("SELECT kid || ' ' || {seed} || ' ' || COALESCE(seed_cipher, 'clear') FROM signing_keys ORDER BY created_at, kid");
    query_texts(database, &sql).await
}

/// Whether `seed` is anywhere in the database: in a SQLite database's
/// files, or in any row of a PostgreSQL table (as its text form shows bytes).
async fn database_holds(backend: &Backend, seed: &[u8]) -> bool {
    if backend.is_file_backed() {
        return backend.database_files().iter().any(|file| {
            std::fs::read(file)
                .unwrap()
                .windows(seed.len())
                .any(|window| window == seed)
        });
    }
    common::database_text(backend).await.contains(&hex(seed))
}

/// `keys list`: each key's last column, `clear` or `encrypted`.
fn seeds_listed(database: &str, env: &[(&str, &str)]) -> Vec<String> {
    run_with(&["admin", "keys", "list", "--database", database], env)
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().last().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_master_key_the_database_alone_cannot_sign() {
    each_backend(|backend| async move {
        let dir = tempfile::tempdir().unwrap();
        let key_file = new_master_key(dir.path(), "master.key");
        let key_text = std::fs::read_to_string(&key_file).unwrap();
        assert_eq!(key_text.trim().len(), 64);
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = refused(
            &[
                "admin",
                "keys",
                "master-key",
                "generate",
                "--to",
                key_file.to_str().unwrap(),
            ],
            &[],
        );
        assert!(again.contains("must not exist"), "{again}");
        assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key_text, "not overwritten");

        // A first start with a master key stores its first key encrypted.
        let env = [(MASTER_KEY_VAR, key_file.to_str().unwrap())];
        let server = Server::start_with_env(&backend, &env);
        let app = server.api.create_application(&server.admin_token, "sealed").await;
        let token = server.api.new_app_token(&server.admin_token, &app, "before").await;
        assert!(server.api.authenticates(&token.secret).await);

        let keys = open_keys(stored_keys(&backend.url).await, Some(&master_key_in(&key_file))).unwrap();
        assert_eq!(keys.len(), 1);
        let seed = keys[0].seed.as_slice();
        // The seed the master key opens is the key that signs: its public
        // key is the one published.
        let public = ed25519_dalek::SigningKey::from_bytes(&keys[0].seed).verifying_key();
        let jwks = server
            .api
            .call(Method::GET, "/.well-known/jwks.json", None, common::Body::None)
            .await;
        assert_eq!(jwks.expect(200)["keys"][0]["x"], B64.encode(public.as_bytes()));
        // The row holds something else, and the seed is nowhere in the database.
        let rows = key_rows(&backend, &backend.url).await;
        assert_eq!(rows.len(), 1);
        assert!(rows[0].ends_with(" xchacha20poly1305"), "{rows:?}");
        assert!(!rows[0].contains(&hex(seed)), "{rows:?}");
        assert!(!database_holds(&backend, seed).await, "the seed is in the database");
        drop(server);

        // Without the master key: no start, no new key.
        let without = refused_start(&backend.url, &[]);
        assert!(
            without.contains("encrypted at rest") && without.contains(MASTER_KEY_VAR),
            "{without}"
        );
        for command in [
            &["admin-token"][..],
            &["admin", "keys", "list"],
            &["admin", "keys", "rotate"],
        ] {
            let args = [command, &["--database", &backend.url]].concat();
            let said = refused(&args, &[]);
            assert!(said.contains("encrypted at rest"), "{args:?}: {said}");
        }

        // Another master key, given by the option or the variable.
        let other = new_master_key(dir.path(), "other.key");
        let other_text = std::fs::read_to_string(&other).unwrap();
        let other = other.to_str().unwrap();
        for said in [
            refused_start(&backend.url, &[(MASTER_KEY_VAR, other)]),
            refused(
                &[
                    "serve",
                    "--listen",
                    "127.0.0.1:0",
                    "--database",
                    &backend.url,
                    "--master-key-file",
                    other,
                ],
                &[],
            ),
        ] {
            assert!(
                said.contains("does not decrypt signing key") && said.contains(other),
                "{said}"
            );
            assert!(
                !said.contains(key_text.trim()) && !said.contains(other_text.trim()),
                "{said}"
            );
        }

        // A file that holds no master key, and one that is not there.
        let malformed = dir.path().join("malformed.key");
        std::fs::write(&malformed, "hunter2\n").unwrap();
        let malformed = malformed.to_str().unwrap();
        let said = refused_start(&backend.url, &[(MASTER_KEY_VAR, malformed)]);
        assert!(
            said.contains(malformed) && said.contains("64 hexadecimal digits"),
            "{said}"
        );
        assert!(!said.contains("hunter2"), "{said}");
        let missing = dir.path().join("missing.key");
        let missing = missing.to_str().unwrap();
        let said = refused_start(&backend.url, &[(MASTER_KEY_VAR, missing)]);
        assert!(
            said.contains("cannot read the master key file") && said.contains(missing),
            "{said}"
        );
        // Read before the database is opened: a bad file creates no database.
        let fresh = dir.path().join("fresh.db");
        refused_start(&format!("sqlite://{}", fresh.display()), &[(MASTER_KEY_VAR, malformed)]);
        assert!(!fresh.exists());

        assert_eq!(
            key_rows(&backend, &backend.url).await,
            rows,
            "a refused start wrote no key"
        );
        // With the master key again, the token from before works.
        let server = Server::start_with_env(&backend, &env);
        assert!(server.api.authenticates(&token.secret).await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keys_encrypt_converts_a_clear_database_once() {
    each_backend(|backend| async move {
        let url = backend.url.as_str();
        let server = Server::start(&backend);
        let app = server.api.create_application(&server.admin_token, "clear").await;
        let token = server.api.new_app_token(&server.admin_token, &app, "before").await;
        run_with(&["admin", "keys", "rotate", "--database", url], &[]);
        assert_eq!(seeds_listed(url, &[]), ["clear", "clear"]);
        let clear = open_keys(stored_keys(url).await, None).unwrap();
        drop(server);

        let dir = tempfile::tempdir().unwrap();
        let key_file = new_master_key(dir.path(), "master.key");
        let env = [(MASTER_KEY_VAR, key_file.to_str().unwrap())];
        // A master key on a clear database: no start, a pointer to the command.
        let said = refused_start(url, &env);
        assert!(
            said.contains("stored in clear") && said.contains("latchkey admin keys encrypt"),
            "{said}"
        );
        let said = refused(&["admin", "keys", "encrypt", "--database", url], &[]);
        assert!(
            said.contains("needs the master key") && said.contains(MASTER_KEY_VAR),
            "{said}"
        );

        let said = run_with(&["admin", "keys", "encrypt", "--database", url], &env);
        assert_eq!(said, "encrypted 2 signing keys; every key is encrypted now");
        assert_eq!(seeds_listed(url, &env), ["encrypted", "encrypted"]);
        let sealed = key_rows(&backend, url).await;
        for (row, key) in sealed.iter().zip(&clear) {
            assert!(
                row.ends_with(" xchacha20poly1305") && !row.contains(&hex(&*key.seed)),
                "{row}"
            );
        }
        assert_eq!(
            open_keys(stored_keys(url).await, Some(&master_key_in(&key_file))).unwrap(),
            clear,
            "the same keys, encrypted"
        );

        // Again: nothing left to do. With another master key: refused, and
        // nothing changes.
        let said = run_with(&["admin", "keys", "encrypt", "--database", url], &env);
        assert!(said.starts_with("encrypted 0 signing keys"), "{said}");
        let other = new_master_key(dir.path(), "other.key");
        let said = refused(
            &[
                "admin",
                "keys",
                "encrypt",
                "--database",
                url,
                "--master-key-file",
                other.to_str().unwrap(),
            ],
            &[],
        );
        assert!(said.contains("does not decrypt signing key"), "{said}");
        assert_eq!(key_rows(&backend, url).await, sealed);
        let encryptions = audit_documents(url)
            .await
            .into_iter()
            .filter(|entry| entry["requestResource"] == "signingKeys" && entry["requestAction"] == "encrypt")
            .count();
        assert_eq!(encryptions, 1, "one audit entry, for the run that encrypted");

        // Started with the master key, the tokens signed before work, and a
        // rotation stores its key encrypted.
        let server = Server::start_with_env(&backend, &env);
        assert!(server.api.authenticates(&token.secret).await);
        assert!(server.api.authenticates(&server.admin_token).await);
        run_with(&["admin", "keys", "rotate", "--database", url], &env);
        assert_eq!(seeds_listed(url, &env), ["encrypted", "encrypted", "encrypted"]);
        drop(server);

        // A key's ciphertext moved into another key's row does not open there.
        let kids: Vec<&str> = clear.iter().map(|key| key.kid.as_str()).collect();
        execute_sql(
            url,
            &format!(
                "UPDATE signing_keys SET seed = (SELECT seed FROM signing_keys WHERE kid = '{}') WHERE kid = '{}'",
                kids[1], kids[0]
            ),
        );
        let said = refused_start(url, &env);
        assert!(
            said.contains(&format!("does not decrypt signing key {}", kids[0])),
            "{said}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_keeps_the_keys_encrypted_and_restores_with_the_master_key() {
    each_backend(|backend| async move {
        let dir = tempfile::tempdir().unwrap();
        let key_file = new_master_key(dir.path(), "master.key");
        let env = [(MASTER_KEY_VAR, key_file.to_str().unwrap())];
        let server = Server::start_with_env(&backend, &env);
        let app = server.api.create_application(&server.admin_token, "backed up").await;
        let token = server.api.new_app_token(&server.admin_token, &app, "before").await;

        let restored = if backend.is_file_backed() {
            let file = dir.path().join("latchkey.backup");
            let file = file.to_str().unwrap();
            run_with(&["admin", "backup", "--database", &backend.url, "--to", file], &[]);
            let restored = format!("sqlite://{}", dir.path().join("restored.db").display());
            run_with(&["admin", "restore", "--from", file, "--database", &restored], &[]);
            restored
        } else {
            let file = dir.path().join("latchkey.dump");
            let file = file.to_str().unwrap();
            postgres_tool("pg_dump", &["--format=custom", "--file", file, &backend.url]).unwrap();
            let name = format!("restored_{}", unique("db").replace('-', "_"));
            psql(&backend.url, &format!("CREATE DATABASE \"{name}\"")).unwrap();
            let (server_part, _) = backend.url.rsplit_once('/').unwrap();
            let restored = format!("{server_part}/{name}");
            postgres_tool("pg_restore", &["--no-owner", "--dbname", &restored, file]).unwrap();
            restored
        };
        drop(server);

        assert_eq!(
            key_rows(&backend, &restored).await,
            key_rows(&backend, &backend.url).await
        );
        let said = refused_start(&restored, &[]);
        assert!(said.contains("encrypted at rest"), "{said}");
        let server = Server::start_on(&restored, &env);
        assert!(server.api.authenticates(&token.secret).await);
        drop(server);
        if !backend.is_file_backed() {
            let name = restored.rsplit_once('/').unwrap().1;
            psql(&backend.url, &format!("DROP DATABASE \"{name}\" WITH (FORCE)")).unwrap();
        }
    })
    .await;
}
