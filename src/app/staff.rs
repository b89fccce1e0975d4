//! Staff members and their bearer tokens.
//!
//! A token is 32 random bytes, shown once; only its SHA-256 is kept (in the StaffAdded event
//! and in the `staff_credentials` lookup table, which can be rebuilt from those events).

use crate::error::AppError;
use crate::ledger::Ledger;
use crate::store::{Db, EventLog, StoreError};
use aggregates::metadata::{EventMetadata, Role};
use aggregates::staff::{Staff, StaffCommand, StaffEvent};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A staff member as authenticated by token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// Staff id.
    pub staff_id: Uuid,
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// A new random bearer token (prefixed so it is recognisable in a leak scan).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("plt_{}", hex::encode(bytes))
}

/// The stored digest of a token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Adds a staff member; returns the id and the token (to be shown once).
pub async fn add_staff(
    ledger: &Ledger,
    db: &Db,
    name: String,
    roles: Vec<Role>,
    meta: &EventMetadata,
) -> Result<(Uuid, String), AppError> {
    let staff_id = Uuid::new_v4();
    let token = new_token();
    let digest = token_digest(&token);
    let committed = ledger
        .execute::<Staff>(
            &staff_id.to_string(),
            StaffCommand::Add {
                name,
                roles,
                token_digest: digest,
            },
            meta,
        )
        .await?;
    for event in &committed.events {
        record_credentials(db, staff_id, event).await?;
    }
    Ok((staff_id, token))
}

async fn record_credentials(db: &Db, staff_id: Uuid, event: &StaffEvent) -> Result<(), StoreError> {
    let StaffEvent::StaffAdded {
        name,
        roles,
        token_digest,
    } = event;
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    sqlx::query(
        "INSERT INTO staff_credentials (token_digest, staff_id, name, roles)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(token_digest)
    .bind(staff_id.to_string())
    .bind(name)
    .bind(roles.join(","))
    .execute(&db.write)
    .await?;
    Ok(())
}

/// Restores `staff_credentials` rows missing for StaffAdded events (after a crash between the
/// event and the row, or after importing a ledger); returns how many were restored.
pub async fn sync_credentials(log: &EventLog, db: &Db) -> Result<usize, StoreError> {
    let upcasters = aggregates::upcasting::Upcasters::standard();
    let mut restored = 0;
    for stored in log.load_type(<Staff as cqrs_es::Aggregate>::TYPE).await? {
        let event = upcasters
            .decode::<Staff>(&stored.as_decodable())
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let staff_id: Uuid = stored
            .aggregate_id
            .parse()
            .map_err(|_| StoreError::Malformed(format!("staff id {}", stored.aggregate_id)))?;
        let known: Option<String> =
            sqlx::query_scalar("SELECT staff_id FROM staff_credentials WHERE staff_id = $1")
                .bind(staff_id.to_string())
                .fetch_optional(&db.read)
                .await?;
        if known.is_none() {
            record_credentials(db, staff_id, &event).await?;
            restored += 1;
        }
    }
    Ok(restored)
}

/// Looks a bearer token up; `None` when unknown.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<StaffMember>, StoreError> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT staff_id, name, roles FROM staff_credentials WHERE token_digest = $1",
    )
    .bind(token_digest(token))
    .fetch_optional(&db.read)
    .await?;
    let Some((staff_id, name, roles)) = row else {
        return Ok(None);
    };
    let staff_id = staff_id
        .parse()
        .map_err(|_| StoreError::Malformed(format!("staff id {staff_id:?}")))?;
    Ok(Some(StaffMember {
        staff_id,
        name,
        roles: roles.split(',').filter_map(Role::parse).collect(),
    }))
}
