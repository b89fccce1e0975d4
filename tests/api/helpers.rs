//! Test helpers: a fresh PostgreSQL database per test, and typed builders.

use aggregates::metadata::{Actor, EventMetadata, Role};
use permit_ledger::ledger::Ledger;
use permit_ledger::store::{EventLog, PgEventLog};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection};
use std::time::Duration;

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

    /// The event store on this database, migrated.
    pub async fn log(&self) -> EventLog {
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&self.url)
            .await
            .expect("connect test database");
        let pg = PgEventLog::from_pool(pool);
        pg.migrate().await.expect("migrate");
        EventLog::Postgres(pg)
    }

    /// A ledger over a fresh, migrated store.
    pub async fn ledger(&self) -> Ledger {
        Ledger::new(self.log().await)
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
