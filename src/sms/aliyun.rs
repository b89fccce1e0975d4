//! Aliyun SMS (dysmsapi) `SendSms`, RPC style, version 2017-05-25, signed with HMAC-SHA1
//! (signature version 1.0).
//!
//! Parameters travel as an `application/x-www-form-urlencoded` POST body (so no phone number
//! sits in a URL); `TemplateParam` is a JSON object whose keys are
//! [`SmsTemplate::param_names`](super::SmsTemplate::param_names); `OutId` carries the message
//! id. Sent only when the answer's `Code == "OK"`; other codes are classified by [`classify`].

use super::{network_error, Sent, SmsError, SmsGateway, SmsMessage, TemplateIds};
use crate::sms::config::Secret;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use std::collections::BTreeMap;
use std::time::Duration;

/// The API version this client speaks.
pub const VERSION: &str = "2017-05-25";
/// The default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
/// The default region.
pub const DEFAULT_REGION: &str = "cn-hangzhou";

/// Percent-encodes as the RPC signature requires: UTF-8, every byte but `A-Z a-z 0-9 - _ . ~`
/// as `%XY` with upper-case hex (so a space is `%20`, `*` is `%2A`, `~` stays).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonicalised query string: parameters sorted by name, each `name=value`
/// percent-encoded, joined with `&` (`Signature` itself excluded).
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The RPC signature V1: `Base64(HMAC-SHA1(secret + "&", method + "&" + enc("/") + "&" +
/// enc(canonical query)))`.
pub fn rpc_signature(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let string_to_sign = format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    );
    let mut mac =
        Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Classifies an Aliyun error code: throttling (`Throttling*`, `isv.BUSINESS_LIMIT_CONTROL`,
/// the console's day/month limits), the platform's own failures (`isp.*`, `InternalError`,
/// `ServiceUnavailable*`) are transient; everything else (unapproved template or signature,
/// bad number, `InvalidAccessKeyId*`, `SignatureDoesNotMatch`, arrears, codes this client does
/// not know) is permanent.
pub fn classify(code: &str, message: &str) -> SmsError {
    let transient = code.starts_with("Throttling")
        || code.starts_with("isp.")
        || code.starts_with("ServiceUnavailable")
        || matches!(
            code,
            "isv.BUSINESS_LIMIT_CONTROL"
                | "isv.DAY_LIMIT_CONTROL"
                | "isv.MONTH_LIMIT_CONTROL"
                | "InternalError"
                | "ServiceTimeout"
        );
    if transient {
        SmsError::transient(&format!("aliyun {code}: {message}"))
    } else {
        SmsError::permanent(code, message)
    }
}

/// Reads a `SendSms` answer (requested with `Format=JSON`).
pub fn outcome(status: reqwest::StatusCode, body: &str) -> Result<Sent, SmsError> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().and_then(|v| v["Code"].as_str()) {
        Some("OK") if status.is_success() => Ok(Sent {
            reference: parsed
                .as_ref()
                .and_then(|v| v["BizId"].as_str())
                .map(str::to_string),
        }),
        Some(code) if code != "OK" => Err(classify(
            code,
            parsed
                .as_ref()
                .and_then(|v| v["Message"].as_str())
                .unwrap_or(""),
        )),
        _ => Err(SmsError::Transient(format!(
            "aliyun: HTTP {status} without a result code"
        ))),
    }
}

/// What the Aliyun gateway needs.
#[derive(Debug, Clone)]
pub struct AliyunSettings {
    /// `https://dysmsapi.aliyuncs.com` (or a loopback fake).
    pub endpoint: String,
    /// e.g. `cn-hangzhou`.
    pub region: String,
    /// The AccessKey id.
    pub access_key_id: String,
    /// The AccessKey secret.
    pub access_key_secret: Secret,
    /// The approved signature (签名).
    pub sign_name: String,
    /// The template codes (模板 CODE, `SMS_…`).
    pub templates: TemplateIds,
    /// The whole request's timeout.
    pub timeout: Duration,
}

/// The Aliyun gateway.
pub struct AliyunSms {
    http: reqwest::Client,
    url: reqwest::Url,
    settings: AliyunSettings,
}

impl AliyunSms {
    /// A gateway; fails when the endpoint is no URL.
    pub fn new(settings: AliyunSettings) -> Result<Self, String> {
        let url = reqwest::Url::parse(&settings.endpoint).map_err(|e| format!("endpoint: {e}"))?;
        Ok(Self {
            http: super::http_client(settings.timeout),
            url,
            settings,
        })
    }

