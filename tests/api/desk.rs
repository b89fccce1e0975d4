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
    let (lot_id, _) = manual_card(&ledger, &t.store.db).await;
    let second = card_at(lot_id, plate());
    let refused = issue_permit(&ledger, &t.store.db, second.clone(), &admin_meta()).await;
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
    issue_permit(
        &ledger,
        &t.store.db,
        card_at(other_lot, plate()),
        &admin_meta(),
    )
    .await
    .expect("another lot is free");
}

async fn a_card_cannot_be_issued_at_a_lot_that_does_not_exist(t: TestStore) {
    let ledger = t.ledger.clone();
    let refused = issue_permit(
        &ledger,
        &t.store.db,
        card_at(Uuid::new_v4(), plate()),
        &admin_meta(),
    )
    .await;
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
    let refused = issue_permit(&ledger, &t.store.db, blank, &admin_meta()).await;
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
    issue_permit(
        &ledger,
        &t.store.db,
        card_at(lot_id, plate()),
        &admin_meta(),
    )
    .await
    .expect("the vehicle is still free");
}

async fn moving_a_card_to_another_vehicle_frees_the_old_one(t: TestStore) {
    let ledger = t.ledger.clone();
    let (lot_id, permit_id) = manual_card(&ledger, &t.store.db).await;
    let new_plate = Plate::parse("京AD12345").unwrap();
    change_vehicle(
        &ledger,
        &t.store.db,
        permit_id,
        new_plate.clone(),
        &admin_meta(),
    )
    .await
    .unwrap();
    assert_eq!(
        events_of(&ledger, permit_id).await,
        ["PermitIssued", "VehicleUnbound", "VehicleBound"]
    );
    // The old vehicle can take a new card; the new one cannot.
    issue_permit(
        &ledger,
        &t.store.db,
        card_at(lot_id, plate()),
        &admin_meta(),
    )
    .await
    .expect("old plate is free");
    let refused = issue_permit(
        &ledger,
        &t.store.db,
        card_at(lot_id, new_plate),
        &admin_meta(),
    )
    .await;
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
    let (_, permit_id) = manual_card(&ledger, &t.store.db).await;
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

/// What a crash right after the vehicle was bound leaves: the binding and the journal entry.
async fn interrupted_after_binding(t: &TestStore, new: &NewPermit) {
    use aggregates::vehicle_binding::BindingCommand;
    use permit_ledger::app::desk_journal::DeskAction;
    t.ledger
        .execute::<VehicleBinding>(
            &binding_id(new.lot_id, &new.plate),
            BindingCommand::Claim {
                lot_id: new.lot_id,
                plate: new.plate.clone(),
                permit_id: new.permit_id,
            },
            &admin_meta(),
        )
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO desk_journal (key, action, metadata, started_at)
         VALUES ($1, $2, $3, '2000-01-01T00:00:00.000Z')",
    )
    .bind(format!("issue:{}", new.permit_id))
    .bind(serde_json::to_string(&DeskAction::issue(new)).unwrap())
    .bind(serde_json::to_string(&admin_meta().to_map()).unwrap())
    .execute(&t.store.db.write)
    .await
    .unwrap();
}

async fn journal_len(t: &TestStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM desk_journal")
        .fetch_one(&t.store.db.read)
        .await
        .unwrap()
}

