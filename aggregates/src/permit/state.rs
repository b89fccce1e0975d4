//! A permit's state as its events leave it.

use super::commands::RefundFailure;
use super::events::PermitEvent;
use super::Permit;
use crate::values::period::is_covered;
use crate::values::{Fen, Period, Phone, Plate};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An issued card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// The lot.
    pub lot_id: Uuid,
    /// The vehicle.
    pub plate: Plate,
    /// Holder's name.
    pub holder_name: String,
    /// Holder's phone.
    pub phone: Phone,
    /// Every approved period (the desk's validity and approved renewals).
    pub coverage: Vec<Period>,
    /// The renewals, oldest first.
    pub renewals: Vec<Renewal>,
    /// The second vehicle, let in on the days `plate` is restricted.
    #[serde(default)]
    pub second_plate: Option<Plate>,
    /// The owner removed it from their list.
    #[serde(default)]
    pub hidden: bool,
}

/// Where a renewal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewalStatus {
    /// Submitted, not paid.
    AwaitingPayment,
    /// Paid; the office reviews it (审核中).
    UnderReview,
    /// Approved; the card covers the period.
    Approved,
    /// Rejected (审核失败); the money is still held.
    Rejected,
    /// The owner asked for the money back.
    RefundRequested,
    /// The money was paid back.
    Refunded,
    /// The provider could not pay it back (CLOSED may be retried; ABNORMAL needs staff).
    RefundFailed,
    /// The payment window ended unpaid.
    ExpiredUnpaid,
    /// The owner cancelled before paying.
    Cancelled,
}

impl RenewalStatus {
    /// Every status.
    pub const ALL: [RenewalStatus; 9] = [
        RenewalStatus::AwaitingPayment,
        RenewalStatus::UnderReview,
        RenewalStatus::Approved,
        RenewalStatus::Rejected,
        RenewalStatus::RefundRequested,
        RenewalStatus::Refunded,
        RenewalStatus::RefundFailed,
        RenewalStatus::ExpiredUnpaid,
        RenewalStatus::Cancelled,
    ];

    /// The status name used in views and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            RenewalStatus::AwaitingPayment => "awaiting_payment",
            RenewalStatus::UnderReview => "under_review",
            RenewalStatus::Approved => "approved",
            RenewalStatus::Rejected => "rejected",
            RenewalStatus::RefundRequested => "refund_requested",
            RenewalStatus::Refunded => "refunded",
            RenewalStatus::RefundFailed => "refund_failed",
            RenewalStatus::ExpiredUnpaid => "expired_unpaid",
            RenewalStatus::Cancelled => "cancelled",
        }
    }

    /// Awaiting payment or under review: blocks another renewal.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RenewalStatus::AwaitingPayment | RenewalStatus::UnderReview
        )
    }

    /// Rejected with the money not yet paid back: blocks another renewal.
    pub fn holds_unrefunded_money(self) -> bool {
        matches!(
            self,
            RenewalStatus::Rejected | RenewalStatus::RefundRequested | RenewalStatus::RefundFailed
        )
    }
}

/// One renewal of a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renewal {
    /// Its id.
    pub renewal_id: Uuid,
    /// The season it buys.
    pub period: Period,
    /// The amount quoted.
    pub amount: Fen,
    /// Where it stands.
    pub status: RenewalStatus,
    /// The payment order number.
    pub order_id: String,
    /// When the unpaid order closes.
    pub pay_by: DateTime<Utc>,
    /// The provider's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// The refund number, once a refund was asked for.
    pub out_refund_no: Option<String>,
    /// Payments it could not take, each refunded on its own.
    pub strays: Vec<StrayPayment>,
    /// The provider reported its own payment refunded (a resolved problem shows `refunded`
    /// without this).
    #[serde(default)]
    pub provider_refunded: bool,
    /// Its refunds' problems, oldest first.
    #[serde(default)]
    pub problems: Vec<Problem>,
}

