//! A stand-in for the WeChat Pay API v3 server (and the official account's OAuth endpoint),
//! written from pay.weixin.qq.com's documentation. It checks every request's `Authorization`
//! (WECHATPAY2-SHA256-RSA2048 over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`) with the merchant's
//! public key, signs every answer with its platform key (`TIMESTAMP\nNONCE\nBODY\n`), seals
//! and signs notifications (AEAD_AES_256_GCM under the APIv3 key) and posts them to the
//! order's `notify_url`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const MCHID: &str = "1900000109";
pub const APPID: &str = "wxd678efh567hg6787";
pub const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD3EB2D5E7";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092025010100000001";
pub const CERT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const API_V3_KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
pub const APP_SECRET: &str = "fake-app-secret-0123456789abcdef";

/// The directory of the stand-in's key files.
pub fn testdata() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/testdata")
}

/// How the stand-in identifies its answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// WeChat Pay public-key mode: `Wechatpay-Serial: PUB_KEY_ID_…`.
    PublicKey,
    /// Platform-certificate mode: `Wechatpay-Serial` is the certificate's serial.
    Certificates,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub out_trade_no: String,
    pub total: i64,
    pub openid: String,
    pub notify_url: String,
    pub time_expire: String,
    pub prepay_id: String,
    pub trade_state: String,
    pub transaction_id: Option<String>,
    pub success_time: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub refund_id: String,
    pub refund: i64,
    pub total: i64,
    pub notify_url: String,
    pub status: String,
    /// When it was accepted (China time, RFC 3339): the day its bill row falls on.
    pub accepted_at: String,
}

/// A row of the trade bill (交易账单) the stand-in serves.
#[derive(Debug, Clone)]
pub struct BillRow {
    /// `yyyy-MM-dd HH:mm:ss`, China time.
    pub time: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    /// `SUCCESS` (a payment) or `REFUND`.
    pub trade_state: String,
    pub order_fen: i64,
    pub refund_id: String,
    pub out_refund_no: String,
    pub refund_fen: i64,
    pub refund_status: String,
}

#[derive(Default)]
struct Book {
    orders: HashMap<String, Order>,
    refunds: HashMap<String, Refund>,
    /// `METHOD path` of every authenticated API call.
    calls: Vec<String>,
    /// Requests refused for their signature.
    refused: usize,
    /// Answer the next N API calls with 500 SYSTEM_ERROR.
    fail_next: usize,
    /// Corrupt the signature of the next answer.
    tamper_next: bool,
    /// Refuse every refund request with this 403 error code (e.g. `NO_AUTH`).
    refuse_refunds: Option<String>,
    /// Answer every refund request with 500 SYSTEM_ERROR.
    fail_refunds: bool,
    /// OAuth codes and the openid each stands for (a code works once).
    codes: HashMap<String, String>,
    counter: u64,
    /// Bill rows added by a test, by bill date (`yyyy-MM-dd`).
    extra_bill_rows: HashMap<String, Vec<BillRow>>,
    /// Give the next bill a digest that does not match it.
    wrong_bill_hash: bool,
    /// Bills handed out for download, by token.
    bills: HashMap<String, Vec<u8>>,
}

struct Inner {
    mode: Mode,
    merchant: VerifyingKey<Sha256>,
    platform: SigningKey<Sha256>,
    cert_pem: String,
    book: Mutex<Book>,
    http: reqwest::Client,
}

/// A running stand-in.
#[derive(Clone)]
pub struct FakeWechatPay {
    pub base: String,
    inner: Arc<Inner>,
}

