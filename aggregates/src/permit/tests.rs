//! Given/when/then tests of the permit's rules, with the manual's own dates.

use super::reminder;
use super::*;
use crate::values::{Fen, Period, Phone, Plate, SeasonCalendar};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

type PermitTest = TestFramework<Permit>;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn period(from: &str, to: &str) -> Period {
    Period::new(d(from), d(to)).unwrap()
}

fn lot() -> Uuid {
    Uuid::from_u128(1)
}

fn plate() -> Plate {
    Plate::parse("京A66666").unwrap()
}

fn holder() -> Phone {
    Phone::parse("13912345678").unwrap()
}

fn stranger() -> Phone {
    Phone::parse("13800000000").unwrap()
}

fn reviewer() -> Uuid {
    Uuid::from_u128(9)
}

fn rid(n: u128) -> Uuid {
    Uuid::from_u128(100 + n)
}

fn terms() -> RenewalTerms {
    RenewalTerms {
        price: Fen(36000),
        calendar: SeasonCalendar::new(12, "06-01".parse().unwrap()).unwrap(),
        consent_version: "v1".into(),
    }
}

fn photo() -> PhotoRef {
    PhotoRef {
        sha256: "ab".repeat(32),
        size: 2048,
        content_type: "image/jpeg".into(),
    }
}

/// The manual's card: 2021.06.01–2022.05.31.
fn issued() -> PermitEvent {
    issued_valid(period("2021-06-01", "2022-05-31"))
}

fn issued_valid(validity: Period) -> PermitEvent {
    PermitEvent::PermitIssued {
        lot_id: lot(),
        plate: plate(),
        holder_name: "王老师".into(),
        phone: holder(),
        validity,
    }
}

/// The manual's renewal day.
const TODAY: &str = "2022-05-20";
const NOW: &str = "2022-05-20T02:00:00Z";

fn submit_on(n: u128, today: &str, now: &str) -> PermitCommand {
    PermitCommand::SubmitRenewal {
        renewal_id: rid(n),
        owner: holder(),
        now: at(now),
        today: d(today),
        terms: terms(),
        accepted_consent_version: Some("v1".into()),
        photo: Some(photo()),
        order_id: format!("order-{n}"),
        pay_by: at(now) + Duration::hours(2),
    }
}

fn submit(n: u128) -> PermitCommand {
    submit_on(n, TODAY, NOW)
}

fn submitted_for(n: u128, p: Period, now: &str) -> PermitEvent {
    PermitEvent::RenewalSubmitted {
        renewal_id: rid(n),
        period: p,
        amount: Fen(36000),
        consent_version: "v1".into(),
        photo: photo(),
        order_id: format!("order-{n}"),
        submitted_at: at(now),
        pay_by: at(now) + Duration::hours(2),
    }
}

fn submitted(n: u128) -> PermitEvent {
    submitted_for(n, period("2022-06-01", "2023-05-31"), NOW)
}

fn paid(n: u128) -> PermitEvent {
    PermitEvent::Paid {
        renewal_id: rid(n),
        transaction_id: format!("tx-{n}"),
        amount: Fen(36000),
        paid_at: at("2022-05-20T02:05:00Z"),
    }
}

fn pay(n: u128, amount: i64) -> PermitCommand {
    PermitCommand::RecordPayment {
        renewal_id: rid(n),
        transaction_id: format!("tx-{n}"),
        amount: Fen(amount),
        paid_at: at("2022-05-20T02:05:00Z"),
    }
}

fn approved(n: u128, p: Period) -> PermitEvent {
    PermitEvent::Approved {
        renewal_id: rid(n),
        period: p,
        reviewer_id: reviewer(),
        decided_at: at("2022-05-21T01:00:00Z"),
    }
}

fn rejected(n: u128) -> PermitEvent {
    PermitEvent::Rejected {
        renewal_id: rid(n),
        reason: "照片不清晰".into(),
        reviewer_id: reviewer(),
        decided_at: at("2022-05-21T01:00:00Z"),
    }
}

fn refund_requested(n: u128) -> PermitEvent {
    PermitEvent::RefundRequested {
        renewal_id: rid(n),
        out_refund_no: format!("refund-{n}"),
        amount: Fen(36000),
        requested_at: at("2022-05-21T02:00:00Z"),
    }
}

fn request_refund(n: u128, refund_no: &str) -> PermitCommand {
    PermitCommand::RequestRefund {
        renewal_id: rid(n),
        owner: holder(),
        out_refund_no: refund_no.into(),
        now: at("2022-05-21T02:00:00Z"),
    }
}

fn refunded(n: u128) -> PermitEvent {
    PermitEvent::Refunded {
        renewal_id: rid(n),
        out_refund_no: format!("refund-{n}"),
        refund_id: format!("wx-refund-{n}"),
        refunded_at: at("2022-05-21T02:00:05Z"),
    }
}

fn the_manuals_period() -> Period {
    period("2022-06-01", "2023-05-31")
}

// ---- issuing and the desk ----

#[test]
fn the_desk_issues_a_card_with_its_validity() {
    PermitTest::with(())
        .given_no_previous_events()
        .when(PermitCommand::Issue {
            lot_id: lot(),
            plate: plate(),
            holder_name: " 王老师 ".into(),
            phone: holder(),
            validity: period("2021-06-01", "2022-05-31"),
        })
        .then_expect_events(vec![issued()]);
}

#[test]
fn a_card_cannot_be_issued_twice() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::Issue {
            lot_id: lot(),
            plate: plate(),
            holder_name: "王老师".into(),
            phone: holder(),
            validity: period("2021-06-01", "2022-05-31"),
        })
        .then_expect_error(PermitError::AlreadyIssued);
}

