//! Building and running the service: services, background workers, router, listener.

use crate::http;
use crate::services::Services;
use crate::workers;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// A built service, listening, not yet serving.
pub struct Application {
    listener: tokio::net::TcpListener,
    services: Arc<Services>,
}

impl Application {
    /// Binds the listener (port 0 picks a free port).
    pub async fn build(services: Arc<Services>, bind: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        Self::from_listener(services, listener)
    }

    /// Serves on a listener bound already (its address may be needed before the services are
    /// built: the public URL notify URLs are made of).
    pub fn from_listener(
        services: Arc<Services>,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        if let Some(sandbox) = &services.sandbox_payments {
            let base = format!("http://{address}");
            sandbox.set_notify_urls(
                format!("{base}/api/v1/payments/wechat/notify"),
                format!("{base}/api/v1/refunds/wechat/notify"),
            );
        }
        Ok(Self { listener, services })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The services behind it.
    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// Starts the projections and workers, then serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let runners = self.services.read.spawn(stopped.clone());
        workers::spawn(self.services.clone(), stopped);
        let app =
            http::router(self.services.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        // Let the runners finish their batch and release their leases, so another instance
        // takes over at once rather than when the leases expire.
        let _ = stop.send(true);
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            futures::future::join_all(runners),
        )
        .await;
        result
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
