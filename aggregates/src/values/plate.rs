//! Chinese vehicle registration plates (GA 36): a `Plate` that exists is valid.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The 31 provincial abbreviations a mainland plate may start with.
const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// Characters that may end an ordinary (7-character) plate in place of its last serial character.
const ORDINARY_SUFFIXES: &str = "学挂警港澳领";

/// Separators people type inside plates; they carry no meaning and are removed.
const SEPARATORS: &[char] = &['-', '·', '•', '.', '_', '・'];

/// A mainland Chinese vehicle plate in canonical form, e.g. `京A12345` or `京AD12345`.
///
/// Canonical form has no separators or spaces, half-width ASCII and upper-case letters.
/// Deserialising validates, so an invalid plate can never be read back from an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Plate(String);

/// Why a string is not a valid plate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    /// Nothing was left after removing spaces and separators.
    #[error("plate is empty")]
    Empty,
    /// The plate is neither 7 (ordinary) nor 8 (new-energy) characters long.
    #[error("plate must have 7 or 8 characters")]
    Length,
    /// The first character is not a provincial abbreviation.
    #[error("plate must start with a province abbreviation")]
    Province,
    /// The second character is not a letter A–Z other than I or O.
    #[error("plate authority must be a letter other than i or o")]
    Authority,
    /// The characters after the authority letter match no plate pattern.
    #[error("plate serial is not valid")]
    Serial,
}

impl Plate {
    /// Normalises and validates `input` as a plate.
    ///
    /// Full-width ASCII becomes half-width, letters are upper-cased, and whitespace
    /// (including the ideographic space) and the separators `-` `·` `•` `.` `_` `・`
    /// are removed before validation.
    ///
    /// # Errors
    ///
    /// Returns the first [`PlateError`] the normalised input violates.
    pub fn parse(input: &str) -> Result<Plate, PlateError> {
        let normalised = normalise(input);
        validate(&normalised)?;
        Ok(Plate(normalised))
    }

    /// The plate in canonical form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a new-energy (8-character, green) plate.
    #[must_use]
    pub fn is_new_energy(&self) -> bool {
        self.0.chars().count() == 8
    }
}

