//! What a token says about the insured person: only what a cashier needs.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::EncodeError;

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Parses the lower-case hex form (`2 * len` characters).
            pub fn parse(text: &str) -> Option<Self> {
                let raw = text.as_bytes();
                if raw.len() != 2 * $len {
                    return None;
                }
                let mut out = [0u8; $len];
                for (i, pair) in raw.chunks(2).enumerate() {
                    let hi = (pair[0] as char).to_digit(16)?;
                    let lo = (pair[1] as char).to_digit(16)?;
                    out[i] = (hi * 16 + lo) as u8;
                }
                Some(Self(out))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // One write of the whole text: every token issued prints its id.
                const DIGITS: &[u8; 16] = b"0123456789abcdef";
                let mut text = [0u8; 2 * $len];
                for (pair, b) in text.chunks_exact_mut(2).zip(self.0) {
                    pair[0] = DIGITS[usize::from(b >> 4)];
                    pair[1] = DIGITS[usize::from(b & 0x0f)];
                }
                f.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(concat!("expected ", $len, " bytes of hex"))
                })
            }
        }
    };
}

hex_id!(
    /// Pseudonymous id of a voucher, assigned by the issuer. It is not derived from the ID
    /// number and reveals nothing about the person.
    VoucherId,
    8
);
hex_id!(
    /// Unique id of one token, chosen at random by the issuer; the key for replay refusal at a
    /// terminal and for "each code settles once" at settlement (together with the voucher id).
    TokenId,
    8
);
hex_id!(
    /// Id of one device certificate, chosen at random by the issuer; what the status list
    /// names when the certificate is revoked.
    CertificateId,
    8
);

/// A 6-digit administrative division code of the insured region (参保地), e.g. `110105`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(u32);

impl RegionCode {
    /// Smallest valid code.
    pub const MIN: u32 = 100_000;
    /// Largest valid code.
    pub const MAX: u32 = 999_999;

    /// Accepts exactly six digits not starting with 0.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::from_number(text.parse().ok()?)
    }

    /// Accepts a number in `100000..=999999`.
    pub fn from_number(value: u32) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&value)
            .then_some(Self(value))
    }

    /// The code as a number.
    pub fn number(self) -> u32 {
        self.0
    }

    /// Whether this region lies inside `scope`, a code prefix of 2 (province), 4 (city) or 6
    /// (district) digits.
    pub fn is_within(self, scope: &str) -> bool {
        self.to_string().starts_with(scope)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| format!("not a 6-digit region code: {text:?}"))
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.to_string()
    }
}

/// The kind of basic medical insurance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsuranceType {
    /// 职工基本医疗保险 (wire value 1).
    Employee,
    /// 城乡居民基本医疗保险 (wire value 2).
    Resident,
}

impl InsuranceType {
    pub(crate) fn wire(self) -> u8 {
        match self {
            Self::Employee => 1,
            Self::Resident => 2,
        }
    }

    pub(crate) fn from_wire(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Employee),
            2 => Some(Self::Resident),
            _ => None,
        }
    }

    /// Chinese label for a cashier screen.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Employee => "职工医保",
            Self::Resident => "居民医保",
        }
    }

    /// English label for a cashier screen.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::Employee => "employee insurance",
            Self::Resident => "resident insurance",
        }
    }
}

/// Gender as recorded in the registry (GB/T 2261.1 codes 0, 1, 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gender {
    /// Not known (wire value 0).
    Unknown,
    /// 男 (wire value 1).
    Male,
    /// 女 (wire value 2).
    Female,
}

impl Gender {
    pub(crate) fn wire(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Male => 1,
            Self::Female => 2,
        }
    }

    pub(crate) fn from_wire(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Unknown),
            1 => Some(Self::Male),
            2 => Some(Self::Female),
            _ => None,
        }
    }

    /// Chinese label for a cashier screen.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Unknown => "未知",
            Self::Male => "男",
            Self::Female => "女",
        }
    }

    /// English label for a cashier screen.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::Unknown => "gender unknown",
            Self::Male => "male",
            Self::Female => "female",
        }
    }
}

/// How the person showing a code is related to its owner (亲情账户 relation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// 配偶 (wire value 1).
    Spouse,
    /// 父母: the owner is the binder's parent (wire value 2).
    Parent,
    /// 子女: the owner is the binder's child (wire value 3).
    Child,
    /// 其他近亲属: grandparent, grandchild, sibling (wire value 4).
    OtherClose,
}

impl Relation {
    pub(crate) fn wire(self) -> u8 {
        match self {
            Self::Spouse => 1,
            Self::Parent => 2,
            Self::Child => 3,
            Self::OtherClose => 4,
        }
    }

    pub(crate) fn from_wire(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Spouse),
            2 => Some(Self::Parent),
            3 => Some(Self::Child),
            4 => Some(Self::OtherClose),
            _ => None,
        }
    }

    /// Chinese label for a cashier screen.
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Spouse => "配偶",
            Self::Parent => "父母",
            Self::Child => "子女",
            Self::OtherClose => "其他近亲属",
        }
    }

    /// English label for a cashier screen.
    pub fn label_en(self) -> &'static str {
        match self {
            Self::Spouse => "spouse",
            Self::Parent => "parent",
            Self::Child => "child",
            Self::OtherClose => "close relative",
        }
    }
}

/// A masked name such as `张*三`: enough for a cashier to spot impersonation, not enough to
/// identify a stranger.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MaskedName(String);

