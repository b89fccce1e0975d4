//! Staff members and their bearer tokens: added, listed, rotated, revoked.
//!
//! A token is 32 random bytes, shown once; only its SHA-256 is kept (in the staff events and in
//! the `staff_credentials` lookup table). The table holds one row per staff member whose access
//! is live: their current token's digest and its expiry. It is derived from the ledger: after
//! every staff command the member's row is rewritten from their stream, and at start every row
//! is ([`sync_credentials`]), so a deleted row comes back, and a revoked or rotated-away token
//! does not.

use crate::error::AppError;
use crate::ledger::Ledger;
use crate::store::{Db, EventLog, StoreError, StoredEvent};
use aggregates::metadata::{EventMetadata, Role};
use aggregates::staff::{Staff, StaffCommand, TokenTerm};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

mod member;
mod memory;

use member::Member;
pub use memory::{Credential, CredentialIndex};

/// Days a token is valid for unless `PERMIT_LEDGER_STAFF_TOKEN_DAYS` says otherwise.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;

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

/// Whether a member's token works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    /// It works.
    Active,
    /// It has expired (`staff rotate` issues a new one).
    Expired,
    /// The member was revoked, for good.
    Revoked,
}

impl StaffStatus {
    /// The stable lowercase name (as in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            StaffStatus::Active => "active",
            StaffStatus::Expired => "expired",
            StaffStatus::Revoked => "revoked",
        }
    }
}

/// A staff member as `staff list` and `GET /api/v1/admin/staff` show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffListing {
    /// Staff id.
    pub staff_id: Uuid,
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// Whether their token works now.
    pub status: StaffStatus,
    /// When their current token stops (or stopped) working.
    pub expires_at: DateTime<Utc>,
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

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Adds a staff member with a token valid for [`DEFAULT_TOKEN_DAYS`] from now; returns the id
/// and the token (to be shown once).
pub async fn add_staff(
    ledger: &Ledger,
    db: &Db,
    name: String,
    roles: Vec<Role>,
    meta: &EventMetadata,
) -> Result<(Uuid, String), AppError> {
    let term = TokenTerm {
        now: Utc::now(),
        days: DEFAULT_TOKEN_DAYS,
    };
    add_staff_for(ledger, db, name, roles, term, meta).await
}

/// [`add_staff`] with the token's term given.
pub async fn add_staff_for(
    ledger: &Ledger,
    db: &Db,
    name: String,
    roles: Vec<Role>,
    term: TokenTerm,
    meta: &EventMetadata,
) -> Result<(Uuid, String), AppError> {
    let staff_id = Uuid::new_v4();
    let token = new_token();
    ledger
        .execute::<Staff>(
            &staff_id.to_string(),
            StaffCommand::Add {
                name,
                roles,
                token_digest: token_digest(&token),
                term,
            },
            meta,
        )
        .await?;
    sync_member(ledger.log(), db, staff_id).await?;
    Ok((staff_id, token))
}

/// Gives a member a new token (returned, to be shown once); the old one stops working.
pub async fn rotate_staff(
    ledger: &Ledger,
    db: &Db,
    staff_id: Uuid,
    term: TokenTerm,
    meta: &EventMetadata,
) -> Result<String, AppError> {
    let token = new_token();
    ledger
        .execute::<Staff>(
            &staff_id.to_string(),
            StaffCommand::Rotate {
                token_digest: token_digest(&token),
                term,
            },
            meta,
        )
        .await?;
    sync_member(ledger.log(), db, staff_id).await?;
    Ok(token)
}

/// Revokes a member for good; `by` is the admin asking (none from the CLI), who may not be the
/// member. Returns the ledger position of the revocation.
pub async fn revoke_staff(
    ledger: &Ledger,
    db: &Db,
    staff_id: Uuid,
    by: Option<Uuid>,
    now: DateTime<Utc>,
    meta: &EventMetadata,
) -> Result<i64, AppError> {
    let committed = ledger
        .execute::<Staff>(
            &staff_id.to_string(),
            StaffCommand::Revoke {
                now,
                by_self: by == Some(staff_id),
            },
            meta,
        )
        .await;
    // Also after a refusal: a revocation whose row removal failed is completed by its retry.
    sync_member(ledger.log(), db, staff_id).await?;
    let committed = committed?;
    committed
        .position
        .ok_or_else(|| AppError::Internal("a revocation appended nothing".into()))
}