impl FakeWechatPay {
    /// Starts one on a free loopback port.
    pub async fn start(mode: Mode) -> Self {
        let dir = testdata();
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect(name);
        let merchant_private = RsaPrivateKey::from_pkcs8_pem(&read("merchant_key.pem")).unwrap();
        let merchant = VerifyingKey::new(merchant_private.to_public_key());
        let platform =
            SigningKey::new(RsaPrivateKey::from_pkcs8_pem(&read("platform_key.pem")).unwrap());
        let inner = Arc::new(Inner {
            mode,
            merchant,
            platform,
            cert_pem: read("platform_cert.pem"),
            book: Mutex::default(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        });
        let app = Router::new()
            .route("/v3/pay/transactions/jsapi", post(jsapi))
            .route("/v3/pay/transactions/out-trade-no/{no}", get(query))
            .route("/v3/pay/transactions/out-trade-no/{no}/close", post(close))
            .route("/v3/refund/domestic/refunds", post(refund))
            .route("/v3/refund/domestic/refunds/{no}", get(query_refund))
            .route("/v3/certificates", get(certificates))
            .route("/v3/bill/tradebill", get(trade_bill))
            .route("/v3/billdownload/file", get(download_bill))
            .route("/sns/oauth2/access_token", get(oauth))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeWechatPay { base, inner }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.inner.book.lock().unwrap()
    }

    /// The serial its answers carry.
    pub fn serial(&self) -> &'static str {
        match self.inner.mode {
            Mode::PublicKey => PUBLIC_KEY_ID,
            Mode::Certificates => CERT_SERIAL,
        }
    }

    /// An OAuth code that stands for `openid` (once).
    pub fn issue_code(&self, openid: &str) -> String {
        let mut book = self.book();
        book.counter += 1;
        let code = format!("0{}b7cd{:04}", openid.len(), book.counter);
        book.codes.insert(code.clone(), openid.to_string());
        code
    }

    pub fn order(&self, out_trade_no: &str) -> Option<Order> {
        self.book().orders.get(out_trade_no).cloned()
    }

    pub fn refunds(&self) -> Vec<Refund> {
        self.book().refunds.values().cloned().collect()
    }

    /// Authenticated API calls so far (`METHOD path`).
    pub fn calls(&self) -> Vec<String> {
        self.book().calls.clone()
    }

    /// Requests refused for a bad `Authorization`.
    pub fn refused(&self) -> usize {
        self.book().refused
    }

    /// Answers the next `n` API calls with 500 SYSTEM_ERROR.
    pub fn fail_next(&self, n: usize) {
        self.book().fail_next = n;
    }

    /// Adds a payment row to the bill of `date` (`yyyy-MM-dd`) that no order of this
    /// stand-in made: money WeChat took that the merchant's ledger does not know.
    pub fn add_bill_payment(&self, date: &str, out_trade_no: &str, fen: i64) {
        let mut book = self.book();
        book.counter += 1;
        let n = book.counter;
        book.extra_bill_rows
            .entry(date.to_string())
            .or_default()
            .push(BillRow {
                time: format!("{date} 12:00:00"),
                transaction_id: format!("42000099{n:020}"),
                out_trade_no: out_trade_no.to_string(),
                trade_state: "SUCCESS".into(),
                order_fen: fen,
                refund_id: "0".into(),
                out_refund_no: "0".into(),
                refund_fen: 0,
                refund_status: String::new(),
            });
    }

    /// Answers the next bill request with a digest that does not match the bill.
    pub fn corrupt_next_bill_hash(&self) {
        self.book().wrong_bill_hash = true;
    }

    /// Refuses refund requests with 403 `code` from now on (`None`: accepts them again).
    pub fn refuse_refunds(&self, code: Option<&str>) {
        self.book().refuse_refunds = code.map(str::to_string);
    }

    /// Answers refund requests with 500 SYSTEM_ERROR (a busy WeChat) while `on`.
    pub fn fail_refunds(&self, on: bool) {
        self.book().fail_refunds = on;
    }

    /// Signs the next answer wrongly.
    pub fn tamper_next_answer(&self) {
        self.book().tamper_next = true;
    }

