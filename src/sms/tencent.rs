//! Tencent Cloud SMS, API 3.0 `SendSms` (version 2021-01-11), signed with TC3-HMAC-SHA256.
//!
//! One request per message: `PhoneNumberSet` holds the one number in E.164 (`+86…`),
//! `SessionContext` carries the message id (the outbox key) so the provider's records and
//! receipts name it. The message is sent only when `Response.SendStatusSet[].Code == "Ok"`;
//! `Response.Error.Code` and a number's own status code are classified by [`classify`].

use super::{network_error, Sent, SmsError, SmsGateway, SmsMessage, TemplateIds};
use crate::sms::config::Secret;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The API version this client speaks.
pub const VERSION: &str = "2021-01-11";
/// The service name in the credential scope.
pub const SERVICE: &str = "sms";
/// The default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
/// The default region.
pub const DEFAULT_REGION: &str = "ap-guangzhou";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// What TC3-HMAC-SHA256 signs: the request as sent, and the key.
#[derive(Debug, Clone, Copy)]
pub struct Tc3Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The `Host` header as sent (with `:port` when not the scheme's default).
    pub host: &'a str,
    /// The canonical URI (`/` for API 3.0).
    pub path: &'a str,
    /// The query string (empty for POST).
    pub query: &'a str,
    /// The signed headers besides `host`, as (name, value); names are lowercased and sorted
    /// here, so their order does not matter.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes, exactly as sent.
    pub payload: &'a [u8],
    /// `X-TC-Timestamp` (Unix seconds); its UTC date is the credential scope's date.
    pub timestamp: i64,
    /// The product (`sms`; `cvm` in the documentation's example).
    pub service: &'a str,
    /// The SecretId.
    pub secret_id: &'a str,
    /// The SecretKey.
    pub secret_key: &'a str,
}

/// The `Authorization` header of a request, and its signature alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    /// `TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    pub authorization: String,
    /// The hex signature.
    pub signature: String,
}

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Signs a request with TC3-HMAC-SHA256 (Tencent Cloud API "signature v3"): the canonical
/// request, the string to sign over the `date/service/tc3_request` scope, the derived key
/// `HMAC(HMAC(HMAC("TC3" + key, date), service), "tc3_request")`.
pub fn tc3_sign(req: &Tc3Request<'_>) -> Tc3Signature {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
        .filter(|(k, _)| k != "host")
        .chain(std::iter::once((
            "host".to_string(),
            req.host.trim().to_ascii_lowercase(),
        )))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.path,
        req.query,
        canonical_headers,
        signed_headers,
        sha256_hex(req.payload)
    );
    let date = chrono::DateTime::from_timestamp(req.timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string();
    let scope = format!("{date}/{}/tc3_request", req.service);
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{}\n{scope}\n{}",
        req.timestamp,
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac256(format!("TC3{}", req.secret_key).as_bytes(), date.as_bytes());
    let k_service = hmac256(&k_date, req.service.as_bytes());
    let k_signing = hmac256(&k_service, b"tc3_request");
    let signature = hex::encode(hmac256(&k_signing, string_to_sign.as_bytes()));
    Tc3Signature {
        authorization: format!(
            "TC3-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            req.secret_id
        ),
        signature,
    }
}

/// Classifies a Tencent error code (`Response.Error.Code`, or a number's
/// `SendStatusSet[].Code`): frequency limits and internal errors are transient; everything
/// else (authentication, authorisation, unapproved signature or template, bad number, bad
/// parameters, balance, codes this client does not know) is permanent, so it fails visibly at
/// once instead of being retried for hours.
pub fn classify(code: &str, message: &str) -> SmsError {
    const TRANSIENT: &[&str] = &[
        "RequestLimitExceeded",
        "InternalError",
        "LimitExceeded",
        "ResourceUnavailable",
    ];
    let family = code.split('.').next().unwrap_or(code);
    if TRANSIENT.contains(&family) {
        SmsError::transient(&format!("tencent {code}: {message}"))
    } else {
        SmsError::permanent(code, message)
    }
}

/// The Tencent Cloud SMS gateway.
pub struct TencentSms {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    secret_id: String,
    secret_key: Secret,
    app_id: String,
    sign_name: String,
    region: String,
    templates: TemplateIds,
}

/// What the Tencent gateway needs.
#[derive(Debug, Clone)]
pub struct TencentSettings {
    /// `https://sms.tencentcloudapi.com` (or a loopback fake).
    pub endpoint: String,
    /// e.g. `ap-guangzhou`.
    pub region: String,
    /// The SecretId.
    pub secret_id: String,
    /// The SecretKey.
    pub secret_key: Secret,
    /// The SmsSdkAppId.
    pub app_id: String,
    /// The approved signature text.
    pub sign_name: String,
    /// The template ids.
    pub templates: TemplateIds,
    /// The whole request's timeout.
    pub timeout: Duration,
}