/// Every staff member, in the order they were added, with their status at `now`.
pub async fn list_staff(
    log: &EventLog,
    now: DateTime<Utc>,
) -> Result<Vec<StaffListing>, StoreError> {
    Ok(members(log)
        .await?
        .into_iter()
        .map(|m| m.listing(now))
        .collect())
}

/// Rewrites every `staff_credentials` row from the ledger (at start: after a crash between an
/// event and its row, a row deleted or edited by hand, or a ledger imported into a new store);
/// returns how many rows it restored, changed or removed.
pub async fn sync_credentials(log: &EventLog, db: &Db) -> Result<usize, StoreError> {
    let members = members(log).await?;
    let mut changed = 0;
    for member in &members {
        changed += usize::from(write_credentials(db, member).await?);
    }
    let known: BTreeSet<String> = members.iter().map(|m| m.staff_id.to_string()).collect();
    let rows: Vec<String> = sqlx::query_scalar("SELECT staff_id FROM staff_credentials")
        .fetch_all(&db.read)
        .await?;
    for stray in rows.into_iter().filter(|id| !known.contains(id)) {
        sqlx::query("DELETE FROM staff_credentials WHERE staff_id = $1")
            .bind(&stray)
            .execute(&db.write)
            .await?;
        changed += 1;
    }
    Ok(changed)
}

/// Looks a bearer token up; `None` when unknown, rotated away, revoked or expired.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<StaffMember>, StoreError> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT staff_id, name, roles FROM staff_credentials
          WHERE token_digest = $1 AND expires_at > $2",
    )
    .bind(token_digest(token))
    .bind(fmt(Utc::now()))
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

/// Every staff stream, folded, in the order the members were added.
async fn members(log: &EventLog) -> Result<Vec<Member>, StoreError> {
    let events = log.load_type(Staff::TYPE).await?;
    let mut order: Vec<&str> = vec![];
    let mut streams: HashMap<&str, Vec<&StoredEvent>> = HashMap::new();
    for e in &events {
        let stream = streams.entry(&e.aggregate_id).or_default();
        if stream.is_empty() {
            order.push(&e.aggregate_id);
        }
        stream.push(e);
    }
    order
        .into_iter()
        .map(|id| Member::fold(id, &streams[id]))
        .collect()
}

/// Rewrites one member's row from their stream.
async fn sync_member(log: &EventLog, db: &Db, staff_id: Uuid) -> Result<(), StoreError> {
    let id = staff_id.to_string();
    let events = log.load(Staff::TYPE, &id).await?;
    if events.is_empty() {
        return Ok(());
    }
    let member = Member::fold(&id, &events.iter().collect::<Vec<_>>())?;
    write_credentials(db, &member).await?;
    Ok(())
}

/// Makes the member's row what their stream says: their current token, or none once revoked.
/// Returns whether it changed anything.
async fn write_credentials(db: &Db, member: &Member) -> Result<bool, StoreError> {
    let staff_id = member.staff_id.to_string();
    if member.state.revoked_at.is_some() {
        let removed = sqlx::query("DELETE FROM staff_credentials WHERE staff_id = $1")
            .bind(&staff_id)
            .execute(&db.write)
            .await?
            .rows_affected();
        return Ok(removed > 0);
    }
    let roles: Vec<&str> = member.state.roles.iter().map(|r| r.as_str()).collect();
    let wanted = (
        member.state.token_digest.clone(),
        member.state.name.clone().unwrap_or_default(),
        roles.join(","),
        fmt(member.expires_at),
    );
    let stored: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT token_digest, name, roles, expires_at FROM staff_credentials WHERE staff_id = $1",
    )
    .bind(&staff_id)
    .fetch_optional(&db.write)
    .await?;
    if stored.as_ref() == Some(&wanted) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO staff_credentials (token_digest, staff_id, name, roles, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (staff_id) DO UPDATE SET token_digest = excluded.token_digest,
             name = excluded.name, roles = excluded.roles, expires_at = excluded.expires_at",
    )
    .bind(&wanted.0)
    .bind(&staff_id)
    .bind(&wanted.1)
    .bind(&wanted.2)
    .bind(&wanted.3)
    .execute(&db.write)
    .await?;
    Ok(true)
}