impl MaskedName {
    /// Longest masked name on the wire, in UTF-8 bytes.
    pub const MAX_BYTES: usize = 16;

    /// Masks a full name: first character, `*`, last character (`张*` for a two-character
    /// name). Names such as `买买提·艾力` become `买*力`. Format characters (zero-width,
    /// bidirectional controls) are dropped first, so a mask never shows one.
    ///
    /// Returns `None` for an empty name or one that masks to more than [`Self::MAX_BYTES`].
    pub fn mask(full_name: &str) -> Option<Self> {
        let chars: Vec<char> = full_name
            .trim()
            .chars()
            .filter(|c| !is_format_char(*c))
            .collect();
        let masked: String = match chars.as_slice() {
            [] => return None,
            [only] => format!("{only}*"),
            [first, _] => format!("{first}*"),
            [first, .., last] => format!("{first}*{last}"),
        };
        Self::parse(&masked)
    }

    /// Accepts an already-masked name: 2 to 16 UTF-8 bytes, at least one `*`, no control,
    /// whitespace or format characters (Unicode category Cf: bidirectional overrides such as
    /// U+202E, zero-width characters), which would let a name display as something else on
    /// the cashier's screen.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = (2..=Self::MAX_BYTES).contains(&text.len())
            && text.contains('*')
            && !text
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || is_format_char(c));
        ok.then(|| Self(text.to_owned()))
    }

    /// The masked text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MaskedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MaskedName {
    type Error = &'static str;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or("not a masked name (2-16 bytes with a '*')")
    }
}

impl From<MaskedName> for String {
    fn from(name: MaskedName) -> Self {
        name.0
    }
}

/// Unicode general category Cf (format characters), Unicode 16.0 (DerivedGeneralCategory):
/// invisible characters that change how text around them displays. Written out because the
/// set is small and stable, and `shared` keeps its dependencies to the format's own needs.
pub fn is_format_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Present when a family member (the binder) shows someone else's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FamilyProxy {
    /// Voucher of the person showing the code.
    pub binder: VoucherId,
    /// How the code's owner is related to the binder.
    pub relation: Relation,
}

/// The person-related content of a token. Settlement is against `voucher_id`, also when a
/// family member shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Claims {
    /// Whose voucher this is.
    pub voucher_id: VoucherId,
    /// Insured region (参保地).
    pub region: RegionCode,
    /// Employee or resident insurance.
    pub insurance: InsuranceType,
    /// e.g. `张*三`.
    pub masked_name: MaskedName,
    /// For the cashier's impersonation check.
    pub gender: Gender,
    /// For the cashier's impersonation check; 1900–2155.
    pub birth_year: u16,
    /// Set when a family member shows the code.
    pub proxy: Option<FamilyProxy>,
}

impl Claims {
    /// Earliest birth year the format carries.
    pub const BIRTH_YEAR_MIN: u16 = 1900;

    pub(crate) fn birth_year_wire(&self) -> Result<u8, EncodeError> {
        self.birth_year
            .checked_sub(Self::BIRTH_YEAR_MIN)
            .and_then(|offset| u8::try_from(offset).ok())
            .ok_or(EncodeError::OutOfRange {
                field: "birth_year",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_to_first_and_last_character() {
        let mask = |n: &str| MaskedName::mask(n).map(|m| m.as_str().to_owned());
        assert_eq!(mask("张三丰").as_deref(), Some("张*丰"));
        assert_eq!(mask("李四").as_deref(), Some("李*"));
        assert_eq!(mask("欧阳娜娜").as_deref(), Some("欧*娜"));
        assert_eq!(mask("买买提·艾力").as_deref(), Some("买*力"));
        assert_eq!(mask(" "), None);
    }

    #[test]
    fn an_unmasked_name_is_refused() {
        assert_eq!(MaskedName::parse("张三丰"), None);
        assert_eq!(MaskedName::parse("张*\n"), None);
        assert!(MaskedName::parse("张*丰").is_some());
    }

    /// See: issue 10, item 8 (a masked name that displays as something else).
    #[test]
    fn format_characters_are_refused_and_never_masked_in() {
        for sneaky in ["张\u{202E}*", "张*\u{200B}", "\u{2066}张*", "张\u{FEFF}*"] {
            assert_eq!(MaskedName::parse(sneaky), None, "{sneaky:?}");
        }
        let masked = MaskedName::mask("\u{202E}张三\u{200D}丰\u{2069}").expect("masks");
        assert_eq!(masked.as_str(), "张*丰");
        assert!(is_format_char('\u{00AD}') && !is_format_char('张') && !is_format_char('*'));
    }

    #[test]
    fn region_codes_are_six_digits_and_scope_by_prefix() {
        let code = RegionCode::parse("110105").expect("valid");
        assert!(code.is_within("11"));
        assert!(code.is_within("1101"));
        assert!(!code.is_within("31"));
        assert_eq!(RegionCode::parse("011010"), None);
        assert_eq!(RegionCode::parse("11010"), None);
        assert_eq!(RegionCode::parse("11010x"), None);
    }

    #[test]
    fn ids_round_trip_through_hex() {
        let id = VoucherId([0xab, 0, 1, 2, 3, 4, 5, 0xff]);
        assert_eq!(VoucherId::parse(&id.to_string()), Some(id));
        assert_eq!(VoucherId::parse("zz00000000000000"), None);
        assert_eq!(VoucherId::parse("ab"), None);
    }
}