#[test]
fn a_card_needs_a_holder_name() {
    PermitTest::with(())
        .given_no_previous_events()
        .when(PermitCommand::Issue {
            lot_id: lot(),
            plate: plate(),
            holder_name: "   ".into(),
            phone: holder(),
            validity: period("2021-06-01", "2022-05-31"),
        })
        .then_expect_error(PermitError::HolderNameRequired);
}

#[test]
fn nothing_can_be_done_to_a_card_not_issued() {
    PermitTest::with(())
        .given_no_previous_events()
        .when(submit(1))
        .then_expect_error(PermitError::NotIssued);
}

#[test]
fn the_desk_changes_the_holder() {
    let new_phone = Phone::parse("13700000000").unwrap();
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ChangeHolder {
            holder_name: "李老师".into(),
            phone: new_phone.clone(),
        })
        .then_expect_events(vec![PermitEvent::HolderChanged {
            holder_name: "李老师".into(),
            phone: new_phone,
        }]);
}

#[test]
fn changing_the_vehicle_unbinds_the_old_plate() {
    let new_plate = Plate::parse("京AD12345").unwrap();
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ChangeVehicle {
            plate: new_plate.clone(),
        })
        .then_expect_events(vec![
            PermitEvent::VehicleUnbound { plate: plate() },
            PermitEvent::VehicleBound { plate: new_plate },
        ]);
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ChangeVehicle { plate: plate() })
        .then_expect_error(PermitError::NoChange);
}

// ---- the second vehicle ----

fn second() -> Plate {
    Plate::parse("京B12340").unwrap()
}

#[test]
fn the_desk_registers_and_removes_a_second_vehicle() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::AddSecondVehicle { plate: second() })
        .then_expect_events(vec![PermitEvent::SecondVehicleAdded { plate: second() }]);
    PermitTest::with(())
        .given(vec![
            issued(),
            PermitEvent::SecondVehicleAdded { plate: second() },
        ])
        .when(PermitCommand::RemoveSecondVehicle)
        .then_expect_events(vec![PermitEvent::SecondVehicleRemoved { plate: second() }]);
}

#[test]
fn a_second_vehicle_differs_from_the_first_and_there_is_one_at_a_time() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::AddSecondVehicle { plate: plate() })
        .then_expect_error(PermitError::SameVehicle);
    PermitTest::with(())
        .given(vec![
            issued(),
            PermitEvent::SecondVehicleAdded { plate: second() },
        ])
        .when(PermitCommand::AddSecondVehicle {
            plate: Plate::parse("京C99999").unwrap(),
        })
        .then_expect_error(PermitError::SecondVehicleExists);
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::RemoveSecondVehicle)
        .then_expect_error(PermitError::NoSecondVehicle);
    PermitTest::with(())
        .given_no_previous_events()
        .when(PermitCommand::AddSecondVehicle { plate: second() })
        .then_expect_error(PermitError::NotIssued);
}

#[test]
fn the_card_cannot_move_onto_its_own_second_vehicle() {
    PermitTest::with(())
        .given(vec![
            issued(),
            PermitEvent::SecondVehicleAdded { plate: second() },
        ])
        .when(PermitCommand::ChangeVehicle { plate: second() })
        .then_expect_error(PermitError::SameVehicle);
}

#[test]
fn a_removed_second_vehicle_leaves_room_for_another() {
    let mut permit = Permit::default();
    for e in [
        issued(),
        PermitEvent::SecondVehicleAdded { plate: second() },
        PermitEvent::SecondVehicleRemoved { plate: second() },
    ] {
        cqrs_es::Aggregate::apply(&mut permit, e);
    }
    assert_eq!(permit.card.as_ref().unwrap().second_plate, None);
    let other = Plate::parse("京C99999").unwrap();
    assert_eq!(
        permit.decide(PermitCommand::AddSecondVehicle {
            plate: other.clone()
        }),
        Ok(vec![PermitEvent::SecondVehicleAdded { plate: other }])
    );
}

// ---- the owner's list ----

#[test]
fn the_holder_hides_a_card_and_adds_it_back() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::HideCard { owner: holder() })
        .then_expect_events(vec![PermitEvent::CardHidden {}]);
    PermitTest::with(())
        .given(vec![issued(), PermitEvent::CardHidden {}])
        .when(PermitCommand::ShowCard { owner: holder() })
        .then_expect_events(vec![PermitEvent::CardShown {}]);
}

#[test]
fn only_the_holder_hides_and_nothing_changes_twice() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::HideCard { owner: stranger() })
        .then_expect_error(PermitError::NotHolder);
    PermitTest::with(())
        .given(vec![issued(), PermitEvent::CardHidden {}])
        .when(PermitCommand::HideCard { owner: holder() })
        .then_expect_error(PermitError::NoChange);
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ShowCard { owner: holder() })
        .then_expect_error(PermitError::NoChange);
}

// ---- choosing the vehicle ----

#[test]
fn the_holder_chooses_the_cards_vehicle() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ChooseVehicle {
            plate: plate(),
            owner: holder(),
        })
        .then_expect_events(vec![PermitEvent::VehicleChosen { plate: plate() }]);
}

#[test]
fn another_phone_cannot_choose_the_cards_vehicle() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ChooseVehicle {
            plate: plate(),
            owner: stranger(),
        })
        .then_expect_error(PermitError::NotHolder);
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::ChooseVehicle {
            plate: Plate::parse("京B12345").unwrap(),
            owner: holder(),
        })
        .then_expect_error(PermitError::OtherVehicle);
}

// ---- seasons and the renewal period ----

#[test]
fn a_renewal_on_the_manuals_date_buys_the_next_season() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(submit(1))
        .then_expect_events(vec![submitted(1)]);
}

#[test]
fn a_long_expired_card_renews_for_the_current_season() {
    PermitTest::with(())
        .given(vec![issued_valid(period("2018-06-01", "2019-05-31"))])
        .when(submit(1))
        .then_expect_events(vec![submitted_for(
            1,
            period("2021-06-01", "2022-05-31"),
            NOW,
        )]);
}

