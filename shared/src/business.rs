//! The national 5-digit business-type codes a presentation is made for (挂号, 结算, 取药…).

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every business type this product accepts: the code and its Chinese and English names.
///
/// The list is the national medical-insurance platform's set for voucher use at hospitals
/// (011xx registration, 012xx inpatient, 013xx outpatient settlement) and pharmacies (021xx).
/// Anything else is refused rather than passed on: settlement would reject it later, when
/// the patient has already left.
const KNOWN: &[(&str, &str, &str)] = &[
    ("01101", "挂号", "registration"),
    ("01102", "住院建档", "inpatient file creation"),
    ("01103", "入院登记", "inpatient admission"),
    ("01104", "缴纳预交金", "inpatient deposit"),
    ("01201", "问诊", "consultation"),
    ("01202", "预约检查", "examination booking"),
    ("01203", "检查", "examination"),
    ("01204", "治疗", "treatment"),
    ("01301", "结算", "settlement"),
    ("01302", "取药", "medicine pickup"),
    ("01303", "取报告", "report pickup"),
    ("01304", "打印票据和清单", "receipt printing"),
    ("01305", "病历材料复印", "record copying"),
    ("02121", "药店购药", "pharmacy purchase"),
    ("02122", "下载外购处方", "prescription download"),
];

/// A validated business-type code such as `01301` (结算).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessType(u8);

impl BusinessType {
    /// Parses a 5-digit code; `None` for anything not in the national list.
    pub fn parse(code: &str) -> Option<Self> {
        KNOWN
            .iter()
            .position(|(c, _, _)| *c == code)
            .and_then(|i| u8::try_from(i).ok())
            .map(Self)
    }

    /// Every accepted business type, in code order.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..KNOWN.len()).filter_map(|i| u8::try_from(i).ok().map(Self))
    }

    fn entry(self) -> (&'static str, &'static str, &'static str) {
        KNOWN[usize::from(self.0)]
    }

    /// The 5-digit code.
    pub fn code(self) -> &'static str {
        self.entry().0
    }

    /// The Chinese name (挂号, 结算…).
    pub fn label_zh(self) -> &'static str {
        self.entry().1
    }

    /// The English name.
    pub fn label_en(self) -> &'static str {
        self.entry().2
    }

    /// Whether this is a pharmacy business type (021xx) rather than a hospital one.
    pub fn is_pharmacy(self) -> bool {
        self.code().starts_with("021")
    }
}

impl fmt::Display for BusinessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for BusinessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BusinessType({} {})", self.code(), self.label_en())
    }
}

impl core::str::FromStr for BusinessType {
    type Err = UnknownBusinessType;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code).ok_or(UnknownBusinessType)
    }
}

/// A business-type code outside the national list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown business type: expected a national 5-digit code such as 01301 or 02121")]
pub struct UnknownBusinessType;

impl Serialize for BusinessType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for BusinessType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).ok_or_else(|| serde::de::Error::custom(UnknownBusinessType))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_round_trips_and_others_are_refused() {
        assert_eq!(BusinessType::all().count(), KNOWN.len());
        for business in BusinessType::all() {
            assert_eq!(BusinessType::parse(business.code()), Some(business));
            assert_eq!(business.code().len(), 5);
        }
        for bad in [
            "", "0130", "013011", "01300", "99999", "02123", "0130x", " 01301",
        ] {
            assert_eq!(BusinessType::parse(bad), None, "{bad:?}");
        }
        let pickup = BusinessType::parse("01302").expect("listed");
        assert_eq!(pickup.label_zh(), "取药");
        assert!(!pickup.is_pharmacy());
        assert!(BusinessType::parse("02121").is_some_and(BusinessType::is_pharmacy));
    }

    #[test]
    fn serde_uses_the_code_and_refuses_unknown_ones() {
        let settle: BusinessType = serde_json::from_str("\"01301\"").expect("listed");
        assert_eq!(
            serde_json::to_string(&settle).expect("serialise"),
            "\"01301\""
        );
        assert!(serde_json::from_str::<BusinessType>("\"01399\"").is_err());
    }
}