    /// The signed parameters of `SendSms` for a message (`Signature` included).
    pub fn params(
        &self,
        message: &SmsMessage,
        nonce: &str,
        timestamp: &str,
    ) -> BTreeMap<String, String> {
        let s = &self.settings;
        let mut p: BTreeMap<String, String> = [
            ("AccessKeyId", s.access_key_id.as_str()),
            ("Action", "SendSms"),
            ("Format", "JSON"),
            ("OutId", message.id.as_str()),
            ("PhoneNumbers", message.phone.as_str()),
            ("RegionId", s.region.as_str()),
            ("SignName", s.sign_name.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", s.templates.get(message.template)),
            ("Timestamp", timestamp),
            ("Version", VERSION),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        p.insert("TemplateParam".into(), template_param(message).to_string());
        let signature = rpc_signature("POST", &p, s.access_key_secret.expose());
        p.insert("Signature".into(), signature);
        p
    }
}

/// `TemplateParam`: the parameters as a JSON object keyed by the template's parameter names.
pub fn template_param(message: &SmsMessage) -> Value {
    let names = message.template.param_names();
    Value::Object(
        names
            .iter()
            .zip(&message.params)
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect(),
    )
}

#[async_trait::async_trait]
impl SmsGateway for AliyunSms {
    async fn send(&self, message: SmsMessage) -> Result<Sent, SmsError> {
        message.check_params()?;
        let nonce = uuid::Uuid::new_v4().to_string();
        let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let params = self.params(&message, &nonce, &timestamp);
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .http
            .post(self.url.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| network_error("aliyun", &e))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| network_error("aliyun", &e))?;
        outcome(status, &text)
    }

    fn provider(&self) -> &'static str {
        "aliyun"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::SmsTemplate;
    use reqwest::StatusCode;

    /// Aliyun's published SendSms signature example ("HTTP协议及签名",
    /// https://help.aliyun.com/document_detail/56189.html): AccessKeyId `testId`, secret
    /// `testSecret` (HMAC key `testSecret&`), GET, expected Signature `zJDF+Lrzhj/ThnlvIToysFRq6t4=`.
    /// The page also prints the string to sign, checked here too.
    #[test]
    fn rpc_signing_reproduces_the_documented_send_sms_example() {
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            format!("GET&%2F&{}", percent_encode(&canonical_query(&params))),
            "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123\
             %26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF\
             %25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8\
             %25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1\
             %26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0\
             %26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A\
             %2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
        );
        assert_eq!(
            rpc_signature("GET", &params, "testSecret"),
            "zJDF+Lrzhj/ThnlvIToysFRq6t4="
        );
    }

    #[test]
    fn percent_encoding_follows_the_rpc_rules() {
        assert_eq!(percent_encode("a b*~-_.+/"), "a%20b%2A~-_.%2B%2F");
        assert_eq!(percent_encode("京"), "%E4%BA%AC");
    }

    fn gateway() -> AliyunSms {
        AliyunSms::new(AliyunSettings {
            endpoint: "http://127.0.0.1:9/".into(),
            region: DEFAULT_REGION.into(),
            access_key_id: "LTAIexample".into(),
            access_key_secret: Secret::new("s3cret"),
            sign_name: "北大医学部".into(),
            templates: TemplateIds {
                code: "SMS_1".into(),
                approved: "SMS_2".into(),
                rejected: "SMS_3".into(),
                refunded: "SMS_4".into(),
                reminder: String::new(),
            },
            timeout: Duration::from_secs(1),
        })
        .unwrap()
    }

    #[test]
    fn the_params_carry_template_code_json_params_out_id_and_a_valid_signature() {
        let m = SmsMessage {
            id: "sms:7".into(),
            phone: "13912345678".into(),
            template: SmsTemplate::Refunded,
            params: vec!["京A66666".into(), "360.00".into()],
            text: "t".into(),
            code: None,
        };
        let p = gateway().params(&m, "n-1", "2022-05-20T02:00:00Z");
        assert_eq!(p["TemplateCode"], "SMS_4");
        assert_eq!(p["OutId"], "sms:7");
        assert_eq!(p["PhoneNumbers"], "13912345678");
        assert_eq!(p["Format"], "JSON");
        let tp: Value = serde_json::from_str(&p["TemplateParam"]).unwrap();
        assert_eq!(
            tp,
            serde_json::json!({"plate": "京A66666", "yuan": "360.00"})
        );
        assert_eq!(p["Signature"], rpc_signature("POST", &p, "s3cret"));
        assert_ne!(p["Signature"], rpc_signature("POST", &p, "other"));
    }

    #[test]
    fn answers_are_classified() {
        let ok = r#"{"Message":"OK","RequestId":"r","BizId":"b","Code":"OK"}"#;
        assert_eq!(
            outcome(StatusCode::OK, ok),
            Ok(Sent {
                reference: Some("b".into())
            })
        );
        let err = |code: &str| format!(r#"{{"Message":"m","RequestId":"r","Code":"{code}"}}"#);
        for code in [
            "isv.BUSINESS_LIMIT_CONTROL",
            "Throttling.User",
            "Throttling",
            "isp.SYSTEM_ERROR",
            "ServiceUnavailable",
        ] {
            assert!(
                !outcome(StatusCode::OK, &err(code))
                    .unwrap_err()
                    .is_permanent(),
                "{code}"
            );
        }
        for (status, code) in [
            (StatusCode::OK, "isv.SMS_TEMPLATE_ILLEGAL"),
            (StatusCode::OK, "isv.MOBILE_NUMBER_ILLEGAL"),
            (StatusCode::OK, "isv.SMS_SIGNATURE_ILLEGAL"),
            (StatusCode::NOT_FOUND, "InvalidAccessKeyId.NotFound"),
            (StatusCode::BAD_REQUEST, "SignatureDoesNotMatch"),
            (StatusCode::OK, "isv.SomethingNew"),
        ] {
            assert_eq!(
                outcome(status, &err(code)),
                Err(SmsError::Permanent {
                    code: code.into(),
                    message: "m".into()
                })
            );
        }
        assert!(!outcome(StatusCode::SERVICE_UNAVAILABLE, "busy")
            .unwrap_err()
            .is_permanent());
    }
}