#[test]
fn after_the_next_season_is_approved_a_new_renewal_is_refused() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            approved(1, the_manuals_period()),
        ])
        .when(submit(2))
        .then_expect_error(PermitError::AlreadyApproved);
}

#[test]
fn once_the_new_season_starts_the_following_one_can_be_bought() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            approved(1, the_manuals_period()),
        ])
        .when(submit_on(2, "2022-06-02", "2022-06-02T02:00:00Z"))
        .then_expect_events(vec![submitted_for(
            2,
            period("2023-06-01", "2024-05-31"),
            "2022-06-02T02:00:00Z",
        )]);
}

#[test]
fn the_card_shows_its_latest_approved_period_and_whether_it_is_in_force() {
    let mut permit = Permit::default();
    for e in [
        issued(),
        submitted(1),
        paid(1),
        approved(1, the_manuals_period()),
    ] {
        cqrs_es::Aggregate::apply(&mut permit, e);
    }
    let card = permit.card.unwrap();
    assert_eq!(card.validity(), the_manuals_period());
    assert_eq!(card.status_on(d("2022-05-20")), CardStatus::Active);
    assert_eq!(card.status_on(d("2023-05-31")), CardStatus::Active);
    assert_eq!(card.status_on(d("2023-06-01")), CardStatus::Expired);
    assert_eq!(card.status_on(d("2021-05-31")), CardStatus::NotYetValid);
}

// ---- submitting ----

#[test]
fn a_renewal_needs_the_current_consent_accepted() {
    let PermitCommand::SubmitRenewal {
        renewal_id,
        owner,
        now,
        today,
        terms,
        photo,
        order_id,
        pay_by,
        ..
    } = submit(1)
    else {
        unreachable!()
    };
    for accepted in [None, Some("v0".to_string())] {
        PermitTest::with(())
            .given(vec![issued()])
            .when(PermitCommand::SubmitRenewal {
                renewal_id,
                owner: owner.clone(),
                now,
                today,
                terms: terms.clone(),
                accepted_consent_version: accepted,
                photo: photo.clone(),
                order_id: order_id.clone(),
                pay_by,
            })
            .then_expect_error(PermitError::ConsentOutdated);
    }
}

#[test]
fn a_renewal_needs_a_campus_card_photo() {
    let PermitCommand::SubmitRenewal {
        renewal_id,
        owner,
        now,
        today,
        terms,
        accepted_consent_version,
        order_id,
        pay_by,
        ..
    } = submit(1)
    else {
        unreachable!()
    };
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::SubmitRenewal {
            renewal_id,
            owner,
            now,
            today,
            terms,
            accepted_consent_version,
            photo: None,
            order_id,
            pay_by,
        })
        .then_expect_error(PermitError::PhotoRequired);
}

#[test]
fn only_the_holder_can_renew_a_card() {
    let PermitCommand::SubmitRenewal {
        renewal_id,
        now,
        today,
        terms,
        accepted_consent_version,
        photo,
        order_id,
        pay_by,
        ..
    } = submit(1)
    else {
        unreachable!()
    };
    PermitTest::with(())
        .given(vec![issued()])
        .when(PermitCommand::SubmitRenewal {
            renewal_id,
            owner: stranger(),
            now,
            today,
            terms,
            accepted_consent_version,
            photo,
            order_id,
            pay_by,
        })
        .then_expect_error(PermitError::NotHolder);
}

#[test]
fn only_one_renewal_may_await_payment_at_a_time() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(submit(2))
        .then_expect_error(PermitError::RenewalOpen);
}

#[test]
fn only_one_renewal_may_be_under_review_at_a_time() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(submit(2))
        .then_expect_error(PermitError::RenewalOpen);
}

#[test]
fn an_expired_or_cancelled_renewal_frees_the_card() {
    for closed in [
        PermitEvent::RenewalExpiredUnpaid {
            renewal_id: rid(1),
            at: at("2022-05-20T04:00:00Z"),
        },
        PermitEvent::RenewalCancelled {
            renewal_id: rid(1),
            at: at("2022-05-20T02:30:00Z"),
        },
    ] {
        PermitTest::with(())
            .given(vec![issued(), submitted(1), closed])
            .when(submit(2))
            .then_expect_events(vec![submitted(2)]);
    }
}

// ---- refund before retry ----

#[test]
fn a_rejected_renewal_must_be_refunded_before_a_new_one() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1), rejected(1)])
        .when(submit(2))
        .then_expect_error(PermitError::RefundRequired);
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
        ])
        .when(submit(2))
        .then_expect_error(PermitError::RefundRequired);
}

#[test]
fn after_the_refund_a_new_renewal_is_accepted_for_the_same_season() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
            refunded(1),
        ])
        .when(submit(2))
        .then_expect_events(vec![submitted(2)]);
}

#[test]
fn a_rejection_leaves_the_card_as_it_was() {
    let mut permit = Permit::default();
    for e in [issued(), submitted(1), paid(1), rejected(1)] {
        cqrs_es::Aggregate::apply(&mut permit, e);
    }
    let card = permit.card.unwrap();
    assert_eq!(card.validity(), period("2021-06-01", "2022-05-31"));
    assert_eq!(card.status_on(d(TODAY)), CardStatus::Active);
    assert_eq!(
        card.renewal(rid(1)).unwrap().status,
        RenewalStatus::Rejected
    );
}

// ---- paying ----

#[test]
fn paying_the_quoted_amount_puts_the_renewal_under_review() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(pay(1, 36000))
        .then_expect_events(vec![paid(1)]);
}

