//! The authentication change log, on every backend through the `Store`
//! trait: each write that can change an authentication logs what it
//! changed, in commit order; a write that changes nothing logs nothing; and
//! entries are pruned by the database's clock, never an instance's.

mod common;

use common::{each_backend, execute_sql, open_store, unique};
use latchkey_core::model::{
    AppOwnerType, Application, Creator, CreatorType, Organization, Status, TokenOwnerType, TokenRecord,
};
use latchkey_core::scope::TargetOwner;
use latchkey_core::time::{now_millis, Millis};
use latchkey_core::token::{generate_key, NewToken, Signer};
use latchkey_core::validate::TokenPatch;
use latchkey_core::Id;
use latchkey_server::admin::by_operator;
use latchkey_store::{AuthChange, StoreError, TokenUpdate, Updater};

fn application(owner: Id, now: Millis) -> Application {
    Application {
        id: Id::generate(now / 1000),
        name: "logged".into(),
        description: String::new(),
        owner_type: AppOwnerType::User,
        owner_id: owner,
        creation_date: now,
        last_updated: now,
    }
}

fn token(signer: &Signer, app: &Application, now: Millis) -> TokenRecord {
    let new = NewToken {
        owner_type: TokenOwnerType::Application,
        owner_id: app.id,
        creator: Creator {
            kind: CreatorType::User,
            id: app.owner_id,
            name: "admin".into(),
        },
        name: "t".into(),
        description: String::new(),
        scope: vec!["all.Application".into()],
        status: Status::Active,
        expiration_date: None,
    };
    signer.issue(new, now).0
}

fn audit() -> latchkey_core::audit::AuditEntry {
    by_operator("changeLogTest", "write", serde_json::json!({}))
}

fn organization(name: &str, member: Id, now: Millis) -> Organization {
    Organization {
        id: Id::generate(now / 1000),
        name: unique(name),
        members: vec![member],
    }
}

#[tokio::test]
async fn the_change_log_names_every_change_in_order_and_forgets_old_entries() {
    each_backend(|backend| async move {
        let store = open_store(&backend.url).await;
        let now = now_millis();
        // Every write records its own entry, with its own id.
        let signer = Signer::new(&generate_key(now, now));
        let (user, _) = store.user_or_create(&unique("alice"), now).await.unwrap();
        let app = application(user.id, now);
        store.create_application(&app, &audit()).await.unwrap();
        let (patched, deleted) = (token(&signer, &app, now), token(&signer, &app, now));
        store.insert_tokens(&[patched.clone(), deleted.clone()], &audit()).await.unwrap();

        let start = store.auth_changes(None).await.unwrap();
        assert!(start.changes.is_empty());
        let deactivate = TokenPatch {
            status: Some(Status::Inactive),
            ..TokenPatch::default()
        };
        let admin = Updater {
            scope: vec!["all.User".into()],
            owner: TargetOwner::User,
        };
        let updated = store.update_token(app.id, patched.id, &deactivate, &admin, now, &audit()).await.unwrap();
        assert!(matches!(updated, TokenUpdate::Updated(ref token) if token.status == Status::Inactive));
        store.delete_token(app.id, deleted.id, &audit()).await.unwrap().unwrap();
        store.create_organization(&organization("acme", user.id, now), now, &audit()).await.unwrap();
        assert!(store.delete_application(app.id, &audit()).await.unwrap());
        // Writes that change nothing log nothing.
        assert!(!store.delete_application(app.id, &audit()).await.unwrap());
        assert!(store.delete_token(app.id, deleted.id, &audit()).await.unwrap().is_none());
        let gone = store.update_token(app.id, patched.id, &deactivate, &admin, now, &audit()).await.unwrap();
        assert_eq!(gone, TokenUpdate::NotFound);
        let late = token(&signer, &app, now);
        assert!(matches!(store.insert_tokens(&[late], &audit()).await, Err(StoreError::ApplicationMissing)));

        let read = store.auth_changes(Some(&start.position)).await.unwrap();
        assert_eq!(
            read.changes,
            [
                AuthChange::Token {
                    digest: patched.digest,
                    id: patched.id,
                    owner: app.id
                },
                AuthChange::Token {
                    digest: deleted.digest,
                    id: deleted.id,
                    owner: app.id
                },
                AuthChange::User(user.id),
                AuthChange::Application(app.id),
            ]
        );
        assert!(read.position.seen() > start.position.seen());
        assert_eq!(store.auth_changes(Some(&read.position)).await.unwrap().changes, []);
        assert_eq!(store.auth_changes(None).await.unwrap().position, read.position);

        // Stamped by the database's clock: an entry 11 minutes old by that
        // clock goes with the next write; one 9 minutes old stays.
        let minutes_ago = |minutes: i64| {
            let subject = user.id.to_string();
            match backend.url.starts_with("sqlite") {
                true => format!(
                    "INSERT INTO auth_changes (kind, subject, changed_at) VALUES \
                     ('user', CAST('{subject}' AS BLOB), CAST(unixepoch('subsec') * 1000 AS INTEGER) - {minutes} * 60000)"
                ),
                false => format!(
                    "INSERT INTO auth_changes (kind, subject, changed_at) VALUES \
                     ('user', convert_to('{subject}', 'UTF8'), (extract(epoch from clock_timestamp()) * 1000)::bigint - {minutes} * 60000)"
                ),
            }
        };
        execute_sql(&backend.url, &minutes_ago(11));
        execute_sql(&backend.url, &minutes_ago(9));
        let old = store.auth_changes(Some(&read.position)).await.unwrap();
        assert_eq!(old.changes, [AuthChange::User(user.id), AuthChange::User(user.id)]);
        assert!(!old.expired);
        store.create_organization(&organization("other", user.id, now), now, &audit()).await.unwrap();
        let after = store.auth_changes(Some(&read.position)).await.unwrap();
        assert_eq!(
            after.changes,
            [AuthChange::User(user.id), AuthChange::User(user.id)],
            "the 11-minute-old entry is pruned, the 9-minute-old one and the new one are left"
        );
        assert!(!store.auth_changes(Some(&after.position)).await.unwrap().expired);
        assert!(
            store
                .auth_changes(Some(&format!("{}", after.position.seen() + 1).parse().unwrap()))
                .await
                .unwrap()
                .expired,
            "a cursor ahead of the log (from another database) is not taken as up to date"
        );
        assert!(after.position.seen() > old.position.seen(), "numbers are never reused");
        // Held to the end: the SQLite file's directory goes with it.
        drop(backend);
    })
    .await;
}

