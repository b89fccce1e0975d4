//! Auditors: a permit's events, its state as of any instant (replayed, no projection), and the
//! whole feed in commit order.

use super::auth::Auditor;
use super::error::ApiResult;
use super::extract::{parse_uuid, AppQuery};
use super::AppState;
use crate::error::AppError;
use crate::services::Services;
use crate::store::StoredEvent;
use aggregates::lot::Lot;
use aggregates::permit::{Card, Permit, PermitEvent};
use aggregates::upcasting::Upcasters;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/audit/permits/{permit_id}/events",
            get(permit_events),
        )
        .route("/api/v1/audit/permits/{permit_id}/state", get(permit_state))
        .route("/api/v1/audit/events", get(feed))
        .route("/api/v1/audit/verify", axum::routing::post(verify_ledger))
        .route("/api/v1/audit/checkpoints/latest", get(latest_checkpoint))
}

/// The whole ledger checked against its hashes, chains and checkpoints (docs/audit.md).
async fn verify_ledger(State(svc): State<AppState>, _auditor: Auditor) -> ApiResult<Json<Value>> {
    let report = crate::audit::verify_for_service(&svc).await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|e| AppError::Internal(e.to_string()))?,
    ))
}

/// The latest checkpoint with the message its signature covers and the public key.
async fn latest_checkpoint(
    State(svc): State<AppState>,
    _auditor: Auditor,
) -> ApiResult<Json<Value>> {
    match crate::audit::latest_for_service(&svc).await? {
        Some(answer) => Ok(Json(answer)),
        None => {
            Err(AppError::not_found("no_checkpoint", "no checkpoint has been written yet").into())
        }
    }
}

/// An event as auditors see it.
pub fn event_json(e: &StoredEvent) -> Value {
    let meta = |k: &str| e.metadata.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "position": e.position,
        "aggregate_type": e.aggregate_type,
        "aggregate_id": e.aggregate_id,
        "sequence": e.sequence,
        "event_type": e.event_type,
        "event_version": e.event_version,
        "payload": e.payload,
        "metadata": {
            "actor": meta("actor"),
            "role": meta("role"),
            "correlation_id": meta("correlation_id"),
            "causation_id": meta("causation_id"),
            "request_id": meta("request_id"),
        },
        "recorded_at": e.recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "hash": e.hash,
        "prev_hash": e.prev_hash,
    })
}

/// A permit's history, for reviewers and auditors.
pub async fn history(svc: &Services, permit_id: &str) -> Result<Vec<Value>, AppError> {
    let events = svc.store.log.load(Permit::TYPE, permit_id).await?;
    Ok(events.iter().map(event_json).collect())
}

