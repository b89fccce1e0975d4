//! A parking lot, the product it sells and its consent text.

use crate::error_code::{ErrorCode, ErrorKind};
use crate::values::{Fen, RestrictionCalendar, SeasonCalendar};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

/// What a lot sells: one yearly (or shorter) permit at a fixed price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// E.g. 北京大学医学部通行证.
    pub name: String,
    /// The price of one season, in fen.
    pub price: Fen,
    /// The seasons it sells.
    pub calendar: SeasonCalendar,
}

/// The informed-consent text owners accept, with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Opaque version label, e.g. `2022-05`.
    pub version: String,
    /// The text shown to the owner.
    pub text: String,
}

/// Commands to a lot.
#[derive(Debug, Clone, PartialEq)]
pub enum LotCommand {
    /// Register a new lot with its product and consent.
    Register {
        /// Lot display name.
        name: String,
        /// What it sells.
        product: Product,
        /// The consent owners accept.
        consent: Consent,
    },
    /// Publish a new consent version; renewals must then accept it.
    PublishConsent {
        /// The new text and version.
        consent: Consent,
    },
    /// Replace the lot's tail-number restriction calendar as a whole.
    SetRestrictions {
        /// The new calendar (validated when built).
        calendar: RestrictionCalendar,
    },
    /// Set the office's service phone (客服电话) shown on the card page.
    SetServicePhone {
        /// Digits, spaces, `-` and a leading `+`; 3–20 characters.
        service_phone: String,
    },
}

/// Events of a lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LotEvent {
    /// A lot was registered.
    LotRegistered {
        /// Lot display name.
        name: String,
        /// What it sells.
        product: Product,
        /// The consent owners accept.
        consent: Consent,
    },
    /// A new consent version replaced the previous one.
    ConsentPublished {
        /// The new consent.
        consent: Consent,
    },
    /// The lot's restriction calendar was replaced.
    RestrictionsSet {
        /// The calendar now in force.
        calendar: RestrictionCalendar,
    },
    /// The lot's service phone was set.
    ServicePhoneSet {
        /// The phone shown to owners.
        service_phone: String,
    },
}

impl DomainEvent for LotEvent {
    fn event_type(&self) -> String {
        match self {
            LotEvent::LotRegistered { .. } => "LotRegistered",
            LotEvent::ConsentPublished { .. } => "ConsentPublished",
            LotEvent::RestrictionsSet { .. } => "RestrictionsSet",
            LotEvent::ServicePhoneSet { .. } => "ServicePhoneSet",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// Why a lot command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LotError {
    /// The lot exists already.
    #[error("lot already registered")]
    AlreadyRegistered,
    /// No such lot.
    #[error("no such lot")]
    NotRegistered,
    /// A required text is blank or too long.
    #[error("{0} must not be blank or too long")]
    Blank(&'static str),
    /// The price is not positive.
    #[error("price must be a positive number of fen")]
    Price,
    /// The consent version is the one in force already.
    #[error("consent version already published")]
    ConsentVersionExists,
    /// The service phone is not a phone number.
    #[error("service_phone must be 3 to 20 digits, spaces or dashes, with an optional leading +")]
    ServicePhone,
}

impl ErrorCode for LotError {
    fn code(&self) -> &'static str {
        match self {
            LotError::AlreadyRegistered => "already_registered",
            LotError::NotRegistered => "no_lot",
            LotError::Blank(_) => "invalid_input",
            LotError::Price => "invalid_input",
            LotError::ConsentVersionExists => "consent_version_exists",
            LotError::ServicePhone => "invalid_service_phone",
        }
    }
    fn kind(&self) -> ErrorKind {
        match self {
            LotError::NotRegistered => ErrorKind::NotFound,
            LotError::Blank(_) | LotError::Price | LotError::ServicePhone => ErrorKind::Invalid,
            LotError::AlreadyRegistered | LotError::ConsentVersionExists => ErrorKind::Rule,
        }
    }
}

/// A lot's current state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    /// Set once registered.
    pub registered: Option<LotState>,
}

/// A registered lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LotState {
    /// Display name.
    pub name: String,
    /// What it sells.
    pub product: Product,
    /// The consent in force.
    pub consent: Consent,
    /// The tail-number restriction calendar (empty: never restricted).
    #[serde(default)]
    pub restrictions: RestrictionCalendar,
    /// The office's service phone, once set.
    #[serde(default)]
    pub service_phone: Option<String>,
}

