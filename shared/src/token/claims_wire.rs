//! The claims part both kinds share on the wire: region, insurance and gender packed in three
//! bytes, birth year, masked name and the optional family-proxy part
//! (`docs/token-format.md` §3, offsets 25 onward of kind 1, 25 onward of a device certificate).

use crate::claims::{
    Claims, FamilyProxy, Gender, InsuranceType, MaskedName, RegionCode, Relation, VoucherId,
};
use crate::codec::Reader;
use crate::error::{DecodeError, EncodeError};

/// Flag bit in byte 1: the family-proxy part follows the masked name.
pub(crate) const FLAG_PROXY: u8 = 0x10;

/// The flag bits of byte 1 for these claims.
pub(crate) fn flags(claims: &Claims) -> u8 {
    if claims.proxy.is_some() {
        FLAG_PROXY
    } else {
        0
    }
}

/// Appends packed region/insurance/gender, birth year, masked name and proxy part.
pub(crate) fn encode(claims: &Claims, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let birth = claims.birth_year_wire()?;
    let packed = (claims.region.number() << 4)
        | (u32::from(claims.insurance.wire()) << 2)
        | u32::from(claims.gender.wire());
    let name = claims.masked_name.as_str().as_bytes();
    out.extend_from_slice(&packed.to_be_bytes()[1..]);
    out.push(birth);
    // MaskedName guarantees 2..=16 bytes.
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    if let Some(proxy) = &claims.proxy {
        out.extend_from_slice(&proxy.binder.0);
        out.push(proxy.relation.wire());
    }
    Ok(())
}

/// Reads what [`encode`] wrote; `proxy` says whether the flag announced the proxy part.
pub(crate) fn decode(
    r: &mut Reader<'_>,
    voucher_id: VoucherId,
    proxy: bool,
) -> Result<Claims, DecodeError> {
    let [a, b, c] = r.array::<3>("region")?;
    let packed = u32::from_be_bytes([0, a, b, c]);
    let region = RegionCode::from_number(packed >> 4)
        .ok_or(DecodeError::InvalidField { field: "region" })?;
    let insurance = InsuranceType::from_wire(((packed >> 2) & 0b11) as u8)
        .ok_or(DecodeError::InvalidField { field: "insurance" })?;
    let gender = Gender::from_wire((packed & 0b11) as u8)
        .ok_or(DecodeError::InvalidField { field: "gender" })?;
    let birth_year = Claims::BIRTH_YEAR_MIN + u16::from(r.u8("birth_year")?);
    let name_len = usize::from(r.u8("name_len")?);
    let name_bytes = r.take("masked_name", name_len)?;
    let masked_name = core::str::from_utf8(name_bytes)
        .ok()
        .and_then(MaskedName::parse)
        .ok_or(DecodeError::InvalidField {
            field: "masked_name",
        })?;
    let proxy = if proxy {
        let binder = VoucherId(r.array("proxy_binder")?);
        let relation =
            Relation::from_wire(r.u8("proxy_relation")?).ok_or(DecodeError::InvalidField {
                field: "proxy_relation",
            })?;
        Some(FamilyProxy { binder, relation })
    } else {
        None
    };
    Ok(Claims {
        voucher_id,
        region,
        insurance,
        masked_name,
        gender,
        birth_year,
        proxy,
    })
}

/// Checks byte 1's flag bits: only [`FLAG_PROXY`] may be set. Returns whether it is.
pub(crate) fn proxy_flag(kind_flags: u8) -> Result<bool, DecodeError> {
    if kind_flags & 0xf0 & !FLAG_PROXY != 0 {
        return Err(DecodeError::InvalidField { field: "flags" });
    }
    Ok(kind_flags & FLAG_PROXY != 0)
}
