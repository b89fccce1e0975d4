//! A fake Tencent Cloud SMS endpoint (API 3.0 `SendSms`, 2021-01-11), after the documentation:
//! "签名方法 v3" (https://cloud.tencent.com/document/product/213/30654) for the
//! TC3-HMAC-SHA256 check, and the SendSms page (https://cloud.tencent.com/document/api/382/55981)
//! and its error codes for the answers. The signature is recomputed here from the request as
//! received, not with the client's signer.

use super::Faults;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// One message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub phone: String,
    pub app_id: String,
    pub sign_name: String,
    pub template_id: String,
    pub params: Vec<String>,
    pub session_context: String,
}

struct Inner {
    secret_id: String,
    secret_key: String,
    app_id: String,
    templates: HashSet<String>,
    faults: Faults,
    requests: usize,
    received: Vec<Received>,
}

/// The running fake.
pub struct FakeTencentSms {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeTencentSms {
    /// Starts a fake that knows one key pair, one SmsSdkAppId and these approved templates.
    pub async fn start(
        secret_id: &str,
        secret_key: &str,
        app_id: &str,
        templates: &[&str],
    ) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            app_id: app_id.into(),
            templates: templates.iter().map(|t| t.to_string()).collect(),
            faults: Faults::default(),
            requests: 0,
            received: Vec::new(),
        }));
        let router = Router::new()
            .route("/", post(send_sms))
            .with_state(inner.clone());
        let (addr, stop) = super::serve(router).await;
        Self {
            url: format!("http://{addr}"),
            inner,
            _stop: stop,
        }
    }

    /// The next `n` correctly signed requests are throttled (`RequestLimitExceeded`).
    pub fn fail_transiently(&self, n: usize) {
        self.inner.lock().unwrap().faults.transient = n;
    }

    /// The next `n` messages are sent but answered only after `delay`.
    pub fn answer_late(&self, n: usize, delay: std::time::Duration) {
        let mut inner = self.inner.lock().unwrap();
        inner.faults.slow = n;
        inner.faults.slow_for = delay;
    }

    /// Every correctly signed request is refused with `code`.
    pub fn fail_permanently(&self, code: &str) {
        self.inner.lock().unwrap().faults.permanent = Some(code.into());
    }

    /// Messages accepted, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Requests seen, accepted or not.
    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().requests
    }
}

fn error(code: &str, message: &str) -> Json<Value> {
    Json(
        json!({"Response": {"Error": {"Code": code, "Message": message},
                             "RequestId": uuid::Uuid::new_v4().to_string()}}),
    )
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The TC3-HMAC-SHA256 signature of a POST to `/` as the documentation computes it: the
/// signed headers' received values (trimmed, lower-cased) in the order `SignedHeaders` lists
/// them, the body's SHA-256, the `date/service/tc3_request` scope of the timestamp's UTC date.
pub fn expected_signature(
    secret_key: &str,
    service: &str,
    timestamp: i64,
    signed_headers: &str,
    header: &dyn Fn(&str) -> String,
    body: &[u8],
) -> String {
    let date = chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .date_naive()
        .to_string();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        canonical_headers.push_str(&format!("{name}:{}\n", header(name).trim().to_lowercase()));
    }
    let canonical_request = [
        "POST",
        "/",
        "",
        &canonical_headers,
        signed_headers,
        &hex_sha256(body),
    ]
    .join("\n");
    let string_to_sign = [
        "TC3-HMAC-SHA256".to_string(),
        timestamp.to_string(),
        format!("{date}/{service}/tc3_request"),
        hex_sha256(canonical_request.as_bytes()),
    ]
    .join("\n");
    let mut key = hmac_sha256(format!("TC3{secret_key}").as_bytes(), &date);
    for part in [service, "tc3_request"] {
        key = hmac_sha256(&key, part);
    }
    hex::encode(hmac_sha256(&key, &string_to_sign))
}