/// Whether a service phone is digits, spaces and dashes (3–20 characters, a leading `+` allowed).
fn is_service_phone(text: &str) -> bool {
    let body = text.strip_prefix('+').unwrap_or(text);
    (3..=20).contains(&text.chars().count())
        && body.chars().any(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
}

/// Whether `text` is non-blank and at most `max` characters.
fn fits(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max
}

fn check_consent(consent: &Consent) -> Result<(), LotError> {
    if !fits(&consent.version, 50) {
        return Err(LotError::Blank("consent.version"));
    }
    if !fits(&consent.text, 20_000) {
        return Err(LotError::Blank("consent.text"));
    }
    Ok(())
}

impl Lot {
    /// The rules: returns the events a command produces, or why it is refused.
    pub fn decide(&self, command: LotCommand) -> Result<Vec<LotEvent>, LotError> {
        match command {
            LotCommand::Register {
                name,
                product,
                consent,
            } => {
                if self.registered.is_some() {
                    return Err(LotError::AlreadyRegistered);
                }
                if !fits(&name, 100) {
                    return Err(LotError::Blank("name"));
                }
                if !fits(&product.name, 100) {
                    return Err(LotError::Blank("product.name"));
                }
                if product.price.get() <= 0 {
                    return Err(LotError::Price);
                }
                check_consent(&consent)?;
                Ok(vec![LotEvent::LotRegistered {
                    name,
                    product,
                    consent,
                }])
            }
            LotCommand::PublishConsent { consent } => {
                let lot = self.registered.as_ref().ok_or(LotError::NotRegistered)?;
                check_consent(&consent)?;
                if lot.consent.version == consent.version {
                    return Err(LotError::ConsentVersionExists);
                }
                Ok(vec![LotEvent::ConsentPublished { consent }])
            }
            LotCommand::SetRestrictions { calendar } => {
                self.registered.as_ref().ok_or(LotError::NotRegistered)?;
                Ok(vec![LotEvent::RestrictionsSet { calendar }])
            }
            LotCommand::SetServicePhone { service_phone } => {
                self.registered.as_ref().ok_or(LotError::NotRegistered)?;
                let service_phone = service_phone.trim().to_string();
                if !is_service_phone(&service_phone) {
                    return Err(LotError::ServicePhone);
                }
                Ok(vec![LotEvent::ServicePhoneSet { service_phone }])
            }
        }
    }
}

impl Aggregate for Lot {
    const TYPE: &'static str = "lot";
    type Command = LotCommand;
    type Event = LotEvent;
    type Error = LotError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LotEvent::LotRegistered {
                name,
                product,
                consent,
            } => {
                self.registered = Some(LotState {
                    name,
                    product,
                    consent,
                    restrictions: RestrictionCalendar::default(),
                    service_phone: None,
                })
            }
            LotEvent::ConsentPublished { consent } => {
                if let Some(lot) = self.registered.as_mut() {
                    lot.consent = consent;
                }
            }
            LotEvent::RestrictionsSet { calendar } => {
                if let Some(lot) = self.registered.as_mut() {
                    lot.restrictions = calendar;
                }
            }
            LotEvent::ServicePhoneSet { service_phone } => {
                if let Some(lot) = self.registered.as_mut() {
                    lot.service_phone = Some(service_phone);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type LotTest = TestFramework<Lot>;

    fn product() -> Product {
        Product {
            name: "北京大学医学部通行证".into(),
            price: Fen(36000),
            calendar: SeasonCalendar::new(12, "06-01".parse().unwrap()).unwrap(),
        }
    }

    fn consent(version: &str) -> Consent {
        Consent {
            version: version.into(),
            text: "通过审核后则无法再次申请".into(),
        }
    }

    fn registered() -> LotEvent {
        LotEvent::LotRegistered {
            name: "北京大学医学部".into(),
            product: product(),
            consent: consent("v1"),
        }
    }

    #[test]
    fn a_lot_is_registered_with_its_product_and_consent() {
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::Register {
                name: "北京大学医学部".into(),
                product: product(),
                consent: consent("v1"),
            })
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn a_lot_cannot_be_registered_twice() {
        LotTest::with(())
            .given(vec![registered()])
            .when(LotCommand::Register {
                name: "x".into(),
                product: product(),
                consent: consent("v1"),
            })
            .then_expect_error(LotError::AlreadyRegistered);
    }

    #[test]
    fn a_product_must_have_a_positive_price() {
        let mut free = product();
        free.price = Fen(0);
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::Register {
                name: "lot".into(),
                product: free,
                consent: consent("v1"),
            })
            .then_expect_error(LotError::Price);
    }

    #[test]
    fn a_lot_needs_a_name_and_a_consent_text() {
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::Register {
                name: "  ".into(),
                product: product(),
                consent: consent("v1"),
            })
            .then_expect_error(LotError::Blank("name"));
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::Register {
                name: "lot".into(),
                product: product(),
                consent: Consent {
                    version: "v1".into(),
                    text: "".into(),
                },
            })
            .then_expect_error(LotError::Blank("consent.text"));
    }

    #[test]
    fn over_long_names_and_texts_are_refused() {
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::Register {
                name: "场".repeat(101),
                product: product(),
                consent: consent("v1"),
            })
            .then_expect_error(LotError::Blank("name"));
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::Register {
                name: "lot".into(),
                product: product(),
                consent: Consent {
                    version: "v".repeat(51),
                    text: "t".into(),
                },
            })
            .then_expect_error(LotError::Blank("consent.version"));
    }

    #[test]
    fn a_new_consent_version_replaces_the_old_one() {
        LotTest::with(())
            .given(vec![registered()])
            .when(LotCommand::PublishConsent {
                consent: consent("v2"),
            })
            .then_expect_events(vec![LotEvent::ConsentPublished {
                consent: consent("v2"),
            }]);
        LotTest::with(())
            .given(vec![registered()])
            .when(LotCommand::PublishConsent {
                consent: consent("v1"),
            })
            .then_expect_error(LotError::ConsentVersionExists);
    }

    #[test]
    fn a_registered_lot_takes_a_restriction_calendar_and_a_service_phone() {
        LotTest::with(())
            .given(vec![registered()])
            .when(LotCommand::SetRestrictions {
                calendar: RestrictionCalendar::default(),
            })
            .then_expect_events(vec![LotEvent::RestrictionsSet {
                calendar: RestrictionCalendar::default(),
            }]);
        LotTest::with(())
            .given(vec![registered()])
            .when(LotCommand::SetServicePhone {
                service_phone: " 010-82805604 ".into(),
            })
            .then_expect_events(vec![LotEvent::ServicePhoneSet {
                service_phone: "010-82805604".into(),
            }]);
    }

    #[test]
    fn settings_of_an_unknown_lot_or_a_bad_service_phone_are_refused() {
        LotTest::with(())
            .given_no_previous_events()
            .when(LotCommand::SetRestrictions {
                calendar: RestrictionCalendar::default(),
            })
            .then_expect_error(LotError::NotRegistered);
        for bad in ["", "12", "call us", "+", "8280-5604-8280-5604-1"] {
            LotTest::with(())
                .given(vec![registered()])
                .when(LotCommand::SetServicePhone {
                    service_phone: bad.into(),
                })
                .then_expect_error(LotError::ServicePhone);
        }
    }
}
