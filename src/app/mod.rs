//! Application services: what the HTTP layer and the CLI ask of the ledger, including the few
//! actions that touch more than one aggregate (a card and its vehicle's binding).

pub mod desk;
pub mod desk_journal;
pub mod desk_renewals;
pub mod given_up;
pub mod idempotency_keys;
pub mod lookup;
pub mod lot_settings;
pub mod metrics;
pub mod own_writes;
pub mod owner;
pub mod payment_callbacks;
pub mod payment_problems;
pub mod photos;
pub mod review;
pub mod second_vehicle;
pub mod sessions;
pub mod staff;
