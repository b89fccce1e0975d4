//! The renewal lifecycle the bench drives, as the command side sees it, and the same lifecycle
//! decided in memory (no database round trip) to bulk-load large ledgers for the rebuild phase.
//!
//! One lifecycle: the desk issues a card (vehicle binding + card: two events), the owner asks for
//! an SMS code and types it (the phone's verification aggregate), chooses the vehicle, submits a
//! renewal, the provider reports the payment, a reviewer approves it, or rejects it and the owner
//! asks for the refund (one lifecycle in three). Eight or nine events over four aggregates, in
//! seven or eight commands (issuing is one desk action that appends two events).

use crate::app::desk::{issue_permit, register_lot, NewPermit};
use crate::app::owner::owner_meta;
use crate::ledger::Ledger;
use crate::services::Secrets;
use crate::store::Db;
use crate::store::{event_hash, Hashed, StoredEvent, GENESIS};
use aggregates::lot::{Consent, Lot, LotCommand, Product};
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{Permit, PermitCommand, PhotoRef, RenewalTerms};
use aggregates::phone_verification::{CodePolicy, PhoneVerification, VerificationCommand};
use aggregates::values::{Fen, Period, Phone, Plate, SeasonCalendar};
use aggregates::vehicle_binding::{binding_id, BindingCommand, VehicleBinding};
use anyhow::{anyhow, Context};
use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// The provincial abbreviations plates are drawn from (a subset of GA 36's).
const PROVINCES: [&str; 8] = ["京", "津", "沪", "冀", "豫", "鲁", "苏", "浙"];
/// Authority letters (no I, no O).
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
/// The fixed business instant of every lifecycle (inside the renewal season of the card).
const NOW: &str = "2022-05-20T02:00:00Z";

fn now() -> DateTime<Utc> {
    NOW.parse().expect("constant instant")
}

/// One lot and a counter of lifecycles; every lifecycle gets its own card, phone and plate.
pub(crate) struct Workload {
    pub lot_id: Uuid,
    secrets: Secrets,
    next: AtomicU64,
}

fn product() -> Product {
    Product {
        name: "北京大学医学部通行证".into(),
        price: Fen(36000),
        calendar: SeasonCalendar::new(12, "06-01".parse().expect("date"))
            .expect("valid season calendar"),
    }
}

fn consent() -> Consent {
    Consent {
        version: "2022-05".into(),
        text: "本人承诺所提交信息真实有效；通过审核后则无法再次申请。".into(),
    }
}

fn desk_meta(request_id: String) -> EventMetadata {
    EventMetadata {
        actor: Actor::Staff(Uuid::from_u128(1)),
        role: Role::Admin,
        correlation_id: request_id.clone(),
        causation_id: request_id.clone(),
        request_id,
    }
}

impl Workload {
    /// A workload at a new lot id, starting its lifecycles at `first`.
    pub fn new(first: u64) -> Self {
        Self {
            lot_id: Uuid::new_v4(),
            secrets: Secrets::from_key(&"5a".repeat(32)).expect("a 32-byte key"),
            next: AtomicU64::new(first),
        }
    }

    /// Registers the lot through the command side.
    pub async fn register(&self, ledger: &Ledger) -> anyhow::Result<()> {
        register_lot(
            ledger,
            self.lot_id,
            "北京大学医学部".into(),
            product(),
            consent(),
            &desk_meta("bench-lot".into()),
        )
        .await
        .map_err(|e| anyhow!("register the bench lot: {e}"))?;
        Ok(())
    }

