//! The manual's lot, card and renewal, set up through the command side.

use crate::helpers::{admin_meta, owner_meta};
use aggregates::lot::{Consent, Product};
use aggregates::permit::{Permit, PermitCommand, PhotoRef, RenewalTerms};
use aggregates::values::{Fen, Period, Phone, Plate, SeasonCalendar};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use permit_ledger::app::desk::{issue_permit, register_lot, NewPermit};
use permit_ledger::ledger::Ledger;
use uuid::Uuid;

pub fn product() -> Product {
    Product {
        name: "北京大学医学部通行证".into(),
        price: Fen(36000),
        calendar: SeasonCalendar::new(12, "06-01".parse().unwrap()).unwrap(),
    }
}

pub fn consent() -> Consent {
    Consent {
        version: "2022-05".into(),
        text: "本人承诺所提交信息真实有效；通过审核后则无法再次申请。".into(),
    }
}

pub fn holder_phone() -> Phone {
    Phone::parse("13912345678").unwrap()
}

pub fn plate() -> Plate {
    Plate::parse("京A66666").unwrap()
}

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub async fn lot(ledger: &Ledger) -> Uuid {
    let lot_id = Uuid::new_v4();
    register_lot(
        ledger,
        lot_id,
        "北京大学医学部".into(),
        product(),
        consent(),
        &admin_meta(),
    )
    .await
    .expect("register lot");
    lot_id
}

/// The manual's card at a new lot: 京A66666, 王老师, valid 2021-06-01 to 2022-05-31.
pub async fn manual_card(ledger: &Ledger, db: &permit_ledger::store::Db) -> (Uuid, Uuid) {
    let lot_id = lot(ledger).await;
    let permit_id = Uuid::new_v4();
    issue_permit(
        ledger,
        db,
        NewPermit {
            permit_id,
            lot_id,
            plate: plate(),
            holder_name: "王老师".into(),
            phone: holder_phone(),
            validity: Period::new(d("2021-06-01"), d("2022-05-31")).unwrap(),
        },
        &admin_meta(),
    )
    .await
    .expect("issue permit");
    (lot_id, permit_id)
}

pub fn submit(renewal_id: Uuid) -> PermitCommand {
    let now = at("2022-05-20T02:00:00Z");
    PermitCommand::SubmitRenewal {
        renewal_id,
        owner: holder_phone(),
        now,
        today: d("2022-05-20"),
        terms: RenewalTerms {
            price: Fen(36000),
            calendar: product().calendar,
            consent_version: consent().version,
        },
        accepted_consent_version: Some(consent().version),
        photo: Some(PhotoRef {
            sha256: "0".repeat(64),
            size: 1234,
            content_type: "image/jpeg".into(),
        }),
        order_id: format!("PL{}", renewal_id.simple()),
        pay_by: now + Duration::hours(2),
    }
}

/// Submits the manual's renewal; returns its id.
pub async fn submitted(ledger: &Ledger, permit_id: Uuid) -> Uuid {
    let renewal_id = Uuid::new_v4();
    ledger
        .execute::<Permit>(&permit_id.to_string(), submit(renewal_id), &owner_meta())
        .await
        .expect("submit");
    renewal_id
}

pub fn pay(renewal_id: Uuid, tx: &str) -> PermitCommand {
    PermitCommand::RecordPayment {
        renewal_id,
        transaction_id: tx.into(),
        amount: Fen(36000),
        paid_at: at("2022-05-20T02:05:00Z"),
    }
}
