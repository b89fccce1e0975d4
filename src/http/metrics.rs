//! `GET /metrics`: Prometheus text format (version 0.0.4). Every figure but the gate's is read
//! from the store when scraped, so every instance reports the same numbers and a restart loses
//! none; the gate's two describe this instance's in-memory model.

use super::AppState;
use crate::app::metrics::Figures;
use crate::error::AppError;
use crate::services::Services;
use crate::sms::budget;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::fmt::Write;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(svc): State<AppState>) -> Result<impl IntoResponse, super::ApiError> {
    let body = render(&svc).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

/// A metric family: its help and type lines, then its samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Self { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: i64) {
        let _ = write!(self.out, "{name}");
        if !labels.is_empty() {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn render(svc: &Services) -> Result<String, AppError> {
    let figures = Figures::gather(svc).await?;
    let mut out = String::new();
    let projections = &figures.projections;
    let head = figures.head;
    let mut f = Family::new(
        &mut out,
        "permit_ledger_feed_head",
        "gauge",
        "Position of the last event in the ledger.",
    );
    f.sample("permit_ledger_feed_head", &[], head);
    let mut f = Family::new(
        &mut out,
        "permit_ledger_projection_position",
        "gauge",
        "The last position each projection has applied.",
    );
    for p in projections {
        f.sample(
            "permit_ledger_projection_position",
            &[("projection", &p.name)],
            p.position,
        );
    }
    let mut f = Family::new(
        &mut out,
        "permit_ledger_projection_lag_events",
        "gauge",
        "Events between the feed's head and each projection's checkpoint.",
    );
    for p in projections {
        f.sample(
            "permit_ledger_projection_lag_events",
            &[("projection", &p.name)],
            p.lag,
        );
    }
    let mut f = Family::new(
        &mut out,
        "permit_ledger_projection_failures",
        "gauge",
        "Failed attempts at the event each projection is stuck on (0 when it is not stuck).",
    );
    for p in projections {
        f.sample(
            "permit_ledger_projection_failures",
            &[("projection", &p.name)],
            i64::from(p.failures),
        );
    }
    let mut f = Family::new(
        &mut out,
        "permit_ledger_projection_parked_events",
        "gauge",
        "Events each projection's live generation went past without applying.",
    );
    for p in projections {
        f.sample(
            "permit_ledger_projection_parked_events",
            &[("projection", &p.name)],
            p.parked,
        );
    }

    let outbox = &figures.outbox;
    for (status, name, help) in [
        (
            "pending",
            "permit_ledger_outbox_pending",
            "Outbox work waiting to be carried out (SMS notices, refunds, closing orders).",
        ),
        (
            "failed",
            "permit_ledger_outbox_failed",
            "Outbox work given up on: staff must look (permit-ledger outbox failed).",
        ),
    ] {
        let mut f = Family::new(&mut out, name, "gauge", help);
        for kind in [
            projections::outbox::SMS,
            projections::outbox::REFUND,
            projections::outbox::CLOSE_ORDER,
        ] {
            let n = outbox
                .iter()
                .find(|(k, s, _)| k == kind && s == status)
                .map_or(0, |(_, _, n)| *n);
            f.sample(name, &[("kind", kind)], n);
        }
    }

    let attempts = &figures.sms_attempts;
    let mut f = Family::new(
        &mut out,
        "permit_ledger_sms_attempts",
        "gauge",
        "SMS send attempts recorded, by provider and outcome (sent, not_sent, refused, \
         answer_lost, unanswered, resend_authorised).",
    );
    for (provider, outcome, n) in attempts {
        f.sample(
            "permit_ledger_sms_attempts",
            &[("provider", provider), ("outcome", outcome)],
            *n,
        );
    }

    let limit = figures.sms_daily_budget;
    let mut f = Family::new(
        &mut out,
        "permit_ledger_sms_daily_budget",
        "gauge",
        "SMS one lot may send per business day.",
    );
    f.sample("permit_ledger_sms_daily_budget", &[], limit);
    let today = &figures.sms_sent_today;
    let mut f = Family::new(
        &mut out,
        "permit_ledger_sms_sent_today",
        "gauge",
        "SMS sent today (Asia/Shanghai) per lot.",
    );
    for (lot, n) in today {
        f.sample("permit_ledger_sms_sent_today", &[("lot_id", lot)], *n);
    }
    let mut f = Family::new(
        &mut out,
        "permit_ledger_sms_budget_near",
        "gauge",
        "1 for a lot that has used 80 % or more of today's SMS budget.",
    );
    for (lot, n) in today {
        let near = i64::from(*n >= budget::warning_mark(limit));
        f.sample("permit_ledger_sms_budget_near", &[("lot_id", lot)], near);
    }

    let mut f = Family::new(
        &mut out,
        "permit_ledger_gate_position",
        "gauge",
        "The last position this instance's gate model has applied (-1 until it caught up).",
    );
    f.sample(
        "permit_ledger_gate_position",
        &[],
        svc.gate.position().unwrap_or(-1),
    );
    let mut f = Family::new(
        &mut out,
        "permit_ledger_gate_parked_events",
        "gauge",
        "Events this instance's gate model went past because it could not read them.",
    );
    let (parked, _) = svc.gate.parked();
    f.sample(
        "permit_ledger_gate_parked_events",
        &[],
        i64::try_from(parked).unwrap_or(i64::MAX),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_written_in_the_text_format() {
        let mut out = String::new();
        let mut f = Family::new(&mut out, "m", "gauge", "A metric.");
        f.sample("m", &[], 3);
        f.sample("m", &[("a", "x\"y\\z\n")], -1);
        assert_eq!(
            out,
            "# HELP m A metric.\n# TYPE m gauge\nm 3\nm{a=\"x\\\"y\\\\z\\n\"} -1\n"
        );
    }
}