impl Renewal {
    /// The problem with this id.
    pub fn problem(&self, problem_id: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.problem_id == problem_id)
    }

    /// Whether the refund numbered `out_refund_no` awaits the provider's outcome: no problem
    /// for it yet, or its latest problem was retried.
    pub fn awaits_refund_outcome(&self, out_refund_no: &str) -> bool {
        self.problems
            .iter()
            .rev()
            .find(|p| p.out_refund_no == out_refund_no)
            .is_none_or(|p| p.status == ProblemStatus::Retried)
    }

    /// Whether a problem of its own payment's refund is open (staff handle it).
    pub fn has_open_refund_problem(&self) -> bool {
        self.problems
            .iter()
            .any(|p| !p.stray && p.status == ProblemStatus::Open)
    }
}

/// The id of a renewal's `n`th payment problem (1-based): `{renewal_id}-{n}`, the renewal id
/// in 32 hex digits.
pub fn problem_id(renewal_id: Uuid, n: usize) -> String {
    format!("{}-{n}", renewal_id.simple())
}

/// The renewal a problem id names, if it is one.
pub fn renewal_of_problem(problem_id: &str) -> Option<Uuid> {
    let (renewal, n) = problem_id.split_once('-')?;
    if renewal.len() != 32 || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Uuid::try_parse(renewal).ok()
}

/// A refund that failed in a way staff must handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Its id.
    pub problem_id: String,
    /// The refund of a stray payment.
    pub stray: bool,
    /// How the refund failed.
    pub failure: RefundFailure,
    /// The refund number that failed.
    pub out_refund_no: String,
    /// The amount owed.
    pub amount: Fen,
    /// Where it stands.
    pub status: ProblemStatus,
}

/// Where a payment problem stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemStatus {
    /// On the list: staff must retry or resolve it.
    Open,
    /// Asked again; the provider's outcome is awaited.
    Retried,
    /// Closed by staff with a note.
    Resolved,
    /// The provider reported the money paid back after all.
    Settled,
}

impl ProblemStatus {
    /// The status name used in views and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemStatus::Open => "open",
            ProblemStatus::Retried => "retried",
            ProblemStatus::Resolved => "resolved",
            ProblemStatus::Settled => "settled",
        }
    }
}

/// The kind a problem is listed with: `refund_…` or `stray_refund_…` and how it failed.
pub fn problem_kind(stray: bool, failure: RefundFailure) -> String {
    let what = if stray { "stray_refund" } else { "refund" };
    format!("{what}_{}", failure.as_str())
}

/// A payment a renewal could not take, and where giving it back stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrayPayment {
    /// The provider's transaction id.
    pub transaction_id: String,
    /// Amount paid.
    pub amount: Fen,
    /// The refund number giving it back.
    pub out_refund_no: String,
    /// Given back yet.
    pub refunded: bool,
    /// The last failure of its refund, if any.
    pub failure: Option<RefundFailure>,
}

/// Whether a card is in force on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// An approved period covers the day (已生效).
    Active,
    /// Every approved period has ended.
    Expired,
    /// Its first approved period starts later.
    NotYetValid,
}

impl CardStatus {
    /// Whether approved periods `coverage` put a card in force on `today`.
    pub fn of(coverage: &[Period], today: NaiveDate) -> Self {
        if coverage.iter().any(|p| p.contains(today)) {
            CardStatus::Active
        } else if coverage.iter().all(|p| p.from > today) {
            CardStatus::NotYetValid
        } else {
            CardStatus::Expired
        }
    }

    /// The status name used in views.
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::Expired => "expired",
            CardStatus::NotYetValid => "not_yet_valid",
        }
    }
}

impl Card {
    /// The latest approved period, as the card shows it.
    pub fn validity(&self) -> Period {
        *self
            .coverage
            .iter()
            .max_by_key(|p| p.to)
            .expect("a card is issued with a validity")
    }

