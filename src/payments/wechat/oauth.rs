//! The payer's identity: the official account's web OAuth (snsapi_base). The page is opened
//! through WeChat's authorize redirect, which hands it a `code`; the service exchanges the code
//! for the payer's openid (`GET /sns/oauth2/access_token`), which JSAPI orders are made out to.

use crate::services::Secret;
use serde::Deserialize;
use std::time::Duration;

/// The exchange of OAuth codes for openids.
pub struct OAuthClient {
    http: reqwest::Client,
    base_url: String,
    appid: String,
    secret: Secret,
}

/// Why a code gave no openid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// WeChat refused the code (unknown, used already or expired: codes live 5 minutes, once).
    #[error("WeChat refused the code ({0})")]
    BadCode(i64),
    /// WeChat could not be reached, or refused the account itself.
    #[error("WeChat OAuth unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

/// `errcode`s that say the code, not the account, is wrong: 40029 invalid code, 40163 code
/// used, 41008 no code.
const CODE_ERRORS: [i64; 3] = [40029, 40163, 41008];

impl OAuthClient {
    /// A client for the official account `appid` with its AppSecret.
    pub fn new(base_url: impl Into<String>, appid: impl Into<String>, secret: Secret) -> Self {
        OAuthClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            appid: appid.into(),
            secret,
        }
    }

    /// The openid the code stands for.
    pub async fn openid(&self, code: &str) -> Result<String, OAuthError> {
        if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OAuthError::BadCode(40029));
        }
        let response = self
            .http
            .get(format!("{}/sns/oauth2/access_token", self.base_url))
            .query(&[
                ("appid", self.appid.as_str()),
                ("secret", self.secret.expose()),
                ("code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(without_url(e)))?;
        if !response.status().is_success() {
            return Err(OAuthError::Unavailable(format!(
                "HTTP {}",
                response.status().as_u16()
            )));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|e| OAuthError::Unavailable(without_url(e)))?;
        match (answer.openid, answer.errcode) {
            (Some(openid), None | Some(0)) if !openid.is_empty() => Ok(openid),
            (_, Some(code)) if CODE_ERRORS.contains(&code) => Err(OAuthError::BadCode(code)),
            (_, code) => Err(OAuthError::Unavailable(format!(
                "errcode {} {}",
                code.unwrap_or_default(),
                answer.errmsg.unwrap_or_default()
            ))),
        }
    }
}

/// A reqwest error without its URL (which carries the AppSecret in its query).
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}
