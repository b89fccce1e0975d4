//! The contract every read model follows.

use crate::feed::FeedEvent;
use sqlx::AnyConnection;

/// A read model built from the feed.
///
/// Its tables are created per generation (`cards__g1`, …) and read through a view named after
/// the base table (`cards`), so a rebuild can fill a new generation while the live one keeps
/// answering, then swap the view in one transaction.
#[async_trait::async_trait]
pub trait Projection: Send + Sync + 'static {
    /// Lowercase identifier, e.g. `cards`.
    fn name(&self) -> &'static str;
    /// Bump it when the tables or the way events are applied change: the service then
    /// rebuilds the projection from the start of the feed.
    fn version(&self) -> i32;
    /// The base names of the tables it owns; readers query these names.
    fn tables(&self) -> &'static [&'static str];
    /// Portable DDL (PostgreSQL and SQLite) creating its tables and indexes; `{name}` stands
    /// for the physical name of the owned table `name` in the generation being created.
    fn schema(&self) -> &'static [&'static str];
    /// What the runner does with an event `apply` keeps failing on (after its retries).
    /// Projections whose rows carry money or messages stop; a view that only shows may park.
    fn on_poison(&self) -> PoisonPolicy {
        PoisonPolicy::Stop
    }
    /// Applies one event inside the runner's transaction. Events it does not use are ignored.
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        tables: &Tables,
        event: &FeedEvent,
    ) -> Result<(), ProjectionError>;
    /// Applies a batch of events, in feed order, inside the runner's transaction, with the
    /// same effect as applying them one by one (which is what this default does). A projection
    /// that folds the batch in memory and writes its rows set-wise overrides it (see
    /// [`crate::rows`]) and makes `apply` a batch of one.
    async fn apply_batch(
        &self,
        tx: &mut AnyConnection,
        tables: &Tables,
        events: &[FeedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            self.apply(tx, tables, event).await?;
        }
        Ok(())
    }
}

/// What happens to an event a projection cannot apply, once its retries are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoisonPolicy {
    /// Stay before it (stalled) until an operator retries or skips it: nothing may be missed.
    Stop,
    /// Record it in `projection_parked` with the error and go on past it.
    Park,
}

/// Physical table names of one generation of a projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tables {
    generation: i32,
}

impl Tables {
    /// The tables of generation `generation`.
    pub fn generation(generation: i32) -> Self {
        Self { generation }
    }

    /// The generation number.
    pub fn number(&self) -> i32 {
        self.generation
    }

    /// The physical name of the owned table `base` in this generation.
    pub fn get(&self, base: &str) -> String {
        format!("{base}__g{}", self.generation)
    }

    /// `sql` with each `{base}` of `tables` replaced by its physical name.
    pub fn expand(&self, sql: &str, tables: &[&str]) -> String {
        tables.iter().fold(sql.to_string(), |sql, base| {
            sql.replace(&format!("{{{base}}}"), &self.get(base))
        })
    }
}

impl ProjectionError {
    /// Whether retrying later may cure it (the database unreachable, busy, restarting, or a
    /// transaction that lost a race), as opposed to an event this code cannot apply.
    pub fn is_transient(&self) -> bool {
        let ProjectionError::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // SQLITE_BUSY (5) and SQLITE_LOCKED (6), also in their extended forms.
                    matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6))
                } else {
                    // PostgreSQL: serialization failure or deadlock (40…), resources (53…),
                    // operator intervention such as a shutdown (57…), connection (08…).
                    ["40", "53", "57", "08"].iter().any(|c| code.starts_with(c))
                }
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Configuration(_) => true,
            _ => false,
        }
    }
}

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The view's database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The event could not be read.
    #[error(transparent)]
    Decode(#[from] aggregates::upcasting::DecodeError),
    /// A batch's fold asked for a row it had not loaded (a bug in the projection).
    #[error("row {key} of {table} was not loaded for the batch")]
    NotLoaded {
        /// The physical table.
        table: String,
        /// The row's key, its parts joined by `/`.
        key: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_the_generations_table_names() {
        let t = Tables::generation(3);
        assert_eq!(t.get("cards"), "cards__g3");
        assert_eq!(
            t.expand(
                "CREATE INDEX {cards}_plate ON {cards} (plate); -- {renewals}",
                &["cards", "renewals"]
            ),
            "CREATE INDEX cards__g3_plate ON cards__g3 (plate); -- renewals__g3"
        );
    }
}