async fn a_card_issue_interrupted_after_binding_the_vehicle_is_finished_by_recovery(t: TestStore) {
    let ledger = t.ledger.clone();
    let lot_id = lot(&ledger).await;
    let new = card_at(lot_id, plate());
    interrupted_after_binding(&t, &new).await;
    // Before recovery: the plate is held by a card that does not exist.
    assert!(events_of(&ledger, new.permit_id).await.is_empty());
    let settled = permit_ledger::app::desk_journal::recover(
        &ledger,
        &t.store.db,
        chrono::Duration::seconds(30),
    )
    .await
    .unwrap();
    assert_eq!(settled, 1);
    assert_eq!(events_of(&ledger, new.permit_id).await, ["PermitIssued"]);
    let binding = ledger
        .load::<VehicleBinding>(&binding_id(lot_id, &plate()))
        .await
        .unwrap();
    assert_eq!(binding.aggregate.bound_to, Some(new.permit_id));
    assert_eq!(journal_len(&t).await, 0, "struck off");
    // A second recovery finds nothing to do.
    let again =
        permit_ledger::app::desk_journal::recover(&ledger, &t.store.db, chrono::Duration::zero())
            .await
            .unwrap();
    assert_eq!(again, 0);
}

async fn a_retried_issue_of_the_same_card_completes_the_interrupted_one(t: TestStore) {
    let ledger = t.ledger.clone();
    let lot_id = lot(&ledger).await;
    let new = card_at(lot_id, plate());
    interrupted_after_binding(&t, &new).await;
    // The desk retries the same card (same id): the binding is already its own.
    issue_permit(&ledger, &t.store.db, new.clone(), &admin_meta())
        .await
        .expect("the retry completes the card");
    assert_eq!(events_of(&ledger, new.permit_id).await, ["PermitIssued"]);
    assert_eq!(journal_len(&t).await, 0);
}

async fn a_refused_issue_leaves_nothing_in_the_journal(t: TestStore) {
    let ledger = t.ledger.clone();
    let (lot_id, _) = manual_card(&ledger, &t.store.db).await;
    let refused = issue_permit(
        &ledger,
        &t.store.db,
        card_at(lot_id, plate()),
        &admin_meta(),
    )
    .await;
    assert!(matches!(
        refused,
        Err(AppError::Refused {
            code: "vehicle_bound",
            ..
        })
    ));
    assert_eq!(journal_len(&t).await, 0);
}

crate::on_both_stores!(
    a_card_issue_interrupted_after_binding_the_vehicle_is_finished_by_recovery,
    a_retried_issue_of_the_same_card_completes_the_interrupted_one,
    a_refused_issue_leaves_nothing_in_the_journal,
);

/// The desk's POSTs honour `Idempotency-Key`: a retried issue (the answer was lost) names the
/// same card and issues it once; the same key for another card is refused.
async fn a_retried_desk_issue_with_its_key_issues_one_card(backend: permit_ledger::store::Backend) {
    use reqwest::StatusCode;
    use serde_json::json;
    let app = crate::app::spawn_app(backend).await;
    let admin = app.admin().await;
    let lot = app.lot(&admin).await;
    let body = json!({"lot_id": lot, "plate": "京A66666", "holder_name": "王老师",
                      "phone": "13912345678", "valid_from": "2021-06-01", "valid_to": "2022-05-31"});
    let send = |body: serde_json::Value| {
        app.http
            .post(app.url("/api/v1/admin/permits"))
            .bearer_auth(&admin)
            .header("idempotency-key", "desk-issue-1")
            .json(&body)
            .send()
    };
    let (first, second) = futures::future::join(send(body.clone()), send(body.clone())).await;
    let (s1, b1) = crate::app::json_of(first.unwrap()).await;
    let (s2, b2) = crate::app::json_of(second.unwrap()).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::CREATED, StatusCode::CREATED),
        "{b1} {b2}"
    );
    assert_eq!(b1, b2, "one answer");
    let third = send(body.clone()).await.unwrap();
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    let (_, b3) = crate::app::json_of(third).await;
    assert_eq!(b3, b1);
    let cards: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'permit' AND event_type = 'PermitIssued'",
    )
    .fetch_one(&app.t.store.db.read)
    .await
    .unwrap();
    assert_eq!(cards, 1, "one card issued");
    let mut other = body;
    other["plate"] = json!("京B12345");
    let (status, refused) = crate::app::json_of(send(other).await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
}

crate::on_both_backends!(a_retried_desk_issue_with_its_key_issues_one_card);
