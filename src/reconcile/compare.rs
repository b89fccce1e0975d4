//! The comparison of a day's trade bill with the ledger's money. Pure: no clock, no I/O.
//!
//! The day's ledger is what the ledger recorded that business day (Asia/Shanghai): payments
//! (paid renewals and stray payments) and refunds completed. Every bill row must be in the
//! ledger and every such ledger entry in the bill:
//!
//! - `missing_in_ledger`: a bill row the ledger does not know at all (looked up in the whole
//!   ledger, so a payment WeChat dated a moment before midnight and the ledger a moment after
//!   still matches).
//! - `missing_in_bill`: a payment or completed refund the ledger recorded that day that the
//!   bill does not have.
//! - `amount_differs`: both have it, for different amounts.
//! - `state_differs`: both have it, in states that cannot both be true: a payment WeChat
//!   shows `REVOKED`; a refund WeChat shows `SUCCESS` the ledger has not completed, or
//!   `CLOSED`/`ABNORMAL` the ledger has completed. A `PROCESSING` refund agrees with any ledger
//!   state: the bill's refund state is a snapshot taken when the bill was made.
//!
//! Payments are keyed by order and transaction number (a stray payment for an order already
//! paid is another transaction of the same order), refunds by refund number.

use crate::payments::wechat::bill::{BillRow, TradeBill};
use aggregates::business_time::business_date;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// A payment the ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPayment {
    /// The order number (`out_trade_no`).
    pub out_trade_no: String,
    /// WeChat's transaction number.
    pub transaction_id: String,
    /// The amount, fen.
    pub fen: i64,
    /// When the ledger recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// Where a refund the ledger asked for stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerRefundState {
    /// Asked for; no outcome yet.
    Requested,
    /// The money was given back.
    Completed,
    /// The provider reported it failed (`CLOSED` or `ABNORMAL`).
    Failed,
}

impl LedgerRefundState {
    fn as_str(self) -> &'static str {
        match self {
            LedgerRefundState::Requested => "requested",
            LedgerRefundState::Completed => "completed",
            LedgerRefundState::Failed => "failed",
        }
    }
}

/// A refund the ledger asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRefund {
    /// The refunded order.
    pub out_trade_no: String,
    /// The refund number.
    pub out_refund_no: String,
    /// The amount, fen.
    pub fen: i64,
    /// Where it stands.
    pub state: LedgerRefundState,
    /// When the ledger recorded it completed.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The ledger's money: every payment and refund it holds, whatever the day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerMoney {
    /// Payments.
    pub payments: Vec<LedgerPayment>,
    /// Refunds asked for.
    pub refunds: Vec<LedgerRefund>,
}

/// Counts and sums of one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Payments.
    pub payments: i64,
    /// Their sum, fen.
    pub payment_fen: i64,
    /// Refunds.
    pub refunds: i64,
    /// Their sum, fen.
    pub refund_fen: i64,
}

/// What kind of disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// In the bill, not in the ledger.
    MissingInLedger,
    /// In the ledger that day, not in the bill.
    MissingInBill,
    /// Both, for different amounts.
    AmountDiffers,
    /// Both, in states that contradict each other.
    StateDiffers,
}

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mismatch {
    /// What kind.
    pub kind: MismatchKind,
    /// The order.
    pub out_trade_no: String,
    /// The refund, for a refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_refund_no: Option<String>,
    /// The bill's amount, fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_fen: Option<i64>,
    /// The ledger's amount, fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_fen: Option<i64>,
    /// For `state_differs`: the two states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A day's reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The business day.
    pub date: NaiveDate,
    /// No mismatch.
    pub ok: bool,
    /// The bill's figures: payments (`SUCCESS` rows) and refunds (all refund rows).
    pub bill: Figures,
    /// The ledger's figures that day: payments recorded and refunds completed.
    pub ledger: Figures,
    /// The disagreements, ordered by order and refund number.
    pub mismatches: Vec<Mismatch>,
}

fn mismatch(kind: MismatchKind, out_trade_no: &str) -> Mismatch {
    Mismatch {
        kind,
        out_trade_no: out_trade_no.to_string(),
        out_refund_no: None,
        bill_fen: None,
        ledger_fen: None,
        detail: None,
    }
}

