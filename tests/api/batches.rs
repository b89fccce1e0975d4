//! A projection applies a batch of events set-wise (rows folded in memory, written once):
//! the tables and the outbox must come out exactly as when the same events are applied one at a
//! time, for every projection, on both stores.

use crate::fixtures::{at, d, holder_phone, manual_card, pay, submit, submitted};
use crate::helpers::{admin_meta, owner_meta, provider_meta, reviewer_meta, TestStore};
use aggregates::permit::{DeskMethod, Permit, PermitCommand, RenewalTerms};
use aggregates::values::{Fen, Phone, Plate};
use permit_ledger::ledger::Ledger;
use projections::{FeedEvent, Projection, Tables};
use sqlx::Row;
use uuid::Uuid;

async fn run(ledger: &Ledger, permit_id: Uuid, command: PermitCommand) {
    let meta = match &command {
        PermitCommand::RecordPayment { .. }
        | PermitCommand::RecordRefund { .. }
        | PermitCommand::RecordRefundRefused { .. } => provider_meta(),
        PermitCommand::Approve { .. } | PermitCommand::Reject { .. } => reviewer_meta(),
        PermitCommand::SubmitRenewal { .. }
        | PermitCommand::CancelRenewal { .. }
        | PermitCommand::HideCard { .. }
        | PermitCommand::ShowCard { .. } => owner_meta(),
        _ => admin_meta(),
    };
    let what = format!("{command:?}");
    ledger
        .execute::<Permit>(&permit_id.to_string(), command, &meta)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// Everything the projections react to, on two cards of two lots: renewals paid, approved,
/// rejected and refunded, a refund refused and its problem retried and resolved, a renewal that
/// expired unpaid and one cancelled, one paid at the desk, the holder and vehicle changed, a
/// second vehicle added and removed, the card hidden and shown.
async fn rich_feed(ledger: &Ledger, t: &TestStore) {
    let (_, first) = manual_card(ledger, &t.store.db).await;
    let (_, second) = manual_card(ledger, &t.store.db).await;
    // Rejected and refunded on the first card; refused on the second, then retried and settled.
    for permit_id in [first, second] {
        let rejected = Uuid::new_v4();
        run(ledger, permit_id, submit(rejected)).await;
        run(
            ledger,
            permit_id,
            pay(rejected, &format!("wx-r-{permit_id}")),
        )
        .await;
        run(
            ledger,
            permit_id,
            PermitCommand::Reject {
                renewal_id: rejected,
                reviewer_id: Uuid::from_u128(2),
                reason: "照片不清晰".into(),
                now: at("2022-05-21T02:00:00Z"),
            },
        )
        .await;
        let out_refund_no = format!("RF{}", rejected.simple());
        run(
            ledger,
            permit_id,
            PermitCommand::RequestRefund {
                renewal_id: rejected,
                owner: holder_phone(),
                out_refund_no: out_refund_no.clone(),
                now: at("2022-05-21T02:01:00Z"),
            },
        )
        .await;
        if permit_id == first {
            run(
                ledger,
                permit_id,
                PermitCommand::RecordRefund {
                    renewal_id: rejected,
                    out_refund_no,
                    refund_id: "wx-refund-1".into(),
                    refunded_at: at("2022-05-22T03:00:00Z"),
                },
            )
            .await;
        } else {
            run(
                ledger,
                permit_id,
                PermitCommand::RecordRefundRefused {
                    renewal_id: rejected,
                    out_refund_no: out_refund_no.clone(),
                    detail: "NOTENOUGH".into(),
                    exhausted: true,
                    at: at("2022-05-21T03:00:00Z"),
                },
            )
            .await;
            let problem_id = problem_of(t).await;
            run(
                ledger,
                permit_id,
                PermitCommand::RetryRefund {
                    problem_id: problem_id.clone(),
                    new_out_refund_no: out_refund_no.clone(),
                    now: at("2022-05-21T04:00:00Z"),
                },
            )
            .await;
            run(
                ledger,
                permit_id,
                PermitCommand::RecordRefund {
                    renewal_id: rejected,
                    out_refund_no,
                    refund_id: "wx-refund-2".into(),
                    refunded_at: at("2022-05-23T03:00:00Z"),
                },
            )
            .await;
        }
    }
    let expired = submitted(ledger, first).await;
    run(
        ledger,
        first,
        PermitCommand::ExpireUnpaid {
            renewal_id: expired,
            now: at("2022-05-20T05:00:00Z"),
        },
    )
    .await;
    let cancelled = submitted(ledger, second).await;
    run(
        ledger,
        second,
        PermitCommand::CancelRenewal {
            renewal_id: cancelled,
            owner: holder_phone(),
            now: at("2022-05-20T02:30:00Z"),
        },
    )
    .await;
    // Approved online on the first card, paid at the desk on the second.
    let approved = submitted(ledger, first).await;
    run(ledger, first, pay(approved, "wx-a")).await;
    run(
        ledger,
        first,
        PermitCommand::Approve {
            renewal_id: approved,
            reviewer_id: Uuid::from_u128(2),
            now: at("2022-05-21T01:00:00Z"),
        },
    )
    .await;
    run(
        ledger,
        second,
        PermitCommand::RenewAtDesk {
            renewal_id: Uuid::new_v4(),
            staff_id: Uuid::from_u128(1),
            now: at("2022-05-24T02:00:00Z"),
            today: d("2022-05-24"),
            terms: RenewalTerms {
                price: Fen(36000),
                calendar: crate::fixtures::product().calendar,
                consent_version: crate::fixtures::consent().version,
            },
            method: DeskMethod::Cash,
            receipt_no: "R-1".into(),
            amount: Fen(36000),
        },
    )
    .await;
    let new_phone = Phone::parse("13900000000").unwrap();
    run(
        ledger,
        first,
        PermitCommand::ChangeHolder {
            holder_name: "李老师".into(),
            phone: new_phone.clone(),
        },
    )
    .await;
    let plate = |p: &str| Plate::parse(p).unwrap();
    run(
        ledger,
        first,
        PermitCommand::ChangeVehicle {
            plate: plate("京B12345"),
        },
    )
    .await;
    run(
        ledger,
        first,
        PermitCommand::AddSecondVehicle {
            plate: plate("京C54321"),
        },
    )
    .await;
    run(
        ledger,
        second,
        PermitCommand::AddSecondVehicle {
            plate: plate("京D11111"),
        },
    )
    .await;
    run(ledger, second, PermitCommand::RemoveSecondVehicle).await;
    run(
        ledger,
        first,
        PermitCommand::HideCard {
            owner: new_phone.clone(),
        },
    )
    .await;
    run(ledger, first, PermitCommand::ShowCard { owner: new_phone }).await;
    run(
        ledger,
        second,
        PermitCommand::HideCard {
            owner: holder_phone(),
        },
    )
    .await;
}

/// The one payment problem raised so far, from the feed.
async fn problem_of(t: &TestStore) -> String {
    let feed = t.store.log.read_feed(0, 10_000).await.unwrap();
    let raised = feed
        .iter()
        .find(|e| e.event_type == "PaymentProblemRaised")
        .expect("a problem was raised");
    raised.payload["PaymentProblemRaised"]["problem_id"]
        .as_str()
        .expect("its id")
        .to_string()
}

/// Creates generation `generation` of `p`'s tables.
async fn create(t: &TestStore, p: &dyn Projection, generation: i32) {
    let tables = Tables::generation(generation);
    for ddl in p.schema() {
        sqlx::query(&tables.expand(ddl, p.tables()))
            .execute(&t.store.db.write)
            .await
            .unwrap();
    }
}

/// Every row of every table of `p` in `generation`, as text, sorted.
async fn contents(t: &TestStore, p: &dyn Projection, generation: i32) -> Vec<String> {
    let tables = Tables::generation(generation);
    let mut out = Vec::new();
    for base in p.tables() {
        let rows = sqlx::query(&format!("SELECT * FROM {}", tables.get(base)))
            .fetch_all(&t.store.db.read)
            .await
            .unwrap();
        for row in rows {
            let cells: Vec<String> = (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(|v| format!("{v:?}"))
                        .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                        .unwrap()
                })
                .collect();
            out.push(format!("{base}: {}", cells.join(" | ")));
        }
    }
    out.sort();
    out
}

