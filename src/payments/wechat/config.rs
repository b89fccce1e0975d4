//! The production WeChat Pay and official-account settings (api.md § Production mode), read
//! once at start; every missing or unreadable one is reported.

use super::client::{ClientSettings, WechatPayClient};
use super::merchant::MerchantKey;
use super::oauth::OAuthClient;
use super::resource::ApiV3Key;
use super::verifier::{PlatformKeys, Verifier};
use crate::payments::port::ProviderError;
use crate::services::production::{Problems, Source};
use crate::services::Secret;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;

/// WeChat Pay's default API base.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";
/// The official account API's default base.
pub const DEFAULT_WECHAT_API_BASE_URL: &str = "https://api.weixin.qq.com";

/// How answers and notifications are checked.
#[derive(Debug, Clone)]
pub enum PlatformTrust {
    /// WeChat Pay public-key mode: one key, `PUB_KEY_ID_…`.
    PublicKey {
        /// The key's id (`Wechatpay-Serial` of what it signs).
        id: String,
        /// The key.
        key: RsaPublicKey,
    },
    /// Platform certificates, downloaded from `/v3/certificates` and refreshed.
    Certificates,
}

/// Everything the production payment provider and the OAuth exchange need.
#[derive(Debug, Clone)]
pub struct WechatPayConfig {
    /// Base URL, AppID, notify URLs, timeouts.
    pub client: ClientSettings,
    /// The merchant id, API certificate serial and private key.
    pub merchant: MerchantKey,
    /// The APIv3 key (notifications and certificates are sealed with it).
    pub api_v3_key: ApiV3Key,
    /// How WeChat Pay's signatures are checked.
    pub platform: PlatformTrust,
    /// The official account API's base.
    pub wechat_api_base_url: String,
    /// The official account's AppSecret.
    pub app_secret: Secret,
}

impl WechatPayConfig {
    /// Reads the settings; `public_url` is the service's checked https base (its absence is
    /// reported by the caller). Problems go to `problems`.
    pub fn from_env(
        get: Source<'_>,
        public_url: Option<&str>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let mchid = problems.required(get, "PERMIT_LEDGER_WECHATPAY_MCHID");
        let appid = problems.required(get, "PERMIT_LEDGER_WECHATPAY_APPID");
        let serial = problems.required(get, "PERMIT_LEDGER_WECHATPAY_MERCHANT_SERIAL");
        let key_pem = problems.secret_file(get, "PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE");
        let api_v3 = problems.secret_file(get, "PERMIT_LEDGER_WECHATPAY_APIV3_KEY_FILE");
        let base_url = get("PERMIT_LEDGER_WECHATPAY_BASE_URL")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.into());
        let base_url = problems.base_url("PERMIT_LEDGER_WECHATPAY_BASE_URL", &base_url);
        let api_base = get("PERMIT_LEDGER_WECHAT_API_BASE_URL")
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_WECHAT_API_BASE_URL.into());
        let api_base = problems.base_url("PERMIT_LEDGER_WECHAT_API_BASE_URL", &api_base);
        let app_secret = problems.secret_file(get, "PERMIT_LEDGER_WECHAT_APP_SECRET_FILE");
        let platform = platform_trust(get, problems);

        let merchant = match (&mchid, &serial, &key_pem) {
            (Some(mchid), Some(serial), Some(pem)) => {
                MerchantKey::from_pem(mchid.clone(), serial.clone(), pem.expose())
                    .map_err(|e| {
                        problems.push(format!("PERMIT_LEDGER_WECHATPAY_MERCHANT_KEY_FILE: {e}"))
                    })
                    .ok()
            }
            _ => None,
        };
        let api_v3_key = api_v3.and_then(|key| {
            ApiV3Key::try_from(key.expose().as_bytes())
                .map_err(|e| problems.push(format!("PERMIT_LEDGER_WECHATPAY_APIV3_KEY_FILE: {e}")))
                .ok()
        });
        let client = ClientSettings::new(
            base_url?,
            appid?,
            format!("{}/api/v1/payments/wechat/notify", public_url?),
            format!("{}/api/v1/refunds/wechat/notify", public_url?),
        );
        Some(WechatPayConfig {
            client,
            merchant: merchant?,
            api_v3_key: api_v3_key?,
            platform: platform?,
            wechat_api_base_url: api_base?,
            app_secret: app_secret?,
        })
    }

    /// The payment provider and the OAuth exchange. In certificate mode this downloads the
    /// platform certificates (so a wrong APIv3 key or merchant key fails here, at start).
    pub async fn connect(self) -> Result<(WechatPayClient, OAuthClient), ProviderError> {
        let oauth = OAuthClient::new(
            self.wechat_api_base_url,
            self.client.appid.clone(),
            self.app_secret,
        );
        let expect = (self.merchant.mchid().to_string(), self.client.appid.clone());
        let client = match self.platform {
            PlatformTrust::PublicKey { id, key } => {
                let verifier = Verifier::with_keys(PlatformKeys::single(id, key), self.api_v3_key)
                    .expecting(expect.0, expect.1);
                WechatPayClient::new(self.client, self.merchant, verifier)
            }
            PlatformTrust::Certificates => {
                let verifier = Verifier::with_keys(PlatformKeys::default(), self.api_v3_key)
                    .expecting(expect.0, expect.1);
                WechatPayClient::with_certificates(self.client, self.merchant, verifier).await?
            }
        };
        Ok((client, oauth))
    }
}

fn platform_trust(get: Source<'_>, problems: &mut Problems) -> Option<PlatformTrust> {
    let file = get("PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_FILE").filter(|v| !v.trim().is_empty());
    let id = get("PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_ID").filter(|v| !v.trim().is_empty());
    match (file, id) {
        (None, None) => Some(PlatformTrust::Certificates),
        (Some(_), None) | (None, Some(_)) => {
            problems.push(
                "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_FILE and PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_ID \
                 go together (public-key mode), or neither is set (platform certificates)"
                    .into(),
            );
            None
        }
        (Some(file), Some(id)) => {
            let id = id.trim().to_string();
            if !id.starts_with("PUB_KEY_ID_") {
                problems.push(format!(
                    "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_ID: {id:?} is not a PUB_KEY_ID_…"
                ));
                return None;
            }
            let pem = std::fs::read_to_string(file.trim())
                .map_err(|e| {
                    problems.push(format!(
                        "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_FILE: cannot read {}: {}",
                        file.trim(),
                        e.kind()
                    ))
                })
                .ok()?;
            let key = RsaPublicKey::from_public_key_pem(pem.trim())
                .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem.trim()))
                .map_err(|_| {
                    problems.push(
                        "PERMIT_LEDGER_WECHATPAY_PUBLIC_KEY_FILE: not an RSA public key in PEM"
                            .into(),
                    )
                })
                .ok()?;
            Some(PlatformTrust::PublicKey { id, key })
        }
    }
}
