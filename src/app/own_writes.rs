//! Read-your-own-writes for every bearer token: the last position its commands reached, kept
//! in the store (`token_positions`) so every instance knows it.

use super::staff::token_digest;
use crate::store::{Db, StoreError};

/// Remembers that `token`'s command reached `position` (a later, lower one changes nothing).
pub async fn remember(db: &Db, token: &str, position: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO token_positions (token_digest, position) VALUES ($1, $2)
         ON CONFLICT (token_digest) DO UPDATE SET position = $2
          WHERE token_positions.position < $2",
    )
    .bind(token_digest(token))
    .bind(position)
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Forgets the positions of tokens that no longer work (no session row, no staff credential):
/// they cannot read again. Returns how many.
pub async fn purge_orphans(db: &Db) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM token_positions
          WHERE token_digest NOT IN (SELECT token_digest FROM owner_sessions)
            AND token_digest NOT IN (SELECT token_digest FROM staff_credentials)",
    )
    .execute(&db.write)
    .await?
    .rows_affected())
}

/// The last position `token`'s commands reached, if any.
pub async fn last(db: &Db, token: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT position FROM token_positions WHERE token_digest = $1")
            .bind(token_digest(token))
            .fetch_optional(&db.read)
            .await?,
    )
}