fn stray(n: u128, transaction_id: &str, amount: i64, reason: StrayReason) -> PermitEvent {
    PermitEvent::StrayPaymentReceived {
        renewal_id: rid(n),
        transaction_id: transaction_id.into(),
        amount: Fen(amount),
        received_at: at("2022-05-20T02:05:00Z"),
        reason,
        out_refund_no: format!("S-{}", transaction_id.replace('-', "")),
    }
}

#[test]
fn a_payment_of_another_amount_is_recorded_as_stray_and_the_renewal_still_awaits_payment() {
    for wrong in [35999, 36001] {
        PermitTest::with(())
            .given(vec![issued(), submitted(1)])
            .when(pay(1, wrong))
            .then_expect_events(vec![stray(1, "tx-1", wrong, StrayReason::AmountMismatch)]);
    }
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(pay(1, 0))
        .then_expect_error(PermitError::AmountMismatch);
}

#[test]
fn a_stray_payment_is_recorded_once_and_its_refund_once() {
    let given = vec![
        issued(),
        submitted(1),
        PermitEvent::RenewalCancelled {
            renewal_id: rid(1),
            at: at("2022-05-20T02:01:00Z"),
        },
        stray(1, "tx-1", 36000, StrayReason::Cancelled),
    ];
    PermitTest::with(())
        .given(given.clone())
        .when(pay(1, 36000))
        .then_expect_events(vec![]);
    let refunded = PermitEvent::StrayPaymentRefunded {
        renewal_id: rid(1),
        out_refund_no: "S-tx1".into(),
        refund_id: "r-1".into(),
        refunded_at: at("2022-05-20T03:00:00Z"),
    };
    let record = PermitCommand::RecordRefund {
        renewal_id: rid(1),
        out_refund_no: "S-tx1".into(),
        refund_id: "r-1".into(),
        refunded_at: at("2022-05-20T03:00:00Z"),
    };
    PermitTest::with(())
        .given(given.clone())
        .when(record.clone())
        .then_expect_events(vec![refunded.clone()]);
    let mut after = given;
    after.push(refunded);
    PermitTest::with(())
        .given(after)
        .when(record)
        .then_expect_events(vec![]);
}

#[test]
fn a_duplicate_payment_notification_changes_nothing() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(pay(1, 36000))
        .then_expect_events(vec![]);
    // Even after the decision.
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            approved(1, the_manuals_period()),
        ])
        .when(pay(1, 36000))
        .then_expect_events(vec![]);
}

#[test]
fn a_second_payment_by_another_transaction_is_stray() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(PermitCommand::RecordPayment {
            renewal_id: rid(1),
            transaction_id: "tx-other".into(),
            amount: Fen(36000),
            paid_at: at("2022-05-20T02:05:00Z"),
        })
        .then_expect_events(vec![stray(1, "tx-other", 36000, StrayReason::AlreadyPaid)]);
}

#[test]
fn a_payment_for_a_cancelled_renewal_is_recorded_as_stray() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            PermitEvent::RenewalCancelled {
                renewal_id: rid(1),
                at: at("2022-05-20T02:01:00Z"),
            },
        ])
        .when(pay(1, 36000))
        .then_expect_events(vec![stray(1, "tx-1", 36000, StrayReason::Cancelled)]);
}

#[test]
fn paying_an_unknown_renewal_is_refused() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(pay(1, 36000))
        .then_expect_error(PermitError::UnknownRenewal);
}

// ---- reviewing ----

#[test]
fn only_a_paid_renewal_can_be_reviewed() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(PermitCommand::Approve {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            now: at("2022-05-21T01:00:00Z"),
        })
        .then_expect_error(PermitError::InvalidTransition {
            action: "approve",
            status: "awaiting_payment",
        });
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(PermitCommand::Reject {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            reason: "x".into(),
            now: at("2022-05-21T01:00:00Z"),
        })
        .then_expect_error(PermitError::InvalidTransition {
            action: "reject",
            status: "awaiting_payment",
        });
}

#[test]
fn approving_a_paid_renewal_extends_the_card() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(PermitCommand::Approve {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            now: at("2022-05-21T01:00:00Z"),
        })
        .then_expect_events(vec![approved(1, the_manuals_period())]);
}

#[test]
fn a_decided_renewal_cannot_be_decided_again() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            approved(1, the_manuals_period()),
        ])
        .when(PermitCommand::Reject {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            reason: "x".into(),
            now: at("2022-05-21T02:00:00Z"),
        })
        .then_expect_error(PermitError::InvalidTransition {
            action: "reject",
            status: "approved",
        });
}

#[test]
fn a_rejection_needs_a_reason() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(PermitCommand::Reject {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            reason: "  ".into(),
            now: at("2022-05-21T01:00:00Z"),
        })
        .then_expect_error(PermitError::ReasonRequired);
}

#[test]
fn a_rejection_records_its_reason() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(PermitCommand::Reject {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            reason: " 照片不清晰 ".into(),
            now: at("2022-05-21T01:00:00Z"),
        })
        .then_expect_events(vec![rejected(1)]);
}

// ---- refunds ----

#[test]
fn only_a_rejected_paid_renewal_can_be_refunded() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(request_refund(1, "refund-1"))
        .then_expect_error(PermitError::InvalidTransition {
            action: "refund",
            status: "under_review",
        });
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            approved(1, the_manuals_period()),
        ])
        .when(request_refund(1, "refund-1"))
        .then_expect_error(PermitError::InvalidTransition {
            action: "refund",
            status: "approved",
        });
}

#[test]
fn the_holder_requests_the_refund_of_a_rejected_renewal() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1), rejected(1)])
        .when(request_refund(1, "refund-1"))
        .then_expect_events(vec![refund_requested(1)]);
}

#[test]
fn a_refund_is_requested_once() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
        ])
        .when(request_refund(1, "refund-again"))
        .then_expect_error(PermitError::AlreadyRefunded);
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
            refunded(1),
        ])
        .when(request_refund(1, "refund-again"))
        .then_expect_error(PermitError::AlreadyRefunded);
}

