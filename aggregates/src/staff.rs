//! Staff members of the security and parking offices, their roles, and the life of their
//! bearer tokens: added, rotated, revoked. Tokens expire a number of days after they are issued.

use crate::error_code::{ErrorCode, ErrorKind};
use crate::metadata::Role;
use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// The longest a token may be valid for, in days (ten years).
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// How long a new token is valid for, from when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTerm {
    /// When the token is issued.
    pub now: DateTime<Utc>,
    /// Days it is valid for (1 to [`MAX_TOKEN_DAYS`]).
    pub days: u32,
}

impl TokenTerm {
    fn expires_at(self) -> Result<DateTime<Utc>, StaffError> {
        if !(1..=MAX_TOKEN_DAYS).contains(&self.days) {
            return Err(StaffError::TokenDays);
        }
        Ok(self.now + Duration::days(i64::from(self.days)))
    }
}

/// Commands to a staff member.
#[derive(Debug, Clone, PartialEq)]
pub enum StaffCommand {
    /// Add a staff member with roles and the digest of their bearer token.
    Add {
        /// Display name.
        name: String,
        /// Roles; they do not nest (an admin is not a reviewer unless given both).
        roles: Vec<Role>,
        /// SHA-256 of the bearer token (the token itself is shown once and never stored).
        token_digest: String,
        /// How long the token is valid for.
        term: TokenTerm,
    },
    /// Replace the member's token by a new one; the old one stops working.
    Rotate {
        /// SHA-256 of the new bearer token.
        token_digest: String,
        /// How long the new token is valid for.
        term: TokenTerm,
    },
    /// End the member's access for good.
    Revoke {
        /// When.
        now: DateTime<Utc>,
        /// Whether the member asked to revoke themself.
        by_self: bool,
    },
}

/// Events of a staff member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StaffEvent {
    /// A staff member was added.
    StaffAdded {
        /// Display name.
        name: String,
        /// Roles.
        roles: Vec<Role>,
        /// SHA-256 of the bearer token.
        token_digest: String,
        /// When the token stops working; `None` in version 1 events, written before tokens
        /// expired (the credentials table then counts from the event's `recorded_at`).
        expires_at: Option<DateTime<Utc>>,
    },
    /// The member's token was replaced; the previous one no longer works.
    StaffTokenRotated {
        /// SHA-256 of the new bearer token.
        token_digest: String,
        /// When the new token stops working.
        expires_at: DateTime<Utc>,
    },
    /// The member's access was ended for good.
    StaffRevoked {
        /// When.
        revoked_at: DateTime<Utc>,
    },
}

impl DomainEvent for StaffEvent {
    fn event_type(&self) -> String {
        match self {
            StaffEvent::StaffAdded { .. } => "StaffAdded",
            StaffEvent::StaffTokenRotated { .. } => "StaffTokenRotated",
            StaffEvent::StaffRevoked { .. } => "StaffRevoked",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        match self {
            StaffEvent::StaffAdded { .. } => "2",
            _ => "1",
        }
        .to_string()
    }
}

/// Why a staff command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffError {
    /// The id is taken.
    #[error("staff member already exists")]
    AlreadyExists,
    /// The name is blank.
    #[error("name must not be blank")]
    NameRequired,
    /// No role, or a role staff cannot have.
    #[error("roles must be one or more of admin, reviewer, auditor, gate")]
    Roles,
    /// A token's validity out of range.
    #[error("a token is valid for 1 to 3650 days")]
    TokenDays,
    /// No staff member has this id.
    #[error("no such staff member")]
    NotFound,
    /// The member was revoked already.
    #[error("this staff member is revoked already")]
    AlreadyRevoked,
    /// A revoked member cannot be given a token again.
    #[error("this staff member is revoked; add them again instead")]
    Revoked,
    /// An admin may not revoke their own token over HTTP.
    #[error("you cannot revoke yourself; another admin, or `permit-ledger staff revoke`, can")]
    RevokingSelf,
}

impl ErrorCode for StaffError {
    fn code(&self) -> &'static str {
        match self {
            StaffError::AlreadyExists => "already_exists",
            StaffError::NameRequired | StaffError::Roles | StaffError::TokenDays => "invalid_input",
            StaffError::NotFound => "no_staff",
            StaffError::AlreadyRevoked => "already_revoked",
            StaffError::Revoked => "staff_revoked",
            StaffError::RevokingSelf => "cannot_revoke_self",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            StaffError::AlreadyExists
            | StaffError::AlreadyRevoked
            | StaffError::Revoked
            | StaffError::RevokingSelf => ErrorKind::Rule,
            StaffError::NotFound => ErrorKind::NotFound,
            StaffError::NameRequired | StaffError::Roles | StaffError::TokenDays => {
                ErrorKind::Invalid
            }
        }
    }
}

