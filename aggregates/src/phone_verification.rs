//! SMS code verification for one phone number, with its limits (注意事项 4).
//!
//! One aggregate per phone (its id is a keyed hash of the number, never the number): the limits
//! are the phone's, across lots, since it is the phone that receives the SMS. Codes never appear
//! here in clear: commands carry a keyed digest computed by the service.

use crate::business_time::{business_date, next_business_midnight, seconds_until};
use crate::error_code::{ErrorCode, ErrorKind};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The code limits in force (configurable; defaults from the office's manual).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePolicy {
    /// How long a code stays valid, in seconds (default 300).
    pub ttl_s: i64,
    /// Seconds before another code may be requested (default 60).
    pub resend_after_s: i64,
    /// Requests allowed per phone per business day before it is locked (default 10).
    pub daily_limit: u32,
    /// Wrong guesses that void a code (default 5).
    pub max_attempts: u32,
}

impl Default for CodePolicy {
    fn default() -> Self {
        Self {
            ttl_s: 300,
            resend_after_s: 60,
            daily_limit: 10,
            max_attempts: 5,
        }
    }
}

/// Commands to a phone's verification.
#[derive(Debug, Clone, PartialEq)]
pub enum VerificationCommand {
    /// Send a new code (its digest is recorded; the code itself goes only into the SMS).
    RequestCode {
        /// The lot whose page asked.
        lot_id: Uuid,
        /// Keyed digest of the new code.
        code_digest: String,
        /// The business clock's now.
        now: DateTime<Utc>,
        /// Limits in force.
        policy: CodePolicy,
    },
    /// Check a code typed by the owner.
    VerifyCode {
        /// The lot whose page asks.
        lot_id: Uuid,
        /// Keyed digest of the typed code.
        guess_digest: String,
        /// The business clock's now.
        now: DateTime<Utc>,
    },
}

/// Events of a phone's verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VerificationEvent {
    /// A code was sent (manual step 1).
    CodeRequested {
        /// The lot whose page asked.
        lot_id: Uuid,
        /// Keyed digest of the code.
        code_digest: String,
        /// When it was requested.
        requested_at: DateTime<Utc>,
        /// When it stops being accepted.
        expires_at: DateTime<Utc>,
        /// Wrong guesses it survives.
        max_attempts: u32,
        /// The Asia/Shanghai business date of the request.
        business_date: NaiveDate,
        /// How many codes this phone has requested that business date, this one included.
        daily_count: u32,
    },
    /// The owner typed the right code; it is used up.
    CodeVerified {
        /// The lot the session is for.
        lot_id: Uuid,
        /// When.
        verified_at: DateTime<Utc>,
    },
    /// A wrong code was typed.
    CodeGuessFailed {
        /// Wrong guesses on the current code so far.
        attempts: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Too many wrong guesses voided the current code.
    CodeBurned {
        /// When.
        at: DateTime<Utc>,
    },
    /// The daily limit was reached: no more codes until `until`.
    PhoneLocked {
        /// The next midnight in Asia/Shanghai.
        until: DateTime<Utc>,
    },
}

impl DomainEvent for VerificationEvent {
    fn event_type(&self) -> String {
        match self {
            VerificationEvent::CodeRequested { .. } => "CodeRequested",
            VerificationEvent::CodeVerified { .. } => "CodeVerified",
            VerificationEvent::CodeGuessFailed { .. } => "CodeGuessFailed",
            VerificationEvent::CodeBurned { .. } => "CodeBurned",
            VerificationEvent::PhoneLocked { .. } => "PhoneLocked",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a code request or check was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerificationError {
    /// A code was sent less than the resend window ago.
    #[error("a code was sent recently; retry in {retry_after_s} s")]
    ResendTooSoon {
        /// Seconds to wait.
        retry_after_s: i64,
    },
    /// The daily limit was reached.
    #[error("too many codes today; retry in {retry_after_s} s")]
    PhoneLocked {
        /// Seconds until midnight Asia/Shanghai.
        retry_after_s: i64,
    },
    /// There is no code that could match: none sent, used, burned, expired or for another lot.
    #[error("the code is invalid or expired")]
    CodeInvalid,
}

impl ErrorCode for VerificationError {
    fn code(&self) -> &'static str {
        match self {
            VerificationError::ResendTooSoon { .. } => "resend_too_soon",
            VerificationError::PhoneLocked { .. } => "phone_locked",
            VerificationError::CodeInvalid => "code_invalid",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            VerificationError::ResendTooSoon { retry_after_s }
            | VerificationError::PhoneLocked { retry_after_s } => ErrorKind::RateLimited {
                retry_after_s: *retry_after_s,
            },
            VerificationError::CodeInvalid => ErrorKind::Unauthorized,
        }
    }
}

/// The code currently outstanding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutstandingCode {
    lot_id: Uuid,
    digest: String,
    expires_at: DateTime<Utc>,
    attempts: u32,
    max_attempts: u32,
}

/// One phone's verification state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhoneVerification {
    code: Option<OutstandingCode>,
    last_requested_at: Option<DateTime<Utc>>,
    day: Option<NaiveDate>,
    count_today: u32,
    locked_until: Option<DateTime<Utc>>,
}

