//! Which card a vehicle is bound to at a lot: one at a time (此车办理其它长租业务需先将车辆与此卡解绑).
//!
//! One aggregate per (lot, plate); its id is `{lot_id}/{plate}`. Claiming it is how issuing a
//! card or moving a card to another vehicle makes sure no other card holds that vehicle.

use crate::error_code::{ErrorCode, ErrorKind};
use crate::values::Plate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The aggregate id of a vehicle's binding at a lot.
pub fn binding_id(lot_id: Uuid, plate: &Plate) -> String {
    format!("{lot_id}/{}", plate.as_str())
}

/// Commands to a vehicle binding.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingCommand {
    /// Bind the vehicle to a card.
    Claim {
        /// The lot.
        lot_id: Uuid,
        /// The vehicle.
        plate: Plate,
        /// The card that takes it.
        permit_id: Uuid,
    },
    /// Unbind the vehicle from the card that holds it.
    Release {
        /// The card that lets it go.
        permit_id: Uuid,
    },
}

/// Events of a vehicle binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BindingEvent {
    /// The vehicle is now bound to a card.
    PlateClaimed {
        /// The lot.
        lot_id: Uuid,
        /// The vehicle.
        plate: Plate,
        /// The card.
        permit_id: Uuid,
    },
    /// The vehicle is free again.
    PlateReleased {
        /// The card that let it go.
        permit_id: Uuid,
    },
}

impl DomainEvent for BindingEvent {
    fn event_type(&self) -> String {
        match self {
            BindingEvent::PlateClaimed { .. } => "PlateClaimed",
            BindingEvent::PlateReleased { .. } => "PlateReleased",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a binding command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// Another card holds the vehicle; unbind it there first.
    #[error("this vehicle is bound to another card at this lot; unbind it first")]
    BoundElsewhere {
        /// The card holding it.
        permit_id: Uuid,
    },
    /// The card does not hold the vehicle.
    #[error("this vehicle is not bound to that card")]
    NotBound,
}

impl ErrorCode for BindingError {
    fn code(&self) -> &'static str {
        match self {
            BindingError::BoundElsewhere { .. } => "vehicle_bound",
            BindingError::NotBound => "vehicle_not_bound",
        }
    }
    fn kind(&self) -> ErrorKind {
        ErrorKind::Rule
    }
}

/// A vehicle's binding at one lot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VehicleBinding {
    /// The card holding the vehicle, if any.
    pub bound_to: Option<Uuid>,
}

impl VehicleBinding {
    /// The rules. Claiming for the card that already holds the vehicle changes nothing, so a
    /// retried issuance is safe.
    pub fn decide(&self, command: BindingCommand) -> Result<Vec<BindingEvent>, BindingError> {
        match command {
            BindingCommand::Claim {
                lot_id,
                plate,
                permit_id,
            } => match self.bound_to {
                Some(holder) if holder == permit_id => Ok(vec![]),
                Some(holder) => Err(BindingError::BoundElsewhere { permit_id: holder }),
                None => Ok(vec![BindingEvent::PlateClaimed {
                    lot_id,
                    plate,
                    permit_id,
                }]),
            },
            BindingCommand::Release { permit_id } => match self.bound_to {
                Some(holder) if holder == permit_id => {
                    Ok(vec![BindingEvent::PlateReleased { permit_id }])
                }
                _ => Err(BindingError::NotBound),
            },
        }
    }
}

impl Aggregate for VehicleBinding {
    const TYPE: &'static str = "vehicle_binding";
    type Command = BindingCommand;
    type Event = BindingEvent;
    type Error = BindingError;
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
            BindingEvent::PlateClaimed { permit_id, .. } => self.bound_to = Some(permit_id),
            BindingEvent::PlateReleased { .. } => self.bound_to = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type BindingTest = TestFramework<VehicleBinding>;

    fn plate() -> Plate {
        Plate::parse("京A66666").unwrap()
    }

    fn claimed(permit: u128) -> BindingEvent {
        BindingEvent::PlateClaimed {
            lot_id: Uuid::from_u128(1),
            plate: plate(),
            permit_id: Uuid::from_u128(permit),
        }
    }

    fn claim(permit: u128) -> BindingCommand {
        BindingCommand::Claim {
            lot_id: Uuid::from_u128(1),
            plate: plate(),
            permit_id: Uuid::from_u128(permit),
        }
    }

    #[test]
    fn a_free_vehicle_can_be_bound_to_a_card() {
        BindingTest::with(())
            .given_no_previous_events()
            .when(claim(10))
            .then_expect_events(vec![claimed(10)]);
    }

    #[test]
    fn a_bound_vehicle_cannot_take_another_card_at_the_same_lot() {
        BindingTest::with(())
            .given(vec![claimed(10)])
            .when(claim(11))
            .then_expect_error(BindingError::BoundElsewhere {
                permit_id: Uuid::from_u128(10),
            });
    }

    #[test]
    fn claiming_again_for_the_same_card_changes_nothing() {
        BindingTest::with(())
            .given(vec![claimed(10)])
            .when(claim(10))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_unbound_vehicle_can_take_another_card() {
        BindingTest::with(())
            .given(vec![
                claimed(10),
                BindingEvent::PlateReleased {
                    permit_id: Uuid::from_u128(10),
                },
            ])
            .when(claim(11))
            .then_expect_events(vec![claimed(11)]);
    }

    #[test]
    fn only_the_holding_card_can_unbind_the_vehicle() {
        BindingTest::with(())
            .given(vec![claimed(10)])
            .when(BindingCommand::Release {
                permit_id: Uuid::from_u128(11),
            })
            .then_expect_error(BindingError::NotBound);
    }
}
