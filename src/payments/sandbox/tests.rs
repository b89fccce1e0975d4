use super::*;
use crate::payments::port::{CreateOrder, PaymentProvider, ProviderError, RefundRequest};
use crate::payments::wechat::{Notification, NotifyHeaders, RefundResult};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

/// A stand-in for the service's notify endpoints: verifies, records, answers as scripted.
struct Receiver {
    verifier: Verifier,
    /// Answers to give before verifying (then 200 once verified).
    scripted: Mutex<VecDeque<StatusCode>>,
    attempts: Mutex<u32>,
    verified: Mutex<Vec<Notification>>,
    raw: Mutex<Vec<(NotifyHeaders, Vec<u8>)>>,
}

impl Receiver {
    fn notifications(&self) -> Vec<Notification> {
        lock(&self.verified).clone()
    }

    fn refunds(&self) -> Vec<RefundResult> {
        self.notifications()
            .into_iter()
            .filter_map(|n| match n {
                Notification::Refund(r) => Some(r),
                Notification::Payment(_) => None,
            })
            .collect()
    }

    fn attempts(&self) -> u32 {
        *lock(&self.attempts)
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    *lock(&receiver.attempts) += 1;
    if let Some(status) = lock(&receiver.scripted).pop_front() {
        return status;
    }
    let Ok(parsed) = NotifyHeaders::from_http(&headers) else {
        return StatusCode::BAD_REQUEST;
    };
    match receiver.verifier.verify(&parsed, &body, Utc::now()) {
        Ok(note) => {
            lock(&receiver.verified).push(note);
            lock(&receiver.raw).push((parsed, body.to_vec()));
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// Starts a receiver on 127.0.0.1 and points the sandbox at it.
async fn receiver_for(sandbox: &SandboxPayments, scripted: &[StatusCode]) -> Arc<Receiver> {
    let receiver = Arc::new(Receiver {
        verifier: sandbox.verifier().clone(),
        scripted: Mutex::new(scripted.iter().copied().collect()),
        attempts: Mutex::new(0),
        verified: Mutex::new(Vec::new()),
        raw: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/pay", post(receive))
        .route("/refund", post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    sandbox.set_notify_urls(format!("{base}/pay"), format!("{base}/refund"));
    receiver
}

fn fast() -> SandboxConfig {
    SandboxConfig {
        retry_schedule: vec![Duration::from_millis(50); 5],
        duplicate_deliveries: false,
        refund_delay: Duration::from_millis(50),
        delivery_timeout: Duration::from_secs(2),
    }
}

fn order(out_trade_no: &str, amount_fen: i64) -> CreateOrder {
    CreateOrder {
        out_trade_no: out_trade_no.into(),
        description: "2025 年度长租卡续期".into(),
        amount_fen,
        expires_at: Utc::now() + chrono::Duration::minutes(15),
        payer_openid: None,
    }
}

fn refund(out_trade_no: &str, out_refund_no: &str, refund_fen: i64) -> RefundRequest {
    RefundRequest {
        out_trade_no: out_trade_no.into(),
        out_refund_no: out_refund_no.into(),
        refund_fen,
        total_fen: 36000,
        reason: "审核未通过".into(),
    }
}

async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Paid order `out_trade_no` (36000 fen) whose payment notification has arrived.
async fn paid(sandbox: &SandboxPayments, receiver: &Receiver, out_trade_no: &str) {
    let before = receiver.notifications().len();
    sandbox
        .create_order(order(out_trade_no, 36000))
        .await
        .expect("order");
    sandbox.pay(out_trade_no).await.expect("pay");
    eventually("the payment notification", || {
        receiver.notifications().len() > before
    })
    .await;
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        TempDir(std::env::temp_dir().join(format!("pl-sandbox-{}", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn paying_sends_one_verified_payment_notification() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    let created = sandbox
        .create_order(order("PL2025000001", 36000))
        .await
        .expect("order");
    assert!(created.prepay_id.starts_with("wx"));
    assert_eq!(
        sandbox.order_state("PL2025000001").map(|o| o.state),
        Some(OrderState::NotPay)
    );

    sandbox.pay("PL2025000001").await.expect("pay");
    eventually("the notification", || receiver.notifications().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let notes = receiver.notifications();
    assert_eq!(notes.len(), 1, "exactly one delivery: {notes:?}");
    let Notification::Payment(payment) = &notes[0] else {
        panic!("expected a payment: {notes:?}");
    };
    let snapshot = sandbox.order_state("PL2025000001").expect("order");
    assert_eq!(payment.out_trade_no, "PL2025000001");
    assert_eq!(payment.amount_total_fen, 36000);
    assert_eq!(payment.trade_state, "SUCCESS");
    assert_eq!(snapshot.state, OrderState::Success);
    assert_eq!(
        snapshot.transaction_id.as_deref(),
        Some(&*payment.transaction_id)
    );
    assert!(payment.transaction_id.starts_with("4200"));
    assert_eq!(payment.transaction_id.len(), 28);
    assert_eq!(sandbox.deliveries(), 1);
    assert_eq!(sandbox.pending_notifications(), 0);
}

#[tokio::test]
async fn a_refused_delivery_is_retried_until_acknowledged() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let error = StatusCode::INTERNAL_SERVER_ERROR;
    let receiver = receiver_for(&sandbox, &[error, error]).await;
    paid(&sandbox, &receiver, "PL2025000002").await;
    assert_eq!(receiver.attempts(), 3);
    assert_eq!(sandbox.delivery_attempts(), 3);
    // The receiver records before it answers; the sandbox counts once it has the answer.
    eventually("the acknowledgement", || sandbox.deliveries() == 1).await;
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    // A port nobody listens on: bind, note the address, close.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    sandbox.set_notify_urls(format!("http://{closed}/pay"), format!("http://{closed}/r"));
    sandbox
        .create_order(order("PL2025000003", 36000))
        .await
        .expect("order");
    sandbox.pay("PL2025000003").await.expect("pay");
    eventually("a second attempt", || sandbox.delivery_attempts() >= 2).await;
    assert_eq!(sandbox.deliveries(), 0);
    assert_eq!(sandbox.pending_notifications(), 1);
    // The receiver comes up: the next attempt is acknowledged.
    let receiver = receiver_for(&sandbox, &[]).await;
    eventually("the delivery", || receiver.notifications().len() == 1).await;
}

#[tokio::test]
async fn duplicates_arrive_twice_with_the_same_id() {
    let config = SandboxConfig {
        duplicate_deliveries: true,
        ..fast()
    };
    let sandbox = SandboxPayments::in_memory(config).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    sandbox
        .create_order(order("PL2025000004", 36000))
        .await
        .expect("order");
    sandbox.pay("PL2025000004").await.expect("pay");
    eventually("two deliveries", || receiver.notifications().len() == 2).await;
    let notes = receiver.notifications();
    assert_eq!(notes[0].id(), notes[1].id());
    assert_eq!(notes[0], notes[1]);
    eventually("two acknowledgements", || sandbox.deliveries() == 2).await;
}

#[tokio::test]
async fn paying_twice_is_already_paid() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    paid(&sandbox, &receiver, "PL2025000005").await;
    assert!(matches!(
        sandbox.pay("PL2025000005").await,
        Err(SandboxError::AlreadyPaid)
    ));
    assert_eq!(
        sandbox.close_order("PL2025000005").await,
        Err(ProviderError::AlreadyPaid)
    );
    assert_eq!(
        sandbox.create_order(order("PL2025000005", 36000)).await,
        Err(ProviderError::AlreadyPaid)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.notifications().len(), 1);
}

#[tokio::test]
async fn unknown_orders_are_refused() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    assert!(matches!(
        sandbox.pay("PL-NO-SUCH").await,
        Err(SandboxError::UnknownOrder)
    ));
    assert_eq!(
        sandbox.close_order("PL-NO-SUCH").await,
        Err(ProviderError::UnknownOrder)
    );
    assert_eq!(
        sandbox
            .request_refund(refund("PL-NO-SUCH", "RF1", 100))
            .await,
        Err(ProviderError::UnknownOrder)
    );
    assert_eq!(sandbox.order_state("PL-NO-SUCH"), None);
}

#[tokio::test]
async fn closed_and_expired_orders_cannot_be_paid() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    sandbox
        .create_order(order("PL2025000006", 36000))
        .await
        .expect("order");
    sandbox.close_order("PL2025000006").await.expect("close");
    sandbox
        .close_order("PL2025000006")
        .await
        .expect("close again");
    assert!(matches!(
        sandbox.pay("PL2025000006").await,
        Err(SandboxError::OrderClosed)
    ));
    assert_eq!(
        sandbox.create_order(order("PL2025000006", 36000)).await,
        Err(ProviderError::OrderClosed)
    );

    let short = CreateOrder {
        expires_at: Utc::now() + chrono::Duration::milliseconds(100),
        ..order("PL2025000007", 36000)
    };
    sandbox.create_order(short).await.expect("order");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(matches!(
        sandbox.pay("PL2025000007").await,
        Err(SandboxError::OrderClosed)
    ));
    assert_eq!(
        sandbox.order_state("PL2025000007").map(|o| o.state),
        Some(OrderState::Closed)
    );
    assert_eq!(sandbox.deliveries(), 0);
}

#[tokio::test]
async fn creating_an_order_is_idempotent_on_its_number_and_amount() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let first = sandbox
        .create_order(order("PL2025000008", 36000))
        .await
        .expect("order");
    let again = sandbox
        .create_order(order("PL2025000008", 36000))
        .await
        .expect("again");
    assert_eq!(first, again);
    assert_eq!(
        sandbox.create_order(order("PL2025000008", 100)).await,
        Err(ProviderError::AmountMismatch)
    );
    for bad in [order("PL 1", 36000), order("PL2025000009", 0)] {
        let err = sandbox.create_order(bad).await.expect_err("invalid");
        assert_eq!(err.code(), "payment_invalid_request");
    }
}

#[tokio::test]
async fn a_refund_succeeds_after_the_delay() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    paid(&sandbox, &receiver, "PL2025000010").await;
    sandbox
        .request_refund(refund("PL2025000010", "RF2025000010", 36000))
        .await
        .expect("refund");
    let state = sandbox.refund_state("RF2025000010").expect("refund");
    assert_eq!(state.state, RefundState::Processing);
    eventually("the refund notification", || receiver.refunds().len() == 1).await;
    let refunds = receiver.refunds();
    assert_eq!(refunds[0].status, RefundStatus::Success);
    assert_eq!(refunds[0].out_trade_no, "PL2025000010");
    assert_eq!(refunds[0].out_refund_no, "RF2025000010");
    assert_eq!(refunds[0].refund_fen, 36000);
    assert_eq!(refunds[0].refund_id, state.refund_id);
    assert!(refunds[0].success_time.is_some());
    let order = sandbox.order_state("PL2025000010").expect("order");
    assert_eq!(order.refunded_fen, 36000);
    assert_eq!(
        sandbox.refund_state("RF2025000010").map(|r| r.state),
        Some(RefundState::Success)
    );
}

#[tokio::test]
async fn a_closed_refund_retried_with_the_same_number_succeeds() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    paid(&sandbox, &receiver, "PL2025000011").await;
    sandbox.script_refund("RF2025000011", RefundStatus::Closed);
    let request = refund("PL2025000011", "RF2025000011", 36000);
    sandbox
        .request_refund(request.clone())
        .await
        .expect("refund");
    eventually("CLOSED", || receiver.refunds().len() == 1).await;
    assert_eq!(receiver.refunds()[0].status, RefundStatus::Closed);
    assert_eq!(receiver.refunds()[0].success_time, None);
    assert_eq!(
        sandbox.refund_state("RF2025000011").map(|r| r.state),
        Some(RefundState::Closed)
    );

    sandbox.request_refund(request).await.expect("retry");
    eventually("SUCCESS", || receiver.refunds().len() == 2).await;
    assert_eq!(receiver.refunds()[1].status, RefundStatus::Success);
    let state = sandbox.refund_state("RF2025000011").expect("refund");
    assert_eq!(state.attempts, 2);
    assert_eq!(state.state, RefundState::Success);
}

#[tokio::test]
async fn an_abnormal_refund_stays_abnormal() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    paid(&sandbox, &receiver, "PL2025000012").await;
    sandbox.script_refund("RF2025000012", RefundStatus::Abnormal);
    let request = refund("PL2025000012", "RF2025000012", 36000);
    sandbox
        .request_refund(request.clone())
        .await
        .expect("refund");
    eventually("ABNORMAL", || receiver.refunds().len() == 1).await;
    assert_eq!(receiver.refunds()[0].status, RefundStatus::Abnormal);
    sandbox.request_refund(request).await.expect("repeat");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.refunds().len(), 1);
    assert_eq!(
        sandbox.refund_state("RF2025000012").map(|r| r.state),
        Some(RefundState::Abnormal)
    );
}

#[tokio::test]
async fn refunds_are_idempotent_on_their_number() {
    let sandbox = SandboxPayments::in_memory(fast()).expect("sandbox");
    let receiver = receiver_for(&sandbox, &[]).await;
    sandbox
        .create_order(order("PL2025000013", 36000))
        .await
        .expect("order");
    assert_eq!(
        sandbox
            .request_refund(refund("PL2025000013", "RF2025000013", 36000))
            .await,
        Err(ProviderError::NotPaid)
    );
    sandbox.pay("PL2025000013").await.expect("pay");
    eventually("payment", || receiver.notifications().len() == 1).await;

    let request = refund("PL2025000013", "RF2025000013", 36000);
    sandbox
        .request_refund(request.clone())
        .await
        .expect("refund");
    sandbox
        .request_refund(request.clone())
        .await
        .expect("again");
    eventually("the refund", || receiver.refunds().len() == 1).await;
    sandbox
        .request_refund(request)
        .await
        .expect("after it ended");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.refunds().len(), 1, "one refund only");
    assert_eq!(
        sandbox.order_state("PL2025000013").map(|o| o.refunded_fen),
        Some(36000)
    );

    assert_eq!(
        sandbox
            .request_refund(refund("PL2025000013", "RF2025000014", 36000))
            .await,
        Err(ProviderError::RefundExceedsPaid)
    );
    assert_eq!(
        sandbox
            .request_refund(refund("PL2025000013", "RF2025000013", 100))
            .await,
        Err(ProviderError::AmountMismatch)
    );
    let wrong_total = RefundRequest {
        total_fen: 100,
        ..refund("PL2025000013", "RF2025000015", 100)
    };
    assert_eq!(
        sandbox.request_refund(wrong_total).await,
        Err(ProviderError::AmountMismatch)
    );
}

#[tokio::test]
async fn state_and_keys_survive_reopening() {
    let dir = TempDir::new();
    let first = SandboxPayments::open(&dir.0, fast()).expect("open");
    let receiver = receiver_for(&first, &[]).await;
    paid(&first, &receiver, "PL2025000020").await;
    eventually("the delivery settled", || {
        first.pending_notifications() == 0
    })
    .await;
    first
        .create_order(order("PL2025000021", 36000))
        .await
        .expect("order");
    let serial = first.verifier().serial().to_owned();
    let (headers, body) = lock(&receiver.raw)[0].clone();
    drop(first);
    assert!(dir.0.join(FILE_NAME).exists());

    let second = SandboxPayments::open(&dir.0, fast()).expect("reopen");
    assert_eq!(second.verifier().serial(), serial);
    let note = second
        .verifier()
        .verify(&headers, &body, Utc::now())
        .expect("a notification signed before still verifies");
    assert_eq!(note.out_trade_no(), "PL2025000020");
    assert_eq!(
        second.order_state("PL2025000020").map(|o| o.state),
        Some(OrderState::Success)
    );
    assert!(matches!(
        second.pay("PL2025000020").await,
        Err(SandboxError::AlreadyPaid)
    ));

    let receiver = receiver_for(&second, &[]).await;
    second
        .pay("PL2025000021")
        .await
        .expect("pay an order made before");
    eventually("the payment", || receiver.notifications().len() == 1).await;
    assert_eq!(receiver.notifications()[0].out_trade_no(), "PL2025000021");
}

#[tokio::test]
async fn undelivered_notifications_are_delivered_after_reopening() {
    let dir = TempDir::new();
    let first = SandboxPayments::open(&dir.0, fast()).expect("open");
    first
        .create_order(order("PL2025000030", 36000))
        .await
        .expect("order");
    first.pay("PL2025000030").await.expect("pay");
    assert_eq!(first.pending_notifications(), 1);
    drop(first);

    let second = SandboxPayments::open(&dir.0, fast()).expect("reopen");
    assert_eq!(second.pending_notifications(), 1);
    let receiver = receiver_for(&second, &[]).await;
    eventually("the old notification", || {
        receiver.notifications().len() == 1
    })
    .await;
    assert_eq!(receiver.notifications()[0].out_trade_no(), "PL2025000030");
    eventually("nothing pending", || second.pending_notifications() == 0).await;
}

#[test]
fn a_corrupt_state_file_is_refused() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).expect("dir");
    std::fs::write(dir.0.join(FILE_NAME), b"{\"format\": 1}").expect("write");
    let err = SandboxPayments::open(&dir.0, fast()).expect_err("corrupt");
    assert_eq!(err.code(), "sandbox_state_corrupt");
}

#[test]
fn the_default_schedule_spans_a_day() {
    let config = SandboxConfig::default();
    let total: Duration = config.retry_schedule.iter().sum();
    assert!(total >= Duration::from_secs(24 * 3600));
    assert!(total < Duration::from_secs(24 * 3600 + 300));
    assert_eq!(config.retry_schedule[0], Duration::from_millis(200));
    assert!(config.duplicate_deliveries);
    let wechat: Duration = SandboxConfig::wechat_retry_schedule().iter().sum();
    assert_eq!(wechat, Duration::from_secs(24 * 3600 + 4 * 60));
}
