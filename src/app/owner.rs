//! What owners do on the lot's page (manual steps 1–17): codes, sessions, choosing the vehicle,
//! renewing with the campus-card photo, cancelling, asking for a refund.

use super::photos::{self, Photo};
use super::{lookup, sessions};
use crate::error::AppError;
use crate::payments::wechat::oauth::OAuthError;
use crate::payments::CreateOrder;
use crate::services::Services;
use crate::sms::{attempts, budget, SmsMessage, SmsTemplate};
use aggregates::business_time::{business_date, next_business_midnight, seconds_until};
use aggregates::lot::Lot;
use aggregates::metadata::{Actor, EventMetadata, Role};
use aggregates::permit::{Permit, PermitCommand, PermitError, RenewalTerms};
use aggregates::phone_verification::{was_verified, PhoneVerification, VerificationCommand};
use aggregates::values::{Period, Phone, Plate};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use std::net::IpAddr;
use uuid::Uuid;

/// An owner acting through a session.
#[derive(Debug, Clone)]
pub struct OwnerRef<'a> {
    /// The verified phone.
    pub phone: &'a Phone,
    /// The session's lot.
    pub lot_id: Uuid,
    /// The phone's keyed hash.
    pub phone_hash: &'a str,
    /// The payer's openid (JSAPI orders are made out to it).
    pub payer_openid: Option<&'a str>,
}

/// Event metadata for an owner's command.
pub fn owner_meta(phone_hash: &str, request_id: &str, correlation: &str) -> EventMetadata {
    EventMetadata {
        actor: Actor::Owner(phone_hash.to_string()),
        role: Role::Owner,
        correlation_id: correlation.to_string(),
        causation_id: request_id.to_string(),
        request_id: request_id.to_string(),
    }
}

/// Parses a phone, or 400 `invalid_phone`.
pub fn parse_phone(text: &str) -> Result<Phone, AppError> {
    Phone::parse(text).map_err(|e| AppError::invalid("invalid_phone", e.to_string()))
}

/// Parses a plate, or 400 `invalid_plate`.
pub fn parse_plate(text: &str) -> Result<Plate, AppError> {
    Plate::parse(text).map_err(|e| AppError::invalid("invalid_plate", e.to_string()))
}

/// What the owner is told after asking for a code.
#[derive(Debug, Serialize)]
pub struct CodeSent {
    /// Seconds before another code may be asked for.
    pub resend_after_s: i64,
    /// Seconds the code stays valid.
    pub expires_in_s: i64,
}

/// The aggregate id of a phone's verification.
pub fn verification_id(svc: &Services, phone: &Phone) -> String {
    format!("phone:{}", svc.secrets.phone_hash(phone.as_str()))
}

async fn lot_name(svc: &Services, lot_id: Uuid) -> Result<String, AppError> {
    let lot = svc.ledger.load::<Lot>(&lot_id.to_string()).await?;
    lot.aggregate
        .registered
        .map(|l| l.name)
        .ok_or_else(|| AppError::not_found("no_lot", "no such lot"))
}

