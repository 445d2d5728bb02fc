//! Stdio framing of JSON-RPC messages.
//!
//! Two framings exist in the wild:
//!
//! * [`Framing::Ndjson`]: one compact JSON value per `\n`-terminated line. This is what the MCP
//!   stdio transport specifies and what the real Codex and Claude Code clients speak.
//! * [`Framing::ContentLength`]: an LSP-style header block (`Content-Length: N`, a blank line)
//!   followed by exactly N bytes of JSON. The original HarnessGym's generated servers speak it.
//!
//! Readers are lenient in the way the original's "reader A" was (harness spec §4.1): the header
//! block may end with CRLFCRLF or LFLF, header names are case-insensitive, other headers
//! (`Content-Type`) and junk lines without a colon are ignored. They are also robust where it was
//! not: blank lines between frames are skipped, a bad header or bad JSON is reported as a
//! recoverable error after which the next read starts at the next frame, EOF inside a frame is
//! detected, and frames are limited to [`MAX_FRAME_BYTES`].
//!
//! A message may be a JSON array (a JSON-RPC batch); nothing here assumes objects.
//!
//! [`FrameReader`] can also detect the framing of a stream from its first meaningful line: a
//! line starting with `{` or `[` means newline-delimited JSON, a `Content-Length:` or
//! `Content-Type:` header line means header framing, anything else is reported as junk and
//! skipped.

use memchr::{memchr, memchr2};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::str::FromStr;

/// How JSON-RPC messages are delimited on a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// One compact JSON value per `\n`-terminated line (`"ndjson"`).
    Ndjson,
    /// `Content-Length: N` header block, blank line, N bytes of JSON (`"content-length"`).
    ContentLength,
}

impl Framing {
    /// The name used on the command line and in JSON: `ndjson` or `content-length`.
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::Ndjson => "ndjson",
            Framing::ContentLength => "content-length",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ndjson" => Ok(Framing::Ndjson),
            "content-length" => Ok(Framing::ContentLength),
            other => Err(format!(
                "unknown framing {other:?} (expected ndjson or content-length)"
            )),
        }
    }
}

/// Largest frame body (or NDJSON line) accepted, in bytes.
pub const MAX_FRAME_BYTES: usize = 1 << 30;
/// Largest header line (or junk line while sniffing) kept in memory; longer lines are consumed
/// and reported as junk.
pub const MAX_HEADER_LINE: usize = 64 * 1024;
/// Header lines per frame before the block is given up on (an endless stream of junk lines
/// containing colons).
const MAX_HEADER_LINES: usize = 256;
/// Bodies smaller than this are written with their header in one `write`.
const COALESCE_BELOW: usize = 64 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The underlying read failed.
    #[error("failed to read from the stream: {0}")]
    Io(#[from] io::Error),
    /// The stream ended in the middle of a header block or a body.
    #[error("the stream ended inside a frame")]
    Truncated,
    /// A header block without a usable `Content-Length` (the block was consumed).
    #[error("invalid Content-Length frame header: {0}")]
    Header(String),
    /// A line that is neither JSON nor a frame header, while detecting the framing (consumed).
    #[error("skipped a line that is neither JSON nor a frame header: {0:?}")]
    Junk(String),
    /// A line longer than the limit (consumed), or a declared body length over it (fatal).
    #[error("frame larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
        /// Whether the oversized input was consumed so the stream can go on.
        consumed: bool,
    },
    /// The frame was read but its body is not JSON (consumed).
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
}

impl FrameError {
    /// Whether the bad input was consumed, so that the next read starts at the next frame.
    pub fn is_recoverable(&self) -> bool {
        match self {
            FrameError::Header(_) | FrameError::Junk(_) | FrameError::Json(_) => true,
            FrameError::TooLarge { consumed, .. } => *consumed,
            FrameError::Io(_) | FrameError::Truncated => false,
        }
    }
}

/// Reads one frame body (the JSON text, not parsed) in `framing`. `Ok(None)` means a clean end
/// of the stream (possibly after blank lines).
pub fn read_frame<R: BufRead>(
    reader: &mut R,
    framing: Framing,
) -> Result<Option<Vec<u8>>, FrameError> {
    match framing {
        Framing::Ndjson => read_ndjson(reader),
        Framing::ContentLength => read_content_length(reader, None),
    }
}

/// Reads and parses one message (an object, or an array for a batch). `Ok(None)` at a clean
/// end of the stream. A body that is not JSON gives [`FrameError::Json`], after which the
/// stream can still be read.
pub fn read_message<R: BufRead>(
    reader: &mut R,
    framing: Framing,
) -> Result<Option<Value>, FrameError> {
    match read_frame(reader, framing)? {
        Some(body) => serde_json::from_slice(&body)
            .map(Some)
            .map_err(FrameError::Json),
        None => Ok(None),
    }
}

