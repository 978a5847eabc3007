//! The fields of a visit (where and why a code is presented) that settlement will accept.
//!
//! A terminal records a visit before the cashier sees "accepted", and hands it to settlement
//! later, perhaps days later. A field settlement refuses then means a visit nobody can pay:
//! so the terminal checks every field with this same function before it records, and the
//! issuer's settlement intake checks with it too. Any field added to a visit is added here.

use core::fmt;

use crate::BusinessType;

/// Longest institution code (national codes are 12 characters: `H11010500001`).
pub const MAX_INSTITUTION_LEN: usize = 32;
/// Longest operator id, in characters.
pub const MAX_OPERATOR_CHARS: usize = 64;
/// Longest operator name or office name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest office id, in characters.
pub const MAX_OFFICE_ID_CHARS: usize = 32;
/// Longest device type, in characters.
pub const MAX_DEVICE_TYPE_CHARS: usize = 16;

/// A visit field settlement would refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidVisitField {
    /// The institution code is empty, longer than [`MAX_INSTITUTION_LEN`] or not ASCII
    /// letters and digits.
    #[error("institution: 1-{MAX_INSTITUTION_LEN} ASCII letters and digits")]
    Institution,
    /// The operator id is empty, longer than [`MAX_OPERATOR_CHARS`] characters, or holds a
    /// control character (TAB, LF, NUL…).
    #[error("operator: 1-{MAX_OPERATOR_CHARS} characters, no control characters")]
    Operator,
    /// The business type is not one of the national codes ([`BusinessType`]).
    #[error("business type: a national 5-digit code such as 01301 or 02121")]
    BusinessType,
    /// The operator's name is empty, too long or holds a control character.
    #[error("operator name: 1-{MAX_NAME_CHARS} characters, no control characters")]
    OperatorName,
    /// The office (department) id is empty, too long or holds a control character.
    #[error("office id: 1-{MAX_OFFICE_ID_CHARS} characters, no control characters")]
    OfficeId,
    /// The office (department) name is empty, too long or holds a control character.
    #[error("office name: 1-{MAX_NAME_CHARS} characters, no control characters")]
    OfficeName,
    /// The device type is empty, too long or holds a control character.
    #[error("device type: 1-{MAX_DEVICE_TYPE_CHARS} characters, no control characters")]
    DeviceType,
}

impl InvalidVisitField {
    /// The field's name on the wire (`institution`, `operator`, `business_type`).
    pub fn field(self) -> &'static str {
        match self {
            Self::Institution => "institution",
            Self::Operator => "operator",
            Self::BusinessType => "business_type",
            Self::OperatorName => "operator_name",
            Self::OfficeId => "office_id",
            Self::OfficeName => "office_name",
            Self::DeviceType => "device_type",
        }
    }
}

/// A visit's fields, each checked: only [`VisitFields::check`] makes one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VisitFields<'a> {
    institution: &'a str,
    operator: &'a str,
    business_type: BusinessType,
}

impl fmt::Debug for VisitFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VisitFields")
            .field("institution", &self.institution)
            .field("operator", &self.operator)
            .field("business_type", &self.business_type.code())
            .finish()
    }
}

impl<'a> VisitFields<'a> {
    /// Checks every field as settlement intake does.
    ///
    /// # Errors
    ///
    /// The first field settlement would refuse.
    pub fn check(
        institution: &'a str,
        operator: &'a str,
        business_type: &str,
    ) -> Result<Self, InvalidVisitField> {
        let business_type =
            BusinessType::parse(business_type).ok_or(InvalidVisitField::BusinessType)?;
        Self::with_business_type(institution, operator, business_type)
    }

    /// [`Self::check`] with a business type already parsed.
    ///
    /// # Errors
    ///
    /// The first field settlement would refuse.
    pub fn with_business_type(
        institution: &'a str,
        operator: &'a str,
        business_type: BusinessType,
    ) -> Result<Self, InvalidVisitField> {
        if !is_institution_code(institution) {
            return Err(InvalidVisitField::Institution);
        }
        if !is_operator(operator) {
            return Err(InvalidVisitField::Operator);
        }
        Ok(Self {
            institution,
            operator,
            business_type,
        })
    }

    /// The institution code.
    pub fn institution(&self) -> &'a str {
        self.institution
    }

    /// The operator id.
    pub fn operator(&self) -> &'a str {
        self.operator
    }

    /// The business type.
    pub fn business_type(&self) -> BusinessType {
        self.business_type
    }
}

