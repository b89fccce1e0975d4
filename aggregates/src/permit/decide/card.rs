//! The card itself: its holder, its vehicle and second vehicle, and the owner's list.

use super::{non_blank_name, owned_by, Decision};
use crate::permit::error::PermitError;
use crate::permit::events::PermitEvent;
use crate::permit::state::Card;
use crate::values::{Phone, Plate};

pub(super) fn change_holder(card: &Card, holder_name: String, phone: Phone) -> Decision {
    let holder_name = non_blank_name(&holder_name)?;
    if holder_name == card.holder_name && phone == card.phone {
        return Err(PermitError::NoChange);
    }
    Ok(vec![PermitEvent::HolderChanged { holder_name, phone }])
}

pub(super) fn change_vehicle(card: &Card, plate: Plate) -> Decision {
    if plate == card.plate {
        return Err(PermitError::NoChange);
    }
    if card.second_plate.as_ref() == Some(&plate) {
        return Err(PermitError::SameVehicle);
    }
    Ok(vec![
        PermitEvent::VehicleUnbound {
            plate: card.plate.clone(),
        },
        PermitEvent::VehicleBound { plate },
    ])
}

pub(super) fn add_second_vehicle(card: &Card, plate: Plate) -> Decision {
    if plate == card.plate {
        return Err(PermitError::SameVehicle);
    }
    if card.second_plate.is_some() {
        return Err(PermitError::SecondVehicleExists);
    }
    Ok(vec![PermitEvent::SecondVehicleAdded { plate }])
}

pub(super) fn remove_second_vehicle(card: &Card) -> Decision {
    let plate = card
        .second_plate
        .clone()
        .ok_or(PermitError::NoSecondVehicle)?;
    Ok(vec![PermitEvent::SecondVehicleRemoved { plate }])
}

/// The owner hides the card from their list (`hidden`) or adds it back.
pub(super) fn set_hidden(card: &Card, owner: &Phone, hidden: bool) -> Decision {
    owned_by(card, owner)?;
    if card.hidden == hidden {
        return Err(PermitError::NoChange);
    }
    Ok(vec![if hidden {
        PermitEvent::CardHidden {}
    } else {
        PermitEvent::CardShown {}
    }])
}

pub(super) fn choose_vehicle(card: &Card, plate: Plate, owner: &Phone) -> Decision {
    owned_by(card, owner)?;
    if plate != card.plate {
        return Err(PermitError::OtherVehicle);
    }
    Ok(vec![PermitEvent::VehicleChosen { plate }])
}
