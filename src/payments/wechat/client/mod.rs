//! The WeChat Pay API v3 merchant client (JSAPI, 普通商户): the production [`PaymentProvider`].
//!
//! Every request is signed with the merchant key (`Authorization`, [`MerchantKey`]); every 2xx
//! answer is checked against WeChat Pay's platform keys ([`Verifier::verify_signature`]) before
//! a byte of it is believed. Network errors, 5xx and `FREQUENCY_LIMITED` are retried with
//! backoff; business refusals (4xx) are not ([`errors`]).
//!
//! - [`api`]: the request and answer bodies of the calls used.
//! - [`errors`]: WeChat's error codes as [`ProviderError`]s.
//! - [`certificates`]: platform-certificate mode (`/v3/certificates`, refreshed).
//! - [`bill`]: the day's trade bill (`/v3/bill/tradebill`, then its download).

pub mod api;
mod bill;
pub mod certificates;
pub mod errors;

use super::headers::NotifyHeaders;
use super::merchant::{JsapiParams, MerchantKey};
use super::notification::wechat_time;
use super::verifier::{Verifier, VerifyError};
use crate::payments::port::{
    CreateOrder, CreatedOrder, OrderStatus, PaymentProvider, ProviderError, RefundRequest,
};
use crate::payments::wechat::bill::TradeBill;
use certificates::CertificateSource;
use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// How the client reaches WeChat Pay and who it is there.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `https://api.mch.weixin.qq.com` (no trailing slash).
    pub base_url: String,
    /// The official account's AppID the orders are paid under.
    pub appid: String,
    /// Where WeChat Pay sends payment results.
    pub payment_notify_url: String,
    /// Where WeChat Pay sends refund results.
    pub refund_notify_url: String,
    /// The deadline of one HTTP attempt.
    pub timeout: Duration,
    /// Attempts per call (at least 1) when WeChat Pay is unreachable or failing.
    pub attempts: u32,
    /// The wait before the second attempt; each later wait is four times the one before.
    pub first_backoff: Duration,
}

impl ClientSettings {
    /// Settings with the defaults for timeouts and retries: 10 s per attempt, 3 attempts,
    /// 200 ms then 800 ms between them.
    pub fn new(
        base_url: impl Into<String>,
        appid: impl Into<String>,
        payment_notify_url: impl Into<String>,
        refund_notify_url: impl Into<String>,
    ) -> Self {
        ClientSettings {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            appid: appid.into(),
            payment_notify_url: payment_notify_url.into(),
            refund_notify_url: refund_notify_url.into(),
            timeout: Duration::from_secs(10),
            attempts: 3,
            first_backoff: Duration::from_millis(200),
        }
    }
}

/// The production payment provider.
pub struct WechatPayClient {
    http: reqwest::Client,
    settings: ClientSettings,
    merchant: MerchantKey,
    verifier: Verifier,
    certificates: Option<CertificateSource>,
}

/// A 2xx answer: its signature headers and body.
struct Answer {
    headers: NotifyHeaders,
    body: Vec<u8>,
}

/// A request nonce: 32 upper-case letters and digits.
fn nonce() -> String {
    Alphanumeric
        .sample_string(&mut rand::thread_rng(), 32)
        .to_uppercase()
}

