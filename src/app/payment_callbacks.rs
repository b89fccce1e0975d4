//! What a verified payment-provider notification does to the ledger.
//!
//! Signature, timestamp window and decryption are checked before this (by the port's
//! verifier); here the amount and the order are checked by the permit's rules. A duplicate or
//! replayed notification changes nothing and is acknowledged.

use super::lookup;
use crate::error::AppError;
use crate::payments::{PaymentResult, ProviderError, RefundResult, RefundStatus};
use crate::services::Services;
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{Permit, PermitCommand, RefundFailure};
use aggregates::values::Fen;
use uuid::Uuid;

fn provider_meta(request_id: &str, notification_id: &str, renewal_id: Uuid) -> EventMetadata {
    EventMetadata {
        actor: Actor::PaymentProvider,
        role: Role::PaymentProvider,
        correlation_id: renewal_id.to_string(),
        causation_id: format!("wechatpay:{notification_id}"),
        request_id: request_id.to_string(),
    }
}

/// Our order numbers are the renewal ids (32 hex digits).
fn renewal_of_order(out_trade_no: &str) -> Result<Uuid, AppError> {
    Uuid::try_parse(out_trade_no)
        .map_err(|_| AppError::not_found("no_renewal", "unknown out_trade_no"))
}

/// Records a payment; `Ok(None)` when it changed nothing (duplicate) or was not a success.
pub async fn on_payment(
    svc: &Services,
    result: &PaymentResult,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    if result.trade_state != "SUCCESS" {
        tracing::info!(out_trade_no = %result.out_trade_no, state = %result.trade_state, "payment notification ignored");
        return Ok(None);
    }
    let renewal_id = renewal_of_order(&result.out_trade_no)?;
    let permit_id = lookup::permit_of_renewal(svc, renewal_id).await?;
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::RecordPayment {
                renewal_id,
                transaction_id: result.transaction_id.clone(),
                amount: Fen(result.amount_total_fen),
                paid_at: svc.clock.now(),
            },
            &provider_meta(request_id, &result.notification_id, renewal_id),
        )
        .await?;
    Ok((!committed.events.is_empty())
        .then_some(committed.position)
        .flatten())
}

/// Records a refund's outcome; `Ok(None)` when it changed nothing.
pub async fn on_refund(
    svc: &Services,
    result: &RefundResult,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let renewal_id = renewal_of_order(&result.out_trade_no)?;
    let permit_id = lookup::permit_of_renewal(svc, renewal_id).await?;
    let now = svc.clock.now();
    let command = match result.status {
        RefundStatus::Success => PermitCommand::RecordRefund {
            renewal_id,
            out_refund_no: result.out_refund_no.clone(),
            refund_id: result.refund_id.clone(),
            refunded_at: now,
        },
        RefundStatus::Closed | RefundStatus::Abnormal => {
            if result.status == RefundStatus::Abnormal {
                tracing::error!(%renewal_id, out_refund_no = %result.out_refund_no,
                    "refund ABNORMAL: staff must pay this back by hand");
            }
            PermitCommand::RecordRefundFailure {
                renewal_id,
                out_refund_no: result.out_refund_no.clone(),
                failure: if result.status == RefundStatus::Closed {
                    RefundFailure::Closed
                } else {
                    RefundFailure::Abnormal
                },
                at: now,
            }
        }
    };
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            command,
            &provider_meta(request_id, &result.notification_id, renewal_id),
        )
        .await?;
    Ok((!committed.events.is_empty())
        .then_some(committed.position)
        .flatten())
}

/// Queries the provider about a renewal's order and records the payment if it was made: the
/// way a payment whose notification never came still reaches the ledger. `Ok(None)` when the
/// order is not paid (or the payment was recorded already).
pub async fn check_order(
    svc: &Services,
    renewal_id: Uuid,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let out_trade_no = renewal_id.simple().to_string();
    let status = match svc.payments.query_order(&out_trade_no).await {
        Ok(status) => status,
        Err(ProviderError::UnknownOrder) => return Ok(None),
        Err(e) => {
            tracing::warn!(%renewal_id, error = %e, "order query failed");
            return Err(AppError::Upstream {
                code: "payment_provider_unavailable",
                message: "the payment provider could not be asked; try again".into(),
            });
        }
    };
    let (true, Some(transaction_id), Some(amount)) = (
        status.is_paid(),
        status.transaction_id.clone(),
        status.amount_total_fen,
    ) else {
        return Ok(None);
    };
    let result = PaymentResult {
        // The query's proof stands in for the notification that did not come.
        notification_id: format!("query:{transaction_id}"),
        out_trade_no,
        transaction_id,
        trade_state: "SUCCESS".into(),
        amount_total_fen: amount,
        success_time: status.success_time.unwrap_or_else(|| svc.clock.now()),
    };
    on_payment(svc, &result, request_id).await
}