#[test]
fn the_refund_report_completes_the_refund_once() {
    let given = vec![
        issued(),
        submitted(1),
        paid(1),
        rejected(1),
        refund_requested(1),
    ];
    let report = PermitCommand::RecordRefund {
        renewal_id: rid(1),
        out_refund_no: "refund-1".into(),
        refund_id: "wx-refund-1".into(),
        refunded_at: at("2022-05-21T02:00:05Z"),
    };
    PermitTest::with(())
        .given(given.clone())
        .when(report.clone())
        .then_expect_events(vec![refunded(1)]);
    let mut after = given;
    after.push(refunded(1));
    PermitTest::with(())
        .given(after)
        .when(report)
        .then_expect_events(vec![]);
}

#[test]
fn a_refund_report_for_another_refund_number_is_refused() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
        ])
        .when(PermitCommand::RecordRefund {
            renewal_id: rid(1),
            out_refund_no: "forged".into(),
            refund_id: "x".into(),
            refunded_at: at("2022-05-21T02:00:05Z"),
        })
        .then_expect_error(PermitError::UnknownRefund);
}

#[test]
fn a_failed_refund_is_retried_with_the_same_refund_number() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
            PermitEvent::RefundFailed {
                renewal_id: rid(1),
                out_refund_no: "refund-1".into(),
                failure: RefundFailure::Closed,
                at: at("2022-05-21T02:00:05Z"),
            },
        ])
        .when(request_refund(1, "a-new-number"))
        .then_expect_events(vec![refund_requested(1)]);
}

#[test]
fn a_failed_refund_still_blocks_a_new_renewal() {
    PermitTest::with(())
        .given(vec![
            issued(),
            submitted(1),
            paid(1),
            rejected(1),
            refund_requested(1),
            PermitEvent::RefundFailed {
                renewal_id: rid(1),
                out_refund_no: "refund-1".into(),
                failure: RefundFailure::Abnormal,
                at: at("2022-05-21T02:00:05Z"),
            },
        ])
        .when(submit(2))
        .then_expect_error(PermitError::RefundRequired);
}

// ---- closing unpaid renewals ----

#[test]
fn an_unpaid_renewal_expires_when_its_window_ends() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(PermitCommand::ExpireUnpaid {
            renewal_id: rid(1),
            now: at("2022-05-20T03:59:59Z"),
        })
        .then_expect_error(PermitError::PaymentWindowOpen);
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(PermitCommand::ExpireUnpaid {
            renewal_id: rid(1),
            now: at("2022-05-20T04:00:00Z"),
        })
        .then_expect_events(vec![PermitEvent::RenewalExpiredUnpaid {
            renewal_id: rid(1),
            at: at("2022-05-20T04:00:00Z"),
        }]);
}

#[test]
fn a_paid_renewal_does_not_expire() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(PermitCommand::ExpireUnpaid {
            renewal_id: rid(1),
            now: at("2022-05-20T05:00:00Z"),
        })
        .then_expect_error(PermitError::InvalidTransition {
            action: "expire",
            status: "under_review",
        });
}

#[test]
fn the_holder_cancels_an_unpaid_renewal_but_not_a_paid_one() {
    let cancel = PermitCommand::CancelRenewal {
        renewal_id: rid(1),
        owner: holder(),
        now: at("2022-05-20T02:30:00Z"),
    };
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(cancel.clone())
        .then_expect_events(vec![PermitEvent::RenewalCancelled {
            renewal_id: rid(1),
            at: at("2022-05-20T02:30:00Z"),
        }]);
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(cancel)
        .then_expect_error(PermitError::InvalidTransition {
            action: "cancel",
            status: "under_review",
        });
}

#[test]
fn events_keep_their_stored_names() {
    let names: Vec<&str> = [
        issued(),
        submitted(1),
        paid(1),
        approved(1, the_manuals_period()),
        rejected(1),
        refund_requested(1),
        refunded(1),
    ]
    .iter()
    .map(PermitEvent::name)
    .collect();
    assert_eq!(
        names,
        [
            "PermitIssued",
            "RenewalSubmitted",
            "Paid",
            "Approved",
            "Rejected",
            "RefundRequested",
            "Refunded"
        ]
    );
}

#[test]
fn a_holder_name_over_fifty_characters_is_refused() {
    PermitTest::with(())
        .given_no_previous_events()
        .when(PermitCommand::Issue {
            lot_id: lot(),
            plate: plate(),
            holder_name: "王".repeat(51),
            phone: holder(),
            validity: period("2021-06-01", "2022-05-31"),
        })
        .then_expect_error(PermitError::HolderNameRequired);
}

#[test]
fn a_rejection_reason_over_five_hundred_characters_is_refused() {
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1)])
        .when(PermitCommand::Reject {
            renewal_id: rid(1),
            reviewer_id: reviewer(),
            reason: "糊".repeat(501),
            now: at("2022-05-21T01:00:00Z"),
        })
        .then_expect_error(PermitError::ReasonRequired);
}

// ---- payment problems ----

fn refund_fails(n: u128, failure: RefundFailure) -> PermitCommand {
    PermitCommand::RecordRefundFailure {
        renewal_id: rid(n),
        out_refund_no: format!("refund-{n}"),
        failure,
        at: at("2022-05-21T02:00:05Z"),
    }
}

fn refund_failed(n: u128, failure: RefundFailure) -> PermitEvent {
    PermitEvent::RefundFailed {
        renewal_id: rid(n),
        out_refund_no: format!("refund-{n}"),
        failure,
        at: at("2022-05-21T02:00:05Z"),
    }
}

