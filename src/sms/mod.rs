//! The SMS port: codes and the approved / rejected / refunded notices.
//!
//! Real gateways send *templates*: the provider holds the approved wording and the service sends
//! the template's id and its parameters, in the order fixed by the API contract
//! (`docs/api.md`, "Production mode"). The rendered `text` is kept for the sandbox, which shows
//! it as the phone would. See `docs/sms.md` for how errors are classified and retried.

pub mod aliyun;
pub mod attempts;
pub mod budget;
pub mod config;
mod sandbox;
pub mod tencent;
pub mod timing;

pub use config::{Provider, Secret, SmsConfig};
pub use sandbox::{SandboxSms, SmsRecord};

/// Which approved template a message uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmsTemplate {
    /// A sign-in code: `[code, minutes valid]`.
    Code,
    /// A renewal was approved: `[plate, from, to]`.
    Approved,
    /// A renewal was rejected: `[plate, reason]`.
    Rejected,
    /// A refund was paid back: `[plate, yuan]`.
    Refunded,
    /// A card's last approved period ends soon: `[plate, valid_to]`.
    Reminder,
}

impl SmsTemplate {
    /// Every template.
    pub const ALL: [SmsTemplate; 5] = [
        Self::Code,
        Self::Approved,
        Self::Rejected,
        Self::Refunded,
        Self::Reminder,
    ];

    /// The name used in outbox payloads (`"code"`, `"approved"`, `"rejected"`, `"refunded"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Refunded => "refunded",
            Self::Reminder => "reminder",
        }
    }

    /// The template of a payload name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The names of the parameters, in the contract's order. Aliyun's `TemplateParam` uses them
    /// as the JSON object's keys, so its templates must be written with `${code}`, `${minutes}`,
    /// `${plate}`, `${from}`, `${to}`, `${reason}`, `${yuan}` and `${valid_to}`.
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            Self::Code => &["code", "minutes"],
            Self::Approved => &["plate", "from", "to"],
            Self::Rejected => &["plate", "reason"],
            Self::Refunded => &["plate", "yuan"],
            Self::Reminder => &["plate", "valid_to"],
        }
    }
}

impl std::fmt::Display for SmsTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The provider's template ids, one per template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateIds {
    /// `PERMIT_LEDGER_SMS_TEMPLATE_CODE`.
    pub code: String,
    /// `PERMIT_LEDGER_SMS_TEMPLATE_APPROVED`.
    pub approved: String,
    /// `PERMIT_LEDGER_SMS_TEMPLATE_REJECTED`.
    pub rejected: String,
    /// `PERMIT_LEDGER_SMS_TEMPLATE_REFUNDED`.
    pub refunded: String,
    /// `PERMIT_LEDGER_SMS_TEMPLATE_REMINDER`: optional; empty when unset, and then no reminder
    /// is sent in production.
    pub reminder: String,
}

impl TemplateIds {
    /// The id of one template.
    pub fn get(&self, template: SmsTemplate) -> &str {
        match template {
            SmsTemplate::Code => &self.code,
            SmsTemplate::Approved => &self.approved,
            SmsTemplate::Rejected => &self.rejected,
            SmsTemplate::Refunded => &self.refunded,
            SmsTemplate::Reminder => &self.reminder,
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// Idempotency key: sending the same id twice delivers once (the sandbox); real gateways
    /// pass it to the provider (`SessionContext` / `OutId`).
    pub id: String,
    /// 11-digit mainland mobile number.
    pub phone: String,
    /// The approved template the message uses.
    pub template: SmsTemplate,
    /// The template's parameters, in the order of [`SmsTemplate::param_names`].
    pub params: Vec<String>,
    /// The rendered text (the sandbox shows it; real gateways send the template).
    pub text: String,
    /// For code messages, the code (the sandbox shows it as the phone would).
    pub code: Option<String>,
}

impl SmsMessage {
    /// Checks that the message carries as many parameters as its template takes (a notice
    /// enqueued before templates existed carries none): a real gateway must not send a
    /// template with holes in it.
    pub fn check_params(&self) -> Result<(), SmsError> {
        let wanted = self.template.param_names().len();
        if self.params.len() == wanted {
            Ok(())
        } else {
            Err(SmsError::Permanent {
                code: "missing_template_params".into(),
                message: format!(
                    "the {} template takes {wanted} parameters, the message has {}",
                    self.template,
                    self.params.len()
                ),
            })
        }
    }
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// Throttling, a timeout, the network, the provider's 5xx: try again later (the outbox
    /// retries with its backoff).
    #[error("SMS gateway unavailable: {0}")]
    Transient(String),
    /// The request may have reached the provider but its answer was lost (a timeout after the
    /// connection was made, the connection dropped mid-answer): the message may have gone out,
    /// so a notice is not sent again without a recorded reason.
    #[error("SMS gateway answer lost (the message may have been sent): {0}")]
    AnswerLost(String),
    /// The provider refused the message for a reason that retrying does not cure (template
    /// not approved, bad number, authentication): the outbox gives it up at once.
    #[error("SMS provider refused the message ({code}): {message}")]
    Permanent {
        /// The provider's error code (e.g. `FailedOperation.TemplateIncorrectOrUnapproved`).
        code: String,
        /// The provider's message, with long digit runs (numbers, codes) masked.
        message: String,
    },
}

impl SmsError {
    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent { .. })
    }