    /// The payer pays the order; the notification is posted unless `deliver` is false. Returns
    /// the status the merchant answered the notification with (None when not delivered).
    pub async fn pay(&self, out_trade_no: &str, deliver: bool) -> Option<StatusCode> {
        let order = {
            let mut book = self.book();
            book.counter += 1;
            let n = book.counter;
            let order = book.orders.get_mut(out_trade_no).expect("no such order");
            assert_eq!(
                order.trade_state, "NOTPAY",
                "only an unpaid order can be paid"
            );
            order.trade_state = "SUCCESS".into();
            order.transaction_id = Some(format!("42000017{n:020}"));
            order.success_time = Some(china_time(chrono::Utc::now()));
            order.clone()
        };
        if !deliver {
            return None;
        }
        let resource = transaction_json(&order);
        Some(
            self.notify(
                &order.notify_url,
                "TRANSACTION.SUCCESS",
                "transaction",
                &resource,
            )
            .await,
        )
    }

    /// Redelivers the payment notification of a paid order (as WeChat retries).
    pub async fn redeliver_payment(&self, out_trade_no: &str) -> StatusCode {
        let order = self.order(out_trade_no).expect("no such order");
        let resource = transaction_json(&order);
        self.notify(
            &order.notify_url,
            "TRANSACTION.SUCCESS",
            "transaction",
            &resource,
        )
        .await
    }

    /// Ends a refund with `status` (`SUCCESS`, `CLOSED`, `ABNORMAL`) and notifies.
    pub async fn finish_refund(&self, out_refund_no: &str, status: &str) -> StatusCode {
        let refund = {
            let mut book = self.book();
            let refund = book.refunds.get_mut(out_refund_no).expect("no such refund");
            refund.status = status.into();
            refund.clone()
        };
        let resource = json!({
            "mchid": MCHID,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": "4200000000000000000000000000",
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": status,
            "success_time": (status == "SUCCESS").then(|| china_time(chrono::Utc::now())),
            "user_received_account": "招商银行信用卡0403",
            "amount": {"total": refund.total, "refund": refund.refund,
                       "payer_total": refund.total, "payer_refund": refund.refund}
        });
        self.notify(
            &refund.notify_url,
            &format!("REFUND.{status}"),
            "refund",
            &resource,
        )
        .await
    }

    /// Seals `resource`, signs the envelope with the platform key and posts it.
    pub async fn notify(
        &self,
        url: &str,
        event_type: &str,
        original_type: &str,
        resource: &Value,
    ) -> StatusCode {
        let body = self.envelope(event_type, original_type, resource, API_V3_KEY.as_bytes());
        self.post_signed(url, &body, None).await
    }

    /// A notification envelope sealed under `key`.
    pub fn envelope(
        &self,
        event_type: &str,
        original_type: &str,
        resource: &Value,
        key: &[u8],
    ) -> Vec<u8> {
        let nonce = format!("{:012}", rand::random::<u32>());
        let cipher = Aes256Gcm::new_from_slice(key).unwrap();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(nonce.as_bytes()),
                Payload {
                    msg: resource.to_string().as_bytes(),
                    aad: original_type.as_bytes(),
                },
            )
            .unwrap();
        serde_json::to_vec(&json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "create_time": china_time(chrono::Utc::now()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": B64.encode(sealed),
                "associated_data": original_type,
                "nonce": nonce,
            }
        }))
        .unwrap()
    }

    /// Posts a body with platform signature headers (or with `signature` instead of the real
    /// one, to forge).
    pub async fn post_signed(&self, url: &str, body: &[u8], signature: Option<&str>) -> StatusCode {
        let (timestamp, nonce, real) = self.sign(body);
        self.inner
            .http
            .post(url)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Timestamp", timestamp)
            .header("Wechatpay-Nonce", nonce)
            .header("Wechatpay-Serial", self.serial())
            .header("Wechatpay-Signature", signature.unwrap_or(&real))
            .header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
            .body(body.to_vec())
            .send()
            .await
            .map(|r| r.status())
            .unwrap_or(StatusCode::BAD_GATEWAY)
    }

    fn sign(&self, body: &[u8]) -> (String, String, String) {
        sign(&self.inner, body)
    }
}