    /// Whether the card is in force on `today`.
    pub fn status_on(&self, today: NaiveDate) -> CardStatus {
        CardStatus::of(&self.coverage, today)
    }

    /// Whether approved periods cover all of `period`.
    pub fn covers(&self, period: Period) -> bool {
        is_covered(&self.coverage, period)
    }

    /// The renewal with this id.
    pub fn renewal(&self, renewal_id: Uuid) -> Option<&Renewal> {
        self.renewals.iter().find(|r| r.renewal_id == renewal_id)
    }

    fn renewal_mut(&mut self, renewal_id: Uuid) -> Option<&mut Renewal> {
        self.renewals
            .iter_mut()
            .find(|r| r.renewal_id == renewal_id)
    }
}

fn problem_mut<'a>(
    card: &'a mut Card,
    renewal_id: Uuid,
    problem_id: &str,
) -> Option<&'a mut Problem> {
    card.renewal_mut(renewal_id)?
        .problems
        .iter_mut()
        .find(|p| p.problem_id == problem_id)
}

/// The provider paid `out_refund_no` back: its open or retried problems are settled.
fn settle(renewal: &mut Renewal, out_refund_no: &str) {
    for p in renewal.problems.iter_mut() {
        if p.out_refund_no == out_refund_no
            && matches!(p.status, ProblemStatus::Open | ProblemStatus::Retried)
        {
            p.status = ProblemStatus::Settled;
        }
    }
}

fn renewal_mut(card: &mut Card, renewal_id: Uuid) -> Option<&mut Renewal> {
    card.renewal_mut(renewal_id)
}

fn stray_mut<'a>(
    card: &'a mut Card,
    renewal_id: Uuid,
    out_refund_no: &str,
) -> Option<&'a mut StrayPayment> {
    card.renewal_mut(renewal_id)?
        .strays
        .iter_mut()
        .find(|s| s.out_refund_no == out_refund_no)
}

/// Folds one event into the permit.
pub(super) fn apply(permit: &mut Permit, event: PermitEvent) {
    if let PermitEvent::PermitIssued {
        lot_id,
        plate,
        holder_name,
        phone,
        validity,
    } = event
    {
        permit.card = Some(Card {
            lot_id,
            plate,
            holder_name,
            phone,
            coverage: vec![validity],
            renewals: Vec::new(),
            second_plate: None,
            hidden: false,
        });
        return;
    }
    let Some(card) = permit.card.as_mut() else {
        return;
    };
    let moved = super::renewal_status(&event);
    apply_to_card(card, event);
    if let Some((renewal_id, status)) = moved {
        if let Some(renewal) = card.renewal_mut(renewal_id) {
            renewal.status = status;
        }
    }
}