/// Compares two digests in time independent of where they differ.
fn digests_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a verification's events say the code was accepted.
pub fn was_verified(events: &[VerificationEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, VerificationEvent::CodeVerified { .. }))
}

impl PhoneVerification {
    /// The rules: returns the events a command produces, or why it is refused.
    ///
    /// A wrong guess is not an error here: it must be recorded (`CodeGuessFailed`, and
    /// `CodeBurned` at the limit), so it returns those events; [`was_verified`] tells the caller
    /// whether the code was accepted.
    pub fn decide(
        &self,
        command: VerificationCommand,
    ) -> Result<Vec<VerificationEvent>, VerificationError> {
        match command {
            VerificationCommand::RequestCode {
                lot_id,
                code_digest,
                now,
                policy,
            } => self.request(lot_id, code_digest, now, policy),
            VerificationCommand::VerifyCode {
                lot_id,
                guess_digest,
                now,
            } => self.verify(lot_id, &guess_digest, now),
        }
    }

    fn request(
        &self,
        lot_id: Uuid,
        code_digest: String,
        now: DateTime<Utc>,
        policy: CodePolicy,
    ) -> Result<Vec<VerificationEvent>, VerificationError> {
        if let Some(until) = self.locked_until.filter(|until| *until > now) {
            return Err(VerificationError::PhoneLocked {
                retry_after_s: seconds_until(now, until),
            });
        }
        if let Some(last) = self.last_requested_at {
            let next_allowed = last + Duration::seconds(policy.resend_after_s);
            if next_allowed > now {
                return Err(VerificationError::ResendTooSoon {
                    retry_after_s: seconds_until(now, next_allowed),
                });
            }
        }
        let today = business_date(now);
        let daily_count = if self.day == Some(today) {
            self.count_today + 1
        } else {
            1
        };
        let mut events = vec![VerificationEvent::CodeRequested {
            lot_id,
            code_digest,
            requested_at: now,
            expires_at: now + Duration::seconds(policy.ttl_s),
            max_attempts: policy.max_attempts,
            business_date: today,
            daily_count,
        }];
        if daily_count >= policy.daily_limit {
            events.push(VerificationEvent::PhoneLocked {
                until: next_business_midnight(now),
            });
        }
        Ok(events)
    }

    fn verify(
        &self,
        lot_id: Uuid,
        guess_digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<VerificationEvent>, VerificationError> {
        let code = self
            .code
            .as_ref()
            .filter(|c| c.lot_id == lot_id && now < c.expires_at)
            .ok_or(VerificationError::CodeInvalid)?;
        if digests_equal(&code.digest, guess_digest) {
            return Ok(vec![VerificationEvent::CodeVerified {
                lot_id,
                verified_at: now,
            }]);
        }
        let attempts = code.attempts + 1;
        let mut events = vec![VerificationEvent::CodeGuessFailed { attempts, at: now }];
        if attempts >= code.max_attempts {
            events.push(VerificationEvent::CodeBurned { at: now });
        }
        Ok(events)
    }
}

impl Aggregate for PhoneVerification {
    const TYPE: &'static str = "phone_verification";
    type Command = VerificationCommand;
    type Event = VerificationEvent;
    type Error = VerificationError;
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
            VerificationEvent::CodeRequested {
                lot_id,
                code_digest,
                requested_at,
                expires_at,
                max_attempts,
                business_date,
                daily_count,
            } => {
                self.code = Some(OutstandingCode {
                    lot_id,
                    digest: code_digest,
                    expires_at,
                    attempts: 0,
                    max_attempts,
                });
                self.last_requested_at = Some(requested_at);
                self.day = Some(business_date);
                self.count_today = daily_count;
            }
            VerificationEvent::CodeVerified { .. } | VerificationEvent::CodeBurned { .. } => {
                self.code = None;
            }
            VerificationEvent::CodeGuessFailed { attempts, .. } => {
                if let Some(code) = self.code.as_mut() {
                    code.attempts = attempts;
                }
            }
            VerificationEvent::PhoneLocked { until } => self.locked_until = Some(until),
        }
    }
}

#[cfg(test)]
mod tests;