fn sign(inner: &Inner, body: &[u8]) -> (String, String, String) {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    let signature = B64.encode(inner.platform.sign(&message).to_bytes());
    (timestamp, nonce, signature)
}

fn china_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

fn transaction_json(order: &Order) -> Value {
    let paid = order.transaction_id.is_some();
    let mut v = json!({
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": order.out_trade_no,
        "trade_type": "JSAPI",
        "trade_state": order.trade_state,
        "trade_state_desc": if paid { "支付成功" } else { "订单未支付" },
        "payer": {"openid": order.openid},
    });
    if paid {
        v["transaction_id"] = json!(order.transaction_id);
        v["bank_type"] = json!("OTHERS");
        v["success_time"] = json!(order.success_time);
        v["amount"] = json!({"total": order.total, "payer_total": order.total,
                             "currency": "CNY", "payer_currency": "CNY"});
    }
    v
}

/// A signed answer.
fn answer(inner: &Inner, status: StatusCode, body: Option<Value>) -> Response {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (timestamp, nonce, mut signature) = sign(inner, &bytes);
    if std::mem::take(&mut inner.book.lock().unwrap().tamper_next) {
        signature = B64.encode([7u8; 256]);
    }
    let serial = match inner.mode {
        Mode::PublicKey => PUBLIC_KEY_ID,
        Mode::Certificates => CERT_SERIAL,
    };
    let mut response = (status, bytes).into_response();
    let h = response.headers_mut();
    h.insert("Content-Type", "application/json".parse().unwrap());
    h.insert("Wechatpay-Timestamp", timestamp.parse().unwrap());
    h.insert("Wechatpay-Nonce", nonce.parse().unwrap());
    h.insert("Wechatpay-Serial", serial.parse().unwrap());
    h.insert("Wechatpay-Signature", signature.parse().unwrap());
    h.insert("Request-ID", "08F4D8D9B10610D8E8A9B405-0".parse().unwrap());
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

/// Checks `Authorization` as WeChat Pay does; records the call. Err is the answer to give.
fn authenticate(
    inner: &Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Box<Response>> {
    let refuse = |why: &str| {
        inner.book.lock().unwrap().refused += 1;
        Err(Box::new(error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", why)))
    };
    let Some(header) = headers.get("Authorization").and_then(|v| v.to_str().ok()) else {
        return refuse("缺少Authorization");
    };
    let Some(rest) = header.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
        return refuse("认证类型错误");
    };
    let fields: HashMap<&str, &str> = rest
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    let (Some(mchid), Some(nonce), Some(ts), Some(sig), Some(serial)) = (
        fields.get("mchid"),
        fields.get("nonce_str"),
        fields.get("timestamp"),
        fields.get("signature"),
        fields.get("serial_no"),
    ) else {
        return refuse("Authorization 缺少字段");
    };
    if *mchid != MCHID || *serial != MERCHANT_SERIAL {
        return refuse("商户证书序列号有误");
    }
    let ts_ok = ts
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    if !ts_ok {
        return refuse("请求时间戳过期");
    }
    let url = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut message = format!("{method}\n{url}\n{ts}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    let valid = B64
        .decode(sig)
        .ok()
        .and_then(|b| Signature::try_from(b.as_slice()).ok())
        .is_some_and(|s| inner.merchant.verify(&message, &s).is_ok());
    if !valid {
        return refuse("签名错误");
    }
    let mut book = inner.book.lock().unwrap();
    book.calls.push(format!("{method} {}", uri.path()));
    if book.fail_next > 0 {
        book.fail_next -= 1;
        return Err(Box::new(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统繁忙",
        )));
    }
    Ok(())
}

type Shared = State<Arc<Inner>>;

async fn jsapi(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, &body) {
        return *r;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "body is not JSON");
    };
    if req["mchid"] != MCHID || req["appid"] != APPID {
        return error(
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        );
    }
    let (Some(no), Some(total), Some(openid), Some(notify_url), Some(description)) = (
        req["out_trade_no"].as_str(),
        req["amount"]["total"].as_i64(),
        req["payer"]["openid"].as_str(),
        req["notify_url"].as_str(),
        req["description"].as_str(),
    ) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "缺少参数");
    };
    if description.is_empty() || description.chars().count() > 127 {
        return error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "description长度有误",
        );
    }
    let time_expire = req["time_expire"].as_str().unwrap_or_default();
    if chrono::DateTime::parse_from_rfc3339(time_expire).is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "time_expire格式错误",
        );
    }
    let mut book = inner.book.lock().unwrap();
    if let Some(order) = book.orders.get(no) {
        if order.trade_state == "SUCCESS" {
            drop(book);
            return error(StatusCode::FORBIDDEN, "ORDERPAID", "该订单已支付");
        }
        if order.total != total || order.openid != openid {
            drop(book);
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "201 商户订单号重复",
            );
        }
        let prepay_id = order.prepay_id.clone();
        drop(book);
        return answer(
            &inner,
            StatusCode::OK,
            Some(json!({"prepay_id": prepay_id})),
        );
    }
    book.counter += 1;
    let prepay_id = format!("wx{:026}", book.counter);
    book.orders.insert(
        no.to_string(),
        Order {
            out_trade_no: no.into(),
            total,
            openid: openid.into(),
            notify_url: notify_url.into(),
            time_expire: time_expire.into(),
            prepay_id: prepay_id.clone(),
            trade_state: "NOTPAY".into(),
            transaction_id: None,
            success_time: None,
        },
    );
    drop(book);
    answer(
        &inner,
        StatusCode::OK,
        Some(json!({"prepay_id": prepay_id})),
    )
}

