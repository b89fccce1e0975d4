//! The HTTP layer.

mod health;

use crate::ledger::Ledger;
use axum::Router;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The command side (and, through it, the store).
    pub ledger: Ledger,
    /// The side tables.
    pub db: crate::store::Db,
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