fn raised(n: u128, k: usize, failure: RefundFailure, refund_no: &str, detail: &str) -> PermitEvent {
    PermitEvent::PaymentProblemRaised {
        problem_id: problem_id(rid(n), k),
        renewal_id: rid(n),
        stray: false,
        failure,
        out_refund_no: refund_no.into(),
        amount: Fen(36000),
        detail: detail.into(),
        at: at("2022-05-21T02:00:05Z"),
    }
}

const ABNORMAL_DETAIL: &str = "the money could not go back to the payer's account";
const CLOSED_DETAIL: &str = "the provider closed the refund; no money moved";

fn refund_pending(n: u128) -> Vec<PermitEvent> {
    vec![
        issued(),
        submitted(n),
        paid(n),
        rejected(n),
        refund_requested(n),
    ]
}

fn with(mut events: Vec<PermitEvent>, more: Vec<PermitEvent>) -> Vec<PermitEvent> {
    events.extend(more);
    events
}

fn retry(problem: &str) -> PermitCommand {
    PermitCommand::RetryRefund {
        problem_id: problem.into(),
        new_out_refund_no: "refund-new".into(),
        now: at("2022-05-22T01:00:00Z"),
    }
}

fn resolve(problem: &str, note: &str) -> PermitCommand {
    PermitCommand::ResolveProblem {
        problem_id: problem.into(),
        note: note.into(),
        now: at("2022-05-22T01:00:00Z"),
    }
}

fn retried(n: u128, k: usize, refund_no: &str) -> PermitEvent {
    PermitEvent::PaymentProblemRetried {
        problem_id: problem_id(rid(n), k),
        renewal_id: rid(n),
        stray: false,
        out_refund_no: refund_no.into(),
        amount: Fen(36000),
        at: at("2022-05-22T01:00:00Z"),
    }
}

#[test]
fn an_abnormal_refund_becomes_a_problem_once() {
    let failed = vec![
        refund_failed(1, RefundFailure::Abnormal),
        raised(1, 1, RefundFailure::Abnormal, "refund-1", ABNORMAL_DETAIL),
    ];
    PermitTest::with(())
        .given(refund_pending(1))
        .when(refund_fails(1, RefundFailure::Abnormal))
        .then_expect_events(failed.clone());
    PermitTest::with(())
        .given(with(refund_pending(1), failed))
        .when(refund_fails(1, RefundFailure::Abnormal))
        .then_expect_events(vec![]);
}

#[test]
fn a_refund_the_outbox_gave_up_on_becomes_a_problem_naming_why() {
    for (exhausted, failure) in [
        (true, RefundFailure::RetriesExhausted),
        (false, RefundFailure::Refused),
    ] {
        PermitTest::with(())
            .given(refund_pending(1))
            .when(PermitCommand::RecordRefundRefused {
                renewal_id: rid(1),
                out_refund_no: "refund-1".into(),
                detail: "403 NO_AUTH: 商户无权限".into(),
                exhausted,
                at: at("2022-05-21T02:00:05Z"),
            })
            .then_expect_events(vec![
                refund_failed(1, failure),
                raised(1, 1, failure, "refund-1", "403 NO_AUTH: 商户无权限"),
            ]);
    }
}

