//! Test helpers: a fresh PostgreSQL database per test, and typed builders.

use aggregates::metadata::{Actor, EventMetadata, Role};
use permit_ledger::ledger::Ledger;
use permit_ledger::store::{open, Backend, Store, StoreConfig};
use sqlx::{Connection, Executor, PgConnection};
use std::path::PathBuf;

/// The server tests create their databases on (`TEST_DATABASE_URL`, default: the machine's).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A database of its own for one test, dropped at the end.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    /// Creates an empty database.
    pub async fn fresh() -> Self {
        let admin = admin_url();
        let name = format!("pl_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL must be reachable at TEST_DATABASE_URL");
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').expect("url has a database").0;
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = admin_url();
        let name = self.name.clone();
        // Drop from a thread of its own: Drop cannot await, and the test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = conn
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await;
                }
            });
        })
        .join();
    }
}

/// A fresh store of either kind for one test, removed at the end.
pub struct TestStore {
    pub store: Store,
    pub ledger: Ledger,
    /// The PostgreSQL database, when the store is PostgreSQL.
    pub pg: Option<TestDb>,
    /// The data directory, when the store is embedded.
    pub dir: Option<TempDir>,
}

impl TestStore {
    /// A fresh, migrated store of the given kind.
    pub async fn new(backend: Backend) -> Self {
        let (pg, dir) = match backend {
            Backend::Postgres => (Some(TestDb::fresh().await), None),
            Backend::Sqlite => (None, Some(TempDir::new())),
        };
        let store = open(&StoreConfig {
            database_url: pg.as_ref().map(|db| db.url.clone()),
            data_dir: dir.as_ref().map_or_else(PathBuf::new, |d| d.0.clone()),
            pool_size: 6,
        })
        .await
        .expect("open test store");
        Self {
            ledger: Ledger::new(store.log.clone()),
            store,
            pg,
            dir,
        }
    }

    /// The settings that open this same store (for a second process or a restart).
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            database_url: self.pg.as_ref().map(|db| db.url.clone()),
            data_dir: self.dir.as_ref().map_or_else(PathBuf::new, |d| d.0.clone()),
            pool_size: 6,
        }
    }

    /// Environment for running the binary on this store.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match (&self.pg, &self.dir) {
            (Some(db), _) => vec![("DATABASE_URL", db.url.clone())],
            (_, Some(dir)) => vec![
                ("DATABASE_URL", String::new()),
                ("PERMIT_LEDGER_DATA_DIR", dir.0.display().to_string()),
            ],
            _ => unreachable!("a test store is one or the other"),
        }
    }
}

/// A temporary folder, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("pl_test_{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs each named `async fn(TestStore)` against PostgreSQL and against the embedded store:
/// one conformance suite for both.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let store = $crate::helpers::TestStore::new(
                        permit_ledger::store::Backend::Postgres,
                    )
                    .await;
                    super::$name(store).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn embedded() {
                    let store = $crate::helpers::TestStore::new(
                        permit_ledger::store::Backend::Sqlite,
                    )
                    .await;
                    super::$name(store).await;
                }
            }
        )+
    };
}

/// Runs each named `async fn(Backend)` (which starts its own service) against PostgreSQL and
/// against the embedded store.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name(permit_ledger::store::Backend::Postgres).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn embedded() {
                    super::$name(permit_ledger::store::Backend::Sqlite).await;
                }
            }
        )+
    };
}

/// Metadata for a desk action.
pub fn admin_meta() -> EventMetadata {
    meta(Actor::Staff(uuid::Uuid::from_u128(1)), Role::Admin)
}

/// Metadata for an owner's action.
pub fn owner_meta() -> EventMetadata {
    meta(Actor::Owner("phonehash".into()), Role::Owner)
}

/// Metadata for a reviewer's action.
pub fn reviewer_meta() -> EventMetadata {
    meta(Actor::Staff(uuid::Uuid::from_u128(2)), Role::Reviewer)
}

/// Metadata for the payment provider's notification.
pub fn provider_meta() -> EventMetadata {
    meta(Actor::PaymentProvider, Role::PaymentProvider)
}

fn meta(actor: Actor, role: Role) -> EventMetadata {
    EventMetadata {
        actor,
        role,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        causation_id: "test".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}
