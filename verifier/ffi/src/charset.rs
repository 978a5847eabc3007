//! The character set of the buffer calls (`yibao_ec_trans`, `yibao_version`): UTF-8 by
//! default, GBK or GB18030 for ANSI programs (PowerBuilder, VB6, Delphi before 2009, C#
//! with `CharSet.Ansi` on a Chinese Windows). One setting for the process: an ANSI program
//! is ANSI throughout.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};

use encoding_rs::{EncoderResult, Encoding, GB18030, GBK};

/// The charsets the buffer calls speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 (the default).
    Utf8,
    /// GBK (code page 936): characters it lacks go out as JSON `\u` escapes.
    Gbk,
    /// GB18030: all of Unicode.
    Gb18030,
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

impl Charset {
    /// The charset called `name` (`UTF-8`, `GBK`, `CP936`, `GB18030`; any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Some(Self::Utf8),
            "GBK" | "CP936" | "GB2312" => Some(Self::Gbk),
            "GB18030" => Some(Self::Gb18030),
            _ => None,
        }
    }

    /// The charset's name, as [`Self::parse`] takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Gbk => "GBK",
            Self::Gb18030 => "GB18030",
        }
    }

    /// The charset in force.
    pub fn current() -> Self {
        match CURRENT.load(Ordering::Relaxed) {
            1 => Self::Gbk,
            2 => Self::Gb18030,
            _ => Self::Utf8,
        }
    }

    /// Makes this the charset of the buffer calls from now on.
    pub fn make_current(self) {
        let n = match self {
            Self::Utf8 => 0,
            Self::Gbk => 1,
            Self::Gb18030 => 2,
        };
        CURRENT.store(n, Ordering::Relaxed);
    }

    fn encoding(self) -> Option<&'static Encoding> {
        match self {
            Self::Utf8 => None,
            Self::Gbk => Some(GBK),
            Self::Gb18030 => Some(GB18030),
        }
    }

    /// The caller's bytes as text; `None` when they are not text in this charset.
    pub fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self.encoding() {
            None => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Some(encoding) => encoding.decode_without_bom_handling_and_without_replacement(bytes),
        }
    }

    /// `json` (JSON text, non-ASCII only inside strings) in this charset. A character GBK
    /// lacks is written as a JSON `\u` escape, which every JSON reader turns back into it.
    pub fn encode(self, json: &str) -> Cow<'_, [u8]> {
        let Some(encoding) = self.encoding() else {
            return Cow::Borrowed(json.as_bytes());
        };
        if json.is_ascii() {
            return Cow::Borrowed(json.as_bytes());
        }
        let mut encoder = encoding.new_encoder();
        let mut out = Vec::with_capacity(json.len() + 16);
        let mut rest = json;
        loop {
            let room = encoder
                .max_buffer_length_from_utf8_without_replacement(rest.len())
                .unwrap_or(rest.len() * 4 + 16);
            out.reserve(room);
            let start = out.len();
            out.resize(start + room, 0);
            let (result, read, written) =
                encoder.encode_from_utf8_without_replacement(rest, &mut out[start..], true);
            out.truncate(start + written);
            rest = &rest[read..];
            match result {
                EncoderResult::InputEmpty => break,
                EncoderResult::OutputFull => {}
                EncoderResult::Unmappable(c) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognised() {
        assert_eq!(Charset::parse("gbk"), Some(Charset::Gbk));
        assert_eq!(Charset::parse("CP936"), Some(Charset::Gbk));
        assert_eq!(Charset::parse("gb18030"), Some(Charset::Gb18030));
        assert_eq!(Charset::parse("utf_8"), Some(Charset::Utf8));
        assert_eq!(Charset::parse("latin1"), None);
    }

    #[test]
    fn gbk_round_trips_and_escapes_what_it_lacks() {
        let json = r#"{"userName":"测*","operatorName":"张𠮷"}"#;
        let gbk = Charset::Gbk.encode(json);
        // 测 in GBK is B2 E2.
        assert!(gbk.windows(2).any(|w| w == [0xB2, 0xE2]));
        let back = Charset::Gbk.decode(&gbk).expect("GBK text");
        let value: serde_json::Value = serde_json::from_str(&back).expect("still JSON");
        assert_eq!(value["operatorName"], "张𠮷");
        assert!(back.contains("\\ud842\\udfb7"), "{back}");
        // GB18030 has every character: no escape needed.
        let gb = Charset::Gb18030.encode(json);
        assert_eq!(Charset::Gb18030.decode(&gb).expect("text"), json);
    }

    #[test]
    fn bytes_that_are_not_text_in_the_charset_are_refused() {
        assert!(Charset::Utf8.decode(b"\xb2\xe2").is_none());
        assert!(Charset::Gbk.decode(b"\xb2").is_none());
        assert_eq!(Charset::Gbk.decode(b"\xb2\xe2").as_deref(), Some("测"));
    }
}