/// Everything an event changes on the card but its renewal's status ([`super::renewal_status`]
/// sets that; a new renewal starts as `AwaitingPayment` until it does).
fn apply_to_card(card: &mut Card, event: PermitEvent) {
    match event {
        PermitEvent::PermitIssued { .. } | PermitEvent::VehicleChosen { .. } => {}
        PermitEvent::HolderChanged { holder_name, phone } => {
            card.holder_name = holder_name;
            card.phone = phone;
        }
        PermitEvent::VehicleUnbound { .. } => {}
        PermitEvent::VehicleBound { plate } => card.plate = plate,
        PermitEvent::SecondVehicleAdded { plate } => card.second_plate = Some(plate),
        PermitEvent::SecondVehicleRemoved { .. } => card.second_plate = None,
        PermitEvent::CardHidden {} => card.hidden = true,
        PermitEvent::CardShown {} => card.hidden = false,
        PermitEvent::RenewalSubmitted {
            renewal_id,
            period,
            amount,
            order_id,
            pay_by,
            ..
        } => card.renewals.push(Renewal {
            renewal_id,
            period,
            amount,
            status: RenewalStatus::AwaitingPayment,
            order_id,
            pay_by,
            transaction_id: None,
            out_refund_no: None,
            strays: Vec::new(),
            provider_refunded: false,
            problems: Vec::new(),
        }),
        PermitEvent::DeskRenewalPaid {
            renewal_id,
            period,
            amount,
            paid_at,
            ..
        } => card.renewals.push(Renewal {
            renewal_id,
            period,
            amount,
            status: RenewalStatus::AwaitingPayment,
            order_id: String::new(),
            pay_by: paid_at,
            transaction_id: None,
            out_refund_no: None,
            strays: Vec::new(),
            provider_refunded: false,
            problems: Vec::new(),
        }),
        PermitEvent::Paid {
            renewal_id,
            transaction_id,
            ..
        } => {
            if let Some(r) = renewal_mut(card, renewal_id) {
                r.transaction_id = Some(transaction_id);
            }
        }
        PermitEvent::Approved { period, .. } => card.coverage.push(period),
        PermitEvent::Rejected { .. } => {}
        PermitEvent::RefundRequested {
            renewal_id,
            out_refund_no,
            ..
        } => {
            if let Some(r) = renewal_mut(card, renewal_id) {
                r.out_refund_no = Some(out_refund_no);
            }
        }
        PermitEvent::Refunded {
            renewal_id,
            out_refund_no,
            ..
        } => {
            if let Some(r) = renewal_mut(card, renewal_id) {
                r.provider_refunded = true;
                settle(r, &out_refund_no);
            }
        }
        PermitEvent::RefundFailed { .. }
        | PermitEvent::RenewalExpiredUnpaid { .. }
        | PermitEvent::RenewalCancelled { .. } => {}
        PermitEvent::StrayPaymentReceived {
            renewal_id,
            transaction_id,
            amount,
            out_refund_no,
            ..
        } => {
            if let Some(r) = renewal_mut(card, renewal_id) {
                r.strays.push(StrayPayment {
                    transaction_id,
                    amount,
                    out_refund_no,
                    refunded: false,
                    failure: None,
                });
            }
        }
        PermitEvent::StrayPaymentRefunded {
            renewal_id,
            out_refund_no,
            ..
        } => {
            if let Some(s) = stray_mut(card, renewal_id, &out_refund_no) {
                s.refunded = true;
                s.failure = None;
            }
            if let Some(r) = renewal_mut(card, renewal_id) {
                settle(r, &out_refund_no);
            }
        }
        PermitEvent::StrayRefundFailed {
            renewal_id,
            out_refund_no,
            failure,
            ..
        } => {
            if let Some(s) = stray_mut(card, renewal_id, &out_refund_no) {
                s.failure = Some(failure);
            }
        }
        PermitEvent::PaymentProblemRaised {
            problem_id,
            renewal_id,
            stray,
            failure,
            out_refund_no,
            amount,
            ..
        } => {
            if let Some(r) = renewal_mut(card, renewal_id) {
                r.problems.push(Problem {
                    problem_id,
                    stray,
                    failure,
                    out_refund_no,
                    amount,
                    status: ProblemStatus::Open,
                });
            }
        }
        PermitEvent::PaymentProblemRetried {
            problem_id,
            renewal_id,
            stray,
            out_refund_no,
            ..
        } => {
            let Some(problem) = problem_mut(card, renewal_id, &problem_id) else {
                return;
            };
            problem.status = ProblemStatus::Retried;
            let failed_no = problem.out_refund_no.clone();
            if failed_no == out_refund_no {
                return;
            }
            // A new refund number replaces the closed one.
            if stray {
                if let Some(s) = stray_mut(card, renewal_id, &failed_no) {
                    s.out_refund_no = out_refund_no;
                }
            } else if let Some(r) = renewal_mut(card, renewal_id) {
                r.out_refund_no = Some(out_refund_no);
            }
        }
        PermitEvent::PaymentProblemResolved {
            problem_id,
            renewal_id,
            ..
        } => {
            if let Some(problem) = problem_mut(card, renewal_id, &problem_id) {
                problem.status = ProblemStatus::Resolved;
            }
        }
    }
}
