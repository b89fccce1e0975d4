//! A vehicle's long-term permit (长租卡) at one lot, and its renewals.
//!
//! Renewals live inside the permit: the rules that bind them (one open at a time, refund before
//! retry, no re-application after approval) are about a card's renewals together.

mod commands;
mod decide;
mod error;
mod events;
mod reminder;
mod state;
mod status;

pub use commands::{DeskMethod, PermitCommand, PhotoRef, RefundFailure, RenewalTerms};
pub use error::PermitError;
pub use events::{PermitEvent, StrayReason};
pub use reminder::{reminder_due, ReminderDue};
pub use state::{
    problem_id, problem_kind, renewal_of_problem, Card, CardStatus, Problem, ProblemStatus,
    Renewal, RenewalStatus, StrayPayment,
};
pub use status::renewal_status;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

/// A permit: nothing until the desk issues it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Permit {
    /// The card, once issued.
    pub card: Option<Card>,
}

impl Aggregate for Permit {
    const TYPE: &'static str = "permit";
    type Command = PermitCommand;
    type Event = PermitEvent;
    type Error = PermitError;
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
        state::apply(self, event);
    }
}

#[cfg(test)]
mod tests;
