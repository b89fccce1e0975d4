//! The desk: lots, issuing cards, one card per vehicle per lot, holder and vehicle changes.

use crate::fixtures::{d, holder_phone, lot, manual_card, plate};
use crate::helpers::{admin_meta, TestStore};
use aggregates::permit::Permit;
use aggregates::values::{Period, Phone, Plate};
use aggregates::vehicle_binding::{binding_id, VehicleBinding};
use permit_ledger::app::desk::{change_holder, change_vehicle, issue_permit, NewPermit};
use permit_ledger::error::AppError;
use permit_ledger::ledger::Ledger;
use uuid::Uuid;

fn card_at(lot_id: Uuid, plate: Plate) -> NewPermit {
    NewPermit {
        permit_id: Uuid::new_v4(),
        lot_id,
        plate,
        holder_name: "李老师".into(),
        phone: Phone::parse("13700000000").unwrap(),
        validity: Period::new(d("2021-06-01"), d("2022-05-31")).unwrap(),
    }
}

async fn events_of(ledger: &Ledger, permit_id: Uuid) -> Vec<String> {
    ledger
        .load::<Permit>(&permit_id.to_string())
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

async fn a_vehicle_bound_to_a_card_cannot_take_another_card_at_the_same_lot(t: TestStore) {
    let ledger = t.ledger.clone();
    let (lot_id, _) = manual_card(&ledger).await;
    let second = card_at(lot_id, plate());
    let refused = issue_permit(&ledger, second.clone(), &admin_meta()).await;
    match refused {
        Err(AppError::Refused { code, .. }) => assert_eq!(code, "vehicle_bound"),
        other => panic!("expected vehicle_bound, got {other:?}"),
    }
    assert!(
        events_of(&ledger, second.permit_id).await.is_empty(),
        "no card was issued"
    );
    // At another lot the same vehicle may have a card.
    let other_lot = lot(&ledger).await;
    issue_permit(&ledger, card_at(other_lot, plate()), &admin_meta())
        .await
        .expect("another lot is free");
}

async fn a_card_cannot_be_issued_at_a_lot_that_does_not_exist(t: TestStore) {
    let ledger = t.ledger.clone();
    let refused = issue_permit(&ledger, card_at(Uuid::new_v4(), plate()), &admin_meta()).await;
    assert!(matches!(
        refused,
        Err(AppError::Refused { code: "no_lot", .. })
    ));
}

async fn a_refused_issue_leaves_the_vehicle_unbound(t: TestStore) {
    let ledger = t.ledger.clone();
    let lot_id = lot(&ledger).await;
    let mut blank = card_at(lot_id, plate());
    blank.holder_name = "  ".into();
    let refused = issue_permit(&ledger, blank, &admin_meta()).await;
    assert!(matches!(
        refused,
        Err(AppError::Refused {
            code: "invalid_input",
            ..
        })
    ));
    let binding = ledger
        .load::<VehicleBinding>(&binding_id(lot_id, &plate()))
        .await
        .unwrap();
    assert_eq!(binding.aggregate.bound_to, None);
    issue_permit(&ledger, card_at(lot_id, plate()), &admin_meta())
        .await
        .expect("the vehicle is still free");
}

async fn moving_a_card_to_another_vehicle_frees_the_old_one(t: TestStore) {
    let ledger = t.ledger.clone();
    let (lot_id, permit_id) = manual_card(&ledger).await;
    let new_plate = Plate::parse("京AD12345").unwrap();
    change_vehicle(&ledger, permit_id, new_plate.clone(), &admin_meta())
        .await
        .unwrap();
    assert_eq!(
        events_of(&ledger, permit_id).await,
        ["PermitIssued", "VehicleUnbound", "VehicleBound"]
    );
    // The old vehicle can take a new card; the new one cannot.
    issue_permit(&ledger, card_at(lot_id, plate()), &admin_meta())
        .await
        .expect("old plate is free");
    let refused = issue_permit(&ledger, card_at(lot_id, new_plate), &admin_meta()).await;
    assert!(matches!(
        refused,
        Err(AppError::Refused {
            code: "vehicle_bound",
            ..
        })
    ));
}

async fn the_desk_changes_the_holder_and_the_card_follows(t: TestStore) {
    let ledger = t.ledger.clone();
    let (_, permit_id) = manual_card(&ledger).await;
    let new_phone = Phone::parse("13600000000").unwrap();
    change_holder(
        &ledger,
        permit_id,
        "张老师".into(),
        new_phone.clone(),
        &admin_meta(),
    )
    .await
    .unwrap();
    let card = ledger
        .load::<Permit>(&permit_id.to_string())
        .await
        .unwrap()
        .aggregate
        .card
        .unwrap();
    assert_eq!(card.holder_name, "张老师");
    assert_eq!(card.phone, new_phone);
    assert_ne!(card.phone, holder_phone());
}

crate::on_both_stores!(
    a_vehicle_bound_to_a_card_cannot_take_another_card_at_the_same_lot,
    a_card_cannot_be_issued_at_a_lot_that_does_not_exist,
    a_refused_issue_leaves_the_vehicle_unbound,
    moving_a_card_to_another_vehicle_frees_the_old_one,
    the_desk_changes_the_holder_and_the_card_follows,
);
