//! permit-ledger: an event-sourced ledger for campus vehicle permits.
//!
//! `aggregates` (the pure domain) decides; this crate wires it to the store ([`store`]), runs
//! commands ([`ledger`]), offers the desk's and staff's actions ([`app`]), and serves HTTP
//! ([`http`]) and the CLI ([`cli`]).

pub mod app;
pub mod audit;
pub mod bench;
pub mod cli;
pub mod error;
pub mod gate;
pub mod http;
pub mod ledger;
pub mod payments;
pub mod read_side;
pub mod reconcile;
pub mod services;
pub mod sms;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod workers;