async fn query(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, b"") {
        return *r;
    }
    if q.get("mchid").map(String::as_str) != Some(MCHID) {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid");
    }
    let order = inner.book.lock().unwrap().orders.get(&no).cloned();
    match order {
        Some(order) => answer(&inner, StatusCode::OK, Some(transaction_json(&order))),
        None => error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
    }
}

async fn close(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(no): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, &body) {
        return *r;
    }
    let mut book = inner.book.lock().unwrap();
    let Some(order) = book.orders.get_mut(&no) else {
        drop(book);
        return error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在");
    };
    if order.trade_state == "SUCCESS" {
        drop(book);
        return error(StatusCode::BAD_REQUEST, "ORDERPAID", "订单已支付");
    }
    order.trade_state = "CLOSED".into();
    drop(book);
    answer(&inner, StatusCode::NO_CONTENT, None)
}

async fn refund(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, &body) {
        return *r;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "body is not JSON");
    };
    let (Some(no), Some(refund_no), Some(refund), Some(total), Some(notify_url)) = (
        req["out_trade_no"].as_str(),
        req["out_refund_no"].as_str(),
        req["amount"]["refund"].as_i64(),
        req["amount"]["total"].as_i64(),
        req["notify_url"].as_str(),
    ) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "缺少参数");
    };
    let mut book = inner.book.lock().unwrap();
    if book.fail_refunds {
        drop(book);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统繁忙",
        );
    }
    if let Some(code) = book.refuse_refunds.clone() {
        drop(book);
        return error(StatusCode::FORBIDDEN, &code, "商户无权限");
    }
    let paid = book
        .orders
        .get(no)
        .filter(|o| o.transaction_id.is_some())
        .map(|o| o.total);
    let Some(paid) = paid else {
        drop(book);
        return error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "订单不存在");
    };
    if total != paid || refund > paid || refund < 1 {
        drop(book);
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "退款金额有误");
    }
    // What the order's other refunds hold (all but CLOSED ones) is not refundable again.
    let held: i64 = book
        .refunds
        .values()
        .filter(|r| r.out_trade_no == no && r.out_refund_no != refund_no && r.status != "CLOSED")
        .map(|r| r.refund)
        .sum();
    if held + refund > paid {
        drop(book);
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "申请退款金额超过订单可退金额",
        );
    }
    book.counter += 1;
    let n = book.counter;
    let entry = book
        .refunds
        .entry(refund_no.to_string())
        .or_insert_with(|| Refund {
            out_refund_no: refund_no.into(),
            out_trade_no: no.into(),
            refund_id: format!("50000000{n:020}"),
            refund,
            total,
            notify_url: notify_url.into(),
            status: "PROCESSING".into(),
            accepted_at: china_time(chrono::Utc::now()),
        });
    let body = json!({
        "refund_id": entry.refund_id, "out_refund_no": entry.out_refund_no,
        "transaction_id": "4200000000000000000000000000", "out_trade_no": entry.out_trade_no,
        "channel": "ORIGINAL", "user_received_account": "招商银行信用卡0403",
        "create_time": china_time(chrono::Utc::now()), "status": entry.status,
        "amount": {"total": entry.total, "refund": entry.refund, "payer_total": entry.total,
                   "payer_refund": entry.refund, "currency": "CNY"}
    });
    drop(book);
    answer(&inner, StatusCode::OK, Some(body))
}