/// Maps full-width ASCII to half-width, upper-cases ASCII letters and drops
/// whitespace and separators.
fn normalise(input: &str) -> String {
    input
        .chars()
        .map(to_half_width)
        .filter(|c| !c.is_whitespace() && !SEPARATORS.contains(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Maps a full-width ASCII character (U+FF01..=U+FF5E) to its half-width form.
fn to_half_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Checks a normalised plate against the GA 36 patterns.
fn validate(plate: &str) -> Result<(), PlateError> {
    let chars: Vec<char> = plate.chars().collect();
    match chars.as_slice() {
        [] => Err(PlateError::Empty),
        [province, authority, serial @ ..] if matches!(serial.len(), 5 | 6) => {
            if !PROVINCES.contains(*province) {
                return Err(PlateError::Province);
            }
            if !is_plate_letter(*authority) {
                return Err(PlateError::Authority);
            }
            let valid = if serial.len() == 5 {
                is_ordinary_serial(serial)
            } else {
                is_new_energy_serial(serial)
            };
            if valid {
                Ok(())
            } else {
                Err(PlateError::Serial)
            }
        }
        _ => Err(PlateError::Length),
    }
}

/// An upper-case ASCII letter other than I and O (too easily read as 1 and 0).
fn is_plate_letter(c: char) -> bool {
    c.is_ascii_uppercase() && c != 'I' && c != 'O'
}

/// A plate letter or an ASCII digit.
fn is_serial_char(c: char) -> bool {
    c.is_ascii_digit() || is_plate_letter(c)
}

/// Five serial characters; the last may instead be one of 学 挂 警 港 澳 领.
fn is_ordinary_serial(serial: &[char]) -> bool {
    match serial {
        [body @ .., last] if body.len() == 4 => {
            body.iter().all(|c| is_serial_char(*c))
                && (is_serial_char(*last) || ORDINARY_SUFFIXES.contains(*last))
        }
        _ => false,
    }
}

/// `[DF][0-9A-HJ-NP-Z][0-9]{4}` (small vehicle) or `[0-9]{5}[DF]` (large vehicle).
fn is_new_energy_serial(serial: &[char]) -> bool {
    match serial {
        ['D' | 'F', second, digits @ ..] if digits.len() == 4 && is_serial_char(*second) => {
            digits.iter().all(char::is_ascii_digit)
        }
        [digits @ .., 'D' | 'F'] if digits.len() == 5 => digits.iter().all(char::is_ascii_digit),
        _ => false,
    }
}

impl fmt::Display for Plate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Plate> for String {
    fn from(plate: Plate) -> String {
        plate.0
    }
}

impl TryFrom<String> for Plate {
    type Error = PlateError;

    fn try_from(value: String) -> Result<Plate, PlateError> {
        Plate::parse(&value)
    }
}

impl FromStr for Plate {
    type Err = PlateError;

    fn from_str(s: &str) -> Result<Plate, PlateError> {
        Plate::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(input: &str) -> Plate {
        match Plate::parse(input) {
            Ok(plate) => plate,
            Err(e) => panic!("{input:?} should parse, got {e}"),
        }
    }

    #[test]
    fn there_are_thirty_one_provinces() {
        assert_eq!(PROVINCES.chars().count(), 31);
    }

    #[test]
    fn ordinary_plate_is_accepted() {
        let plate = ok("京A12345");
        assert_eq!(plate.as_str(), "京A12345");
        assert!(!plate.is_new_energy());
    }

    #[test]
    fn small_new_energy_plate_is_accepted() {
        let plate = ok("京AD12345");
        assert!(plate.is_new_energy());
        assert!(ok("粤BF12345").is_new_energy());
    }

    #[test]
    fn small_new_energy_plate_with_letter_in_second_place_is_accepted() {
        assert!(ok("京AD A1234").is_new_energy());
        assert_eq!(Plate::parse("京ADI1234"), Err(PlateError::Serial));
    }

    #[test]
    fn large_new_energy_plate_is_accepted() {
        let plate = ok("京A12345D");
        assert!(plate.is_new_energy());
        assert!(ok("京A12345F").is_new_energy());
    }

    #[test]
    fn repeated_digits_are_accepted() {
        assert_eq!(ok("京A66666").as_str(), "京A66666");
    }

    #[test]
    fn digit_in_authority_place_is_rejected() {
        assert_eq!(Plate::parse("京666666"), Err(PlateError::Authority));
    }

    #[test]
    fn letter_i_as_authority_is_rejected() {
        assert_eq!(Plate::parse("京I12345"), Err(PlateError::Authority));
    }

    #[test]
    fn letter_o_in_serial_is_rejected() {
        assert_eq!(Plate::parse("京A1234O"), Err(PlateError::Serial));
        assert_eq!(Plate::parse("京A1I345"), Err(PlateError::Serial));
    }

    #[test]
    fn learner_plate_is_accepted() {
        let plate = ok("京A1234学");
        assert!(!plate.is_new_energy());
        for suffix in ORDINARY_SUFFIXES.chars() {
            ok(&format!("粤Z1234{suffix}"));
        }
    }

    #[test]
    fn suffix_on_eight_character_plate_is_rejected() {
        assert_eq!(Plate::parse("沪B12345警"), Err(PlateError::Serial));
    }

    #[test]
    fn suffix_before_the_last_place_is_rejected() {
        assert_eq!(Plate::parse("京A123学4"), Err(PlateError::Serial));
    }

    #[test]
    fn lower_case_and_spaced_plate_is_normalised() {
        assert_eq!(ok("京a 12345").as_str(), "京A12345");
        assert_eq!(ok(" 京\tA 123 45 ").as_str(), "京A12345");
    }

    #[test]
    fn full_width_plate_is_normalised_to_half_width() {
        assert_eq!(ok("京Ａ１２３４５").as_str(), "京A12345");
        assert_eq!(ok("京ａ\u{3000}１２３４５").as_str(), "京A12345");
        assert_eq!(ok("京Ａ－１２３４５").as_str(), "京A12345");
    }

    #[test]
    fn separators_are_removed() {
        for plate in [
            "京A·12345",
            "京A-12345",
            "京A•12345",
            "京A.12345",
            "京A_12345",
            "京A・12345",
        ] {
            assert_eq!(ok(plate).as_str(), "京A12345", "{plate}");
        }
    }

    #[test]
    fn d_followed_by_four_digits_is_an_ordinary_plate() {
        let plate = ok("京AD1234");
        assert_eq!(plate.as_str(), "京AD1234");
        assert!(!plate.is_new_energy());
    }

    #[test]
    fn six_digit_serial_is_rejected() {
        assert_eq!(Plate::parse("京A123456"), Err(PlateError::Serial));
    }

    #[test]
    fn mixed_new_energy_serial_is_rejected() {
        assert_eq!(Plate::parse("京AD1234F"), Err(PlateError::Serial));
        assert_eq!(Plate::parse("京A1234DD"), Err(PlateError::Serial));
    }

    #[test]
    fn empty_plate_is_rejected() {
        assert_eq!(Plate::parse(""), Err(PlateError::Empty));
        assert_eq!(Plate::parse(" -·\u{3000} "), Err(PlateError::Empty));
    }

    #[test]
    fn wrong_length_is_rejected() {
        assert_eq!(Plate::parse("XYZ"), Err(PlateError::Length));
        assert_eq!(Plate::parse("京A1234"), Err(PlateError::Length));
        assert_eq!(Plate::parse("京AD123456"), Err(PlateError::Length));
    }

    #[test]
    fn unknown_province_is_rejected() {
        assert_eq!(Plate::parse("台A12345"), Err(PlateError::Province));
        assert_eq!(Plate::parse("XA12345"), Err(PlateError::Province));
    }

    #[test]
    fn errors_have_short_lowercase_messages() {
        assert_eq!(PlateError::Empty.to_string(), "plate is empty");
        assert_eq!(
            PlateError::Length.to_string(),
            "plate must have 7 or 8 characters"
        );
    }

    #[test]
    fn display_and_from_str_agree_with_parse() {
        let plate: Plate = match "京a·12345".parse() {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(plate.to_string(), "京A12345");
        assert_eq!(String::from(plate.clone()), "京A12345");
        assert_eq!(Plate::try_from("京a12345".to_string()), Ok(plate));
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let plate = ok("京AD12345");
        let json = serde_json::to_string(&plate).unwrap();
        assert_eq!(json, "\"京AD12345\"");
        assert_eq!(serde_json::from_str::<Plate>(&json).unwrap(), plate);
        assert_eq!(
            serde_json::from_str::<Plate>("\"京a 12345\"").unwrap(),
            ok("京A12345")
        );
        assert!(serde_json::from_str::<Plate>("\"京I12345\"").is_err());
    }

    const PROVINCE_CLASS: &str = "[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]";
    const LETTER_CLASS: &str = "[A-HJ-NP-Z]";
    const SERIAL_CLASS: &str = "[0-9A-HJ-NP-Z]";

    /// A valid canonical plate and whether it is new-energy.
    fn valid_plate() -> impl Strategy<Value = (String, bool)> {
        let head = format!("{PROVINCE_CLASS}{LETTER_CLASS}");
        let ordinary = format!("{head}{SERIAL_CLASS}{{5}}");
        let suffixed = format!("{head}{SERIAL_CLASS}{{4}}[{ORDINARY_SUFFIXES}]");
        let small = format!("{head}[DF]{SERIAL_CLASS}[0-9]{{4}}");
        let large = format!("{head}[0-9]{{5}}[DF]");
        let regex = |r: String| proptest::string::string_regex(&r).unwrap();
        prop_oneof![
            regex(ordinary).prop_map(|s| (s, false)),
            regex(suffixed).prop_map(|s| (s, false)),
            regex(small).prop_map(|s| (s, true)),
            regex(large).prop_map(|s| (s, true)),
        ]
    }

    /// How to disguise one character: lower-case it, make it full-width, and
    /// which (if any) separator to put after it.
    type Disguise = (bool, bool, Option<char>);

    fn disguise() -> impl Strategy<Value = Disguise> {
        let separator = prop::option::of(prop::sample::select(vec![
            ' ', '\t', '\u{3000}', '-', '·', '•', '.', '_', '・', '－', '．', '＿',
        ]));
        (any::<bool>(), any::<bool>(), separator)
    }

    fn apply(plate: &str, disguises: &[Disguise]) -> String {
        let mut out = String::new();
        for (i, c) in plate.chars().enumerate() {
            let (lower, wide, sep) = disguises.get(i).copied().unwrap_or((false, false, None));
            let mut c = if lower { c.to_ascii_lowercase() } else { c };
            if wide && ('\u{21}'..='\u{7E}').contains(&c) {
                c = char::from_u32(u32::from(c) + 0xFEE0).unwrap();
            }
            out.push(c);
            if let Some(sep) = sep {
                out.push(sep);
            }
        }
        out
    }

    /// A valid plate with one character replaced, removed or inserted.
    fn mutated_plate() -> impl Strategy<Value = String> {
        let replacement = prop::sample::select(vec![
            'I', 'O', 'i', 'o', 'D', 'F', '0', '9', 'Z', '学', '警', '台', '京', 'Ｏ', '!', 'é',
        ]);
        (valid_plate(), 0usize..9, 0u8..3, replacement).prop_map(|((s, _), at, op, r)| {
            let mut chars: Vec<char> = s.chars().collect();
            let at = at.min(chars.len());
            match op {
                0 if at < chars.len() => chars[at] = r,
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ => chars.insert(at, r),
            }
            chars.into_iter().collect()
        })
    }

    proptest! {
        #[test]
        fn every_generated_valid_plate_parses_and_round_trips((s, new_energy) in valid_plate()) {
            let plate = Plate::parse(&s);
            prop_assert!(plate.is_ok(), "{s:?} rejected: {plate:?}");
            let plate = plate.unwrap();
            prop_assert_eq!(plate.as_str(), s.as_str());
            prop_assert_eq!(plate.is_new_energy(), new_energy);
            prop_assert_eq!(Plate::parse(plate.as_str()), Ok(plate.clone()));
            let json = serde_json::to_string(&plate).unwrap();
            prop_assert_eq!(serde_json::from_str::<Plate>(&json).unwrap(), plate);
        }

        #[test]
        fn normalisation_is_idempotent(s in any::<String>()) {
            let once = normalise(&s);
            prop_assert_eq!(normalise(&once), once);
        }

        #[test]
        fn normalisation_of_plate_like_text_is_idempotent(s in "[京a-zA-Zａ-ｚＡ-Ｚ０-９0-9 \t\u{3000}·•._・－-]{0,16}") {
            let once = normalise(&s);
            prop_assert_eq!(normalise(&once), once);
        }

        #[test]
        fn disguised_variants_of_a_valid_plate_parse_to_the_same_plate(
            (s, _) in valid_plate(),
            disguises in prop::collection::vec(disguise(), 8),
            leading in "[ \t\u{3000}]{0,2}",
        ) {
            let disguised = format!("{leading}{}", apply(&s, &disguises));
            prop_assert_eq!(Plate::parse(&disguised), Plate::parse(&s), "{:?}", disguised);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = Plate::parse(&s);
        }

        #[test]
        fn any_accepted_plate_has_seven_or_eight_chars_and_no_i_or_o(
            s in prop_oneof![
                "[京沪台a-zA-Zａ-ｚ０-９0-9学警领 ·-]{0,10}",
                mutated_plate(),
            ]
        ) {
            if let Ok(plate) = Plate::parse(&s) {
                let len = plate.as_str().chars().count();
                prop_assert!(len == 7 || len == 8, "{plate:?}");
                prop_assert!(!plate.as_str().contains(['I', 'O', 'i', 'o']), "{plate:?}");
                prop_assert_eq!(Plate::parse(plate.as_str()), Ok(plate.clone()));
            }
        }
    }
}