/// A staff member.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    /// Set once added.
    pub name: Option<String>,
    /// Their roles.
    pub roles: Vec<Role>,
    /// The digest of their current token.
    pub token_digest: String,
    /// When the current token stops working (`None`: issued by a version 1 `StaffAdded`).
    pub expires_at: Option<DateTime<Utc>>,
    /// When they were revoked, if they were.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Staff {
    /// The rules.
    pub fn decide(&self, command: StaffCommand) -> Result<Vec<StaffEvent>, StaffError> {
        match command {
            StaffCommand::Add {
                name,
                mut roles,
                token_digest,
                term,
            } => {
                if self.name.is_some() {
                    return Err(StaffError::AlreadyExists);
                }
                let name = name.trim().to_string();
                if name.is_empty() || name.chars().count() > 100 {
                    return Err(StaffError::NameRequired);
                }
                roles.sort_by_key(|r| r.as_str());
                roles.dedup();
                let staff_roles = [Role::Admin, Role::Reviewer, Role::Auditor, Role::Gate];
                if roles.is_empty() || roles.iter().any(|r| !staff_roles.contains(r)) {
                    return Err(StaffError::Roles);
                }
                Ok(vec![StaffEvent::StaffAdded {
                    name,
                    roles,
                    token_digest,
                    expires_at: Some(term.expires_at()?),
                }])
            }
            StaffCommand::Rotate { token_digest, term } => {
                self.existing()?;
                if self.revoked_at.is_some() {
                    return Err(StaffError::Revoked);
                }
                Ok(vec![StaffEvent::StaffTokenRotated {
                    token_digest,
                    expires_at: term.expires_at()?,
                }])
            }
            StaffCommand::Revoke { now, by_self } => {
                self.existing()?;
                if self.revoked_at.is_some() {
                    return Err(StaffError::AlreadyRevoked);
                }
                if by_self {
                    return Err(StaffError::RevokingSelf);
                }
                Ok(vec![StaffEvent::StaffRevoked { revoked_at: now }])
            }
        }
    }

    fn existing(&self) -> Result<(), StaffError> {
        match self.name {
            Some(_) => Ok(()),
            None => Err(StaffError::NotFound),
        }
    }
}

impl Aggregate for Staff {
    const TYPE: &'static str = "staff";
    type Command = StaffCommand;
    type Event = StaffEvent;
    type Error = StaffError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            StaffEvent::StaffAdded {
                name,
                roles,
                token_digest,
                expires_at,
            } => {
                self.name = Some(name);
                self.roles = roles;
                self.token_digest = token_digest;
                self.expires_at = expires_at;
            }
            StaffEvent::StaffTokenRotated {
                token_digest,
                expires_at,
            } => {
                self.token_digest = token_digest;
                self.expires_at = Some(expires_at);
            }
            StaffEvent::StaffRevoked { revoked_at } => self.revoked_at = Some(revoked_at),
        }
    }
}