/// Writes one frame whose body is `body` (JSON text) and flushes. For newline-delimited JSON a
/// body containing raw line breaks (pretty-printed JSON) is re-serialised compactly first; a
/// line break can only be whitespace there, since JSON strings escape them.
pub fn write_frame<W: Write + ?Sized>(
    writer: &mut W,
    framing: Framing,
    body: &[u8],
) -> io::Result<()> {
    match framing {
        Framing::Ndjson => {
            let compacted;
            let body = if memchr2(b'\n', b'\r', body).is_some() {
                compacted = compact(body)?;
                &compacted[..]
            } else {
                body
            };
            write_two(writer, body, b"\n")?;
        }
        Framing::ContentLength => {
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            write_two(writer, header.as_bytes(), body)?;
        }
    }
    writer.flush()
}

/// Serialises `message` compactly and writes it as one frame (see [`write_frame`]).
pub fn write_message<W: Write + ?Sized>(
    writer: &mut W,
    framing: Framing,
    message: &Value,
) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    write_frame(writer, framing, &body)
}

fn compact(body: &[u8]) -> io::Result<Vec<u8>> {
    // Validate only (nothing is built), then drop the whitespace byte by byte: the JSON text
    // is kept as it was (key order, number spelling, escapes), minus its line breaks.
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write a line-broken body that is not JSON: {e}"),
        )
    })?;
    let mut out = body.to_vec();
    compact_in_place(&mut out);
    Ok(out)
}

/// Removes the whitespace outside strings from the JSON text in `buf`, in place (no second
/// copy of a large message). Raw line breaks cannot occur inside JSON strings, so the result
/// of valid JSON is one line.
pub(crate) fn compact_in_place(buf: &mut Vec<u8>) {
    let mut w = 0;
    let mut in_str = false;
    let mut escaped = false;
    for r in 0..buf.len() {
        let b = buf[r];
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        } else if b == b'"' {
            in_str = true;
        }
        buf[w] = b;
        w += 1;
    }
    buf.truncate(w);
}

/// Writes `a` then `b`, as one buffer when small (one syscall for the common case).
fn write_two<W: Write + ?Sized>(writer: &mut W, a: &[u8], b: &[u8]) -> io::Result<()> {
    if a.len() + b.len() < COALESCE_BELOW {
        let mut buf = Vec::with_capacity(a.len() + b.len());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b);
        writer.write_all(&buf)
    } else {
        writer.write_all(a)?;
        writer.write_all(b)
    }
}

/// Reads a frame in a fixed framing, or detects the framing from the first meaningful line and
/// keeps it for the rest of the stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    framing: Option<Framing>,
}

impl<R: BufRead> FrameReader<R> {
    /// A reader for `framing`, or detecting it when `None`.
    pub fn new(inner: R, framing: Option<Framing>) -> Self {
        FrameReader { inner, framing }
    }

    /// The framing in use: the one given, or the detected one (`None` until the first frame).
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// Reads one frame body. While the framing is still unknown, lines that are neither JSON
    /// nor a frame header come back as [`FrameError::Junk`] (consumed).
    pub fn read_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(framing) = self.framing {
            return read_frame(&mut self.inner, framing);
        }
        // Skip whitespace, then look at the first meaningful byte without consuming it.
        let first = loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if available.is_empty() {
                return Ok(None);
            }
            match available.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let b = available[i];
                    self.inner.consume(i);
                    break b;
                }
                None => {
                    let n = available.len();
                    self.inner.consume(n);
                }
            }
        };
        if first == b'{' || first == b'[' {
            self.framing = Some(Framing::Ndjson);
            return read_ndjson(&mut self.inner);
        }
        let mut line = Vec::new();
        let (n, fit) = read_line_capped(&mut self.inner, &mut line, MAX_HEADER_LINE)?;
        if !fit {
            return Err(FrameError::Junk(format!("<a line of {n} bytes>")));
        }
        let (start, end) = trimmed_bounds(&line);
        if is_frame_header(&line[start..end]) {
            self.framing = Some(Framing::ContentLength);
            return read_content_length(&mut self.inner, Some(line));
        }
        Err(FrameError::Junk(preview(&line[start..end])))
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

fn is_frame_header(line: &[u8]) -> bool {
    let Some(colon) = memchr(b':', line) else {
        return false;
    };
    let name = String::from_utf8_lossy(&line[..colon])
        .trim()
        .to_ascii_lowercase();
    name == "content-length" || name == "content-type"
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > 200 {
        let cut: String = text.chars().take(200).collect();
        format!("{cut}…")
    } else {
        text.into_owned()
    }
}

/// The bounds of `line` without leading and trailing ASCII whitespace.
fn trimmed_bounds(line: &[u8]) -> (usize, usize) {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    (start, end)
}

/// Appends the bytes up to and including the next `\n` to `buf`, storing at most `limit` bytes
/// in total; the rest of an overlong line is consumed and dropped. Returns the number of bytes
/// consumed (0 at EOF) and whether the whole line fit (`false` also when it ended at EOF
/// without a newline but fit: then `buf` ends without `\n`).
fn read_line_capped<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<(usize, bool), FrameError> {
    let mut consumed = 0usize;
    let mut overflow = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if available.is_empty() {
            return Ok((consumed, !overflow));
        }
        let (used, done) = match memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !overflow {
            if buf.len() + used > limit {
                overflow = true;
            } else {
                buf.extend_from_slice(&available[..used]);
            }
        }
        reader.consume(used);
        consumed += used;
        if done {
            return Ok((consumed, !overflow));
        }
    }
}