    /// Whether the message may have gone out although the send did not succeed.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, Self::AnswerLost(_))
    }

    /// A permanent error, its message masked.
    pub fn permanent(code: impl Into<String>, message: &str) -> Self {
        Self::Permanent {
            code: code.into(),
            message: mask_digits(message),
        }
    }

    /// A transient error, its text masked.
    pub fn transient(text: &str) -> Self {
        Self::Transient(mask_digits(text))
    }
}

/// Masks every run of five or more digits (phone numbers, codes, with or without `+86`) in a
/// provider's message before it can reach a log line or the outbox's `last_error`.
pub fn mask_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 5 {
            out.push_str("***");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A message the provider accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The provider's reference for it (Tencent's `SerialNo`, Aliyun's `BizId`), for asking
    /// the provider about its delivery.
    pub reference: Option<String>,
}

/// An SMS gateway.
#[async_trait::async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends a message; the same `id` is delivered at most once where the gateway can tell.
    async fn send(&self, message: SmsMessage) -> Result<Sent, SmsError>;

    /// The provider's name, as recorded with each attempt.
    fn provider(&self) -> &'static str;
}

/// The HTTP client the real gateways share: rustls, a connect timeout and an overall timeout
/// (a provider that does not answer is a transient failure, not a stuck outbox).
pub(crate) fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(std::time::Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .build()
        .expect("a reqwest client with rustls builds")
}

/// A reqwest failure, without the URL (it names no phone, but the endpoint is configuration,
/// not news) and without the body: transient when no connection was made (nothing reached the
/// provider), an answer lost otherwise (the request may have been acted on).
pub(crate) fn network_error(provider: &str, e: &reqwest::Error) -> SmsError {
    if e.is_connect() {
        return SmsError::Transient(format!("{provider}: could not connect"));
    }
    let what = if e.is_timeout() {
        "timed out waiting for the answer"
    } else {
        "the connection failed before the answer"
    };
    SmsError::AnswerLost(format!("{provider}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_round_trip_and_params_follow_the_contract_order() {
        for t in SmsTemplate::ALL {
            assert_eq!(SmsTemplate::from_name(t.name()), Some(t));
        }
        assert_eq!(SmsTemplate::from_name("other"), None);
        assert_eq!(SmsTemplate::Code.param_names(), ["code", "minutes"]);
        assert_eq!(SmsTemplate::Approved.param_names(), ["plate", "from", "to"]);
        assert_eq!(SmsTemplate::Rejected.param_names(), ["plate", "reason"]);
        assert_eq!(SmsTemplate::Refunded.param_names(), ["plate", "yuan"]);
    }

    #[test]
    fn a_message_without_its_parameters_is_refused_permanently() {
        let mut m = SmsMessage {
            id: "sms:1".into(),
            phone: "13912345678".into(),
            template: SmsTemplate::Approved,
            params: vec![],
            text: "t".into(),
            code: None,
        };
        let e = m.check_params().unwrap_err();
        assert!(e.is_permanent());
        assert!(e.to_string().contains("missing_template_params"));
        m.params = vec!["京A66666".into(), "2022-06-01".into(), "2023-05-31".into()];
        assert_eq!(m.check_params(), Ok(()));
    }

    #[test]
    fn provider_messages_lose_their_numbers() {
        assert_eq!(
            mask_digits("phone +8613912345678 is wrong, code 123456, 3 tries"),
            "phone +*** is wrong, code ***, 3 tries"
        );
        let e = SmsError::permanent("isv.MOBILE_NUMBER_ILLEGAL", "bad 13912345678");
        assert!(!e.to_string().contains("13912345678"));
        assert!(e.to_string().contains("isv.MOBILE_NUMBER_ILLEGAL"));
    }
}
