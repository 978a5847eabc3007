//! One registry row: its columns, and its validation into a [`Person`] record.

use serde::Deserialize;
use yibao_shared::{Gender, InsuranceType, MaskedName, RegionCode};

use crate::id_number::{BirthDate, IdNumber};
use crate::model::{InsuredStatus, Person};
use crate::sealed::{IdentityDetails, seal};
use crate::secrets::{IdKey, IndexKey};

/// A registry row as it appears in a file. Field names are the CSV header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// 个人编号.
    pub person_no: String,
    /// Full name (hashed and masked, never stored).
    pub name: String,
    /// 18-character ID number (hashed, never stored).
    pub id_number: String,
    /// `male`/`female`/`unknown`, `男`/`女`, or `1`/`2`/`0`.
    pub gender: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// 6-digit insured region.
    pub region: String,
    /// `employee`/`resident` or `职工`/`居民`.
    pub insurance: String,
    /// `insured`/`suspended`/`terminated` or `参保`/`暂停`/`终止`.
    pub status: String,
    /// For a minor: the ID numbers of the registered guardians (who enrolled the child in
    /// resident insurance), at most two, separated by `;`. Optional column; hashed like
    /// every ID number, never stored in clear.
    #[serde(default)]
    pub guardian_id_numbers: String,
    /// Optional: 民族 code, two digits (`01` 汉族), for the person information answer.
    #[serde(default)]
    pub ethnicity: String,
    /// Optional: 人员类别 code (up to 6 letters or digits), as the registry codes it.
    #[serde(default)]
    pub person_type: String,
    /// Optional: 参保日期 `YYYY-MM-DD`.
    #[serde(default)]
    pub insured_since: String,
    /// Optional: 暂停参保日期 `YYYY-MM-DD`, for a suspended person.
    #[serde(default)]
    pub paused_since: String,
    /// Optional: 公务员 `1`/`yes`/`是`, or `0`/`no`/`否`/empty.
    #[serde(default)]
    pub civil_servant: String,
    /// Optional: the employer's name (单位名称), up to 100 characters.
    #[serde(default)]
    pub employer: String,
}

/// Validates one row into a person record.
///
/// # Errors
///
/// A reason that names the field but never repeats the name or the ID number.
pub fn person_from_row(row: &Row, index: &IndexKey) -> Result<Person, String> {
    let id = IdNumber::parse(&row.id_number).map_err(|e| format!("id_number: {e}"))?;
    let birth_date = BirthDate::parse(row.birth_date.trim())
        .ok_or("birth_date: expected a real date YYYY-MM-DD")?;
    if birth_date != id.birth_date() {
        return Err("birth_date does not match the ID number".into());
    }
    if row.person_no.trim().is_empty() || row.person_no.len() > 32 {
        return Err("person_no: 1 to 32 characters".into());
    }
    let name = row.name.trim();
    if name.is_empty() || name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err("name: 1 to 40 characters".into());
    }
    let masked_name = MaskedName::mask(name).ok_or("name: cannot be masked")?;
    let gender = match row.gender.trim() {
        "male" | "男" | "1" => Gender::Male,
        "female" | "女" | "2" => Gender::Female,
        "unknown" | "0" | "9" => Gender::Unknown,
        _ => return Err("gender: male, female or unknown".into()),
    };
    let region =
        RegionCode::parse(row.region.trim()).ok_or("region: 6 digits, not starting with 0")?;
    let insurance = match row.insurance.trim() {
        "employee" | "职工" => InsuranceType::Employee,
        "resident" | "居民" => InsuranceType::Resident,
        _ => return Err("insurance: employee or resident".into()),
    };
    let status = match row.status.trim() {
        "insured" | "参保" => InsuredStatus::Insured,
        "suspended" | "暂停" => InsuredStatus::Suspended,
        "terminated" | "终止" => InsuredStatus::Terminated,
        _ => return Err("status: insured, suspended or terminated".into()),
    };
    let guardians = guardians_from(&row.guardian_id_numbers, &id, index)?;
    let id_key = index.id_key(&id);
    let details = identity_details(row, &id, name)?;
    let identity = seal(index, &id_key, &details).map_err(|_| "random source failed")?;
    Ok(Person {
        id_key,
        person_no: row.person_no.trim().to_owned(),
        name_key: index.name_key(name),
        masked_name,
        gender,
        birth_date,
        region,
        insurance,
        status,
        guardians,
        identity: Some(identity),
    })
}

/// The optional 1101 columns, checked, with the ID number and the name: what gets sealed.
fn identity_details(row: &Row, id: &IdNumber, name: &str) -> Result<IdentityDetails, String> {
    let code = |field: &str, value: &str, max: usize| -> Result<String, String> {
        let value = value.trim();
        if value.len() > max || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("{field}: up to {max} letters or digits"));
        }
        Ok(value.to_owned())
    };
    let date = |field: &str, value: &str| -> Result<String, String> {
        let value = value.trim();
        match value {
            "" => Ok(String::new()),
            v => BirthDate::parse(v)
                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                .ok_or_else(|| format!("{field}: expected a real date YYYY-MM-DD")),
        }
    };
    let ethnicity = code("ethnicity", &row.ethnicity, 2)?;
    if !(ethnicity.is_empty()
        || ethnicity.len() == 2 && ethnicity.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("ethnicity: two digits".into());
    }
    let civil_servant = match row.civil_servant.trim() {
        "" | "0" | "no" | "否" => false,
        "1" | "yes" | "是" => true,
        _ => return Err("civil_servant: 1 or 0".into()),
    };
    let employer = row.employer.trim();
    if employer.chars().count() > 100 || employer.chars().any(char::is_control) {
        return Err("employer: up to 100 characters".into());
    }
    Ok(IdentityDetails {
        id_number: id.as_str().to_owned(),
        name: name.to_owned(),
        ethnicity,
        person_type: code("person_type", &row.person_type, 6)?,
        insured_since: date("insured_since", &row.insured_since)?,
        paused_since: date("paused_since", &row.paused_since)?,
        civil_servant,
        employer: employer.to_owned(),
    })
}

/// Most registered guardians of one person (two parents).
pub const MAX_GUARDIANS: usize = 2;

fn guardians_from(field: &str, own: &IdNumber, index: &IndexKey) -> Result<Vec<IdKey>, String> {
    let mut guardians = Vec::new();
    for part in field.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let id = IdNumber::parse(part).map_err(|e| format!("guardian_id_numbers: {e}"))?;
        if id == *own {
            return Err("guardian_id_numbers: a person cannot be their own guardian".into());
        }
        let key = index.id_key(&id);
        if !guardians.contains(&key) {
            guardians.push(key);
        }
    }
    if guardians.len() > MAX_GUARDIANS {
        return Err(format!("guardian_id_numbers: at most {MAX_GUARDIANS}"));
    }
    Ok(guardians)
}