    /// The next lifecycle.
    pub fn next(&self) -> Lifecycle {
        Lifecycle::new(self, self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Lifecycles handed out so far (the counter).
    pub fn counter(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

/// A number from a lifecycle's index, unique for the first 100 000 × 24 × 8 lifecycles.
fn plate_for(k: u64) -> Plate {
    let serial = k % 100_000;
    let letter = LETTERS[((k / 100_000) % LETTERS.len() as u64) as usize] as char;
    let province = PROVINCES[((k / (100_000 * LETTERS.len() as u64)) % 8) as usize];
    Plate::parse(&format!("{province}{letter}{serial:05}")).expect("generated plate is valid")
}

fn phone_for(k: u64) -> Phone {
    let prefix = 135 + (k / 100_000_000) % 5;
    Phone::parse(&format!("{prefix}{:08}", k % 100_000_000)).expect("generated phone is valid")
}

/// One command of a lifecycle, ready to execute.
pub(crate) enum Step {
    /// The desk issues the card (`app::desk::issue_permit`: binding, then card).
    Issue(NewPermit),
    /// The phone's verification (code request, code check).
    Verify(String, VerificationCommand),
    /// The card.
    Permit(PermitCommand),
}

/// One lifecycle's identities and commands.
pub(crate) struct Lifecycle {
    k: u64,
    lot_id: Uuid,
    permit_id: Uuid,
    renewal_id: Uuid,
    phone: Phone,
    phone_hash: String,
    plate: Plate,
    verification_id: String,
    code_digest: String,
}

impl Lifecycle {
    fn new(w: &Workload, k: u64) -> Self {
        let phone = phone_for(k);
        let phone_hash = w.secrets.phone_hash(phone.as_str());
        let code = format!("{:06}", k % 1_000_000);
        Self {
            k,
            lot_id: w.lot_id,
            permit_id: Uuid::new_v4(),
            renewal_id: Uuid::new_v4(),
            code_digest: w.secrets.code_digest(phone.as_str(), &code),
            verification_id: format!("phone:{phone_hash}"),
            phone_hash,
            plate: plate_for(k),
            phone,
        }
    }

    /// Whether this lifecycle's renewal is rejected (and refunded) rather than approved.
    fn rejected(&self) -> bool {
        self.k.is_multiple_of(3)
    }

    /// The commands, in order, with the metadata each carries.
    pub fn steps(&self) -> Vec<(Step, EventMetadata)> {
        let t = now();
        let request = |i: usize| format!("bench-{}-{i}", self.k);
        let owner = |i: usize| owner_meta(&self.phone_hash, &request(i), &request(i));
        let renewal = self.renewal_id.to_string();
        let staff = |i: usize, actor: Actor, role: Role| EventMetadata {
            actor,
            role,
            correlation_id: renewal.clone(),
            causation_id: request(i),
            request_id: request(i),
        };
        let reviewer = Uuid::from_u128(2);
        let mut steps = vec![
            (
                Step::Issue(NewPermit {
                    permit_id: self.permit_id,
                    lot_id: self.lot_id,
                    plate: self.plate.clone(),
                    holder_name: "王老师".into(),
                    phone: self.phone.clone(),
                    validity: Period::new(d("2021-06-01"), d("2022-05-31")).expect("period"),
                }),
                desk_meta(request(0)),
            ),
            (
                Step::Verify(
                    self.verification_id.clone(),
                    VerificationCommand::RequestCode {
                        lot_id: self.lot_id,
                        code_digest: self.code_digest.clone(),
                        now: t,
                        policy: CodePolicy::default(),
                    },
                ),
                owner(1),
            ),
            (
                Step::Verify(
                    self.verification_id.clone(),
                    VerificationCommand::VerifyCode {
                        lot_id: self.lot_id,
                        guess_digest: self.code_digest.clone(),
                        now: t + Duration::seconds(30),
                    },
                ),
                owner(2),
            ),
            (
                Step::Permit(PermitCommand::ChooseVehicle {
                    plate: self.plate.clone(),
                    owner: self.phone.clone(),
                }),
                owner(3),
            ),
            (
                Step::Permit(PermitCommand::SubmitRenewal {
                    renewal_id: self.renewal_id,
                    owner: self.phone.clone(),
                    now: t + Duration::seconds(60),
                    today: d("2022-05-20"),
                    terms: RenewalTerms {
                        price: Fen(36000),
                        calendar: product().calendar,
                        consent_version: consent().version,
                    },
                    accepted_consent_version: Some(consent().version),
                    photo: Some(PhotoRef {
                        sha256: format!("{:064x}", self.k),
                        size: 48_213,
                        content_type: "image/jpeg".into(),
                    }),
                    order_id: self.renewal_id.simple().to_string(),
                    pay_by: t + Duration::hours(2),
                }),
                owner_meta(&self.phone_hash, &request(4), &renewal),
            ),
            (
                Step::Permit(PermitCommand::RecordPayment {
                    renewal_id: self.renewal_id,
                    transaction_id: format!("4200001{:012}", self.k),
                    amount: Fen(36000),
                    paid_at: t + Duration::minutes(5),
                }),
                staff(5, Actor::PaymentProvider, Role::PaymentProvider),
            ),
        ];
        let decided = t + Duration::hours(20);
        if self.rejected() {
            steps.push((
                Step::Permit(PermitCommand::Reject {
                    renewal_id: self.renewal_id,
                    reviewer_id: reviewer,
                    reason: "照片不清晰".into(),
                    now: decided,
                }),
                staff(6, Actor::Staff(reviewer), Role::Reviewer),
            ));
            steps.push((
                Step::Permit(PermitCommand::RequestRefund {
                    renewal_id: self.renewal_id,
                    owner: self.phone.clone(),
                    out_refund_no: format!("R{}", self.renewal_id.simple()),
                    now: decided + Duration::hours(1),
                }),
                owner_meta(&self.phone_hash, &request(7), &renewal),
            ));
        } else {
            steps.push((
                Step::Permit(PermitCommand::Approve {
                    renewal_id: self.renewal_id,
                    reviewer_id: reviewer,
                    now: decided,
                }),
                staff(6, Actor::Staff(reviewer), Role::Reviewer),
            ));
        }
        steps
    }

    /// Runs one step through the command side; returns the events appended and the position.
    pub async fn execute(
        &self,
        ledger: &Ledger,
        db: &Db,
        step: Step,
        meta: &EventMetadata,
    ) -> anyhow::Result<(usize, Option<i64>)> {
        match step {
            Step::Issue(new) => {
                let position = issue_permit(ledger, db, new, meta)
                    .await
                    .map_err(|e| anyhow!("issue the card of lifecycle {}: {e}", self.k))?;
                // The vehicle's binding and the card.
                Ok((2, position))
            }
            Step::Verify(id, command) => {
                let c = ledger
                    .execute::<PhoneVerification>(&id, command, meta)
                    .await
                    .map_err(|e| anyhow!("verification of lifecycle {}: {e}", self.k))?;
                Ok((c.stored.len(), c.position))
            }
            Step::Permit(command) => {
                let c = ledger
                    .execute::<Permit>(&self.permit_id.to_string(), command, meta)
                    .await
                    .map_err(|e| anyhow!("card command of lifecycle {}: {e}", self.k))?;
                Ok((c.stored.len(), c.position))
            }
        }
    }

    /// The same lifecycle decided in memory: its events, chained, ready to bulk-insert.
    pub async fn decide_in_memory(
        &self,
        recorded_at: DateTime<Utc>,
        out: &mut Vec<StoredEvent>,
    ) -> anyhow::Result<()> {
        let mut binding = Mem::<VehicleBinding>::new(binding_id(self.lot_id, &self.plate));
        let mut verification = Mem::<PhoneVerification>::new(self.verification_id.clone());
        let mut permit = Mem::<Permit>::new(self.permit_id.to_string());
        for (step, meta) in self.steps() {
            match step {
                Step::Issue(new) => {
                    let claim = BindingCommand::Claim {
                        lot_id: new.lot_id,
                        plate: new.plate.clone(),
                        permit_id: new.permit_id,
                    };
                    binding.exec(claim, &meta, recorded_at, out).await?;
                    let issue = PermitCommand::Issue {
                        lot_id: new.lot_id,
                        plate: new.plate,
                        holder_name: new.holder_name,
                        phone: new.phone,
                        validity: new.validity,
                    };
                    permit.exec(issue, &meta, recorded_at, out).await?;
                }
                Step::Verify(_, command) => {
                    verification.exec(command, &meta, recorded_at, out).await?
                }
                Step::Permit(command) => permit.exec(command, &meta, recorded_at, out).await?,
            }
        }
        Ok(())
    }
}

/// The lot's registration decided in memory.
pub(crate) async fn lot_in_memory(
    w: &Workload,
    recorded_at: DateTime<Utc>,
    out: &mut Vec<StoredEvent>,
) -> anyhow::Result<()> {
    let mut lot = Mem::<Lot>::new(w.lot_id.to_string());
    let register = LotCommand::Register {
        name: "北京大学医学部".into(),
        product: product(),
        consent: consent(),
    };
    lot.exec(register, &desk_meta("bench-lot".into()), recorded_at, out)
        .await
}

/// The append time stores keep (microseconds).
pub(crate) fn recorded_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("constant date")
}

/// One stream decided in memory: its state, last sequence and last hash.
struct Mem<A: Aggregate> {
    id: String,
    aggregate: A,
    sequence: i64,
    hash: String,
}

impl<A: Aggregate<Services = ()>> Mem<A> {
    fn new(id: String) -> Self {
        Self {
            id,
            aggregate: A::default(),
            sequence: 0,
            hash: GENESIS.to_string(),
        }
    }

    /// Decides `command` and appends its events, chained as the store chains them, to `out`.
    async fn exec(
        &mut self,
        command: A::Command,
        meta: &EventMetadata,
        recorded_at: DateTime<Utc>,
        out: &mut Vec<StoredEvent>,
    ) -> anyhow::Result<()> {
        let sink = EventSink::<A>::default();
        self.aggregate
            .handle(command, &(), &sink)
            .await
            .map_err(|e| anyhow!("{} {}: {e}", A::TYPE, self.id))?;
        let metadata = serde_json::to_value(meta.to_map()).context("metadata")?;
        for event in sink.collect().await {
            self.sequence += 1;
            let payload = serde_json::to_value(&event).context("payload")?;
            let event_type = event.event_type();
            let event_version = event.event_version();
            let hash = event_hash(&Hashed {
                aggregate_type: A::TYPE,
                aggregate_id: &self.id,
                sequence: self.sequence,
                event_type: &event_type,
                event_version: &event_version,
                payload: &payload,
                metadata: &metadata,
                recorded_at,
                prev_hash: &self.hash,
            });
            out.push(StoredEvent {
                position: 0,
                aggregate_type: A::TYPE.to_string(),
                aggregate_id: self.id.clone(),
                sequence: self.sequence,
                event_type,
                event_version,
                payload,
                metadata: metadata.clone(),
                recorded_at,
                prev_hash: Some(std::mem::replace(&mut self.hash, hash.clone())),
                hash: Some(hash),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_plates_and_phones_are_distinct() {
        let plates: std::collections::HashSet<_> = [0, 1, 99_999, 100_000, 2_400_000, 7_000_000]
            .map(plate_for)
            .into();
        assert_eq!(plates.len(), 6);
        assert_ne!(phone_for(1), phone_for(2));
    }

    #[tokio::test]
    async fn a_lifecycle_decided_in_memory_has_eight_or_nine_chained_events() {
        let w = Workload::new(0);
        let mut out = Vec::new();
        lot_in_memory(&w, recorded_now(), &mut out).await.unwrap();
        w.next()
            .decide_in_memory(recorded_now(), &mut out)
            .await
            .unwrap(); // k = 0: rejected and refunded
        w.next()
            .decide_in_memory(recorded_now(), &mut out)
            .await
            .unwrap(); // k = 1: approved
        assert_eq!(out.len(), 1 + 9 + 8);
        let permit: Vec<_> = out
            .iter()
            .filter(|e| e.aggregate_type == "permit")
            .collect();
        assert_eq!(permit[0].prev_hash.as_deref(), Some(GENESIS));
        assert_eq!(permit[1].prev_hash, permit[0].hash);
    }
}
