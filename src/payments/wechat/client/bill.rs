//! The day's trade bill: `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL` (a signed answer,
//! checked like any other) names a download URL and the bill's SHA1; the download itself is
//! signed by the merchant but its answer carries no WeChat signature (下载账单: "该接口响应的
//! 信息请求头中不包含微信接口响应的签名值"), so the digest is what vouches for it.

use super::{api, WechatPayClient};
use crate::payments::port::ProviderError;
use crate::payments::wechat::bill::{self, TradeBill};
use chrono::NaiveDate;
use reqwest::Method;
use sha1::{Digest, Sha1};

impl WechatPayClient {
    /// Fetches, checks and reads the trade bill of `date`; no trade that day is an empty bill.
    pub(super) async fn download_trade_bill(
        &self,
        date: NaiveDate,
    ) -> Result<TradeBill, ProviderError> {
        let path = format!(
            "{}?bill_date={}&bill_type=ALL",
            api::TRADE_BILL_PATH,
            date.format("%Y-%m-%d")
        );
        let location: api::BillLocation = match self.call(Method::GET, &path, None::<&()>).await {
            Err(ProviderError::NoBill) => return Ok(TradeBill::default()),
            other => other?,
        };
        if !location.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(ProviderError::BadResponse(format!(
                "trade bill: unknown hash_type {:?}",
                location.hash_type
            )));
        }
        let download = self.download_path(&location.download_url)?;
        let (_, bytes) = self.send_raw(Method::GET, &download, None).await?;
        let digest = hex::encode(Sha1::digest(&bytes));
        if !digest.eq_ignore_ascii_case(location.hash_value.trim()) {
            return Err(ProviderError::BadResponse(format!(
                "trade bill of {date}: its SHA1 is {digest}, WeChat Pay said {}",
                location.hash_value
            )));
        }
        bill::parse(&bytes).map_err(|e| ProviderError::BadResponse(format!("{date}: {e}")))
    }

    /// The download URL's path and query, if it is on the API host: the signed request goes
    /// nowhere else.
    fn download_path(&self, url: &str) -> Result<String, ProviderError> {
        url.strip_prefix(&self.settings.base_url)
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::BadResponse(
                    "trade bill: the download URL is not on the WeChat Pay API host".into(),
                )
            })
    }
}
