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
}

impl InvalidVisitField {
    /// The field's name on the wire (`institution`, `operator`, `business_type`).
    pub fn field(self) -> &'static str {
        match self {
            Self::Institution => "institution",
            Self::Operator => "operator",
            Self::BusinessType => "business_type",
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
    !operator.is_empty()
        && operator.chars().count() <= MAX_OPERATOR_CHARS
        && !operator.chars().any(char::is_control)
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
}
