//! Building the service: store, ledger, router, listener.

use crate::http;
use crate::ledger::Ledger;
use crate::store::Store;
use std::net::SocketAddr;

/// A built service, listening, not yet serving.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: http::AppState,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) over an opened store.
    pub async fn build(store: Store, bind: SocketAddr) -> Result<Self, std::io::Error> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let state = http::AppState {
            ledger: Ledger::new(store.log.clone()),
            db: store.db.clone(),
        };
        Ok(Self { listener, state })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), std::io::Error> {
        axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
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