/// Checks `Authorization` against the request as received; `Err` is Tencent's error code.
fn verify(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Result<(), (&'static str, String)> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let auth = header("authorization");
    let rest = auth.strip_prefix("TC3-HMAC-SHA256 ").ok_or((
        "AuthFailure.InvalidAuthorization",
        "not TC3-HMAC-SHA256".to_string(),
    ))?;
    let mut credential = "";
    let mut signed_headers = "";
    let mut signature = "";
    for part in rest.split(", ") {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = v,
            Some(("SignedHeaders", v)) => signed_headers = v,
            Some(("Signature", v)) => signature = v,
            _ => {}
        }
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [secret_id, date, service, "tc3_request"] = scope[..] else {
        return Err((
            "AuthFailure.InvalidAuthorization",
            format!("credential {credential}"),
        ));
    };
    if secret_id != inner.secret_id {
        return Err(("AuthFailure.SecretIdNotFound", "unknown SecretId".into()));
    }
    if service != "sms" {
        return Err((
            "AuthFailure.InvalidAuthorization",
            format!("service {service}"),
        ));
    }
    let timestamp: i64 = header("x-tc-timestamp")
        .parse()
        .map_err(|_| ("MissingParameter", "X-TC-Timestamp".to_string()))?;
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return Err(("AuthFailure.SignatureExpire", "timestamp too far".into()));
    }
    let utc_date = chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .date_naive()
        .to_string();
    if date != utc_date {
        return Err(("AuthFailure.SignatureFailure", "scope date".into()));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    if !names.contains(&"content-type") || !names.contains(&"host") {
        return Err((
            "AuthFailure.SignatureFailure",
            "content-type and host must be signed".into(),
        ));
    }
    let expected = expected_signature(
        &inner.secret_key,
        service,
        timestamp,
        signed_headers,
        &|name| header(name),
        body,
    );
    if expected != signature {
        return Err((
            "AuthFailure.SignatureFailure",
            "signature does not match".into(),
        ));
    }
    Ok(())
}

async fn send_sms(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let (answer, delay) = {
        let mut inner = inner.lock().unwrap();
        let answer = answer(&mut inner, &headers, &body);
        let slow = answer.0["Response"]["SendStatusSet"].is_array() && inner.faults.slow > 0;
        if slow {
            inner.faults.slow -= 1;
        }
        (answer, slow.then_some(inner.faults.slow_for))
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    answer
}

fn answer(inner: &mut Inner, headers: &HeaderMap, body: &[u8]) -> Json<Value> {
    inner.requests += 1;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if header("x-tc-action") != "SendSms" {
        return error("InvalidAction", "only SendSms");
    }
    if header("x-tc-version") != "2021-01-11" {
        return error("NoSuchVersion", "only 2021-01-11");
    }
    if header("x-tc-region").is_empty() {
        return error("MissingParameter", "X-TC-Region");
    }
    if let Err((code, message)) = verify(inner, headers, body) {
        return error(code, &message);
    }
    if inner.faults.transient > 0 {
        inner.faults.transient -= 1;
        return error("RequestLimitExceeded", "request limit exceeded");
    }
    if let Some(code) = inner.faults.permanent.clone() {
        return error(&code, "refused");
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error("FailedOperation.FailResolvePacket", "body is no JSON");
    };
    let text = |k: &str| req[k].as_str().unwrap_or("").to_string();
    if text("SmsSdkAppId") != inner.app_id {
        return error("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId");
    }
    if text("SignName").is_empty() {
        return error(
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "no SignName",
        );
    }
    if !inner.templates.contains(&text("TemplateId")) {
        return error(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "template not approved",
        );
    }
    let strings = |k: &str| -> Vec<String> {
        req[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut statuses = Vec::new();
    for phone in strings("PhoneNumberSet") {
        let ok = phone.len() == 14
            && phone.starts_with("+861")
            && phone[1..].bytes().all(|b| b.is_ascii_digit());
        if ok {
            inner.received.push(Received {
                phone: phone.clone(),
                app_id: text("SmsSdkAppId"),
                sign_name: text("SignName"),
                template_id: text("TemplateId"),
                params: strings("TemplateParamSet"),
                session_context: text("SessionContext"),
            });
        }
        statuses.push(json!({
            "SerialNo": uuid::Uuid::new_v4().to_string(),
            "PhoneNumber": phone,
            "Fee": if ok { 1 } else { 0 },
            "SessionContext": text("SessionContext"),
            "Code": if ok { "Ok" } else { "InvalidParameterValue.IncorrectPhoneNumber" },
            "Message": if ok { "send success".to_string() } else { format!("incorrect number {phone}") },
            "IsoCode": "CN",
        }));
    }
    Json(json!({"Response": {"SendStatusSet": statuses,
                             "RequestId": uuid::Uuid::new_v4().to_string()}}))
}
