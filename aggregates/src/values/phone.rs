//! Mainland China mobile numbers: a `Phone` that exists is valid, and it never
//! shows its middle digits when displayed or debug-printed.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A mainland China mobile number in canonical form: 11 ASCII digits, e.g. `13912345678`.
///
/// `Display` and `Debug` show only the masked form (`139****5678`) so logging a
/// `Phone` never leaks it; serde writes the full number, and deserialising validates.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// Why a string is not a valid mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was left after removing spaces and dashes.
    #[error("phone is empty")]
    Empty,
    /// The number is not 11 digits starting with 1 and then 3–9.
    #[error("phone must be a mainland mobile number of 11 digits")]
    Format,
}

/// Country-code prefixes removed when what follows them is 11 digits.
const COUNTRY_PREFIXES: [&str; 3] = ["+86", "0086", "86"];

impl Phone {
    /// Normalises and validates `input` as a mainland mobile number.
    ///
    /// Full-width characters become half-width, whitespace and `-` are removed,
    /// and a leading `+86`, `0086` or `86` is dropped when 11 digits remain.
    ///
    /// # Errors
    ///
    /// [`PhoneError::Empty`] if nothing remains after normalising, otherwise
    /// [`PhoneError::Format`] if the result is not a mainland mobile number.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let compact = normalise(input);
        if compact.is_empty() {
            return Err(PhoneError::Empty);
        }
        let number = COUNTRY_PREFIXES
            .iter()
            .find_map(|prefix| {
                compact
                    .strip_prefix(prefix)
                    .filter(|rest| is_eleven_digits(rest))
            })
            .unwrap_or(&compact);
        if is_mobile_number(number) {
            Ok(Phone(number.to_owned()))
        } else {
            Err(PhoneError::Format)
        }
    }

    /// The full number. Handle with care: this is personal data.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle four digits hidden, e.g. `139****5678`.
    #[must_use]
    pub fn masked(&self) -> String {
        let head = self.0.chars().take(3);
        let tail = self.0.chars().skip(7);
        head.chain("****".chars()).chain(tail).collect()
    }
}

/// Maps full-width ASCII to half-width and drops whitespace and dashes.
fn normalise(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

fn is_eleven_digits(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit())
}

/// 11 ASCII digits, the first `1` and the second `3`–`9`.
fn is_mobile_number(s: &str) -> bool {
    is_eleven_digits(s) && matches!(s.as_bytes(), [b'1', b'3'..=b'9', ..])
}

impl fmt::Display for Phone {
    /// Shows the masked form only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Phone {
    /// Shows the masked form only, as `Phone(139****5678)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
    }
}

impl TryFrom<String> for Phone {
    type Error = PhoneError;

    fn try_from(value: String) -> Result<Phone, PhoneError> {
        Phone::parse(&value)
    }
}

impl FromStr for Phone {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Phone, PhoneError> {
        Phone::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(input: &str) -> Phone {
        match Phone::parse(input) {
            Ok(phone) => phone,
            Err(e) => panic!("{input:?} should parse, got {e}"),
        }
    }

    #[test]
    fn plain_mobile_number_is_accepted() {
        assert_eq!(ok("13912345678").as_str(), "13912345678");
    }

    #[test]
    fn country_code_spaces_and_dashes_are_removed() {
        assert_eq!(ok("+86 139-1234-5678").as_str(), "13912345678");
        assert_eq!(ok("0086 13912345678").as_str(), "13912345678");
        assert_eq!(ok("8613912345678").as_str(), "13912345678");
        assert_eq!(ok(" 139 1234 5678\t").as_str(), "13912345678");
    }

    #[test]
    fn full_width_digits_are_normalised() {
        assert_eq!(ok("１３９１２３４５６７８").as_str(), "13912345678");
        assert_eq!(ok("＋８６\u{3000}139－1234－5678").as_str(), "13912345678");
    }

    #[test]
    fn country_code_is_kept_when_eleven_digits_would_not_remain() {
        assert_eq!(Phone::parse("+861391234567"), Err(PhoneError::Format));
        assert_eq!(Phone::parse("86139123456789"), Err(PhoneError::Format));
    }

    #[test]
    fn second_digit_below_three_is_rejected() {
        assert_eq!(Phone::parse("12012345678"), Err(PhoneError::Format));
        assert_eq!(Phone::parse("11012345678"), Err(PhoneError::Format));
    }

    #[test]
    fn ten_digits_are_rejected() {
        assert_eq!(Phone::parse("1391234567"), Err(PhoneError::Format));
    }

    #[test]
    fn twelve_digits_are_rejected() {
        assert_eq!(Phone::parse("139123456789"), Err(PhoneError::Format));
    }

    #[test]
    fn letters_are_rejected() {
        assert_eq!(Phone::parse("1391234567a"), Err(PhoneError::Format));
        assert_eq!(Phone::parse("phone"), Err(PhoneError::Format));
    }

    #[test]
    fn landline_is_rejected() {
        assert_eq!(Phone::parse("010-12345678"), Err(PhoneError::Format));
    }

