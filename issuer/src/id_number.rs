//! Resident ID numbers (公民身份号码, GB 11643-1999): 17 digits and a check character.
//!
//! An ID number is the most sensitive value the issuer handles. This type's `Debug` and
//! `Display` never show it; it is only ever turned into a keyed hash for lookup
//! (the `IndexKey` of `secrets`).

use core::fmt;

use thiserror::Error;

/// A syntactically valid ID number with a correct check character.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

/// Why an ID number is refused. Messages never repeat the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum IdNumberError {
    /// Not 18 characters of 17 digits and a digit or `X`.
    #[error("an ID number is 17 digits and a check digit or X")]
    Format,
    /// The check character does not match (a typo).
    #[error("ID number check digit does not match (GB 11643)")]
    CheckDigit,
    /// Characters 7–14 are not a real date.
    #[error("ID number holds no valid birth date")]
    BirthDate,
}

/// A calendar date of birth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate {
    /// Year, e.g. 1950.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
}

impl BirthDate {
    /// Parses `YYYY-MM-DD` or `YYYYMMDD`, checking the calendar (leap years included).
    pub fn parse(text: &str) -> Option<Self> {
        let digits: String = text.chars().filter(|c| *c != '-').collect();
        if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if text.contains('-') && text.len() != 10 {
            return None;
        }
        let year: u16 = digits[0..4].parse().ok()?;
        let month: u8 = digits[4..6].parse().ok()?;
        let day: u8 = digits[6..8].parse().ok()?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1900..=2155).contains(&year) && (1..=days).contains(&day)).then_some(Self {
            year,
            month,
            day,
        })
    }

    /// Completed years of age on `on`.
    pub fn age_on(self, on: BirthDate) -> u16 {
        let had_birthday = (on.month, on.day) >= (self.month, self.day);
        on.year.saturating_sub(self.year) - u16::from(!had_birthday && on.year > self.year)
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl serde::Serialize for BirthDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BirthDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("expected a date YYYY-MM-DD"))
    }
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// The GB 11643 check character for 17 leading digits.
pub fn check_character(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(CHECK[(sum % 11) as usize])
}

impl IdNumber {
    /// Validates format, check character and embedded birth date. A lower-case `x` is
    /// accepted and normalised.
    ///
    /// # Errors
    ///
    /// An [`IdNumberError`] naming the problem (never the number).
    pub fn parse(text: &str) -> Result<Self, IdNumberError> {
        let text = text.trim().to_ascii_uppercase();
        let raw = text.as_bytes();
        if raw.len() != 18
            || !raw[..17].iter().all(u8::is_ascii_digit)
            || !(raw[17].is_ascii_digit() || raw[17] == b'X')
        {
            return Err(IdNumberError::Format);
        }
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(&raw[..17]);
        if check_character(&first17) != char::from(raw[17]) {
            return Err(IdNumberError::CheckDigit);
        }
        BirthDate::parse(&text[6..14]).ok_or(IdNumberError::BirthDate)?;
        Ok(Self(text))
    }

    /// The birth date written in the number.
    pub fn birth_date(&self) -> BirthDate {
        // Checked in `parse`.
        BirthDate::parse(&self.0[6..14]).unwrap_or(BirthDate {
            year: 1900,
            month: 1,
            day: 1,
        })
    }

    /// The normalised number, for hashing only.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdNumber(<redacted>)")
    }
}

/// Builds a synthetic, obviously fake ID number with a valid check character: address code
/// `990000`+`area` (no real region starts with 99), the birth date, a sequence number.
pub fn synthetic(area: u8, birth: BirthDate, sequence: u16) -> String {
    let first17 = format!(
        "9900{:02}{:04}{:02}{:02}{:03}",
        area % 100,
        birth.year,
        birth.month,
        birth.day,
        sequence % 1000
    );
    let mut digits = [0u8; 17];
    digits.copy_from_slice(first17.as_bytes());
    format!("{first17}{}", check_character(&digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: u16, m: u8, d: u8) -> BirthDate {
        BirthDate {
            year: y,
            month: m,
            day: d,
        }
    }

    #[test]
    fn the_standard_example_number_validates() {
        // The worked example of GB 11643-1999 (a specimen number, not a person).
        assert!(IdNumber::parse("11010519491231002X").is_ok());
        assert!(IdNumber::parse("11010519491231002x").is_ok());
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit)
        );
    }

    #[test]
    fn format_and_birth_date_are_checked() {
        assert_eq!(
            IdNumber::parse("1101051949123100"),
            Err(IdNumberError::Format)
        );
        assert_eq!(
            IdNumber::parse("11010519491231002Y"),
            Err(IdNumberError::Format)
        );
        let feb30 = synthetic(1, date(1990, 2, 28), 1).replace("19900228", "19900230");
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(&feb30.as_bytes()[..17]);
        let fixed = format!("{}{}", &feb30[..17], check_character(&first17));
        assert_eq!(IdNumber::parse(&fixed), Err(IdNumberError::BirthDate));
    }

    #[test]
    fn synthetic_numbers_validate_and_carry_their_birth_date() {
        let id = IdNumber::parse(&synthetic(7, date(2000, 2, 29), 42)).expect("valid");
        assert_eq!(id.birth_date(), date(2000, 2, 29));
        assert_eq!(format!("{id:?}"), "IdNumber(<redacted>)");
    }

    #[test]
    fn age_counts_completed_years() {
        let born = date(2010, 6, 15);
        assert_eq!(born.age_on(date(2026, 6, 14)), 15);
        assert_eq!(born.age_on(date(2026, 6, 15)), 16);
        assert_eq!(BirthDate::parse("2023-02-29"), None);
        assert_eq!(BirthDate::parse("2024-02-29"), Some(date(2024, 2, 29)));
    }
}