/// Sends a code to `phone` for `lot_id` (manual step 1), within the code limits, the
/// address's limit and the lot's daily SMS budget. A phone that holds no card at the lot gets
/// the same answer, after about as long, and no SMS (nobody can make the service text
/// strangers); its request counts against the same limits.
pub async fn request_code(
    svc: &Services,
    lot_id: Uuid,
    phone: &Phone,
    address: IpAddr,
    request_id: &str,
) -> Result<CodeSent, AppError> {
    let lot_name = lot_name(svc, lot_id).await?;
    let now = svc.clock.now();
    if let Err(retry_after_s) = svc.address_limit.check(&svc.store.db, address, now).await? {
        return Err(AppError::Refused {
            code: "address_rate_limited",
            kind: aggregates::error_code::ErrorKind::RateLimited { retry_after_s },
            message: "too many code requests from this address; try again later".into(),
        });
    }
    let day = business_date(now);
    let lot_key = lot_id.to_string();
    let budget = svc.settings.sms_daily_budget;
    if budget::used(&svc.store.db, &lot_key, day).await? >= i64::from(budget) {
        return Err(AppError::Refused {
            code: "sms_budget_exhausted",
            kind: aggregates::error_code::ErrorKind::RateLimited {
                retry_after_s: seconds_until(now, next_business_midnight(now)),
            },
            message: "the lot has sent all the SMS it may send today; try again tomorrow".into(),
        });
    }
    let holder = lookup::holds_card_at(svc, lot_id, phone).await?;
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
    let policy = svc.settings.code_policy;
    let phone_hash = svc.secrets.phone_hash(phone.as_str());
    let committed = svc
        .ledger
        .execute::<PhoneVerification>(
            &verification_id(svc, phone),
            VerificationCommand::RequestCode {
                lot_id,
                code_digest: svc.secrets.code_digest(phone.as_str(), &code),
                now,
                policy,
            },
            &owner_meta(&phone_hash, request_id, request_id),
        )
        .await?;
    let answer = CodeSent {
        resend_after_s: policy.resend_after_s,
        expires_in_s: policy.ttl_s,
    };
    if !holder {
        tracing::info!(%lot_id, "code requested for a phone without a card at the lot: nothing sent");
        tokio::time::sleep(svc.code_timing.typical()).await;
        return Ok(answer);
    }
    budget::spend(&svc.store.db, &lot_key, day, budget).await?;
    let message = SmsMessage {
        id: format!("code:{}", committed.position.unwrap_or_default()),
        phone: phone.as_str().to_string(),
        template: SmsTemplate::Code,
        params: projections::texts::params::code(&code, policy.ttl_s / 60),
        text: projections::texts::code(&lot_name, &code, policy.ttl_s / 60),
        code: Some(code),
    };
    let started = std::time::Instant::now();
    let sent = attempts::send_recorded(&svc.store.db, svc.sms.as_ref(), message).await;
    svc.code_timing.record(started.elapsed());
    if let Err(e) = sent {
        tracing::warn!(%lot_id, error = %e, "the code SMS could not be sent");
        return Err(AppError::Upstream {
            code: "sms_unavailable",
            message: "the code could not be sent; try again in a minute".into(),
        });
    }
    Ok(answer)
}

/// The payer's openid for a session: exchanged for the WeChat OAuth code where the service
/// takes real payments (where a code is then required); none in sandbox mode.
async fn payer_openid(
    svc: &Services,
    wechat_code: Option<&str>,
) -> Result<Option<String>, AppError> {
    let Some(oauth) = &svc.oauth else {
        return Ok(None);
    };
    let code = wechat_code.ok_or_else(|| {
        AppError::invalid(
            "wechat_code_required",
            "open the page from WeChat: wechat_code (the OAuth redirect's code) is required",
        )
    })?;
    match oauth.openid(code).await {
        Ok(openid) => Ok(Some(openid)),
        Err(OAuthError::BadCode(errcode)) => Err(AppError::invalid(
            "wechat_code_invalid",
            format!("WeChat refused the code ({errcode}); reopen the page from WeChat"),
        )),
        Err(e @ OAuthError::Unavailable(_)) => {
            tracing::warn!(error = %e, "WeChat OAuth code exchange failed");
            Err(AppError::Upstream {
                code: "wechat_unavailable",
                message: "WeChat could not be reached; try again".into(),
            })
        }
    }
}