#[test]
fn a_refund_already_paid_back_is_not_a_problem() {
    PermitTest::with(())
        .given(with(refund_pending(1), vec![refunded(1)]))
        .when(PermitCommand::RecordRefundRefused {
            renewal_id: rid(1),
            out_refund_no: "refund-1".into(),
            detail: "timeout".into(),
            exhausted: true,
            at: at("2022-05-21T02:00:05Z"),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_closed_refund_is_retried_under_a_new_number_and_its_failure_is_a_new_problem() {
    let closed = with(
        refund_pending(1),
        vec![
            refund_failed(1, RefundFailure::Closed),
            raised(1, 1, RefundFailure::Closed, "refund-1", CLOSED_DETAIL),
        ],
    );
    let id = problem_id(rid(1), 1);
    PermitTest::with(())
        .given(closed.clone())
        .when(retry(&id))
        .then_expect_events(vec![retried(1, 1, "refund-new")]);
    let after = with(closed, vec![retried(1, 1, "refund-new")]);
    PermitTest::with(())
        .given(after.clone())
        .when(retry(&id))
        .then_expect_error(PermitError::ProblemClosed { status: "retried" });
    PermitTest::with(())
        .given(after.clone())
        .when(PermitCommand::RecordRefundFailure {
            renewal_id: rid(1),
            out_refund_no: "refund-new".into(),
            failure: RefundFailure::Closed,
            at: at("2022-05-21T02:00:05Z"),
        })
        .then_expect_events(vec![
            PermitEvent::RefundFailed {
                renewal_id: rid(1),
                out_refund_no: "refund-new".into(),
                failure: RefundFailure::Closed,
                at: at("2022-05-21T02:00:05Z"),
            },
            raised(1, 2, RefundFailure::Closed, "refund-new", CLOSED_DETAIL),
        ]);
    // WeChat Pay delivering the old number's CLOSED again changes nothing.
    PermitTest::with(())
        .given(after.clone())
        .when(refund_fails(1, RefundFailure::Closed))
        .then_expect_events(vec![]);
    // The retry's success is the refund.
    let success = PermitEvent::Refunded {
        renewal_id: rid(1),
        out_refund_no: "refund-new".into(),
        refund_id: "wx-2".into(),
        refunded_at: at("2022-05-22T01:00:05Z"),
    };
    PermitTest::with(())
        .given(after)
        .when(PermitCommand::RecordRefund {
            renewal_id: rid(1),
            out_refund_no: "refund-new".into(),
            refund_id: "wx-2".into(),
            refunded_at: at("2022-05-22T01:00:05Z"),
        })
        .then_expect_events(vec![success]);
}

#[test]
fn a_refused_refund_is_retried_under_its_own_number() {
    let given = with(
        refund_pending(1),
        vec![
            refund_failed(1, RefundFailure::RetriesExhausted),
            raised(1, 1, RefundFailure::RetriesExhausted, "refund-1", "timeout"),
        ],
    );
    PermitTest::with(())
        .given(given)
        .when(retry(&problem_id(rid(1), 1)))
        .then_expect_events(vec![retried(1, 1, "refund-1")]);
}

#[test]
fn an_abnormal_refund_is_not_retried_but_resolved_once_with_a_note() {
    let given = with(
        refund_pending(1),
        vec![
            refund_failed(1, RefundFailure::Abnormal),
            raised(1, 1, RefundFailure::Abnormal, "refund-1", ABNORMAL_DETAIL),
        ],
    );
    let id = problem_id(rid(1), 1);
    PermitTest::with(())
        .given(given.clone())
        .when(retry(&id))
        .then_expect_error(PermitError::ProblemNotRetryable);
    for blank in ["", "   "] {
        PermitTest::with(())
            .given(given.clone())
            .when(resolve(&id, blank))
            .then_expect_error(PermitError::NoteRequired);
    }
    let resolved = PermitEvent::PaymentProblemResolved {
        problem_id: id.clone(),
        renewal_id: rid(1),
        stray: false,
        note: "refunded at the desk, receipt 0042".into(),
        at: at("2022-05-22T01:00:00Z"),
    };
    PermitTest::with(())
        .given(given.clone())
        .when(resolve(&id, " refunded at the desk, receipt 0042 "))
        .then_expect_events(vec![resolved.clone()]);
    let after = with(given, vec![resolved]);
    PermitTest::with(())
        .given(after.clone())
        .when(resolve(&id, "again"))
        .then_expect_error(PermitError::ProblemClosed { status: "resolved" });
    PermitTest::with(())
        .given(after.clone())
        .when(retry(&id))
        .then_expect_error(PermitError::ProblemClosed { status: "resolved" });
    // Resolved, the money counts as given back: a new renewal is accepted.
    PermitTest::with(())
        .given(after)
        .when(submit(2))
        .then_expect_events(vec![submitted(2)]);
}

#[test]
fn an_unknown_problem_is_refused() {
    for id in [
        "nope".to_string(),
        problem_id(rid(1), 7),
        problem_id(rid(5), 1),
    ] {
        PermitTest::with(())
            .given(refund_pending(1))
            .when(resolve(&id, "x"))
            .then_expect_error(PermitError::UnknownProblem);
    }
}

#[test]
fn the_owner_cannot_ask_again_for_a_refund_the_office_handles() {
    PermitTest::with(())
        .given(with(
            refund_pending(1),
            vec![
                refund_failed(1, RefundFailure::Closed),
                raised(1, 1, RefundFailure::Closed, "refund-1", CLOSED_DETAIL),
            ],
        ))
        .when(request_refund(1, "x"))
        .then_expect_error(PermitError::RefundWithStaff);
}

#[test]
fn a_stray_refund_that_fails_is_a_stray_problem_retried_under_a_new_number() {
    let given = vec![
        issued(),
        submitted(1),
        PermitEvent::RenewalCancelled {
            renewal_id: rid(1),
            at: at("2022-05-20T02:01:00Z"),
        },
        stray(1, "tx-1", 36000, StrayReason::Cancelled),
    ];
    let fails = PermitCommand::RecordRefundFailure {
        renewal_id: rid(1),
        out_refund_no: "S-tx1".into(),
        failure: RefundFailure::Closed,
        at: at("2022-05-21T02:00:05Z"),
    };
    let events = vec![
        PermitEvent::StrayRefundFailed {
            renewal_id: rid(1),
            out_refund_no: "S-tx1".into(),
            failure: RefundFailure::Closed,
            at: at("2022-05-21T02:00:05Z"),
        },
        PermitEvent::PaymentProblemRaised {
            problem_id: problem_id(rid(1), 1),
            renewal_id: rid(1),
            stray: true,
            failure: RefundFailure::Closed,
            out_refund_no: "S-tx1".into(),
            amount: Fen(36000),
            detail: CLOSED_DETAIL.into(),
            at: at("2022-05-21T02:00:05Z"),
        },
    ];
    PermitTest::with(())
        .given(given.clone())
        .when(fails)
        .then_expect_events(events.clone());
    let retried = PermitEvent::PaymentProblemRetried {
        problem_id: problem_id(rid(1), 1),
        renewal_id: rid(1),
        stray: true,
        out_refund_no: "refund-new".into(),
        amount: Fen(36000),
        at: at("2022-05-22T01:00:00Z"),
    };
    let failed = with(given, events);
    PermitTest::with(())
        .given(failed.clone())
        .when(retry(&problem_id(rid(1), 1)))
        .then_expect_events(vec![retried.clone()]);
    PermitTest::with(())
        .given(with(failed, vec![retried]))
        .when(PermitCommand::RecordRefund {
            renewal_id: rid(1),
            out_refund_no: "refund-new".into(),
            refund_id: "wx-9".into(),
            refunded_at: at("2022-05-22T01:00:05Z"),
        })
        .then_expect_events(vec![PermitEvent::StrayPaymentRefunded {
            renewal_id: rid(1),
            out_refund_no: "refund-new".into(),
            refund_id: "wx-9".into(),
            refunded_at: at("2022-05-22T01:00:05Z"),
        }]);
}

// ---- renewals paid at the desk (注意事项 1) ----

fn staff() -> Uuid {
    Uuid::from_u128(7)
}

fn at_desk(n: u128, amount: i64, receipt_no: &str) -> PermitCommand {
    PermitCommand::RenewAtDesk {
        renewal_id: rid(n),
        staff_id: staff(),
        now: at(NOW),
        today: d(TODAY),
        terms: terms(),
        method: DeskMethod::Cash,
        receipt_no: receipt_no.into(),
        amount: Fen(amount),
    }
}

fn desk_paid(n: u128, p: Period) -> Vec<PermitEvent> {
    vec![
        PermitEvent::DeskRenewalPaid {
            renewal_id: rid(n),
            period: p,
            amount: Fen(36000),
            method: DeskMethod::Cash,
            receipt_no: "BY-0042".into(),
            paid_at: at(NOW),
        },
        PermitEvent::Approved {
            renewal_id: rid(n),
            period: p,
            reviewer_id: staff(),
            decided_at: at(NOW),
        },
    ]
}

#[test]
fn a_renewal_paid_at_the_desk_is_approved_for_the_next_season_at_once() {
    PermitTest::with(())
        .given(vec![issued()])
        .when(at_desk(1, 36000, " BY-0042 "))
        .then_expect_events(desk_paid(1, the_manuals_period()));
}

#[test]
fn the_desk_takes_only_the_lots_price_and_a_receipt_number() {
    for amount in [35999, 36001, 0] {
        PermitTest::with(())
            .given(vec![issued()])
            .when(at_desk(1, amount, "BY-0042"))
            .then_expect_error(PermitError::AmountMismatch);
    }
    for receipt in ["", "  ", &"9".repeat(65)] {
        PermitTest::with(())
            .given(vec![issued()])
            .when(at_desk(1, 36000, receipt))
            .then_expect_error(PermitError::ReceiptRequired);
    }
}

#[test]
fn the_desk_follows_the_online_rules() {
    // Both seasons on sale covered: no re-application after approval.
    let mut covered = vec![issued()];
    covered.extend(desk_paid(1, the_manuals_period()));
    PermitTest::with(())
        .given(covered.clone())
        .when(at_desk(2, 36000, "BY-0043"))
        .then_expect_error(PermitError::AlreadyApproved);
    // An online renewal is open.
    PermitTest::with(())
        .given(vec![issued(), submitted(1)])
        .when(at_desk(2, 36000, "BY-0043"))
        .then_expect_error(PermitError::RenewalOpen);
    // A rejected renewal's money is still held.
    PermitTest::with(())
        .given(vec![issued(), submitted(1), paid(1), rejected(1)])
        .when(at_desk(2, 36000, "BY-0043"))
        .then_expect_error(PermitError::RefundRequired);
    // And an online renewal after a desk one finds nothing left to buy.
    PermitTest::with(())
        .given(covered)
        .when(submit(2))
        .then_expect_error(PermitError::AlreadyApproved);
}

// ---- reminders ----

fn reminder_on(events: Vec<PermitEvent>, today: &str) -> Option<reminder::ReminderDue> {
    let mut permit = Permit::default();
    for e in events {
        cqrs_es::Aggregate::apply(&mut permit, e);
    }
    reminder::reminder_due(
        permit.card.as_ref().unwrap(),
        &terms().calendar,
        d(today),
        &[30, 7],
    )
}

#[test]
fn the_holder_is_reminded_30_then_7_days_before_the_card_ends() {
    // The card ends 2022-05-31.
    assert_eq!(reminder_on(vec![issued()], "2022-04-30"), None);
    let due = reminder_on(vec![issued()], "2022-05-01").unwrap();
    assert_eq!((due.days_before, due.valid_to), (30, d("2022-05-31")));
    assert_eq!(
        reminder_on(vec![issued()], "2022-05-23")
            .unwrap()
            .days_before,
        30
    );
    assert_eq!(
        reminder_on(vec![issued()], "2022-05-24")
            .unwrap()
            .days_before,
        7
    );
    assert_eq!(
        reminder_on(vec![issued()], "2022-05-31")
            .unwrap()
            .days_before,
        7
    );
    assert_eq!(reminder_on(vec![issued()], "2022-06-01"), None);
}

#[test]
fn no_reminder_while_a_renewal_is_under_way_or_once_the_next_season_is_bought() {
    let submitted = PermitEvent::RenewalSubmitted {
        renewal_id: rid(1),
        period: period("2022-06-01", "2023-05-31"),
        amount: Fen(36000),
        consent_version: "v1".into(),
        photo: photo(),
        order_id: "o1".into(),
        submitted_at: at(NOW),
        pay_by: at(NOW) + Duration::hours(2),
    };
    assert_eq!(
        reminder_on(vec![issued(), submitted.clone()], "2022-05-25"),
        None
    );
    let approved = PermitEvent::Approved {
        renewal_id: rid(1),
        period: period("2022-06-01", "2023-05-31"),
        reviewer_id: reviewer(),
        decided_at: at(NOW),
    };
    let paid = PermitEvent::Paid {
        renewal_id: rid(1),
        transaction_id: "t1".into(),
        amount: Fen(36000),
        paid_at: at(NOW),
    };
    // Renewed: the last approved period now ends 2023-05-31, a year away.
    assert_eq!(
        reminder_on(vec![issued(), submitted, paid, approved], "2022-05-25"),
        None
    );
}

#[test]
fn no_reminder_outside_the_renewal_season() {
    // Monthly seasons; a card covering May and June 2022, reminded 60 days ahead.
    let monthly = SeasonCalendar::new(1, "01-01".parse().unwrap()).unwrap();
    let mut permit = Permit::default();
    cqrs_es::Aggregate::apply(
        &mut permit,
        issued_valid(period("2022-05-01", "2022-06-30")),
    );
    let card = permit.card.as_ref().unwrap();
    // On 5 May both May and June are covered: nothing is on sale, so no reminder.
    assert_eq!(
        reminder::reminder_due(card, &monthly, d("2022-05-05"), &[60]),
        None
    );
    // From 1 June July is on sale.
    assert_eq!(
        reminder::reminder_due(card, &monthly, d("2022-06-01"), &[60]).map(|r| r.days_before),
        Some(60)
    );
}
