//! Stored results (table `reconciliations`): every completed run, the last per date served.

use super::compare::Report;
use crate::store::Db;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

/// Who ran a reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RanBy {
    /// `permit-ledger reconcile`.
    Cli,
    /// The daily run of production mode.
    Daily,
}

impl RanBy {
    fn as_str(self) -> &'static str {
        match self {
            RanBy::Cli => "cli",
            RanBy::Daily => "daily",
        }
    }
}

/// A stored result.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    /// The report.
    #[serde(flatten)]
    pub report: Report,
    /// When it ran.
    pub ran_at: DateTime<Utc>,
    /// `cli` or `daily`.
    pub ran_by: String,
}

/// Keeps a run's report.
pub async fn save(
    db: &Db,
    report: &Report,
    ran_at: DateTime<Utc>,
    ran_by: RanBy,
) -> Result<(), sqlx::Error> {
    let text = serde_json::to_string(report).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO reconciliations (run_id, bill_date, ok, report, ran_at, ran_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(report.date.to_string())
    .bind(i32::from(report.ok))
    .bind(text)
    .bind(ran_at.to_rfc3339_opts(SecondsFormat::Micros, true))
    .bind(ran_by.as_str())
    .execute(&db.write)
    .await?;
    Ok(())
}

/// The last result for `date`, if any run completed.
pub async fn latest(db: &Db, date: NaiveDate) -> Result<Option<Stored>, sqlx::Error> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT report, ran_at, ran_by FROM reconciliations
          WHERE bill_date = $1 ORDER BY ran_at DESC, run_id DESC LIMIT 1",
    )
    .bind(date.to_string())
    .fetch_optional(&db.read)
    .await?;
    let Some((report, ran_at, ran_by)) = row else {
        return Ok(None);
    };
    let malformed = |e: String| sqlx::Error::Decode(e.into());
    Ok(Some(Stored {
        report: serde_json::from_str(&report).map_err(|e| malformed(e.to_string()))?,
        ran_at: DateTime::parse_from_rfc3339(&ran_at)
            .map_err(|e| malformed(e.to_string()))?
            .with_timezone(&Utc),
        ran_by,
    }))
}