/// The outbox, as text, sorted.
async fn outbox(t: &TestStore) -> Vec<(String, String, String, String)> {
    sqlx::query_as("SELECT id, kind, payload, status FROM outbox ORDER BY id")
        .fetch_all(&t.store.db.read)
        .await
        .unwrap()
}

/// Applies `events` to `generation` of `p` in batches of `size`, one transaction each.
async fn apply(
    t: &TestStore,
    p: &dyn Projection,
    generation: i32,
    events: &[FeedEvent],
    size: usize,
) {
    let tables = Tables::generation(generation);
    for batch in events.chunks(size) {
        let mut tx = t.store.db.write.begin().await.unwrap();
        p.apply_batch(&mut tx, &tables, batch)
            .await
            .unwrap_or_else(|e| panic!("{} at {}: {e}", p.name(), batch[0].position));
        tx.commit().await.unwrap();
    }
}

async fn a_batch_applies_like_its_events_one_by_one(t: TestStore) {
    rich_feed(&t.ledger, &t).await;
    let feed = t.store.log.read_feed(0, 10_000).await.unwrap();
    let types: std::collections::BTreeSet<&str> =
        feed.iter().map(|e| e.event_type.as_str()).collect();
    for expected in [
        "PermitIssued",
        "Paid",
        "Approved",
        "Rejected",
        "RefundRequested",
        "Refunded",
        "PaymentProblemRaised",
        "PaymentProblemRetried",
        "RenewalExpiredUnpaid",
        "RenewalCancelled",
        "DeskRenewalPaid",
        "HolderChanged",
        "VehicleBound",
        "VehicleUnbound",
        "SecondVehicleAdded",
        "SecondVehicleRemoved",
        "CardHidden",
        "CardShown",
    ] {
        assert!(
            types.contains(expected),
            "the feed has {expected}: {types:?}"
        );
    }
    for p in projections::all() {
        let p = p.as_ref();
        create(&t, p, 901).await;
        create(&t, p, 902).await;
        create(&t, p, 903).await;
        sqlx::query("DELETE FROM outbox")
            .execute(&t.store.db.write)
            .await
            .unwrap();
        apply(&t, p, 901, &feed, 1).await;
        let one_by_one = contents(&t, p, 901).await;
        let enqueued = outbox(&t).await;
        assert!(!one_by_one.is_empty(), "{} has rows", p.name());
        sqlx::query("DELETE FROM outbox")
            .execute(&t.store.db.write)
            .await
            .unwrap();
        apply(&t, p, 902, &feed, feed.len()).await;
        assert_eq!(
            contents(&t, p, 902).await,
            one_by_one,
            "{}: the whole feed as one batch",
            p.name()
        );
        assert_eq!(outbox(&t).await, enqueued, "{}: its outbox", p.name());
        sqlx::query("DELETE FROM outbox")
            .execute(&t.store.db.write)
            .await
            .unwrap();
        apply(&t, p, 903, &feed, 3).await;
        assert_eq!(
            contents(&t, p, 903).await,
            one_by_one,
            "{}: batches of three",
            p.name()
        );
        assert_eq!(outbox(&t).await, enqueued, "{}: its outbox", p.name());
    }
}

crate::on_both_stores!(a_batch_applies_like_its_events_one_by_one);