/// Whether `code` is an institution code settlement accepts.
pub fn is_institution_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_INSTITUTION_LEN
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `operator` is an operator id settlement accepts.
pub fn is_operator(operator: &str) -> bool {
    is_text(operator, MAX_OPERATOR_CHARS)
}

/// 1 to `max` characters, none of them a control character.
fn is_text(text: &str, max: usize) -> bool {
    !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

/// What a hospital system says about the counter beside the operator id, in the national
/// interface's terms (`operatorName`, `officeId`, `officeName`, `deviceType`): each optional,
/// recorded with the visit and kept with its settlement.
// Not `deny_unknown_fields`: it is flattened into the records and bodies that carry it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VisitContext {
    /// The cashier's or doctor's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_name: Option<String>,
    /// The office (科室) code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_id: Option<String>,
    /// The office's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_name: Option<String>,
    /// The kind of device that read the code, as the hospital system names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
}

impl VisitContext {
    /// Checks every field present as settlement intake does.
    ///
    /// # Errors
    ///
    /// The first field settlement would refuse.
    pub fn check(&self) -> Result<(), InvalidVisitField> {
        let fields = [
            (
                &self.operator_name,
                MAX_NAME_CHARS,
                InvalidVisitField::OperatorName,
            ),
            (
                &self.office_id,
                MAX_OFFICE_ID_CHARS,
                InvalidVisitField::OfficeId,
            ),
            (
                &self.office_name,
                MAX_NAME_CHARS,
                InvalidVisitField::OfficeName,
            ),
            (
                &self.device_type,
                MAX_DEVICE_TYPE_CHARS,
                InvalidVisitField::DeviceType,
            ),
        ];
        for (value, max, invalid) in fields {
            if value.as_deref().is_some_and(|v| !is_text(v, max)) {
                return Err(invalid);
            }
        }
        Ok(())
    }

    /// Whether no field is given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_settlement_refuses_are_named() {
        let ok = VisitFields::check("P44030500001", "收银员-7", "02121").expect("valid");
        assert_eq!(ok.operator(), "收银员-7");
        for (institution, operator, business, field) in [
            ("", "a", "02121", "institution"),
            ("P-1", "a", "02121", "institution"),
            ("P1", "", "02121", "operator"),
            ("P1", "a\tb", "02121", "operator"),
            ("P1", "a\nb", "02121", "operator"),
            ("P1", "a\0b", "02121", "operator"),
            ("P1", &"x".repeat(65), "02121", "operator"),
            ("P1", "a", "99999", "business_type"),
        ] {
            let err = VisitFields::check(institution, operator, business).expect_err(field);
            assert_eq!(
                err.field(),
                field,
                "{institution:?} {operator:?} {business:?}"
            );
        }
        assert!(VisitFields::check("P1", &"测".repeat(64), "02121").is_ok());
    }

    #[test]
    fn context_fields_settlement_refuses_are_named() {
        let full = VisitContext {
            operator_name: Some("测试收银员".into()),
            office_id: Some("A03.06".into()),
            office_name: Some("消化内科".repeat(16)),
            device_type: Some("scanner".into()),
        };
        assert_eq!(full.check(), Ok(()));
        assert_eq!(VisitContext::default().check(), Ok(()));
        type Field = fn(&mut VisitContext) -> &mut Option<String>;
        let cases: [(Field, usize, &str); 4] = [
            (|c| &mut c.operator_name, MAX_NAME_CHARS, "operator_name"),
            (|c| &mut c.office_id, MAX_OFFICE_ID_CHARS, "office_id"),
            (|c| &mut c.office_name, MAX_NAME_CHARS, "office_name"),
            (|c| &mut c.device_type, MAX_DEVICE_TYPE_CHARS, "device_type"),
        ];
        for (field, max, name) in cases {
            for bad in [
                String::new(),
                "a\tb".into(),
                "a\0b".into(),
                "科".repeat(max + 1),
            ] {
                let mut context = full.clone();
                *field(&mut context) = Some(bad.clone());
                let err = context.check().expect_err(name);
                assert_eq!(err.field(), name, "{bad:?}");
            }
            let mut longest = full.clone();
            *field(&mut longest) = Some("科".repeat(max));
            assert_eq!(longest.check(), Ok(()), "{name}");
        }
    }
}
