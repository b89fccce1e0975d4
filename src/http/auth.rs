//! Who is calling: an owner (session token) or a staff member (CLI token) and their roles.
//!
//! `Authorization: Bearer <token>`; owner tokens start `pls_`, staff tokens `plt_`. Missing or
//! unknown tokens are 401; a known token without the role needed is 403.

use super::error::ApiError;
use super::AppState;
use crate::app::sessions;
use crate::app::staff::{authenticate, Credential, StaffMember};
use crate::error::AppError;
use aggregates::metadata::Role;
use aggregates::values::Phone;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use uuid::Uuid;

fn bearer(parts: &Parts) -> Result<&str, AppError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthenticated {
            code: "unauthenticated",
            message: "send Authorization: Bearer <token>".into(),
        })
}

fn bad_token() -> AppError {
    AppError::Unauthenticated {
        code: "invalid_token",
        message: "the token is unknown, expired or revoked".into(),
    }
}

/// An owner with a live session.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The verified phone.
    pub phone: Phone,
    /// The lot the session is for.
    pub lot_id: Uuid,
    /// The phone's keyed hash (the actor in event metadata).
    pub phone_hash: String,
    /// The payer's openid, when the session was opened from WeChat.
    pub payer_openid: Option<String>,
}

impl Owner {
    /// The owner as the application layer takes it.
    pub fn as_ref(&self) -> crate::app::owner::OwnerRef<'_> {
        crate::app::owner::OwnerRef {
            phone: &self.phone,
            lot_id: self.lot_id,
            phone_hash: &self.phone_hash,
            payer_openid: self.payer_openid.as_deref(),
        }
    }

    /// Idempotency keys are the owner's own, per lot.
    pub fn idempotency_scope(&self) -> String {
        format!("{}:{}", self.phone_hash, self.lot_id)
    }
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if !token.starts_with("pls_") {
            return Err(if token.starts_with("plt_") {
                AppError::Forbidden("owner").into()
            } else {
                bad_token().into()
            });
        }
        let session = sessions::find(&state.store.db, token)
            .await?
            .ok_or_else(bad_token)?;
        Ok(Owner {
            phone_hash: state.secrets.phone_hash(session.phone.as_str()),
            phone: session.phone,
            lot_id: session.lot_id,
            payer_openid: session.payer_openid,
        })
    }
}

/// A staff member (any role; check with [`Staff::require`]).
#[derive(Debug, Clone)]
pub struct Staff(pub StaffMember);

impl Staff {
    /// Refuses (403) unless the member has `role`.
    pub fn require(&self, role: Role) -> Result<&StaffMember, AppError> {
        if self.0.roles.contains(&role) {
            Ok(&self.0)
        } else {
            Err(AppError::Forbidden(role.as_str()))
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if token.starts_with("pls_") {
            return Err(AppError::Forbidden("staff").into());
        }
        let member = authenticate(&state.store.db, token)
            .await?
            .ok_or_else(bad_token)?;
        Ok(Staff(member))
    }
}

/// Extractors for one role each.
macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        #[allow(dead_code)]
        pub struct $name(pub StaffMember);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, ApiError> {
                let staff = Staff::from_request_parts(parts, state).await?;
                Ok($name(staff.require($role)?.clone()))
            }
        }
    };
}

role_extractor!(Admin, Role::Admin, "A staff member with the admin role.");
role_extractor!(
    Reviewer,
    Role::Reviewer,
    "A staff member with the reviewer role."
);
role_extractor!(
    Auditor,
    Role::Auditor,
    "A staff member with the auditor role."
);

/// A staff member with the gate role (a barrier controller or plate camera). The gate checks on
/// every car, so the token is answered from the gate's in-memory credentials (kept current from
/// the feed); only a token they have not seen yet is looked up in the store.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct GateStaff(pub StaffMember);

impl FromRequestParts<AppState> for GateStaff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let member = match state.gate.credential(token, chrono::Utc::now()) {
            Credential::Live(member) => member,
            Credential::Refused => return Err(bad_token().into()),
            Credential::Unknown => Staff::from_request_parts(parts, state).await?.0,
        };
        Ok(GateStaff(Staff(member).require(Role::Gate)?.clone()))
    }
}
