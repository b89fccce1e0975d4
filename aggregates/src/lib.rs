//! The permit ledger's domain: aggregates, their commands and events, and the rules.
//!
//! This crate is pure. It does no I/O, reads no clock and draws no random numbers: the time
//! ("now" and the business date), new ids and digests arrive inside each command. Rules are plain
//! synchronous `decide` functions returning events or a typed error; the cqrs-es `handle` only
//! writes what `decide` returned to the sink.

pub mod business_time;
pub mod error_code;
pub mod gate;
pub mod lot;
pub mod metadata;
pub mod permit;
pub mod phone_verification;
pub mod staff;
pub mod upcasting;
pub mod values;
pub mod vehicle_binding;

pub use error_code::ErrorCode;
