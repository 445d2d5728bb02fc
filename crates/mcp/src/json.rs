//! Small JSON helpers: sizes as the original computed them, telemetry timestamps, and the
//! classification of JSON-RPC messages.

use serde_json::Value;
use std::io;

/// Byte length of `value` serialised the way the original's telemetry measured it: Python's
/// `json.dumps(value, separators=(",", ":"), sort_keys=True)` (compact, keys sorted, non-ASCII
/// escaped as `\uXXXX`). Key order does not change the length, so no sorting is needed.
pub(crate) fn python_json_len(value: &Value) -> u64 {
    match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => python_number(n).len() as u64,
        Value::String(s) => python_str_len(s),
        Value::Array(items) => {
            2 + items.iter().map(python_json_len).sum::<u64>()
                + items.len().saturating_sub(1) as u64
        }
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| python_str_len(k) + 1 + python_json_len(v))
                .sum::<u64>()
                + map.len().saturating_sub(1) as u64
        }
    }
}

fn python_str_len(s: &str) -> u64 {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 || c == '\u{7f}' => 6,
            c if c.is_ascii() => 1,
            c if (c as u32) > 0xFFFF => 12,
            _ => 6,
        })
        .sum::<u64>()
}

/// [`python_json_len`] of the JSON text `text`, computed on the bytes without building a
/// [`Value`] (so a 50 MB tool result is measured without a second copy of it). `text` should
/// be valid JSON (the callers have parsed it); on anything else the result is meaningless but
/// the scan still ends. Duplicate object keys count every occurrence (Python would keep the
/// last one).
#[cfg(test)]
pub(crate) fn python_json_len_raw(text: &[u8]) -> u64 {
    scan_raw(text).python_len
}

/// What one pass over a JSON text (a `tools/call` result) finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawScan {
    /// [`python_json_len`] of the text (see `python_json_len_raw`).
    pub python_len: u64,
    /// Whether the text is an object whose (last) `isError` member is `true`.
    pub is_error: bool,
}

/// One pass over the JSON text `text` (valid JSON: the caller has parsed it) without building
/// a [`Value`]: strings are skipped with `memchr`, so it runs at memory speed.
pub(crate) fn scan_raw(text: &[u8]) -> RawScan {
    let mut n = 0u64;
    let mut i = 0usize;
    let mut depth = 0u32;
    let top_object = text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // Inside the top-level object: whether the next string is a key, and whether the last
    // key was `isError` (its value not seen yet).
    let mut expect_key = false;
    let mut after_is_error = false;
    let mut is_error = false;
    while i < text.len() {
        let b = text[i];
        if depth == 1
            && top_object
            && after_is_error
            && !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b':')
        {
            is_error = b == b't';
            after_is_error = false;
        }
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && b == b'{';
                n += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                n += 1;
                i += 1;
            }
            b',' => {
                expect_key = depth == 1 && top_object;
                n += 1;
                i += 1;
            }
            b':' => {
                n += 1;
                i += 1;
            }
            b'"' => {
                let (len, next) = python_raw_str_len(text, i + 1);
                if expect_key && depth == 1 {
                    after_is_error = &text[i..next] == b"\"isError\"";
                    expect_key = false;
                }
                n += len;
                i = next;
            }
            b't' | b'n' => {
                n += 4;
                i += 4;
            }
            b'f' => {
                n += 5;
                i += 5;
            }
            _ => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                if i == start {
                    i += 1; // not JSON; skip the byte
                    continue;
                }
                n += match serde_json::from_slice::<serde_json::Number>(&text[start..i]) {
                    Ok(num) => python_number(&num).len() as u64,
                    Err(_) => (i - start) as u64,
                };
            }
        }
    }
    RawScan {
        python_len: n,
        is_error,
    }
}