/// Compares the bill of `date` with the ledger's money.
pub fn compare(date: NaiveDate, bill: &TradeBill, ledger: &LedgerMoney) -> Report {
    let on_day = |t: DateTime<Utc>| business_date(t) == date;
    let payments: HashMap<(&str, &str), &LedgerPayment> = ledger
        .payments
        .iter()
        .map(|p| ((p.out_trade_no.as_str(), p.transaction_id.as_str()), p))
        .collect();
    let refunds: HashMap<&str, &LedgerRefund> = ledger
        .refunds
        .iter()
        .map(|r| (r.out_refund_no.as_str(), r))
        .collect();
    let mut seen_payments = BTreeSet::new();
    let mut seen_refunds = BTreeSet::new();
    let mut found = Vec::new();
    let mut bill_figures = Figures::default();
    for row in &bill.rows {
        match row {
            BillRow::Payment(p) => {
                if p.state == "SUCCESS" {
                    bill_figures.payments += 1;
                    bill_figures.payment_fen += p.fen;
                }
                let key = (p.out_trade_no.as_str(), p.transaction_id.as_str());
                let mut m = mismatch(MismatchKind::MissingInLedger, &p.out_trade_no);
                m.bill_fen = Some(p.fen);
                let Some(held) = payments.get(&key) else {
                    found.push(m);
                    continue;
                };
                seen_payments.insert(key);
                m.ledger_fen = Some(held.fen);
                if held.fen != p.fen {
                    found.push(Mismatch {
                        kind: MismatchKind::AmountDiffers,
                        ..m.clone()
                    });
                }
                if p.state != "SUCCESS" {
                    found.push(Mismatch {
                        kind: MismatchKind::StateDiffers,
                        detail: Some(format!("bill {}, ledger paid", p.state)),
                        ..m
                    });
                }
            }
            BillRow::Refund(r) => {
                bill_figures.refunds += 1;
                bill_figures.refund_fen += r.fen;
                let mut m = mismatch(MismatchKind::MissingInLedger, &r.out_trade_no);
                m.out_refund_no = Some(r.out_refund_no.clone());
                m.bill_fen = Some(r.fen);
                let Some(held) = refunds.get(r.out_refund_no.as_str()) else {
                    found.push(m);
                    continue;
                };
                seen_refunds.insert(r.out_refund_no.as_str());
                m.ledger_fen = Some(held.fen);
                if held.fen != r.fen {
                    found.push(Mismatch {
                        kind: MismatchKind::AmountDiffers,
                        ..m.clone()
                    });
                }
                let contradicts = match r.status.as_str() {
                    "SUCCESS" => held.state != LedgerRefundState::Completed,
                    "CLOSED" | "ABNORMAL" => held.state == LedgerRefundState::Completed,
                    _ => false,
                };
                if contradicts {
                    found.push(Mismatch {
                        kind: MismatchKind::StateDiffers,
                        detail: Some(format!("bill {}, ledger {}", r.status, held.state.as_str())),
                        ..m
                    });
                }
            }
        }
    }
    let mut ledger_figures = Figures::default();
    for p in ledger.payments.iter().filter(|p| on_day(p.recorded_at)) {
        ledger_figures.payments += 1;
        ledger_figures.payment_fen += p.fen;
        if !seen_payments.contains(&(p.out_trade_no.as_str(), p.transaction_id.as_str())) {
            let mut m = mismatch(MismatchKind::MissingInBill, &p.out_trade_no);
            m.ledger_fen = Some(p.fen);
            found.push(m);
        }
    }
    for r in &ledger.refunds {
        if !r.completed_at.is_some_and(on_day) {
            continue;
        }
        ledger_figures.refunds += 1;
        ledger_figures.refund_fen += r.fen;
        if !seen_refunds.contains(r.out_refund_no.as_str()) {
            let mut m = mismatch(MismatchKind::MissingInBill, &r.out_trade_no);
            m.out_refund_no = Some(r.out_refund_no.clone());
            m.ledger_fen = Some(r.fen);
            found.push(m);
        }
    }
    found.sort_by(|a, b| {
        (&a.out_trade_no, &a.out_refund_no, a.kind).cmp(&(
            &b.out_trade_no,
            &b.out_refund_no,
            b.kind,
        ))
    });
    Report {
        date,
        ok: found.is_empty(),
        bill: bill_figures,
        ledger: ledger_figures,
        mismatches: found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::wechat::bill::{BillPayment, BillRefund};
    use chrono::NaiveDateTime;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 14).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn bill_payment(no: &str, fen: i64) -> BillRow {
        BillRow::Payment(BillPayment {
            traded_at: at("2025-03-14 10:00:00"),
            transaction_id: format!("4200{no}"),
            out_trade_no: no.into(),
            state: "SUCCESS".into(),
            fen,
        })
    }

    fn bill_refund(no: &str, refund_no: &str, fen: i64, status: &str) -> BillRow {
        BillRow::Refund(BillRefund {
            traded_at: at("2025-03-14 11:00:00"),
            transaction_id: format!("4200{no}"),
            out_trade_no: no.into(),
            out_refund_no: refund_no.into(),
            refund_id: format!("5000{refund_no}"),
            fen,
            status: status.into(),
        })
    }

    /// Recorded at 10:00:05 on the day, Shanghai time.
    fn paid(no: &str, fen: i64) -> LedgerPayment {
        LedgerPayment {
            out_trade_no: no.into(),
            transaction_id: format!("4200{no}"),
            fen,
            recorded_at: utc("2025-03-14T02:00:05Z"),
        }
    }

    fn refund(no: &str, refund_no: &str, fen: i64, state: LedgerRefundState) -> LedgerRefund {
        LedgerRefund {
            out_trade_no: no.into(),
            out_refund_no: refund_no.into(),
            fen,
            state,
            completed_at: (state == LedgerRefundState::Completed)
                .then(|| utc("2025-03-14T03:00:09Z")),
        }
    }

    fn kinds(report: &Report) -> Vec<(MismatchKind, &str)> {
        report
            .mismatches
            .iter()
            .map(|m| (m.kind, m.out_trade_no.as_str()))
            .collect()
    }

    #[test]
    fn a_day_where_both_sides_agree_is_ok_with_equal_figures() {
        let bill = TradeBill {
            rows: vec![
                bill_payment("o1", 36000),
                bill_payment("o2", 36000),
                bill_refund("o2", "R2", 36000, "SUCCESS"),
            ],
        };
        let ledger = LedgerMoney {
            payments: vec![paid("o1", 36000), paid("o2", 36000)],
            refunds: vec![refund("o2", "R2", 36000, LedgerRefundState::Completed)],
        };
        let report = compare(day(), &bill, &ledger);
        assert!(report.ok, "{report:?}");
        let figures = Figures {
            payments: 2,
            payment_fen: 72000,
            refunds: 1,
            refund_fen: 36000,
        };
        assert_eq!((report.bill, report.ledger), (figures, figures));
    }

    #[test]
    fn a_bill_row_the_ledger_lacks_is_missing_in_ledger() {
        let bill = TradeBill {
            rows: vec![bill_payment("o1", 36000), bill_payment("ghost", 100)],
        };
        let ledger = LedgerMoney {
            payments: vec![paid("o1", 36000)],
            refunds: vec![],
        };
        let report = compare(day(), &bill, &ledger);
        assert!(!report.ok);
        assert_eq!(
            report.mismatches,
            vec![Mismatch {
                kind: MismatchKind::MissingInLedger,
                out_trade_no: "ghost".into(),
                out_refund_no: None,
                bill_fen: Some(100),
                ledger_fen: None,
                detail: None,
            }]
        );
    }

    #[test]
    fn a_payment_and_a_refund_the_bill_lacks_are_missing_in_bill() {
        let ledger = LedgerMoney {
            payments: vec![paid("o1", 36000)],
            refunds: vec![refund("o1", "R1", 36000, LedgerRefundState::Completed)],
        };
        let report = compare(day(), &TradeBill::default(), &ledger);
        assert_eq!(
            kinds(&report),
            vec![
                (MismatchKind::MissingInBill, "o1"),
                (MismatchKind::MissingInBill, "o1")
            ]
        );
        assert_eq!(report.mismatches[1].out_refund_no.as_deref(), Some("R1"));
        assert_eq!(report.ledger.refund_fen, 36000);
    }

    #[test]
    fn ledger_entries_of_other_days_are_not_expected_in_the_bill() {
        let mut yesterday = paid("o0", 36000);
        yesterday.recorded_at = utc("2025-03-13T15:59:59Z"); // 23:59:59 the day before
        let report = compare(
            day(),
            &TradeBill::default(),
            &LedgerMoney {
                payments: vec![yesterday],
                refunds: vec![refund("o0", "R0", 36000, LedgerRefundState::Requested)],
            },
        );
        assert!(report.ok, "{report:?}");
        assert_eq!(report.ledger, Figures::default());
    }

    #[test]
    fn a_payment_the_ledger_recorded_just_after_midnight_still_matches_the_bill() {
        let mut late = paid("o1", 36000);
        late.recorded_at = utc("2025-03-14T16:00:02Z"); // 00:00:02 the next day
        let bill = TradeBill {
            rows: vec![bill_payment("o1", 36000)],
        };
        let report = compare(
            day(),
            &bill,
            &LedgerMoney {
                payments: vec![late],
                refunds: vec![],
            },
        );
        assert!(report.ok, "{report:?}");
    }

    #[test]
    fn different_amounts_are_amount_differs_with_both_amounts() {
        let bill = TradeBill {
            rows: vec![
                bill_payment("o1", 35000),
                bill_refund("o1", "R1", 100, "PROCESSING"),
            ],
        };
        let ledger = LedgerMoney {
            payments: vec![paid("o1", 36000)],
            refunds: vec![refund("o1", "R1", 36000, LedgerRefundState::Requested)],
        };
        let report = compare(day(), &bill, &ledger);
        let amounts: Vec<_> = report
            .mismatches
            .iter()
            .map(|m| (m.kind, m.out_refund_no.as_deref(), m.bill_fen, m.ledger_fen))
            .collect();
        assert_eq!(
            amounts,
            vec![
                (MismatchKind::AmountDiffers, None, Some(35000), Some(36000)),
                (
                    MismatchKind::AmountDiffers,
                    Some("R1"),
                    Some(100),
                    Some(36000)
                ),
            ]
        );
    }

    #[test]
    fn contradicting_states_are_state_differs_and_a_processing_refund_is_not() {
        let mut revoked = bill_payment("o1", 36000);
        if let BillRow::Payment(p) = &mut revoked {
            p.state = "REVOKED".into();
        }
        let bill = TradeBill {
            rows: vec![
                revoked,
                bill_refund("o2", "R2", 36000, "SUCCESS"),
                bill_refund("o3", "R3", 36000, "ABNORMAL"),
                bill_refund("o4", "R4", 36000, "PROCESSING"),
            ],
        };
        let ledger = LedgerMoney {
            payments: vec![paid("o1", 36000)],
            refunds: vec![
                refund("o2", "R2", 36000, LedgerRefundState::Failed),
                refund("o3", "R3", 36000, LedgerRefundState::Completed),
                refund("o4", "R4", 36000, LedgerRefundState::Completed),
            ],
        };
        let report = compare(day(), &bill, &ledger);
        let states: Vec<_> = report
            .mismatches
            .iter()
            .map(|m| (m.kind, m.out_trade_no.as_str(), m.detail.as_deref()))
            .collect();
        assert_eq!(
            states,
            vec![
                (
                    MismatchKind::StateDiffers,
                    "o1",
                    Some("bill REVOKED, ledger paid")
                ),
                (
                    MismatchKind::StateDiffers,
                    "o2",
                    Some("bill SUCCESS, ledger failed")
                ),
                (
                    MismatchKind::StateDiffers,
                    "o3",
                    Some("bill ABNORMAL, ledger completed")
                ),
            ]
        );
        assert_eq!(
            report.bill.payments, 0,
            "a revoked payment is not money taken"
        );
    }

    #[test]
    fn a_report_serialises_as_the_api_describes() {
        let report = compare(
            day(),
            &TradeBill {
                rows: vec![bill_payment("ghost", 100)],
            },
            &LedgerMoney::default(),
        );
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({
                "date": "2025-03-14", "ok": false,
                "bill": {"payments": 1, "payment_fen": 100, "refunds": 0, "refund_fen": 0},
                "ledger": {"payments": 0, "payment_fen": 0, "refunds": 0, "refund_fen": 0},
                "mismatches": [{"kind": "missing_in_ledger", "out_trade_no": "ghost",
                                "bill_fen": 100}]
            })
        );
    }
}
