//! Production SMS settings (`PERMIT_LEDGER_SMS_*`, see `docs/api.md` "Production mode" and
//! `docs/operations.md` "SMS providers"), read all at once so that every problem is reported
//! together, and the gateway they describe.

use super::aliyun::{AliyunSettings, AliyunSms};
use super::tencent::{TencentSettings, TencentSms};
use super::{SmsGateway, TemplateIds};
use crate::services::production::check_base_url;
use std::sync::Arc;
use std::time::Duration;

/// How long one send may take, connection included, before it counts as a transient failure.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::services::Secret;

/// The SMS provider (`PERMIT_LEDGER_SMS_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Tencent Cloud SMS, API 3.0.
    Tencent,
    /// Aliyun dysmsapi.
    Aliyun,
}

/// The settings of the production SMS gateway.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    provider: Provider,
    secret_id: String,
    secret_key: Secret,
    sign_name: String,
    app_id: Option<String>,
    templates: TemplateIds,
    endpoint: String,
    region: String,
}

impl SmsConfig {
    /// Reads the settings through `get` (the environment, or a config file's values). Every
    /// missing, empty or unreadable setting is one entry of the error, naming its variable.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<SmsConfig, Vec<String>> {
        let mut problems = Vec::new();
        let required = |name: &str, problems: &mut Vec<String>| -> String {
            let var = name.to_string();
            match get(&var).map(|v| v.trim().to_string()) {
                Some(v) if !v.is_empty() => v,
                _ => {
                    problems.push(format!("{var} is not set"));
                    String::new()
                }
            }
        };
        let provider_text = required("PERMIT_LEDGER_SMS_PROVIDER", &mut problems);
        let provider = match provider_text.as_str() {
            "tencent" => Some(Provider::Tencent),
            "aliyun" => Some(Provider::Aliyun),
            "" => None,
            other => {
                problems.push(format!(
                    "PERMIT_LEDGER_SMS_PROVIDER must be tencent or aliyun, not {other:?}"
                ));
                None
            }
        };
        let secret_id = required("PERMIT_LEDGER_SMS_SECRET_ID", &mut problems);
        let key_file = required("PERMIT_LEDGER_SMS_SECRET_KEY_FILE", &mut problems);
        let secret_key = if key_file.is_empty() {
            Secret::new(String::new())
        } else {
            Secret::from_file(std::path::Path::new(&key_file)).unwrap_or_else(|why| {
                problems.push(format!("PERMIT_LEDGER_SMS_SECRET_KEY_FILE: {why}"));
                Secret::new(String::new())
            })
        };
        let sign_name = required("PERMIT_LEDGER_SMS_SIGN_NAME", &mut problems);
        let app_id = match provider {
            Some(Provider::Tencent) => Some(required("PERMIT_LEDGER_SMS_APP_ID", &mut problems)),
            _ => get("PERMIT_LEDGER_SMS_APP_ID").filter(|v| !v.trim().is_empty()),
        };
        let templates = TemplateIds {
            code: required("PERMIT_LEDGER_SMS_TEMPLATE_CODE", &mut problems),
            approved: required("PERMIT_LEDGER_SMS_TEMPLATE_APPROVED", &mut problems),
            rejected: required("PERMIT_LEDGER_SMS_TEMPLATE_REJECTED", &mut problems),
            refunded: required("PERMIT_LEDGER_SMS_TEMPLATE_REFUNDED", &mut problems),
            reminder: get("PERMIT_LEDGER_SMS_TEMPLATE_REMINDER")
                .map(|v| v.trim().to_string())
                .unwrap_or_default(),
        };
        let optional = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let (default_endpoint, default_region) = match provider {
            Some(Provider::Aliyun) => (
                super::aliyun::DEFAULT_ENDPOINT,
                super::aliyun::DEFAULT_REGION,
            ),
            _ => (
                super::tencent::DEFAULT_ENDPOINT,
                super::tencent::DEFAULT_REGION,
            ),
        };
        let endpoint =
            optional("PERMIT_LEDGER_SMS_ENDPOINT").unwrap_or_else(|| default_endpoint.to_string());
        let endpoint = match check_base_url(&endpoint) {
            Ok(endpoint) => endpoint,
            Err(why) => {
                problems.push(format!("PERMIT_LEDGER_SMS_ENDPOINT: {endpoint:?}: {why}"));
                endpoint
            }
        };
        let region =
            optional("PERMIT_LEDGER_SMS_REGION").unwrap_or_else(|| default_region.to_string());
        match provider {
            Some(provider) if problems.is_empty() => Ok(SmsConfig {
                provider,
                secret_id,
                secret_key,
                sign_name,
                app_id,
                templates,
                endpoint,
                region,
            }),
            _ => Err(problems),
        }
    }

    /// The provider.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The template ids.
    pub fn templates(&self) -> &TemplateIds {
        &self.templates
    }

    /// The gateway these settings describe.
    pub fn gateway(&self) -> Arc<dyn SmsGateway> {
        self.gateway_waiting(SEND_TIMEOUT)
    }

    /// The gateway, giving up on an answer after `timeout` (the service uses
    /// [`SEND_TIMEOUT`]).
    pub fn gateway_waiting(&self, timeout: Duration) -> Arc<dyn SmsGateway> {
        const CHECKED: &str = "the endpoint was checked by SmsConfig::from_env";
        match self.provider {
            Provider::Tencent => Arc::new(
                TencentSms::new(TencentSettings {
                    endpoint: self.endpoint.clone(),
                    region: self.region.clone(),
                    secret_id: self.secret_id.clone(),
                    secret_key: self.secret_key.clone(),
                    app_id: self.app_id.clone().unwrap_or_default(),
                    sign_name: self.sign_name.clone(),
                    templates: self.templates.clone(),
                    timeout,
                })
                .expect(CHECKED),
            ),
            Provider::Aliyun => Arc::new(
                AliyunSms::new(AliyunSettings {
                    endpoint: self.endpoint.clone(),
                    region: self.region.clone(),
                    access_key_id: self.secret_id.clone(),
                    access_key_secret: self.secret_key.clone(),
                    sign_name: self.sign_name.clone(),
                    templates: self.templates.clone(),
                    timeout,
                })
                .expect(CHECKED),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every SMS setting's name starts so.
    const PREFIX: &str = "PERMIT_LEDGER_SMS_";
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
            .collect()
    }

    fn read(env: &HashMap<String, String>) -> Result<SmsConfig, Vec<String>> {
        SmsConfig::from_env(&|k| env.get(k).cloned())
    }

    fn key_file(content: &str) -> (tempfile_dir::Dir, String) {
        let dir = tempfile_dir::Dir::new();
        let path = dir.0.join("sms.key");
        std::fs::write(&path, content).unwrap();
        let p = path.to_string_lossy().into_owned();
        (dir, p)
    }

    /// A directory of its own, removed at the end.
    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let p = std::env::temp_dir().join(format!("pl-sms-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn complete(provider: &str, key: &str) -> HashMap<String, String> {
        env(&[
            ("PROVIDER", provider),
            ("SECRET_ID", "AKIDexample"),
            ("SECRET_KEY_FILE", key),
            ("SIGN_NAME", "北大医学部"),
            ("APP_ID", "1400006666"),
            ("TEMPLATE_CODE", "1001"),
            ("TEMPLATE_APPROVED", "1002"),
            ("TEMPLATE_REJECTED", "1003"),
            ("TEMPLATE_REFUNDED", "1004"),
        ])
    }

    #[test]
    fn a_complete_tencent_setting_reads_with_defaults_and_hides_its_secret() {
        let (_d, key) = key_file("  the-secret-key\n");
        let c = read(&complete("tencent", &key)).unwrap();
        assert_eq!(c.provider(), Provider::Tencent);
        assert_eq!(c.endpoint(), "https://sms.tencentcloudapi.com");
        assert_eq!(c.region(), "ap-guangzhou");
        assert_eq!(c.secret_key.expose(), "the-secret-key");
        assert_eq!(c.templates().refunded, "1004");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("the-secret-key") && shown.contains("[redacted]"),
            "{shown}"
        );
        assert_eq!(c.secret_key.to_string(), "[redacted]");
    }

    #[test]
    fn aliyun_defaults_and_needs_no_app_id() {
        let (_d, key) = key_file("s");
        let mut e = complete("aliyun", &key);
        e.remove(&format!("{PREFIX}APP_ID"));
        let c = read(&e).unwrap();
        assert_eq!(c.provider(), Provider::Aliyun);
        assert_eq!(c.endpoint(), "https://dysmsapi.aliyuncs.com");
        assert_eq!(c.region(), "cn-hangzhou");
    }

    #[test]
    fn every_missing_setting_is_named_at_once() {
        let problems = read(&env(&[("PROVIDER", "tencent")])).unwrap_err();
        for var in [
            "SECRET_ID",
            "SECRET_KEY_FILE",
            "SIGN_NAME",
            "APP_ID",
            "TEMPLATE_CODE",
            "TEMPLATE_APPROVED",
            "TEMPLATE_REJECTED",
            "TEMPLATE_REFUNDED",
        ] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("{PREFIX}{var} "))),
                "{var} not named in {problems:?}"
            );
        }
        assert_eq!(problems.len(), 8, "{problems:?}");
        let none = read(&HashMap::new()).unwrap_err();
        assert!(none
            .iter()
            .any(|p| p.contains("PERMIT_LEDGER_SMS_PROVIDER")));
        let bad = read(&env(&[("PROVIDER", "twilio")])).unwrap_err();
        assert!(bad.iter().any(|p| p.contains("tencent or aliyun")));
    }

    #[test]
    fn an_unreadable_or_empty_key_file_is_a_problem() {
        let missing = read(&complete("tencent", "/nonexistent/sms.key")).unwrap_err();
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].starts_with("PERMIT_LEDGER_SMS_SECRET_KEY_FILE: cannot read"));
        let (_d, key) = key_file(" \n");
        let empty = read(&complete("tencent", &key)).unwrap_err();
        assert_eq!(
            empty,
            vec![format!("{PREFIX}SECRET_KEY_FILE: {key} is empty")]
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let (_d, key) = key_file("s");
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:2",
            "https://sms.example",
        ] {
            let mut e = complete("tencent", &key);
            e.insert(format!("{PREFIX}ENDPOINT"), ok.into());
            assert_eq!(read(&e).unwrap().endpoint(), ok);
        }
        for bad in [
            "http://sms.tencentcloudapi.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "nonsense",
        ] {
            let mut e = complete("tencent", &key);
            e.insert(format!("{PREFIX}ENDPOINT"), bad.into());
            let problems = read(&e).unwrap_err();
            assert!(
                problems[0].starts_with("PERMIT_LEDGER_SMS_ENDPOINT: "),
                "{problems:?}"
            );
        }
    }
}
