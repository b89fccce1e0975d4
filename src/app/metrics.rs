//! The figures `GET /metrics` reports, read from the store when scraped (so every instance
//! reports the same).

use crate::error::AppError;
use crate::read_side::ProjectionInfo;
use crate::services::Services;
use crate::sms::budget;

/// Everything `/metrics` shows.
pub struct Figures {
    /// The ledger's last position.
    pub head: i64,
    /// Every projection's position and lag.
    pub projections: Vec<ProjectionInfo>,
    /// (kind, status, count) of the outbox's pending and failed work.
    pub outbox: Vec<(String, String, i64)>,
    /// (provider, outcome, count) of the recorded SMS attempts (`unanswered` when no answer).
    pub sms_attempts: Vec<(String, String, i64)>,
    /// The daily SMS budget per lot.
    pub sms_daily_budget: i64,
    /// (lot, count) of SMS sent today (Asia/Shanghai).
    pub sms_sent_today: Vec<(String, i64)>,
}

impl Figures {
    /// Reads them.
    pub async fn gather(svc: &Services) -> Result<Self, AppError> {
        let db = &svc.store.db;
        let projections = svc.read.list().await?;
        let head = svc.store.log.head().await?;
        let outbox = sqlx::query_as(
            "SELECT kind, status, count(*) FROM outbox WHERE status IN ('pending', 'failed')
              GROUP BY kind, status ORDER BY kind, status",
        )
        .fetch_all(&db.read)
        .await?;
        let sms_attempts = sqlx::query_as(
            "SELECT provider, coalesce(outcome, 'unanswered'), count(*) FROM sms_attempts
              GROUP BY provider, coalesce(outcome, 'unanswered') ORDER BY 1, 2",
        )
        .fetch_all(&db.read)
        .await?;
        let today = aggregates::business_time::business_date(svc.clock.now());
        Ok(Self {
            head,
            projections,
            outbox,
            sms_attempts,
            sms_daily_budget: i64::from(svc.settings.sms_daily_budget),
            sms_sent_today: budget::today(db, today).await?,
        })
    }
}
