//! Local stand-ins of the outside parties, written from their public documentation and sharing
//! no code with the service's clients: what they check is what the real parties check.

pub mod wechatpay;