/// A new session.
#[derive(Debug, Serialize)]
pub struct NewSession {
    /// The bearer token (shown once).
    pub token: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Checks a typed code; opens a session when it is right.
pub async fn verify_code(
    svc: &Services,
    lot_id: Uuid,
    phone: &Phone,
    code: &str,
    wechat_code: Option<&str>,
    request_id: &str,
) -> Result<NewSession, AppError> {
    let invalid = || AppError::Refused {
        code: "code_invalid",
        kind: aggregates::error_code::ErrorKind::Unauthorized,
        message: "the code is invalid or expired".into(),
    };
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // The payer first: a bad WeChat code must not use up the SMS code.
    let payer_openid = payer_openid(svc, wechat_code).await?;
    let phone_hash = svc.secrets.phone_hash(phone.as_str());
    let committed = svc
        .ledger
        .execute::<PhoneVerification>(
            &verification_id(svc, phone),
            VerificationCommand::VerifyCode {
                lot_id,
                guess_digest: svc.secrets.code_digest(phone.as_str(), code),
                now: svc.clock.now(),
            },
            &owner_meta(&phone_hash, request_id, request_id),
        )
        .await?;
    if !was_verified(&committed.events) {
        return Err(invalid());
    }
    let (token, expires_at) = sessions::create(
        &svc.store.db,
        phone,
        lot_id,
        payer_openid.as_deref(),
        svc.settings.session_ttl,
    )
    .await?;
    Ok(NewSession { token, expires_at })
}

/// The owner's cards carrying `plate` at the session's lot (manual step 2); records the choice.
pub async fn choose_vehicle(
    svc: &Services,
    owner: &OwnerRef<'_>,
    plate: &Plate,
    request_id: &str,
) -> Result<(Vec<Uuid>, Option<i64>), AppError> {
    let permits = lookup::permits_for_plate(svc, owner.lot_id, plate, owner.phone).await?;
    if permits.is_empty() {
        return Err(AppError::not_found(
            "no_permit",
            "no card for this vehicle under your phone at this lot",
        ));
    }
    let mut position = None;
    for permit_id in &permits {
        let committed = svc
            .ledger
            .execute::<Permit>(
                &permit_id.to_string(),
                PermitCommand::ChooseVehicle {
                    plate: plate.clone(),
                    owner: owner.phone.clone(),
                },
                &owner_meta(owner.phone_hash, request_id, request_id),
            )
            .await?;
        position = committed.position.max(position);
    }
    Ok((permits, position))
}

/// A submitted renewal, as answered to the owner.
#[derive(Debug, Serialize)]
pub struct SubmittedRenewal {
    /// The renewal.
    pub renewal_id: Uuid,
    /// The season bought.
    pub period: Period,
    /// Amount to pay, in fen.
    pub amount_fen: i64,
    /// `awaiting_payment`.
    pub status: &'static str,
    /// How to pay.
    pub payment: PaymentInfo,
    /// The ledger position of the submission.
    pub position: Option<i64>,
}

/// The payment order to pay.
#[derive(Debug, Serialize)]
pub struct PaymentInfo {
    /// The order number (`out_trade_no`).
    pub order_id: String,
    /// Always `wechat_pay`.
    pub channel: &'static str,
    /// The provider's prepay id, when the order was created.
    pub prepay_id: Option<String>,
    /// What the page pays with (`WeixinJSBridge.invoke('getBrandWCPayRequest', jsapi)`), in
    /// production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsapi: Option<crate::payments::wechat::JsapiParams>,
    /// Amount in fen.
    pub amount_fen: i64,
    /// When the unpaid order closes.
    pub pay_by: DateTime<Utc>,
}

/// Loads a card the owner may act on: held under their phone at their session's lot.
/// Hides the owner's card from their list (移除此卡), or adds it back (添加至长租管理).
pub async fn set_hidden(
    svc: &Services,
    owner: &OwnerRef<'_>,
    permit_id: Uuid,
    hidden: bool,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    owned_card(svc, owner, permit_id).await?;
    let command = if hidden {
        PermitCommand::HideCard {
            owner: owner.phone.clone(),
        }
    } else {
        PermitCommand::ShowCard {
            owner: owner.phone.clone(),
        }
    };
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            command,
            &owner_meta(owner.phone_hash, request_id, request_id),
        )
        .await?;
    Ok(committed.position)
}

async fn owned_card(
    svc: &Services,
    owner: &OwnerRef<'_>,
    permit_id: Uuid,
) -> Result<aggregates::permit::Card, AppError> {
    let loaded = svc.ledger.load::<Permit>(&permit_id.to_string()).await?;
    match loaded.aggregate.card {
        Some(card) if card.lot_id == owner.lot_id && card.phone == *owner.phone => Ok(card),
        _ => Err(AppError::refused(&PermitError::NotIssued)),
    }
}