async fn query_refund(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(no): Path<String>,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, b"") {
        return *r;
    }
    let refund = inner.book.lock().unwrap().refunds.get(&no).cloned();
    match refund {
        Some(r) => answer(
            &inner,
            StatusCode::OK,
            Some(
                json!({"refund_id": r.refund_id, "out_refund_no": r.out_refund_no,
                        "out_trade_no": r.out_trade_no, "status": r.status,
                        "amount": {"total": r.total, "refund": r.refund}}),
            ),
        ),
        None => error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "退款单不存在"),
    }
}

async fn certificates(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, b"") {
        return *r;
    }
    let nonce = "b9a1d3c7e5f2";
    let cipher = Aes256Gcm::new_from_slice(API_V3_KEY.as_bytes()).unwrap();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: inner.cert_pem.as_bytes(),
                aad: b"certificate",
            },
        )
        .unwrap();
    let now = chrono::Utc::now();
    let body = json!({"data": [{
        "serial_no": CERT_SERIAL,
        "effective_time": china_time(now - chrono::Duration::days(30)),
        "expire_time": china_time(now + chrono::Duration::days(1800)),
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
            "associated_data": "certificate", "ciphertext": B64.encode(sealed)
        }
    }]});
    answer(&inner, StatusCode::OK, Some(body))
}

async fn oauth(State(inner): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("appid") != APPID || get("secret") != APP_SECRET {
        return axum::Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}))
            .into_response();
    }
    if get("grant_type") != "authorization_code" {
        return axum::Json(json!({"errcode": 40002, "errmsg": "invalid grant_type"}))
            .into_response();
    }
    match inner.book.lock().unwrap().codes.remove(get("code")) {
        Some(openid) => axum::Json(json!({
            "access_token": "ACCESS_TOKEN", "expires_in": 7200, "refresh_token": "REFRESH_TOKEN",
            "openid": openid, "scope": "snsapi_base"
        }))
        .into_response(),
        None => axum::Json(json!({"errcode": 40029, "errmsg": "invalid code"})).into_response(),
    }
}

const BILL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const BILL_SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// `yyyy-MM-dd HH:mm:ss` of a China-time RFC 3339 instant.
fn bill_time(rfc3339: &str) -> String {
    rfc3339.get(..19).unwrap_or_default().replace('T', " ")
}

