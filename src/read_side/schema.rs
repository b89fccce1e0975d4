//! A projection's tables per generation, and the views readers query.

use crate::store::StoreError;
use projections::{Projection, Tables};
use sqlx::{Any, Transaction};

/// Creates the tables of one generation (dropping leftovers of an interrupted build).
pub(super) async fn create_generation(
    tx: &mut Transaction<'_, Any>,
    p: &dyn Projection,
    t: Tables,
) -> Result<(), StoreError> {
    drop_generation(tx, p, t).await?;
    for ddl in p.schema() {
        sqlx::query(&t.expand(ddl, p.tables()))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Points each reader-facing view at generation `t`.
pub(super) async fn point_views(
    tx: &mut Transaction<'_, Any>,
    p: &dyn Projection,
    t: Tables,
) -> Result<(), StoreError> {
    for base in p.tables() {
        sqlx::query(&format!("DROP VIEW IF EXISTS {base}"))
            .execute(&mut **tx)
            .await?;
        sqlx::query(&format!(
            "CREATE VIEW {base} AS SELECT * FROM {}",
            t.get(base)
        ))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Drops the tables of generation `t`.
pub(super) async fn drop_generation(
    tx: &mut Transaction<'_, Any>,
    p: &dyn Projection,
    t: Tables,
) -> Result<(), StoreError> {
    for base in p.tables() {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", t.get(base)))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