impl WechatPayClient {
    /// A client that trusts the platform keys `verifier` holds (WeChat Pay public-key mode).
    pub fn new(settings: ClientSettings, merchant: MerchantKey, verifier: Verifier) -> Self {
        WechatPayClient {
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .user_agent(concat!("permit-ledger/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
            settings,
            merchant,
            verifier,
            certificates: None,
        }
    }

    /// A client in platform-certificate mode: the verifier's keys are the certificates
    /// downloaded from `/v3/certificates`, fetched now and refreshed by
    /// [`WechatPayClient::refresh_certificates`] (and whenever an answer names a serial not yet
    /// known).
    pub async fn with_certificates(
        settings: ClientSettings,
        merchant: MerchantKey,
        verifier: Verifier,
    ) -> Result<Self, ProviderError> {
        let mut client = Self::new(settings, merchant, verifier);
        client.certificates = Some(CertificateSource::default());
        client.refresh_certificates().await?;
        Ok(client)
    }

    /// The merchant identity requests are signed with.
    pub fn merchant(&self) -> &MerchantKey {
        &self.merchant
    }

    /// Downloads the platform certificates and makes them the accepted keys (certificate mode;
    /// in public-key mode there is nothing to refresh). Returns the serials now accepted.
    pub async fn refresh_certificates(&self) -> Result<Vec<String>, ProviderError> {
        let Some(source) = &self.certificates else {
            return Ok(self.verifier.keys().serials());
        };
        // The list is signed by one of the certificates it holds: `install` checks it once
        // they are opened.
        let answer = self
            .send_unchecked(Method::GET, certificates::PATH, None)
            .await?;
        source.install(&answer.headers, &answer.body, &self.verifier)
    }

    /// Refreshes the platform certificates when the newest accepted one ends within `margin`
    /// (certificate mode); does nothing otherwise.
    pub async fn refresh_certificates_if_due(
        &self,
        margin: chrono::Duration,
    ) -> Result<(), ProviderError> {
        match &self.certificates {
            Some(source) if source.due(Utc::now(), margin) => {
                self.refresh_certificates().await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ProviderError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        let answer = self.send(method, path, body.as_deref()).await?;
        serde_json::from_slice(&answer).map_err(|e| {
            ProviderError::BadResponse(format!(
                "{path}: not the documented answer ({:?} at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }

    /// Sends a signed request; returns the body of a 2xx answer whose signature was checked.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, ProviderError> {
        let answer = self.send_unchecked(method, path, body).await?;
        self.check(path, &answer.headers, &answer.body).await?;
        Ok(answer.body)
    }

    /// Sends a signed request, retrying what may be retried; returns a 2xx answer and its
    /// signature headers, not yet checked.
    async fn send_unchecked(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Answer, ProviderError> {
        let (headers, body) = self.send_raw(method, path, body).await?;
        let headers = NotifyHeaders::from_http(&headers)
            .map_err(|e| ProviderError::BadResponse(format!("{path}: {e}")))?;
        Ok(Answer { headers, body })
    }

    /// Sends a signed request, retrying what may be retried; returns a 2xx answer's headers
    /// and body as they came (the bill download is the one answer WeChat does not sign).
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), ProviderError> {
        let attempts = self.settings.attempts.max(1);
        let mut backoff = self.settings.first_backoff;
        let mut attempt = 1;
        loop {
            match self.attempt(&method, path, body).await {
                Err(ProviderError::Unavailable(why)) if attempt < attempts => {
                    tracing::warn!(%path, attempt, %why, "WeChat Pay call failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 4;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), ProviderError> {
        let timestamp = Utc::now().timestamp().to_string();
        let nonce = nonce();
        let bytes = body.unwrap_or_default();
        let authorization =
            self.merchant
                .authorization(method.as_str(), path, bytes, &timestamp, &nonce);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.settings.base_url))
            .header("Authorization", authorization)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_vec());
        }
        let response = request
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{path}: {}", network_error(&e))))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{path}: {}", network_error(&e))))?
            .to_vec();
        if !status.is_success() {
            return Err(errors::from_answer(status, &body));
        }
        Ok((headers, body))
    }

    /// Checks an answer's signature; an unknown serial in certificate mode first refreshes the
    /// certificates once (WeChat Pay rotates them with notice).
    async fn check(
        &self,
        path: &str,
        headers: &NotifyHeaders,
        body: &[u8],
    ) -> Result<(), ProviderError> {
        let refuse = |e: VerifyError| ProviderError::BadResponse(format!("{path}: {e}"));
        match self.verifier.verify_signature(headers, body, Utc::now()) {
            Err(VerifyError::UnknownSerial(_)) if self.certificates.is_some() => {
                self.refresh_certificates().await?;
                self.verifier
                    .verify_signature(headers, body, Utc::now())
                    .map_err(refuse)
            }
            other => other.map_err(refuse),
        }
    }

    /// Refund status (`GET /v3/refund/domestic/refunds/{out_refund_no}`).
    pub async fn query_refund(&self, out_refund_no: &str) -> Result<api::Refund, ProviderError> {
        let path = format!(
            "/v3/refund/domestic/refunds/{}",
            api::path_segment(out_refund_no)?
        );
        self.call(Method::GET, &path, None::<&()>).await
    }
}

fn network_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.to_string()
    }
}

#[async_trait::async_trait]
impl PaymentProvider for WechatPayClient {
    async fn create_order(&self, order: CreateOrder) -> Result<CreatedOrder, ProviderError> {
        let openid = order.payer_openid.clone().ok_or_else(|| {
            ProviderError::InvalidRequest("a JSAPI order needs the payer's openid".into())
        })?;
        let request = api::JsapiOrder {
            appid: self.settings.appid.clone(),
            mchid: self.merchant.mchid().to_string(),
            description: order.description,
            out_trade_no: order.out_trade_no,
            time_expire: wechat_time(order.expires_at),
            notify_url: self.settings.payment_notify_url.clone(),
            amount: api::OrderAmount {
                total: order.amount_fen,
                currency: api::CNY.into(),
            },
            payer: api::Payer { openid },
        };
        let answer: api::Prepay = self
            .call(Method::POST, api::JSAPI_PATH, Some(&request))
            .await?;
        Ok(CreatedOrder {
            prepay_id: answer.prepay_id,
        })
    }

    async fn query_order(&self, out_trade_no: &str) -> Result<OrderStatus, ProviderError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            api::path_segment(out_trade_no)?,
            self.merchant.mchid()
        );
        let order: api::Transaction = self.call(Method::GET, &path, None::<&()>).await?;
        if order.mchid != self.merchant.mchid() || order.appid != self.settings.appid {
            return Err(ProviderError::BadResponse(
                "the order belongs to another merchant or app".into(),
            ));
        }
        if order.out_trade_no != out_trade_no {
            return Err(ProviderError::BadResponse(
                "the answer is about another order".into(),
            ));
        }
        Ok(order.into_status())
    }

    async fn close_order(&self, out_trade_no: &str) -> Result<(), ProviderError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}/close",
            api::path_segment(out_trade_no)?
        );
        let body = serde_json::to_vec(&api::Close {
            mchid: self.merchant.mchid().to_string(),
        })
        .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        self.send(Method::POST, &path, Some(&body))
            .await
            .map(|_| ())
    }

    async fn request_refund(&self, refund: RefundRequest) -> Result<(), ProviderError> {
        let request = api::RefundOrder {
            out_trade_no: refund.out_trade_no,
            out_refund_no: refund.out_refund_no,
            reason: refund.reason,
            notify_url: self.settings.refund_notify_url.clone(),
            amount: api::RefundAmount {
                refund: refund.refund_fen,
                total: refund.total_fen,
                currency: api::CNY.into(),
            },
        };
        let _: api::Refund = self
            .call(Method::POST, api::REFUND_PATH, Some(&request))
            .await?;
        Ok(())
    }

    async fn trade_bill(&self, date: chrono::NaiveDate) -> Result<TradeBill, ProviderError> {
        self.download_trade_bill(date).await
    }

    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    fn jsapi(&self, prepay_id: &str) -> Option<JsapiParams> {
        let timestamp = Utc::now().timestamp().to_string();
        let nonce = nonce();
        Some(
            self.merchant
                .pay_params(&self.settings.appid, prepay_id, &timestamp, &nonce),
        )
    }
}