/// The ALL bill of `date` as WeChat's download serves it: the rows of the orders paid and
/// refunds accepted that day (China time), then the rows a test added.
fn bill_file(book: &Book, date: &str) -> Vec<u8> {
    let mut rows: Vec<BillRow> = Vec::new();
    for o in book.orders.values() {
        if let (Some(time), Some(transaction_id)) = (&o.success_time, &o.transaction_id) {
            if time.starts_with(date) {
                rows.push(BillRow {
                    time: bill_time(time),
                    transaction_id: transaction_id.clone(),
                    out_trade_no: o.out_trade_no.clone(),
                    trade_state: "SUCCESS".into(),
                    order_fen: o.total,
                    refund_id: "0".into(),
                    out_refund_no: "0".into(),
                    refund_fen: 0,
                    refund_status: String::new(),
                });
            }
        }
    }
    for r in book.refunds.values() {
        if r.accepted_at.starts_with(date) {
            let transaction_id = book
                .orders
                .get(&r.out_trade_no)
                .and_then(|o| o.transaction_id.clone())
                .unwrap_or_default();
            rows.push(BillRow {
                time: bill_time(&r.accepted_at),
                transaction_id,
                out_trade_no: r.out_trade_no.clone(),
                trade_state: "REFUND".into(),
                order_fen: 0,
                refund_id: r.refund_id.clone(),
                out_refund_no: r.out_refund_no.clone(),
                refund_fen: r.refund,
                refund_status: r.status.clone(),
            });
        }
    }
    rows.sort_by(|a, b| a.time.cmp(&b.time));
    rows.extend(book.extra_bill_rows.get(date).cloned().unwrap_or_default());
    let mut out = format!("{BILL_HEADER}\r\n");
    let (mut order_total, mut refund_total) = (0, 0);
    for r in &rows {
        order_total += r.order_fen;
        refund_total += r.refund_fen;
        let (order, refund) = (yuan(r.order_fen), yuan(r.refund_fen));
        let fields = [
            r.time.as_str(),
            APPID,
            MCHID,
            "0",
            "",
            &r.transaction_id,
            &r.out_trade_no,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "JSAPI",
            &r.trade_state,
            "OTHERS",
            "CNY",
            &order,
            "0.00",
            &r.refund_id,
            &r.out_refund_no,
            &refund,
            "0.00",
            if r.trade_state == "REFUND" {
                "ORIGINAL"
            } else {
                ""
            },
            &r.refund_status,
            "停车长租卡续费",
            "",
            "0.00000",
            "0.60%",
            &order,
            &refund,
            "",
        ];
        let line: Vec<String> = fields.iter().map(|f| format!("`{f}")).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    let (order, refund) = (yuan(order_total), yuan(refund_total));
    out.push_str(&format!(
        "{BILL_SUMMARY_HEADER}\r\n`{},`{order},`{refund},`0.00,`0.00000,`{order},`{refund}\r\n",
        rows.len()
    ));
    out.into_bytes()
}

async fn trade_bill(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, b"") {
        return *r;
    }
    let date = q.get("bill_date").cloned().unwrap_or_default();
    if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err() {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "bill_date格式错误");
    }
    if q.get("bill_type").map(String::as_str).unwrap_or("ALL") != "ALL" {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "bill_type");
    }
    let mut book = inner.book.lock().unwrap();
    let file = bill_file(&book, &date);
    let mut hash = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&file));
    if std::mem::take(&mut book.wrong_bill_hash) {
        hash = "0".repeat(40);
    }
    book.counter += 1;
    let token = format!("bill{:08}", book.counter);
    book.bills.insert(token.clone(), file);
    drop(book);
    let base = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
    );
    answer(
        &inner,
        StatusCode::OK,
        Some(json!({
            "hash_type": "SHA1",
            "hash_value": hash,
            "download_url": format!("{base}/v3/billdownload/file?token={token}"),
        })),
    )
}

/// The download: the request is authenticated like any other; the answer is the file, with
/// no WeChat signature (as the 下载账单 page says).
async fn download_bill(
    State(inner): Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authenticate(&inner, &method, &uri, &headers, b"") {
        return *r;
    }
    let file = q
        .get("token")
        .and_then(|t| inner.book.lock().unwrap().bills.get(t).cloned());
    match file {
        Some(file) => (StatusCode::OK, file).into_response(),
        None => error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "token无效"),
    }
}