fn read_ndjson<R: BufRead>(reader: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    loop {
        let mut line = Vec::new();
        let (n, fit) = read_line_capped(reader, &mut line, MAX_FRAME_BYTES)?;
        if n == 0 {
            return Ok(None);
        }
        if !fit {
            return Err(FrameError::TooLarge {
                limit: MAX_FRAME_BYTES,
                consumed: true,
            });
        }
        let (start, end) = trimmed_bounds(&line);
        if start == end {
            continue;
        }
        line.truncate(end);
        line.drain(..start);
        return Ok(Some(line));
    }
}

/// Reads a header block (starting with `first_line` when the caller already consumed it) and
/// the body it announces.
fn read_content_length<R: BufRead>(
    reader: &mut R,
    first_line: Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut length: Option<Result<usize, String>> = None;
    let mut seen_any = false;
    let mut lines = 0usize;
    let mut pending = first_line;
    loop {
        let line = match pending.take() {
            Some(l) => l,
            None => {
                let mut l = Vec::new();
                let (n, _fit) = read_line_capped(reader, &mut l, MAX_HEADER_LINE)?;
                if n == 0 {
                    return if seen_any {
                        Err(FrameError::Truncated)
                    } else {
                        Ok(None)
                    };
                }
                l
            }
        };
        let (start, end) = trimmed_bounds(&line);
        if start == end {
            if line.last() != Some(&b'\n') {
                // Whitespace then EOF.
                return if seen_any {
                    Err(FrameError::Truncated)
                } else {
                    Ok(None)
                };
            }
            if seen_any {
                break;
            }
            continue; // blank lines before a header block (e.g. after a body) are skipped
        }
        seen_any = true;
        lines += 1;
        if lines > MAX_HEADER_LINES {
            return Err(FrameError::Header(format!(
                "no blank line after {MAX_HEADER_LINES} header lines"
            )));
        }
        let text = &line[start..end];
        if let Some(colon) = memchr(b':', text) {
            let name = String::from_utf8_lossy(&text[..colon])
                .trim()
                .to_ascii_lowercase();
            if name == "content-length" && length.is_none() {
                let value = String::from_utf8_lossy(&text[colon + 1..])
                    .trim()
                    .to_string();
                length = Some(value.parse::<usize>().map_err(|_| value));
            }
        }
    }
    let n = match length {
        None => return Err(FrameError::Header("no Content-Length header".into())),
        Some(Err(v)) => {
            return Err(FrameError::Header(format!(
                "Content-Length {v:?} is not a number"
            )))
        }
        Some(Ok(0)) => return Err(FrameError::Header("Content-Length is 0".into())),
        Some(Ok(n)) if n > MAX_FRAME_BYTES => {
            return Err(FrameError::TooLarge {
                limit: MAX_FRAME_BYTES,
                consumed: false,
            })
        }
        Some(Ok(n)) => n,
    };
    // The exact size up front when the allocator agrees (pages are only committed as the body
    // is read): no doubling, so a large body costs its size once.
    let mut body = Vec::new();
    if body.try_reserve_exact(n).is_err() {
        body.reserve(n.min(1 << 20));
    }
    let got = reader.by_ref().take(n as u64).read_to_end(&mut body)?;
    if got < n {
        return Err(FrameError::Truncated);
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn framing_names_round_trip() {
        for f in [Framing::Ndjson, Framing::ContentLength] {
            assert_eq!(f.as_str().parse::<Framing>().unwrap(), f);
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                Value::String(f.as_str().into())
            );
        }
        assert!("lsp".parse::<Framing>().is_err());
    }

    #[test]
    fn compaction_in_place_keeps_strings() {
        let mut b = b"{ \"a b\" : [1,\r\n 2], \"c\":\"x\\\" \\\\\" }\n".to_vec();
        compact_in_place(&mut b);
        assert_eq!(b, br#"{"a b":[1,2],"c":"x\" \\"}"#);
    }

    #[test]
    fn trimmed() {
        assert_eq!(trimmed_bounds(b"  ab \r\n"), (2, 4));
        assert_eq!(trimmed_bounds(b" \r\n"), (3, 3));
    }

    #[test]
    fn overlong_line_is_consumed() {
        let data = [vec![b'x'; 100], b"\n{}\n".to_vec()].concat();
        let mut r = BufReader::with_capacity(7, &data[..]);
        let mut buf = Vec::new();
        let (n, fit) = read_line_capped(&mut r, &mut buf, 10).unwrap();
        assert_eq!((n, fit), (101, false));
        assert_eq!(read_frame(&mut r, Framing::Ndjson).unwrap().unwrap(), b"{}");
    }
}
