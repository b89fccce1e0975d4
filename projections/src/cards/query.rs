//! Reading the `cards`, `renewals` and `lots` views: typed rows, one query each. Handlers and
//! workers read these views only through here, so no other module names their columns.

use aggregates::permit::RenewalStatus;
use aggregates::values::{MonthDay, Period, SeasonCalendar};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

const CARD_COLUMNS: &str = "c.permit_id, c.lot_id, l.name AS lot_name, l.product_name, c.plate, \
     c.holder_name, c.phone, c.coverage, c.valid_from, c.valid_to, c.second_plate, c.hidden, \
     l.service_phone, l.period_months, l.season_starts";

const RENEWAL_COLUMNS: &str = "renewal_id, permit_id, period_from, period_to, amount_fen, \
     channel, status, reject_reason, submitted_at, paid_at, decided_at, refunded_at, order_id, \
     pay_by, consent_version, photo_sha256, photo_type, photo_size, refund_failure";

/// A card as the `cards` view holds it, with its lot's names, phone and season calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct CardView {
    /// Permit id.
    pub permit_id: String,
    /// Its lot.
    pub lot_id: String,
    /// The lot's name.
    pub lot_name: String,
    /// The product's name.
    pub product_name: String,
    /// The card's vehicle.
    pub plate: String,
    /// The holder.
    pub holder_name: String,
    /// The holder's phone, whole.
    pub phone: String,
    /// Every approved period.
    pub coverage: Vec<Period>,
    /// The first day covered (`YYYY-MM-DD`).
    pub valid_from: String,
    /// The last day covered.
    pub valid_to: String,
    /// The second vehicle for restricted days.
    pub second_plate: Option<String>,
    /// The owner removed it from their list.
    pub hidden: bool,
    /// The lot's service phone.
    pub service_phone: Option<String>,
    /// The lot's season calendar (none if the view holds one it cannot read).
    pub calendar: Option<SeasonCalendar>,
}

impl CardView {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let months = u32::try_from(row.try_get::<i64, _>("period_months")?).unwrap_or(0);
        let starts: String = row.try_get("season_starts")?;
        Ok(CardView {
            permit_id: row.try_get("permit_id")?,
            lot_id: row.try_get("lot_id")?,
            lot_name: row.try_get("lot_name")?,
            product_name: row.try_get("product_name")?,
            plate: row.try_get("plate")?,
            holder_name: row.try_get("holder_name")?,
            phone: row.try_get("phone")?,
            coverage: serde_json::from_str(&row.try_get::<String, _>("coverage")?)
                .unwrap_or_default(),
            valid_from: row.try_get("valid_from")?,
            valid_to: row.try_get("valid_to")?,
            second_plate: row.try_get("second_plate")?,
            hidden: row.try_get::<i32, _>("hidden")? != 0,
            service_phone: row.try_get("service_phone")?,
            calendar: starts
                .parse::<MonthDay>()
                .ok()
                .and_then(|s| SeasonCalendar::new(months, s).ok()),
        })
    }
}

/// A renewal as the `renewals` view holds it. Times are RFC 3339 text, days `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq)]
pub struct RenewalView {
    /// Renewal id.
    pub renewal_id: String,
    /// Its card.
    pub permit_id: String,
    /// The season's first day.
    pub period_from: String,
    /// The season's last day.
    pub period_to: String,
    /// The amount.
    pub amount_fen: i64,
    /// `wechat_pay` or the desk's method.
    pub channel: String,
    /// `RenewalStatus::as_str`.
    pub status: String,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// When submitted (paid, at the desk).
    pub submitted_at: Option<String>,
    /// When paid.
    pub paid_at: Option<String>,
    /// When decided.
    pub decided_at: Option<String>,
    /// When refunded.
    pub refunded_at: Option<String>,
    /// Its failed refund's reason.
    pub refund_failure: Option<String>,
    /// The payment order (empty at the desk).
    pub order_id: String,
    /// When the unpaid order closes.
    pub pay_by: String,
    /// The consent version accepted (empty at the desk).
    pub consent_version: String,
    /// The photo's digest (empty at the desk), type and size.
    pub photo_sha256: String,
    /// The photo's content type.
    pub photo_type: String,
    /// The photo's size in bytes.
    pub photo_size: i64,
}