impl TencentSms {
    /// A gateway; fails when the endpoint is no URL with a host.
    pub fn new(s: TencentSettings) -> Result<Self, String> {
        let url = reqwest::Url::parse(&s.endpoint).map_err(|e| format!("endpoint: {e}"))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err("endpoint has no host".into()),
        };
        Ok(Self {
            http: super::http_client(s.timeout),
            url,
            host,
            secret_id: s.secret_id,
            secret_key: s.secret_key,
            app_id: s.app_id,
            sign_name: s.sign_name,
            region: s.region,
            templates: s.templates,
        })
    }

    /// The JSON body of `SendSms` for a message.
    pub fn body(&self, message: &SmsMessage) -> Value {
        json!({
            "PhoneNumberSet": [e164(&message.phone)],
            "SmsSdkAppId": self.app_id,
            "SignName": self.sign_name,
            "TemplateId": self.templates.get(message.template),
            "TemplateParamSet": message.params,
            "SessionContext": message.id,
        })
    }
}

/// A mainland number in E.164 (`+86` and the 11 digits); a number already in E.164 is kept.
pub fn e164(phone: &str) -> String {
    if phone.starts_with('+') {
        phone.to_string()
    } else {
        format!("+86{phone}")
    }
}

/// Reads a `SendSms` answer.
pub fn outcome(status: reqwest::StatusCode, body: &str) -> Result<Sent, SmsError> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let response = parsed.as_ref().map(|v| &v["Response"]);
    if let Some(error) = response.map(|r| &r["Error"]).filter(|e| e.is_object()) {
        let code = error["Code"].as_str().unwrap_or("unknown");
        return Err(classify(code, error["Message"].as_str().unwrap_or("")));
    }
    if status.is_server_error() {
        return Err(SmsError::Transient(format!("tencent: HTTP {status}")));
    }
    let statuses = response
        .and_then(|r| r["SendStatusSet"].as_array())
        .filter(|s| !s.is_empty());
    let Some(statuses) = statuses else {
        return Err(SmsError::Transient(format!(
            "tencent: HTTP {status} without a send status"
        )));
    };
    for s in statuses {
        let code = s["Code"].as_str().unwrap_or("unknown");
        if code != "Ok" {
            return Err(classify(code, s["Message"].as_str().unwrap_or("")));
        }
    }
    Ok(Sent {
        reference: statuses[0]["SerialNo"].as_str().map(str::to_string),
    })
}

