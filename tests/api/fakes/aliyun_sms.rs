//! A fake Aliyun dysmsapi endpoint (`SendSms`, RPC style, 2017-05-25), after the documentation:
//! "HTTP协议及签名" (https://help.aliyun.com/document_detail/56189.html) for the HMAC-SHA1
//! signature, SendSms and its error codes (https://help.aliyun.com/document_detail/101346.html)
//! for the answers. The signature is recomputed here from the parameters as received, with an
//! encoder of its own, not with the client's signer.

use super::Faults;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// One message the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub phone: String,
    pub sign_name: String,
    pub template_code: String,
    pub params: Value,
    pub out_id: String,
}

struct Inner {
    access_key_id: String,
    secret: String,
    templates: HashSet<String>,
    nonces: HashSet<String>,
    faults: Faults,
    requests: usize,
    received: Vec<Received>,
}

/// The running fake.
pub struct FakeAliyunSms {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeAliyunSms {
    /// Starts a fake that knows one AccessKey and these approved template codes.
    pub async fn start(access_key_id: &str, secret: &str, templates: &[&str]) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            access_key_id: access_key_id.into(),
            secret: secret.into(),
            templates: templates.iter().map(|t| t.to_string()).collect(),
            nonces: HashSet::new(),
            faults: Faults::default(),
            requests: 0,
            received: Vec::new(),
        }));
        let router = Router::new()
            .route("/", post(send_sms))
            .with_state(inner.clone());
        let (addr, stop) = super::serve(router).await;
        Self {
            url: format!("http://{addr}/"),
            inner,
            _stop: stop,
        }
    }

    /// The next `n` correctly signed requests hit the frequency limit
    /// (`isv.BUSINESS_LIMIT_CONTROL`).
    pub fn fail_transiently(&self, n: usize) {
        self.inner.lock().unwrap().faults.transient = n;
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

fn answer(status: StatusCode, code: &str, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(
            json!({"RequestId": uuid::Uuid::new_v4().to_string(), "Code": code,
                    "Message": message}),
        ),
    )
}

/// `application/x-www-form-urlencoded` decoding.
fn form_decode(body: &str) -> Option<BTreeMap<String, String>> {
    let decode = |s: &str| -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s.get(i + 1..i + 3)?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    };
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The documentation's encoding: RFC 3986 unreserved characters stay, every other UTF-8 byte
/// becomes `%` and two upper-case hex digits.
fn pop_encode(s: &str) -> String {
    const UNRESERVED: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    s.bytes()
        .map(|b| {
            if UNRESERVED.as_bytes().contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn expected_signature(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let mut sorted: Vec<(&String, &String)> =
        params.iter().filter(|(k, _)| *k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let query: Vec<String> = sorted
        .into_iter()
        .map(|(k, v)| format!("{}={}", pop_encode(k), pop_encode(v)))
        .collect();
    let to_sign = format!(
        "{method}&{}&{}",
        pop_encode("/"),
        pop_encode(&query.join("&"))
    );
    let mut mac =
        <Hmac<sha1::Sha1> as Mac>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn send_sms(
    State(inner): State<Arc<Mutex<Inner>>>,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let mut inner = inner.lock().unwrap();
    inner.requests += 1;
    let Some(p) = std::str::from_utf8(&body).ok().and_then(form_decode) else {
        return answer(StatusCode::BAD_REQUEST, "InvalidParameter", "bad form body");
    };
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    for required in [
        "AccessKeyId",
        "Action",
        "Format",
        "RegionId",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureVersion",
        "Signature",
        "Timestamp",
        "Version",
    ] {
        if get(required).is_empty() {
            return answer(
                StatusCode::BAD_REQUEST,
                &format!("Missing{required}"),
                required,
            );
        }
    }
    if get("Action") != "SendSms" || get("Version") != "2017-05-25" {
        return answer(
            StatusCode::BAD_REQUEST,
            "InvalidAction.NotFound",
            "SendSms 2017-05-25",
        );
    }
    if get("SignatureMethod") != "HMAC-SHA1" || get("SignatureVersion") != "1.0" {
        return answer(
            StatusCode::BAD_REQUEST,
            "InvalidSignatureMethod",
            "HMAC-SHA1 1.0",
        );
    }
    if get("AccessKeyId") != inner.access_key_id {
        return answer(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        );
    }
    if get("Signature") != expected_signature("POST", &p, &inner.secret) {
        return answer(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation.",
        );
    }
    let Ok(at) = chrono::NaiveDateTime::parse_from_str(get("Timestamp"), "%Y-%m-%dT%H:%M:%SZ")
    else {
        return answer(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Format",
            "Timestamp",
        );
    };
    if (chrono::Utc::now().naive_utc() - at).num_minutes().abs() > 15 {
        return answer(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "Timestamp",
        );
    }
    if !inner.nonces.insert(get("SignatureNonce").to_string()) {
        return answer(StatusCode::BAD_REQUEST, "SignatureNonceUsed", "nonce used");
    }
    if inner.faults.transient > 0 {
        inner.faults.transient -= 1;
        return answer(
            StatusCode::OK,
            "isv.BUSINESS_LIMIT_CONTROL",
            "触发分钟级流控Permits:1",
        );
    }
    if let Some(code) = inner.faults.permanent.clone() {
        return answer(StatusCode::OK, &code, "refused");
    }
    if get("SignName").is_empty() {
        return answer(StatusCode::OK, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法");
    }
    if !inner.templates.contains(get("TemplateCode")) {
        return answer(StatusCode::OK, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法");
    }
    let phone = get("PhoneNumbers");
    if phone.len() != 11 || !phone.starts_with('1') || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return answer(
            StatusCode::OK,
            "isv.MOBILE_NUMBER_ILLEGAL",
            &format!("非法手机号 {phone}"),
        );
    }
    let params: Value = match serde_json::from_str(get("TemplateParam")) {
        Ok(v @ Value::Object(_)) => v,
        _ => return answer(StatusCode::OK, "isv.INVALID_JSON_PARAM", "JSON参数不合法"),
    };
    let received = Received {
        phone: phone.to_string(),
        sign_name: get("SignName").to_string(),
        template_code: get("TemplateCode").to_string(),
        params,
        out_id: get("OutId").to_string(),
    };
    inner.received.push(received);
    (
        StatusCode::OK,
        Json(
            json!({"Message": "OK", "RequestId": uuid::Uuid::new_v4().to_string(),
                    "BizId": "900619746936498440^0", "Code": "OK"}),
        ),
    )
}
