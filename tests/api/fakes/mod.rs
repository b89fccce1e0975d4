//! Local stand-ins of the outside parties (WeChat Pay, the SMS providers), written from their
//! public documentation and sharing no code with the service's clients: each checks the
//! signature of every request its own way, records what it accepted, and can be told to fail.

pub mod aliyun_sms;
pub mod tencent_sms;
pub mod wechatpay;

use std::net::SocketAddr;

/// Serves `router` on 127.0.0.1 at a free port until the returned sender is dropped.
pub async fn serve(router: axum::Router) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, stop)
}

/// How the fake answers the next requests.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Answer this many (correctly signed) requests with a throttling error.
    pub transient: usize,
    /// Answer every (correctly signed) request with this error code.
    pub permanent: Option<String>,
    /// Accept this many messages but hold each answer back for `slow_for` (longer than the
    /// client waits: the answer is lost, the message sent).
    pub slow: usize,
    /// How long a slow answer takes.
    pub slow_for: std::time::Duration,
}
