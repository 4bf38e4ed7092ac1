//! JSON written straight into a byte buffer, for the resources a list page repeats 50 times: SIDs
//! as their hex digits, dates as their 20 bytes, and strings scanned once and escaped only where
//! they need it, byte for byte as serde_json writes them (its escaper, entered for every SID, date
//! and URL of a page through `collect_str`, was 10 % of a list request).

use vroom_domain::sid::{Sid, SidKind};
use vroom_domain::time::Timestamp;

/// `s` as a JSON string, escaped exactly as `serde_json` escapes it: `"` and `\`, the short forms
/// `\b \f \n \r \t`, and `\u00XX` (lowercase hex) for the other control characters.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    contents(out, s);
    out.push(b'"');
}

/// `s` escaped, without the quotes.
pub(crate) fn contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..0x20 => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A SID's text (prefix and hex digits: nothing to escape), without quotes.
pub(crate) fn sid<K: SidKind>(out: &mut Vec<u8>, sid: Sid<K>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(K::PREFIX.as_bytes());
    for b in sid.bytes() {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// A date in Twilio's form, quoted.
pub(crate) fn date(out: &mut Vec<u8>, t: Timestamp) {
    out.push(b'"');
    out.extend_from_slice(&crate::wire::date_bytes(t));
    out.push(b'"');
}

/// An integer, or `null`.
pub(crate) fn opt_int(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        Some(n) => {
            use std::io::Write;
            // Writing to a `Vec` cannot fail.
            let _ = write!(out, "{n}");
        }
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ASCII byte, and text beyond it, escapes as serde_json escapes it.
    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut samples: Vec<String> = (0u8..128).map(|b| format!("a{}b", char::from(b))).collect();
        samples.extend(
            [
                "",
                "plain",
                "ünïcödé ✓ 🎥",
                "\"quoted\"\\",
                "tab\there\nline\u{7f}\u{1f}",
            ]
            .map(str::to_owned),
        );
        for s in samples {
            let mut out = Vec::new();
            string(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }
}