/// Python's length of the JSON string whose text starts at `text[start]` (just after the
/// opening quote); returns it (quotes included) and the index after the closing quote.
fn python_raw_str_len(text: &[u8], start: usize) -> (u64, usize) {
    let mut n = 2u64;
    let mut i = start;
    loop {
        let rest = &text[i..];
        let stop = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
        let plain = &rest[..stop];
        n += if plain.is_ascii() {
            plain.len() as u64 + memchr::memchr_iter(0x7f, plain).count() as u64 * 5
        } else {
            plain
                .iter()
                .map(|b| match b {
                    0x7f => 6,
                    0x00..=0x7e => 1,
                    0x80..=0xbf => 0, // UTF-8 continuation byte
                    0xc0..=0xef => 6, // a BMP character: \uXXXX
                    _ => 12,          // outside the BMP: a surrogate pair
                })
                .sum::<u64>()
        };
        i += stop;
        if i >= text.len() {
            return (n, i);
        }
        if text[i] == b'"' {
            return (n, i + 1);
        }
        // An escape sequence.
        let Some(&e) = text.get(i + 1) else {
            return (n, text.len());
        };
        match e {
            b'u' => {
                let cp = text
                    .get(i + 2..i + 6)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .unwrap_or(0xffff);
                n += match cp {
                    0x22 | 0x5c | 0x0a | 0x0d | 0x09 | 0x08 | 0x0c => 2,
                    0x7f => 6,
                    0x00..=0x1f => 6,
                    0x20..=0x7e => 1,
                    _ => 6, // BMP, or one half of a surrogate pair
                };
                i += 6;
            }
            b'/' => {
                n += 1;
                i += 2;
            }
            _ => {
                n += 2; // \" \\ \n \r \t \b \f
                i += 2;
            }
        }
    }
}

