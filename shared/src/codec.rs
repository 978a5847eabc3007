//! The text form of a token: a fixed prefix, then the token bytes as decimal digits.
//!
//! Why digits: a QR code in numeric mode stores 3 digits in 10 bits, and 7 bytes fit in 17
//! digits, so the bytes cost 1.2 % more than their raw size, against 33 % for base64url in
//! byte mode and 3 % for base45 in alphanumeric mode. Digits are also the only characters that
//! every keyboard-wedge scanner types correctly whatever the keyboard layout or the state of a
//! Chinese input method, which is why every Chinese payment code is digits too. No published
//! crate implements this chunked form (SMART Health Cards' numeric mode spends 2 digits per
//! base64 character), so it is written here; `docs/token-format.md` §2 is its specification.

use crate::error::DecodeError;

/// Every yibao code starts with these digits. No Chinese payment or voucher code does: the
/// national code starts `424`, WeChat Pay 10–15, Alipay 25–30, UnionPay 62.
pub const PREFIX: &str = "96";

/// Bytes per full chunk.
const CHUNK_BYTES: usize = 7;

/// Digits written for a chunk of `n` bytes (index `n`): the fewest digits that hold `256^n - 1`.
const DIGITS_FOR_BYTES: [usize; CHUNK_BYTES + 1] = [0, 3, 5, 8, 10, 13, 15, 17];

/// Appends `bytes` as decimal digits to `out`.
pub fn encode_digits(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len().div_ceil(CHUNK_BYTES) * DIGITS_FOR_BYTES[CHUNK_BYTES]);
    for chunk in bytes.chunks(CHUNK_BYTES) {
        let mut value = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let width = DIGITS_FOR_BYTES[chunk.len()];
        // Fixed-width digits by hand: `format!` costs more than the rest of encoding, and
        // signing sits on the issuer's hottest path.
        let mut digits = [b'0'; 17];
        for slot in digits[..width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        // ASCII digits are always UTF-8, so the fallback is never taken.
        out.push_str(core::str::from_utf8(&digits[..width]).unwrap_or_default());
    }
}

/// Decodes digits written by [`encode_digits`].
///
/// # Errors
///
/// [`DecodeError::NotDigits`] for any character outside `0-9`, [`DecodeError::DigitCount`]
/// when the number of digits is not one that [`encode_digits`] can produce, and
/// [`DecodeError::DigitOverflow`] when a group holds a value too large for its bytes (so every
/// byte string has exactly one text form).
pub fn decode_digits(digits: &str) -> Result<Vec<u8>, DecodeError> {
    let raw = digits.as_bytes();
    if let Some(at) = raw.iter().position(|b| !b.is_ascii_digit()) {
        return Err(DecodeError::NotDigits { at });
    }
    let full = raw.len() / DIGITS_FOR_BYTES[CHUNK_BYTES];
    let rest = raw.len() % DIGITS_FOR_BYTES[CHUNK_BYTES];
    let tail_bytes = DIGITS_FOR_BYTES
        .iter()
        .position(|d| *d == rest)
        .ok_or(DecodeError::DigitCount { len: raw.len() })?;

    let mut out = Vec::with_capacity(full * CHUNK_BYTES + tail_bytes);
    let mut groups = raw.chunks(DIGITS_FOR_BYTES[CHUNK_BYTES]);
    for group in groups.by_ref() {
        let bytes = if group.len() == DIGITS_FOR_BYTES[CHUNK_BYTES] {
            CHUNK_BYTES
        } else {
            tail_bytes
        };
        // At most 17 digits, so the value fits in u64 (10^17 < 2^57).
        let value = group
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        if value >> (8 * bytes) != 0 {
            return Err(DecodeError::DigitOverflow);
        }
        out.extend_from_slice(&value.to_be_bytes()[8 - bytes..]);
    }
    Ok(out)
}

/// Bounds-checked reader over untrusted bytes; every read fails cleanly at the end.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    field: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, field: "" }
    }

    /// Takes the next `n` bytes of the named field.
    pub(crate) fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        self.field = field;
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated { field });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Fails if anything is left: a decoder must consume its input exactly.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.bytes.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 255) as u8).collect();
            let mut text = String::new();
            encode_digits(&bytes, &mut text);
            assert_eq!(decode_digits(&text), Ok(bytes), "length {len}");
        }
    }

    #[test]
    fn extreme_values_use_the_documented_widths() {
        let mut text = String::new();
        encode_digits(&[0xff; 7], &mut text);
        assert_eq!(text, "72057594037927935");
        text.clear();
        encode_digits(&[0x00, 0x01], &mut text);
        assert_eq!(text, "00001");
    }

    #[test]
    fn a_group_too_large_for_its_bytes_is_refused() {
        // 3 digits stand for one byte: 256 does not fit.
        assert_eq!(decode_digits("256"), Err(DecodeError::DigitOverflow));
        assert_eq!(decode_digits("255"), Ok(vec![255]));
        assert_eq!(
            decode_digits("72057594037927936"),
            Err(DecodeError::DigitOverflow)
        );
    }

    #[test]
    fn impossible_digit_counts_and_non_digits_are_refused() {
        assert_eq!(decode_digits("12"), Err(DecodeError::DigitCount { len: 2 }));
        assert_eq!(decode_digits("12a"), Err(DecodeError::NotDigits { at: 2 }));
        assert_eq!(decode_digits("١٢٣"), Err(DecodeError::NotDigits { at: 0 }));
    }
}
