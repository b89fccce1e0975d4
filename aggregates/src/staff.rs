//! Staff members of the security and parking offices, and their roles.

use crate::error_code::{ErrorCode, ErrorKind};
use crate::metadata::Role;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

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
    },
}

impl DomainEvent for StaffEvent {
    fn event_type(&self) -> String {
        match self {
            StaffEvent::StaffAdded { .. } => "StaffAdded".to_string(),
        }
    }
    fn event_version(&self) -> String {
        "1".to_string()
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
    #[error("roles must be one or more of admin, reviewer, auditor")]
    Roles,
}

impl ErrorCode for StaffError {
    fn code(&self) -> &'static str {
        match self {
            StaffError::AlreadyExists => "already_exists",
            StaffError::NameRequired | StaffError::Roles => "invalid_input",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            StaffError::AlreadyExists => ErrorKind::Rule,
            _ => ErrorKind::Invalid,
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
}

impl Staff {
    /// The rules.
    pub fn decide(&self, command: StaffCommand) -> Result<Vec<StaffEvent>, StaffError> {
        match command {
            StaffCommand::Add {
                name,
                mut roles,
                token_digest,
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
                let staff_roles = [Role::Admin, Role::Reviewer, Role::Auditor];
                if roles.is_empty() || roles.iter().any(|r| !staff_roles.contains(r)) {
                    return Err(StaffError::Roles);
                }
                Ok(vec![StaffEvent::StaffAdded {
                    name,
                    roles,
                    token_digest,
                }])
            }
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
            StaffEvent::StaffAdded { name, roles, .. } => {
                self.name = Some(name);
                self.roles = roles;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type StaffTest = TestFramework<Staff>;

    fn add(name: &str, roles: Vec<Role>) -> StaffCommand {
        StaffCommand::Add {
            name: name.into(),
            roles,
            token_digest: "t".into(),
        }
    }

    #[test]
    fn a_staff_member_is_added_with_sorted_distinct_roles() {
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
            .given(vec![StaffEvent::StaffAdded {
                name: "x".into(),
                roles: vec![Role::Admin],
                token_digest: "t".into(),
            }])
            .when(add("y", vec![Role::Admin]))
            .then_expect_error(StaffError::AlreadyExists);
    }
}