/// Python's `repr(float)` for finite floats, `str(int)` for integers.
fn python_number(n: &serde_json::Number) -> String {
    if !n.is_f64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let sci = format!("{f:e}"); // shortest round-trip digits, e.g. "1.5e-7"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let plain = format!("{f}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Compact JSON byte length as serde_json writes it (what goes on the wire for a re-serialised
/// message), without building the text.
pub(crate) fn compact_len(value: &Value) -> u64 {
    struct Counter(u64);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

/// A telemetry timestamp as the original wrote it: UTC, microseconds, `Z` suffix, the fraction
/// left out when it is zero (Python `isoformat`), e.g. `2026-11-24T13:39:03.567281Z`.
pub(crate) fn timestamp_now() -> String {
    let now = chrono::Utc::now();
    if now.timestamp_subsec_micros() == 0 {
        now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// What a JSON-RPC message is, judged by its members.
#[derive(Debug, PartialEq)]
pub(crate) enum Kind<'a> {
    /// `method` and a non-null `id`.
    Request { id: &'a Value, method: &'a str },
    /// `method` and no (or a null) `id`.
    Notification { method: &'a str },
    /// No `method`, a non-null `id`, and `result` or `error`.
    Response { id: &'a Value },
    /// Anything else (including an error response with a null id).
    Other,
}

pub(crate) fn classify(message: &Value) -> Kind<'_> {
    let Some(obj) = message.as_object() else {
        return Kind::Other;
    };
    let id = obj.get("id").filter(|id| !id.is_null());
    match (obj.get("method").and_then(Value::as_str), id) {
        (Some(method), Some(id)) => Kind::Request { id, method },
        (Some(method), None) => Kind::Notification { method },
        (None, Some(id)) if obj.contains_key("result") || obj.contains_key("error") => {
            Kind::Response { id }
        }
        _ => Kind::Other,
    }
}

/// The key under which a request id is matched: its JSON text (so `1` and `"1"` differ).
pub(crate) fn id_key(id: &Value) -> String {
    id.to_string()
}

/// Whether a frame body looks like JSON-RPC (an object with a JSON-RPC member, or a non-empty
/// array of objects): evidence that the peer speaks the framing it arrived in.
pub(crate) fn looks_like_jsonrpc(body: &[u8]) -> bool {
    fn object_ok(v: &Value) -> bool {
        v.as_object().is_some_and(|o| {
            ["jsonrpc", "id", "method", "result", "error"]
                .iter()
                .any(|k| o.contains_key(*k))
        })
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => !items.is_empty() && items.iter().all(object_ok),
        Ok(v) => object_ok(&v),
        Err(_) => false,
    }
}

/// Formats seconds the way Python's `%g` would for the values we use (`3`, `0.5`, `1.25`).
pub(crate) fn fmt_secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    let text = format!("{s:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// The last `max_chars` characters of `text`.
pub(crate) fn tail_chars(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    if count <= max_chars {
        text.to_string()
    } else {
        text.chars().skip(count - max_chars).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_lengths() {
        // len(json.dumps(v, separators=(",", ":"), sort_keys=True)) in Python 3.11.
        assert_eq!(python_json_len(&json!({})), 2);
        assert_eq!(python_json_len(&json!({"a": 1, "b": [true, null]})), 23);
        assert_eq!(python_json_len(&json!("é")), 8);
        assert_eq!(python_json_len(&json!("😀")), 14);
        assert_eq!(python_json_len(&json!("a\nb\u{1}")), 12);
        assert_eq!(python_json_len(&json!(1.5)), 3);
        assert_eq!(python_json_len(&json!(2.0)), 3);
        assert_eq!(python_json_len(&json!(1e20)), 5); // 1e+20
        assert_eq!(python_json_len(&json!(1.5e-7)), 7); // 1.5e-07
        assert_eq!(python_json_len(&json!(0.0001)), 6);
        assert_eq!(python_json_len(&json!(-3)), 2);
        assert_eq!(python_json_len(&json!("\u{7f}")), 8);
    }

    #[test]
    fn python_lengths_from_raw_text() {
        let samples = [
            r#"{}"#,
            r#" { "a" : 1 , "b" : [ true , null , false ] } "#,
            r#""é""#,
            r#""\u00e9""#,
            r#""😀""#,
            r#""\ud83d\ude00""#,
            r#""a\nb\u0001\/\"\\\t\b\f\r""#,
            r#""\u000a\u0022\u005c\u0041\u007f""#,
            "\"\u{7f}x\"",
            r#"[1.5, 2.0, 1e20, 1.5e-7, 0.0001, -3, 12345678901234567890, 1E3]"#,
            "{\n  \"content\": [\n    {\"type\": \"text\", \"text\": \"x\\ny\"}\n  ],\n  \"isError\": false\n}",
            r#"{"k\u00e9y":{"nested":[[],{},"",0]}}"#,
        ];
        for text in samples {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                python_json_len_raw(text.as_bytes()),
                python_json_len(&value),
                "{text}"
            );
            let is_error = value.get("isError") == Some(&Value::Bool(true));
            assert_eq!(scan_raw(text.as_bytes()).is_error, is_error, "{text}");
        }
        for (text, is_error) in [
            (r#"{"isError":true}"#, true),
            (
                r#" { "content" : [ {"isError": true} ], "isError" : true } "#,
                true,
            ),
            (r#"{"isError":true,"isError":false}"#, false),
            (r#"{"isError":"true"}"#, false),
            (r#"{"a":{"isError":true},"b":"isError"}"#, false),
            (r#"[{"isError":true}]"#, false),
        ] {
            assert_eq!(scan_raw(text.as_bytes()).is_error, is_error, "{text}");
        }
    }

    #[test]
    fn classify_messages() {
        assert_eq!(
            classify(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
            Kind::Request {
                id: &json!(1),
                method: "ping"
            }
        );
        assert_eq!(
            classify(&json!({"method": "notifications/initialized"})),
            Kind::Notification {
                method: "notifications/initialized"
            }
        );
        assert_eq!(
            classify(&json!({"id": "a", "result": {}})),
            Kind::Response { id: &json!("a") }
        );
        assert_eq!(
            classify(&json!({"id": null, "error": {"code": -32700}})),
            Kind::Other
        );
        assert_eq!(classify(&json!([1])), Kind::Other);
    }

    #[test]
    fn jsonrpc_evidence() {
        assert!(looks_like_jsonrpc(
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#
        ));
        assert!(looks_like_jsonrpc(br#"[{"id":1,"result":{}}]"#));
        assert!(!looks_like_jsonrpc(b"[]"));
        assert!(!looks_like_jsonrpc(br#"{"hello":1}"#));
        assert!(!looks_like_jsonrpc(b"nope"));
    }

    #[test]
    fn seconds() {
        assert_eq!(fmt_secs(std::time::Duration::from_millis(3000)), "3");
        assert_eq!(fmt_secs(std::time::Duration::from_millis(1250)), "1.25");
    }
}
