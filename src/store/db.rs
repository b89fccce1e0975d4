//! The side tables' connection: sqlx `Any`, so their SQL is written once for both stores.
//!
//! Portable SQL only: `$1`-style parameters, `INSERT … ON CONFLICT … DO UPDATE`, TEXT for
//! instants (RFC 3339 UTC, which sorts) and dates (`YYYY-MM-DD`), BIGINT for money and
//! positions. On SQLite writes go through a single connection (`write`); reads use `read`.

use sqlx::AnyPool;

/// Which store is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// The embedded SQLite file.
    Sqlite,
}

impl Backend {
    /// The name used in settings, reports and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "embedded",
        }
    }
}

/// The database for side tables.
#[derive(Clone, Debug)]
pub struct Db {
    /// Which store.
    pub backend: Backend,
    /// For reads.
    pub read: AnyPool,
    /// For writes (one connection on SQLite; the same pool as `read` on PostgreSQL).
    pub write: AnyPool,
}