/// Submits a renewal of `permit_id` with the consent accepted and the photo (steps 3–4), then
/// creates its payment order.
pub async fn submit_renewal(
    svc: &Services,
    owner: &OwnerRef<'_>,
    permit_id: Uuid,
    consent_version: Option<String>,
    photo: Option<Photo>,
    request_id: &str,
) -> Result<SubmittedRenewal, AppError> {
    let card = owned_card(svc, owner, permit_id).await?;
    let lot = svc
        .ledger
        .load::<Lot>(&card.lot_id.to_string())
        .await?
        .aggregate
        .registered
        .ok_or_else(|| AppError::not_found("no_lot", "no such lot"))?;
    let photo_ref = match &photo {
        Some(p) => Some(photos::store(&svc.store.db, p, svc.clock.now()).await?),
        None => None,
    };
    let now = svc.clock.now();
    let renewal_id = Uuid::new_v4();
    let order_id = renewal_id.simple().to_string();
    let pay_by = now + svc.settings.payment_window;
    lookup::record_renewal(svc, renewal_id, permit_id, pay_by).await?;
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            PermitCommand::SubmitRenewal {
                renewal_id,
                owner: owner.phone.clone(),
                now,
                today: aggregates::business_time::business_date(now),
                terms: RenewalTerms {
                    price: lot.product.price,
                    calendar: lot.product.calendar,
                    consent_version: lot.consent.version.clone(),
                },
                accepted_consent_version: consent_version,
                photo: photo_ref,
                order_id: order_id.clone(),
                pay_by,
            },
            &owner_meta(owner.phone_hash, request_id, &renewal_id.to_string()),
        )
        .await?;
    let renewal = committed
        .aggregate
        .card
        .as_ref()
        .and_then(|c| c.renewal(renewal_id).cloned())
        .ok_or_else(|| AppError::Internal("submitted renewal missing".into()))?;
    let prepay_id = match svc
        .payments
        .create_order(CreateOrder {
            out_trade_no: order_id.clone(),
            description: format!("{} {}", lot.product.name, renewal.period),
            amount_fen: renewal.amount.get(),
            expires_at: Utc::now() + svc.settings.payment_window,
            payer_openid: owner.payer_openid.map(str::to_owned),
        })
        .await
    {
        Ok(created) => Some(created.prepay_id),
        Err(e) => {
            tracing::warn!(%renewal_id, error = %e, "payment order not created; the owner may retry paying");
            None
        }
    };
    Ok(SubmittedRenewal {
        renewal_id,
        period: renewal.period,
        amount_fen: renewal.amount.get(),
        status: "awaiting_payment",
        payment: PaymentInfo {
            order_id,
            channel: "wechat_pay",
            jsapi: prepay_id.as_deref().and_then(|p| svc.payments.jsapi(p)),
            prepay_id,
            amount_fen: renewal.amount.get(),
            pay_by,
        },
        position: committed.position,
    })
}

async fn renewal_command(
    svc: &Services,
    owner: &OwnerRef<'_>,
    renewal_id: Uuid,
    request_id: &str,
    command: PermitCommand,
) -> Result<Option<i64>, AppError> {
    let permit_id = lookup::permit_of_renewal(svc, renewal_id).await?;
    owned_card(svc, owner, permit_id)
        .await
        .map_err(|_| AppError::refused(&PermitError::UnknownRenewal))?;
    let committed = svc
        .ledger
        .execute::<Permit>(
            &permit_id.to_string(),
            command,
            &owner_meta(owner.phone_hash, request_id, &renewal_id.to_string()),
        )
        .await?;
    Ok(committed.position)
}

/// Asks for the money of a rejected renewal back.
pub async fn request_refund(
    svc: &Services,
    owner: &OwnerRef<'_>,
    renewal_id: Uuid,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let command = PermitCommand::RequestRefund {
        renewal_id,
        owner: owner.phone.clone(),
        out_refund_no: format!("R{}", Uuid::new_v4().simple()),
        now: svc.clock.now(),
    };
    renewal_command(svc, owner, renewal_id, request_id, command).await
}

/// Cancels an unpaid renewal.
pub async fn cancel(
    svc: &Services,
    owner: &OwnerRef<'_>,
    renewal_id: Uuid,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let command = PermitCommand::CancelRenewal {
        renewal_id,
        owner: owner.phone.clone(),
        now: svc.clock.now(),
    };
    renewal_command(svc, owner, renewal_id, request_id, command).await
}

/// Asks the payment provider about a renewal's order and records the payment if it was made
/// (the page calls this when WeChat's pay sheet says ok: that is no proof, this is). Returns
/// the position of the recorded payment, if one was recorded now.
pub async fn check_payment(
    svc: &Services,
    owner: &OwnerRef<'_>,
    renewal_id: Uuid,
    request_id: &str,
) -> Result<Option<i64>, AppError> {
    let permit_id = lookup::permit_of_renewal(svc, renewal_id).await?;
    owned_card(svc, owner, permit_id)
        .await
        .map_err(|_| AppError::refused(&PermitError::UnknownRenewal))?;
    super::payment_callbacks::check_order(svc, renewal_id, request_id).await
}