async fn permit_events(
    State(svc): State<AppState>,
    _auditor: Auditor,
    Path(permit_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?.to_string();
    let events = history(&svc, &permit_id).await?;
    if events.is_empty() {
        return Err(AppError::not_found("no_permit", "no such permit").into());
    }
    Ok(Json(json!({"events": events})))
}

#[derive(Deserialize)]
struct AsOf {
    as_of: Option<String>,
}

/// Renewals as of the events replayed: the list and each one's status from the domain's fold
/// (`Card::renewals`, statuses by `renewal_status`), the times, channel and reason from the
/// events that carry them.
fn replay_renewals(card: &Card, events: &[PermitEvent]) -> Vec<Value> {
    let mut facts: HashMap<uuid::Uuid, Map<String, Value>> = HashMap::new();
    let mut put = |renewal_id: &uuid::Uuid, fields: &[(&str, Value)]| {
        let entry = facts.entry(*renewal_id).or_default();
        for (k, v) in fields {
            entry.insert((*k).to_string(), v.clone());
        }
    };
    for event in events {
        match event {
            PermitEvent::RenewalSubmitted {
                renewal_id,
                submitted_at,
                ..
            } => put(
                renewal_id,
                &[
                    ("channel", json!("wechat_pay")),
                    ("submitted_at", json!(submitted_at)),
                ],
            ),
            PermitEvent::DeskRenewalPaid {
                renewal_id,
                method,
                paid_at,
                ..
            } => {
                put(
                    renewal_id,
                    &[
                        ("channel", json!(method.as_str())),
                        ("submitted_at", json!(paid_at)),
                        ("paid_at", json!(paid_at)),
                    ],
                );
            }
            PermitEvent::Paid {
                renewal_id,
                paid_at,
                ..
            } => put(renewal_id, &[("paid_at", json!(paid_at))]),
            PermitEvent::Approved {
                renewal_id,
                decided_at,
                ..
            } => put(renewal_id, &[("decided_at", json!(decided_at))]),
            PermitEvent::Rejected {
                renewal_id,
                reason,
                decided_at,
                ..
            } => put(
                renewal_id,
                &[
                    ("reject_reason", json!(reason)),
                    ("decided_at", json!(decided_at)),
                ],
            ),
            PermitEvent::Refunded {
                renewal_id,
                refunded_at,
                ..
            } => put(renewal_id, &[("refunded_at", json!(refunded_at))]),
            PermitEvent::PaymentProblemResolved {
                renewal_id,
                stray: false,
                at,
                ..
            } => put(renewal_id, &[("refunded_at", json!(at))]),
            _ => {}
        }
    }
    card.renewals
        .iter()
        .map(|r| {
            let mut entry = json!({
                "renewal_id": r.renewal_id, "period": r.period, "amount_fen": r.amount.get(),
                "channel": null, "status": r.status.as_str(), "reject_reason": null,
                "submitted_at": null, "paid_at": null, "decided_at": null, "refunded_at": null,
                "order_id": r.order_id,
            });
            if let (Some(entry), Some(known)) = (entry.as_object_mut(), facts.remove(&r.renewal_id))
            {
                entry.extend(known);
            }
            entry
        })
        .collect()
}

async fn permit_state(
    State(svc): State<AppState>,
    _auditor: Auditor,
    Path(permit_id): Path<String>,
    AppQuery(q): AppQuery<AsOf>,
) -> ApiResult<Json<Value>> {
    let permit_id = parse_uuid(&permit_id, "no_permit")?.to_string();
    let as_of: DateTime<Utc> = match q.as_of.as_deref() {
        None => Utc::now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| AppError::invalid("invalid_query", "as_of must be an RFC 3339 instant"))?
            .with_timezone(&Utc),
    };
    let stored = svc.store.log.load(Permit::TYPE, &permit_id).await?;
    if stored.is_empty() {
        return Err(AppError::not_found("no_permit", "no such permit").into());
    }
    let upcasters = Upcasters::standard();
    let mut permit = Permit::default();
    let mut events = Vec::new();
    for e in stored.iter().filter(|e| e.recorded_at <= as_of) {
        let event = upcasters
            .decode::<Permit>(&e.as_decodable())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        permit.apply(event.clone());
        events.push(event);
    }
    let Some(card) = permit.card else {
        return Ok(Json(
            json!({"permit_id": permit_id, "as_of": as_of, "exists": false}),
        ));
    };
    let lot = svc
        .ledger
        .load::<Lot>(&card.lot_id.to_string())
        .await
        .map_err(AppError::from)?
        .aggregate
        .registered;
    let validity = card.validity();
    let today = aggregates::business_time::business_date(as_of);
    Ok(Json(json!({
        "permit_id": permit_id,
        "as_of": as_of,
        "exists": true,
        "lot_id": card.lot_id,
        "lot_name": lot.as_ref().map(|l| l.name.clone()),
        "product_name": lot.as_ref().map(|l| l.product.name.clone()),
        "plate": card.plate.as_str(),
        "second_plate": card.second_plate.as_ref().map(|p| p.as_str()),
        "holder_name": card.holder_name,
        "phone": card.phone.as_str(),
        "phone_masked": card.phone.masked(),
        "valid_from": validity.from,
        "valid_to": validity.to,
        "status": card.status_on(today).as_str(),
        "renewals": replay_renewals(&card, &events),
    })))
}

#[derive(Deserialize)]
struct FeedQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn feed(
    State(svc): State<AppState>,
    _auditor: Auditor,
    AppQuery(q): AppQuery<FeedQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::invalid("invalid_query", "limit must be 1–1000").into());
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(AppError::invalid("invalid_query", "after must not be negative").into());
    }
    let events = svc.store.log.read_feed(after, limit).await?;
    let next_after = events.last().map_or(after, |e| e.position);
    Ok(Json(json!({
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
        "next_after": next_after,
    })))
}

#[cfg(test)]
mod export_shape_tests {
    use super::*;

    #[test]
    fn exported_events_have_the_audit_api_shape() {
        let e = StoredEvent {
            position: 65537,
            aggregate_type: "permit".into(),
            aggregate_id: "p".into(),
            sequence: 1,
            event_type: "Paid".into(),
            event_version: "1".into(),
            payload: json!({"Paid": {"amount": 36000}}),
            metadata: json!({"actor": "system", "role": "system", "correlation_id": "c",
                             "causation_id": "k", "request_id": "q"}),
            recorded_at: "2022-05-20T02:00:00.120000Z".parse().unwrap(),
            hash: Some("ab".repeat(32)),
            prev_hash: Some(crate::store::GENESIS.into()),
        };
        assert_eq!(event_json(&e), crate::audit::export::event_line(&e));
    }
}