/// On PostgreSQL writers append without a lock, so an entry can commit after
/// a higher-numbered one. A reader that has read past it must still get it
/// once it commits, and a reader starting meanwhile must wait for it too.
/// (With a plain "highest number read" cursor both would skip it.)
#[tokio::test]
async fn an_entry_committed_after_a_higher_one_is_still_read() {
    each_backend(|backend| async move {
        if backend.url.starts_with("sqlite") {
            // One writer at a time: numbers commit in order.
            return;
        }
        let store = open_store(&backend.url).await;
        let (slow, connection) = tokio_postgres::connect(&backend.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let user = store
            .user_or_create(&unique("member"), now_millis())
            .await
            .unwrap()
            .0
            .id;
        let append = format!(
            "INSERT INTO auth_changes (kind, subject, changed_at) VALUES ('user', convert_to('{user}', 'UTF8'), 0)"
        );
        let reader = store.auth_changes(None).await.unwrap();
        // The slow writer takes its number, and has not committed yet.
        slow.batch_execute(&format!("BEGIN; {append}")).await.unwrap();
        // A fast writer commits a higher number.
        store
            .create_organization(&organization("fast", user, now_millis()), now_millis(), &audit())
            .await
            .unwrap();
        let read = store.auth_changes(Some(&reader.position)).await.unwrap();
        assert_eq!(read.changes, [AuthChange::User(user)], "the fast entry is read at once");
        let starting = store.auth_changes(None).await.unwrap();
        slow.batch_execute("COMMIT").await.unwrap();
        let late = store.auth_changes(Some(&read.position)).await.unwrap();
        assert_eq!(
            late.changes,
            [AuthChange::User(user)],
            "the slow entry is read once it commits"
        );
        let fresh = store.auth_changes(Some(&starting.position)).await.unwrap();
        assert_eq!(
            fresh.changes,
            [AuthChange::User(user)],
            "a reader that started meanwhile gets it too"
        );
        for position in [&late.position, &fresh.position] {
            let again = store.auth_changes(Some(position)).await.unwrap();
            assert_eq!(again.changes, [], "nothing is read twice");
        }
        drop(backend);
    })
    .await;
}
