//! The payment port (WeChat Pay API v3 shaped) and its sandbox provider.
//!
//! - [`port`]: what the service asks of a payment provider ([`PaymentProvider`]).
//! - [`wechat`]: the WeChat Pay v3 notification format — signatures, encrypted resources, the
//!   [`Verifier`] the service runs on every callback and the [`Signer`] that makes them.
//! - [`sandbox`]: [`SandboxPayments`], a local provider that behaves like WeChat Pay v3 and
//!   calls the service back over HTTP, for development and tests.
//!
//! Money is integer fen (¥360.00 = 36000) everywhere.

pub mod port;
pub mod sandbox;
pub mod wechat;

pub use port::{
    CreateOrder, CreatedOrder, OrderStatus, PaymentProvider, ProviderError, RefundRequest,
};
pub use sandbox::{
    OrderSnapshot, OrderState, RefundSnapshot, RefundState, SandboxConfig, SandboxError,
    SandboxPayments,
};
pub use wechat::{
    ApiV3Key, Notification, NotifyHeaders, PaymentResult, RefundResult, RefundStatus, Signer,
    Verifier, VerifyError,
};
