//! The sandbox SMS gateway: its outbox plays the phone's inbox (`GET /sandbox/sms`).
//!
//! It lives in memory, like a phone's screen: codes are never written to the database.

use super::{Sent, SmsError, SmsGateway, SmsMessage};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A message as the phone received it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmsRecord {
    /// The text.
    pub text: String,
    /// When it arrived (real time).
    pub sent_at: DateTime<Utc>,
    /// The code, for code messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The sandbox gateway.
#[derive(Debug, Default)]
pub struct SandboxSms {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<String>,
    inbox: HashMap<String, Vec<SmsRecord>>,
}

impl SandboxSms {
    /// An empty gateway.
    pub fn new() -> Self {
        Self::default()
    }

    /// A phone's messages, oldest first.
    pub fn inbox(&self, phone: &str) -> Vec<SmsRecord> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.inbox.get(phone).cloned().unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl SmsGateway for SandboxSms {
    async fn send(&self, message: SmsMessage) -> Result<Sent, SmsError> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.seen.insert(message.id) {
            inner
                .inbox
                .entry(message.phone)
                .or_default()
                .push(SmsRecord {
                    text: message.text,
                    sent_at: Utc::now(),
                    code: message.code,
                });
        }
        Ok(Sent::default())
    }

    fn provider(&self) -> &'static str {
        "sandbox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_message_id_is_delivered_once() {
        let sms = SandboxSms::new();
        let msg = SmsMessage {
            id: "sms:1".into(),
            phone: "13912345678".into(),
            template: crate::sms::SmsTemplate::Rejected,
            params: vec!["京A66666".into(), "照片不清晰".into()],
            text: "hi".into(),
            code: None,
        };
        sms.send(msg.clone()).await.unwrap();
        sms.send(msg).await.unwrap();
        assert_eq!(sms.inbox("13912345678").len(), 1);
        assert!(sms.inbox("13800000000").is_empty());
    }
}