/// Reads version 1 `StaffAdded` payloads (before tokens expired) as version 2, with no expiry.
pub fn staff_added_v1_upcaster() -> Box<dyn cqrs_es::persist::EventUpcaster> {
    Box::new(cqrs_es::persist::SemanticVersionEventUpcaster::new(
        "StaffAdded",
        "2",
        Box::new(|mut payload: serde_json::Value| {
            if let Some(added) = payload
                .get_mut("StaffAdded")
                .and_then(|v| v.as_object_mut())
            {
                added.entry("expires_at").or_insert(serde_json::Value::Null);
            }
            payload
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type StaffTest = TestFramework<Staff>;

    fn t0() -> DateTime<Utc> {
        "2022-05-20T02:00:00Z".parse().unwrap()
    }

    fn term(days: u32) -> TokenTerm {
        TokenTerm { now: t0(), days }
    }

    fn add(name: &str, roles: Vec<Role>) -> StaffCommand {
        StaffCommand::Add {
            name: name.into(),
            roles,
            token_digest: "t".into(),
            term: term(90),
        }
    }

    fn added() -> StaffEvent {
        StaffEvent::StaffAdded {
            name: "x".into(),
            roles: vec![Role::Admin],
            token_digest: "t".into(),
            expires_at: Some(t0() + Duration::days(90)),
        }
    }

    fn revoked() -> StaffEvent {
        StaffEvent::StaffRevoked { revoked_at: t0() }
    }

    #[test]
    fn a_staff_member_is_added_with_sorted_distinct_roles_and_a_token_expiring_in_the_term() {
        StaffTest::with(())
            .given_no_previous_events()
            .when(add(
                " 李老师 ",
                vec![Role::Reviewer, Role::Admin, Role::Reviewer],
            ))
            .then_expect_events(vec![StaffEvent::StaffAdded {
                name: "李老师".into(),
                roles: vec![Role::Admin, Role::Reviewer],
                token_digest: "t".into(),
                expires_at: Some("2022-08-18T02:00:00Z".parse().unwrap()),
            }]);
    }

    #[test]
    fn staff_cannot_be_owners_or_have_no_role() {
        StaffTest::with(())
            .given_no_previous_events()
            .when(add("x", vec![Role::Owner]))
            .then_expect_error(StaffError::Roles);
        StaffTest::with(())
            .given_no_previous_events()
            .when(add("x", vec![]))
            .then_expect_error(StaffError::Roles);
    }

    #[test]
    fn a_staff_member_needs_a_name_and_is_added_once() {
        StaffTest::with(())
            .given_no_previous_events()
            .when(add(" ", vec![Role::Admin]))
            .then_expect_error(StaffError::NameRequired);
        StaffTest::with(())
            .given(vec![added()])
            .when(add("y", vec![Role::Admin]))
            .then_expect_error(StaffError::AlreadyExists);
    }

    #[test]
    fn a_token_is_valid_for_one_to_3650_days() {
        for days in [0, MAX_TOKEN_DAYS + 1] {
            StaffTest::with(())
                .given_no_previous_events()
                .when(StaffCommand::Add {
                    name: "x".into(),
                    roles: vec![Role::Admin],
                    token_digest: "t".into(),
                    term: term(days),
                })
                .then_expect_error(StaffError::TokenDays);
            StaffTest::with(())
                .given(vec![added()])
                .when(StaffCommand::Rotate {
                    token_digest: "u".into(),
                    term: term(days),
                })
                .then_expect_error(StaffError::TokenDays);
        }
    }

    #[test]
    fn rotating_gives_a_new_digest_and_a_new_expiry() {
        StaffTest::with(())
            .given(vec![added()])
            .when(StaffCommand::Rotate {
                token_digest: "u".into(),
                term: TokenTerm {
                    now: t0() + Duration::days(100),
                    days: 30,
                },
            })
            .then_expect_events(vec![StaffEvent::StaffTokenRotated {
                token_digest: "u".into(),
                expires_at: t0() + Duration::days(130),
            }]);
    }

    #[test]
    fn an_unknown_member_cannot_be_rotated_or_revoked() {
        StaffTest::with(())
            .given_no_previous_events()
            .when(StaffCommand::Rotate {
                token_digest: "u".into(),
                term: term(30),
            })
            .then_expect_error(StaffError::NotFound);
        StaffTest::with(())
            .given_no_previous_events()
            .when(StaffCommand::Revoke {
                now: t0(),
                by_self: false,
            })
            .then_expect_error(StaffError::NotFound);
    }

    #[test]
    fn a_member_is_revoked_once_and_then_cannot_be_rotated() {
        StaffTest::with(())
            .given(vec![added()])
            .when(StaffCommand::Revoke {
                now: t0(),
                by_self: false,
            })
            .then_expect_events(vec![revoked()]);
        StaffTest::with(())
            .given(vec![added(), revoked()])
            .when(StaffCommand::Revoke {
                now: t0(),
                by_self: false,
            })
            .then_expect_error(StaffError::AlreadyRevoked);
        StaffTest::with(())
            .given(vec![added(), revoked()])
            .when(StaffCommand::Rotate {
                token_digest: "u".into(),
                term: term(30),
            })
            .then_expect_error(StaffError::Revoked);
    }

    #[test]
    fn a_member_cannot_revoke_themself() {
        StaffTest::with(())
            .given(vec![added()])
            .when(StaffCommand::Revoke {
                now: t0(),
                by_self: true,
            })
            .then_expect_error(StaffError::RevokingSelf);
    }

    #[test]
    fn a_version_1_staff_added_is_read_with_no_expiry() {
        let v1 = serde_json::json!({"StaffAdded": {"name": "x", "roles": ["admin"], "token_digest": "t"}});
        let stored = crate::upcasting::Stored {
            aggregate_id: "s",
            sequence: 1,
            event_type: "StaffAdded",
            event_version: "1",
            payload: &v1,
        };
        let event = crate::upcasting::Upcasters::standard()
            .decode::<Staff>(&stored)
            .unwrap();
        assert_eq!(
            event,
            StaffEvent::StaffAdded {
                name: "x".into(),
                roles: vec![Role::Admin],
                token_digest: "t".into(),
                expires_at: None,
            }
        );
    }
}