#[async_trait::async_trait]
impl SmsGateway for TencentSms {
    async fn send(&self, message: SmsMessage) -> Result<Sent, SmsError> {
        message.check_params()?;
        let payload = serde_json::to_vec(&self.body(&message)).expect("JSON serialises");
        let timestamp = chrono::Utc::now().timestamp();
        let signed = tc3_sign(&Tc3Request {
            method: "POST",
            host: &self.host,
            path: "/",
            query: "",
            headers: &[("content-type", CONTENT_TYPE), ("x-tc-action", "sendsms")],
            payload: &payload,
            timestamp,
            service: SERVICE,
            secret_id: &self.secret_id,
            secret_key: self.secret_key.expose(),
        });
        let response = self
            .http
            .post(self.url.clone())
            .header("Authorization", signed.authorization)
            .header("Content-Type", CONTENT_TYPE)
            .header("X-TC-Action", "SendSms")
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Version", VERSION)
            .header("X-TC-Region", &self.region)
            .body(payload)
            .send()
            .await
            .map_err(|e| network_error("tencent", &e))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| network_error("tencent", &e))?;
        outcome(status, &body)
    }

    fn provider(&self) -> &'static str {
        "tencent"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::SmsTemplate;
    use reqwest::StatusCode;

    /// Tencent Cloud's published worked example of signature v3 ("签名方法 v3",
    /// https://cloud.tencent.com/document/product/213/30654, also on every product's
    /// "Signature v3" API page): CVM `DescribeInstances` in ap-guangzhou at 1551113065,
    /// `content-type;host` signed, the body with its `\u` escapes exactly as printed. The page
    /// gives the payload hash 35e9c5b0…f064, the canonical request hash 5ffe6a04…7031 and this
    /// signature.
    #[test]
    fn tc3_signing_reproduces_the_documented_cvm_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        assert_eq!(
            sha256_hex(payload.as_bytes()),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let signed = tc3_sign(&Tc3Request {
            method: "POST",
            host: "cvm.tencentcloudapi.com",
            path: "/",
            query: "",
            headers: &[("Content-Type", "application/json; charset=utf-8")],
            payload: payload.as_bytes(),
            timestamp: 1551113065,
            service: "cvm",
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        });
        assert_eq!(
            signed.signature,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            signed.authorization,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn the_scope_date_is_the_utc_date_and_every_input_counts() {
        let base = Tc3Request {
            method: "POST",
            host: "sms.tencentcloudapi.com",
            path: "/",
            query: "",
            headers: &[("content-type", CONTENT_TYPE)],
            payload: b"{}",
            // 2019-02-26 00:44:25 in UTC+8, still the 25th in UTC.
            timestamp: 1551113065,
            service: "sms",
            secret_id: "id",
            secret_key: "key",
        };
        let a = tc3_sign(&base);
        assert!(a.authorization.contains("/2019-02-25/sms/tc3_request"));
        for other in [
            Tc3Request {
                payload: b"{ }",
                ..base
            },
            Tc3Request {
                secret_key: "key2",
                ..base
            },
            Tc3Request {
                host: "sms.example",
                ..base
            },
            Tc3Request {
                timestamp: 1551113066,
                ..base
            },
        ] {
            assert_ne!(tc3_sign(&other).signature, a.signature);
        }
    }

    fn gateway() -> TencentSms {
        TencentSms::new(TencentSettings {
            endpoint: "http://127.0.0.1:9/".into(),
            region: DEFAULT_REGION.into(),
            secret_id: "id".into(),
            secret_key: Secret::new("key"),
            app_id: "1400006666".into(),
            sign_name: "北大医学部".into(),
            templates: TemplateIds {
                code: "1001".into(),
                approved: "1002".into(),
                rejected: "1003".into(),
                refunded: "1004".into(),
                reminder: String::new(),
            },
            timeout: Duration::from_secs(1),
        })
        .unwrap()
    }

    #[test]
    fn the_body_carries_the_template_id_params_in_order_and_the_message_id() {
        let m = SmsMessage {
            id: "sms:42".into(),
            phone: "13912345678".into(),
            template: SmsTemplate::Approved,
            params: vec!["京A66666".into(), "2022-06-01".into(), "2023-05-31".into()],
            text: "t".into(),
            code: None,
        };
        assert_eq!(
            gateway().body(&m),
            json!({
                "PhoneNumberSet": ["+8613912345678"],
                "SmsSdkAppId": "1400006666",
                "SignName": "北大医学部",
                "TemplateId": "1002",
                "TemplateParamSet": ["京A66666", "2022-06-01", "2023-05-31"],
                "SessionContext": "sms:42",
            })
        );
        assert_eq!(gateway().host, "127.0.0.1:9");
    }

    #[test]
    fn answers_are_classified() {
        let ok = r#"{"Response":{"SendStatusSet":[{"SerialNo":"1","PhoneNumber":"+8613912345678",
            "Fee":1,"SessionContext":"sms:1","Code":"Ok","Message":"send success","IsoCode":"CN"}],
            "RequestId":"r"}}"#;
        assert_eq!(
            outcome(StatusCode::OK, ok),
            Ok(Sent {
                reference: Some("1".into())
            })
        );
        let err = |code: &str| {
            format!(
                r#"{{"Response":{{"Error":{{"Code":"{code}","Message":"m"}},"RequestId":"r"}}}}"#
            )
        };
        for code in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "InternalError.Timeout",
            "LimitExceeded.PhoneNumberThirtySecondLimit",
        ] {
            let e = outcome(StatusCode::OK, &err(code)).unwrap_err();
            assert!(!e.is_permanent(), "{code}");
        }
        for code in [
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "InvalidParameterValue.IncorrectPhoneNumber",
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            "SomethingNew",
        ] {
            let e = outcome(StatusCode::OK, &err(code)).unwrap_err();
            assert_eq!(
                e,
                SmsError::Permanent {
                    code: code.into(),
                    message: "m".into()
                }
            );
        }
        // A number's own status decides too.
        let per_number = r#"{"Response":{"SendStatusSet":[{"PhoneNumber":"+8613912345678",
            "Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"bad +8613912345678"}],
            "RequestId":"r"}}"#;
        let e = outcome(StatusCode::OK, per_number).unwrap_err();
        assert!(e.is_permanent());
        assert!(!e.to_string().contains("13912345678"), "{e}");
        // 5xx or an answer without a status: transient.
        assert!(!outcome(StatusCode::BAD_GATEWAY, "<html>")
            .unwrap_err()
            .is_permanent());
        assert!(!outcome(StatusCode::OK, r#"{"Response":{}}"#)
            .unwrap_err()
            .is_permanent());
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_transient() {
        let m = SmsMessage {
            id: "code:1".into(),
            phone: "13912345678".into(),
            template: SmsTemplate::Code,
            params: vec!["123456".into(), "5".into()],
            text: "t".into(),
            code: Some("123456".into()),
        };
        let e = gateway().send(m).await.unwrap_err();
        assert!(matches!(e, SmsError::Transient(_)), "{e}");
    }
}