impl RenewalView {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(RenewalView {
            renewal_id: row.try_get("renewal_id")?,
            permit_id: row.try_get("permit_id")?,
            period_from: row.try_get("period_from")?,
            period_to: row.try_get("period_to")?,
            amount_fen: row.try_get("amount_fen")?,
            channel: row.try_get("channel")?,
            status: row.try_get("status")?,
            reject_reason: row.try_get("reject_reason")?,
            submitted_at: row.try_get("submitted_at")?,
            paid_at: row.try_get("paid_at")?,
            decided_at: row.try_get("decided_at")?,
            refunded_at: row.try_get("refunded_at")?,
            refund_failure: row.try_get("refund_failure")?,
            order_id: row.try_get("order_id")?,
            pay_by: row.try_get("pay_by")?,
            consent_version: row.try_get("consent_version")?,
            photo_sha256: row.try_get("photo_sha256")?,
            photo_type: row.try_get("photo_type")?,
            photo_size: row.try_get("photo_size")?,
        })
    }
}

/// One card, if the view has it.
pub async fn card(db: &AnyPool, permit_id: &str) -> Result<Option<CardView>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {CARD_COLUMNS} FROM cards c JOIN lots l ON l.lot_id = c.lot_id
          WHERE c.permit_id = $1"
    ))
    .bind(permit_id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(CardView::from_row)
    .transpose()
}

/// One renewal, if the view has it.
pub async fn renewal(db: &AnyPool, renewal_id: &str) -> Result<Option<RenewalView>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {RENEWAL_COLUMNS} FROM renewals WHERE renewal_id = $1"
    ))
    .bind(renewal_id)
    .fetch_optional(db)
    .await?
    .as_ref()
    .map(RenewalView::from_row)
    .transpose()
}

/// A card's renewals, oldest first.
pub async fn renewals_of(db: &AnyPool, permit_id: &str) -> Result<Vec<RenewalView>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {RENEWAL_COLUMNS} FROM renewals WHERE permit_id = $1
          ORDER BY submitted_at, renewal_id"
    ))
    .bind(permit_id)
    .fetch_all(db)
    .await?
    .iter()
    .map(RenewalView::from_row)
    .collect()
}

/// The card a renewal belongs to, if the view has the renewal.
pub async fn permit_of_renewal(
    db: &AnyPool,
    renewal_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT permit_id FROM renewals WHERE renewal_id = $1")
        .bind(renewal_id)
        .fetch_optional(db)
        .await
}

/// Where a card is held: (lot_id, phone).
pub async fn holder(
    db: &AnyPool,
    permit_id: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT lot_id, phone FROM cards WHERE permit_id = $1")
        .bind(permit_id)
        .fetch_optional(db)
        .await
}

/// The ids of the cards held under `phone` at `lot_id`, in the order they were issued; those
/// the owner hid only when `include_hidden`.
pub async fn cards_of_holder(
    db: &AnyPool,
    lot_id: &str,
    phone: &str,
    include_hidden: bool,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT permit_id FROM cards WHERE lot_id = $1 AND phone = $2 AND hidden <= $3
          ORDER BY issued_at, permit_id",
    )
    .bind(lot_id)
    .bind(phone)
    .bind(i32::from(include_hidden))
    .fetch_all(db)
    .await
}

/// How many cards `phone` holds at `lot_id`, hidden ones included.
pub async fn count_of_holder(db: &AnyPool, lot_id: &str, phone: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM cards WHERE lot_id = $1 AND phone = $2")
        .bind(lot_id)
        .bind(phone)
        .fetch_one(db)
        .await
}

/// Cards whose last approved day is between `from` and `to` (inclusive, `YYYY-MM-DD`):
/// (permit_id, lot_id), by permit id.
pub async fn ending_between(
    db: &AnyPool,
    from: &str,
    to: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT permit_id, lot_id FROM cards WHERE valid_to >= $1 AND valid_to <= $2
          ORDER BY permit_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// Up to `limit` renewals still awaiting payment whose window closed by `now` (RFC 3339):
/// (renewal_id, permit_id), oldest window first.
pub async fn unpaid_past(
    db: &AnyPool,
    now: &str,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT renewal_id, permit_id FROM renewals
          WHERE status = $1 AND pay_by <= $2 ORDER BY pay_by LIMIT $3",
    )
    .bind(RenewalStatus::AwaitingPayment.as_str())
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Whether a renewal still needs the photo `sha256`: one that holds it is open (awaiting
/// payment or under review), or was decided (closed unpaid: submitted) at or after `since`
/// (RFC 3339).
pub async fn photo_needed(db: &AnyPool, sha256: &str, since: &str) -> Result<bool, sqlx::Error> {
    let open: Vec<&str> = RenewalStatus::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .map(RenewalStatus::as_str)
        .collect();
    let placeholders: Vec<String> = (0..open.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT count(*) FROM renewals WHERE photo_sha256 = $1
            AND (COALESCE(decided_at, submitted_at) >= $2 OR status IN ({}))",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(sha256).bind(since);
    for status in open {
        query = query.bind(status);
    }
    Ok(query.fetch_one(db).await? > 0)
}