    #[test]
    fn empty_phone_is_rejected() {
        assert_eq!(Phone::parse(""), Err(PhoneError::Empty));
        assert_eq!(Phone::parse(" - "), Err(PhoneError::Empty));
    }

    #[test]
    fn errors_have_short_lowercase_messages() {
        assert_eq!(PhoneError::Empty.to_string(), "phone is empty");
        assert_eq!(
            PhoneError::Format.to_string(),
            "phone must be a mainland mobile number of 11 digits"
        );
    }

    #[test]
    fn masked_form_hides_the_middle_four_digits() {
        assert_eq!(ok("13912345678").masked(), "139****5678");
    }

    #[test]
    fn display_and_debug_never_contain_the_middle_digits() {
        let phone = ok("13912345678");
        let shown = phone.to_string();
        let debugged = format!("{phone:?}");
        let pretty = format!("{phone:#?}");
        assert_eq!(shown, "139****5678");
        assert_eq!(debugged, "Phone(139****5678)");
        for text in [shown, debugged, pretty] {
            assert!(!text.contains("1234"), "{text}");
            assert!(!text.contains("13912345678"), "{text}");
        }
    }

    #[test]
    fn serde_writes_the_full_number_and_validates() {
        let phone = ok("13912345678");
        let json = serde_json::to_string(&phone).unwrap();
        assert_eq!(json, "\"13912345678\"");
        assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), phone);
        assert_eq!(
            serde_json::from_str::<Phone>("\"+86 139-1234-5678\"").unwrap(),
            phone
        );
        assert!(serde_json::from_str::<Phone>("\"12012345678\"").is_err());
    }

    #[test]
    fn from_str_and_string_conversions_agree_with_parse() {
        let phone: Phone = match "139 1234 5678".parse() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(String::from(phone.clone()), "13912345678");
        assert_eq!(Phone::try_from("13912345678".to_string()), Ok(phone));
    }

    /// How to disguise a number: which prefix, and which separator (if any)
    /// after each digit, and whether each digit is full-width.
    fn disguised(number: &str, prefix: &str, seps: &[Option<char>], wide: &[bool]) -> String {
        let mut out = prefix.to_string();
        for (i, c) in number.chars().enumerate() {
            if wide.get(i).copied().unwrap_or(false) {
                out.push(char::from_u32(u32::from(c) + 0xFEE0).unwrap());
            } else {
                out.push(c);
            }
            if let Some(Some(sep)) = seps.get(i) {
                out.push(*sep);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn every_generated_valid_number_parses_and_round_trips(s in "1[3-9][0-9]{9}") {
            let phone = Phone::parse(&s);
            prop_assert!(phone.is_ok(), "{s:?} rejected: {phone:?}");
            let phone = phone.unwrap();
            prop_assert_eq!(phone.as_str(), s.as_str());
            prop_assert_eq!(Phone::parse(phone.as_str()), Ok(phone.clone()));
            let json = serde_json::to_string(&phone).unwrap();
            prop_assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), phone);
        }

        #[test]
        fn disguised_numbers_parse_to_the_same_phone(
            s in "1[3-9][0-9]{9}",
            prefix in prop::sample::select(vec!["", "+86", "+86 ", "0086", "0086-", "86", "86 ", "＋８６"]),
            seps in prop::collection::vec(prop::option::of(prop::sample::select(vec![' ', '-', '\t', '\u{3000}', '－'])), 11),
            wide in prop::collection::vec(any::<bool>(), 11),
        ) {
            let input = disguised(&s, prefix, &seps, &wide);
            prop_assert_eq!(Phone::parse(&input).map(String::from), Ok(s), "{:?}", input);
        }

        #[test]
        fn masked_has_eleven_chars_with_four_stars_in_the_middle(s in "1[3-9][0-9]{9}") {
            let phone = Phone::parse(&s).unwrap();
            let masked: Vec<char> = phone.masked().chars().collect();
            prop_assert_eq!(masked.len(), 11);
            prop_assert_eq!(masked.iter().filter(|c| **c == '*').count(), 4);
            prop_assert!(masked[3..7].iter().all(|c| *c == '*'));
            prop_assert_eq!(&masked[..3], &s.chars().take(3).collect::<Vec<_>>()[..]);
            prop_assert_eq!(&masked[7..], &s.chars().skip(7).collect::<Vec<_>>()[..]);
            prop_assert_eq!(phone.to_string(), phone.masked());
            prop_assert_eq!(format!("{phone:?}"), format!("Phone({})", phone.masked()));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = Phone::parse(&s);
        }

        #[test]
        fn any_accepted_phone_is_a_canonical_mobile_number(
            s in "[+0-9０-９a -]{0,16}"
        ) {
            if let Ok(phone) = Phone::parse(&s) {
                prop_assert!(is_mobile_number(phone.as_str()), "{phone:?}");
                prop_assert_eq!(Phone::parse(phone.as_str()), Ok(phone.clone()));
            }
        }
    }
}
