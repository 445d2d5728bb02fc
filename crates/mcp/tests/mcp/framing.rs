//! Framing: both framings, lenient headers, batches, partial reads, recoverable errors and
//! detection.

use harnessgym_mcp::{
    read_frame, read_message, write_frame, write_message, FrameError, FrameReader, Framing,
};
use serde_json::{json, Value};
use std::io::{BufReader, Cursor, Read};

/// A reader that hands out at most `chunk` bytes per read (a pipe delivering partial data).
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn read_all(data: &[u8], framing: Framing) -> Vec<Value> {
    let mut r = BufReader::with_capacity(4, Trickle { data, chunk: 3 });
    let mut out = Vec::new();
    while let Some(v) = read_message(&mut r, framing).unwrap() {
        out.push(v);
    }
    out
}

fn messages() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"x": "é\n😀"}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!([{"jsonrpc": "2.0", "id": 2, "method": "a"}, {"jsonrpc": "2.0", "id": 3, "method": "b"}]),
        json!({"jsonrpc": "2.0", "id": "s", "result": {"text": "x".repeat(100_000)}}),
    ]
}

#[test]
fn round_trip_both_framings_with_partial_reads_and_batches() {
    for framing in [Framing::Ndjson, Framing::ContentLength] {
        let mut buf = Vec::new();
        for m in messages() {
            write_message(&mut buf, framing, &m).unwrap();
        }
        if framing == Framing::Ndjson {
            assert_eq!(
                buf.iter().filter(|b| **b == b'\n').count(),
                4,
                "one line each"
            );
        } else {
            assert!(buf.starts_with(b"Content-Length: "));
        }
        assert_eq!(read_all(&buf, framing), messages(), "{framing}");
    }
}

#[test]
fn ndjson_reader_skips_blank_lines_accepts_crlf_and_a_last_line_without_newline() {
    let data = b"\n  \r\n{\"id\":1}\r\n\n[{\"id\":2}]\n{\"id\":3}";
    assert_eq!(
        read_all(data, Framing::Ndjson),
        vec![json!({"id": 1}), json!([{"id": 2}]), json!({"id": 3})]
    );
}

#[test]
fn content_length_reader_is_lenient_like_the_original() {
    let body = br#"{"id":1}"#;
    let frames: Vec<Vec<u8>> = vec![
        // CRLF separators.
        [b"Content-Length: 8\r\n\r\n".as_slice(), body].concat(),
        // LF separators, lower-case name, no space.
        [b"content-length:8\n\n".as_slice(), body].concat(),
        // Another header first, mixed case, value padded.
        [
            b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:   8  \r\n\r\n"
                .as_slice(),
            body,
        ]
        .concat(),
        // A junk line without a colon before the header.
        [b"garbage line\r\nContent-Length: 8\r\n\r\n".as_slice(), body].concat(),
        // A trailing newline after the body, then the next frame.
        [b"Content-Length: 8\r\n\r\n".as_slice(), body, b"\r\n"].concat(),
    ];
    let mut data = Vec::new();
    for f in &frames {
        data.extend_from_slice(f);
    }
    data.extend_from_slice(b"Content-Length: 8\n\n");
    data.extend_from_slice(body);
    let got = read_all(&data, Framing::ContentLength);
    assert_eq!(got.len(), frames.len() + 1);
    assert!(got.iter().all(|v| *v == json!({"id": 1})));
}

#[test]
fn bad_frames_are_skipped_and_the_stream_goes_on() {
    // NDJSON: a line of junk, then a good line.
    let mut r = Cursor::new(b"not json\n{\"id\":1}\n".to_vec());
    let err = read_message(&mut r, Framing::Ndjson).unwrap_err();
    assert!(
        matches!(err, FrameError::Json(_)) && err.is_recoverable(),
        "{err}"
    );
    assert_eq!(
        read_message(&mut r, Framing::Ndjson).unwrap(),
        Some(json!({"id": 1}))
    );

    // Content-Length: a non-numeric length, then a missing one, then a good frame.
    let mut r = Cursor::new(
        b"Content-Length: abc\r\n\r\nX-Other: 1\r\n\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
    );
    for _ in 0..2 {
        let err = read_frame(&mut r, Framing::ContentLength).unwrap_err();
        assert!(
            matches!(err, FrameError::Header(_)) && err.is_recoverable(),
            "{err}"
        );
    }
    assert_eq!(
        read_frame(&mut r, Framing::ContentLength).unwrap().unwrap(),
        b"{}"
    );
    assert!(read_frame(&mut r, Framing::ContentLength)
        .unwrap()
        .is_none());
}

#[test]
fn eof_inside_a_frame_is_detected() {
    let mut r = Cursor::new(b"Content-Length: 10\r\n\r\n{\"a\"".to_vec());
    let err = read_frame(&mut r, Framing::ContentLength).unwrap_err();
    assert!(
        matches!(err, FrameError::Truncated) && !err.is_recoverable(),
        "{err}"
    );
    let mut r = Cursor::new(b"Content-Length: 10\r\n".to_vec());
    assert!(matches!(
        read_frame(&mut r, Framing::ContentLength).unwrap_err(),
        FrameError::Truncated
    ));
    // Only blank lines before EOF: a clean end.
    let mut r = Cursor::new(b"\r\n\n".to_vec());
    assert!(read_frame(&mut r, Framing::ContentLength)
        .unwrap()
        .is_none());
}

#[test]
fn ndjson_writer_compacts_pretty_bodies() {
    let mut out = Vec::new();
    write_frame(&mut out, Framing::Ndjson, b"{\n  \"a\": [1,\r\n 2]\n}").unwrap();
    assert_eq!(out, b"{\"a\":[1,2]}\n");
    let mut out = Vec::new();
    write_frame(&mut out, Framing::ContentLength, b"{\n}").unwrap();
    assert_eq!(out, b"Content-Length: 3\r\n\r\n{\n}");
}

#[test]
fn detection_from_the_first_meaningful_line() {
    // NDJSON after a banner line: the banner is junk, then JSON lines.
    let data = b"server starting...\n\n{\"id\":1}\n{\"id\":2}\n";
    let mut r = FrameReader::new(
        BufReader::with_capacity(2, Trickle { data, chunk: 1 }),
        None,
    );
    let err = r.read_frame().unwrap_err();
    assert!(
        matches!(err, FrameError::Junk(ref l) if l == "server starting..."),
        "{err}"
    );
    assert_eq!(r.framing(), None);
    assert_eq!(r.read_frame().unwrap().unwrap(), b"{\"id\":1}");
    assert_eq!(r.framing(), Some(Framing::Ndjson));
    assert_eq!(r.read_frame().unwrap().unwrap(), b"{\"id\":2}");
    assert!(r.read_frame().unwrap().is_none());

    // Content-Length, with a Content-Type header first and a pretty body.
    let body = b"{\n  \"id\": 1\n}";
    let data = [
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
        body,
        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
        body,
    ]
    .concat();
    let mut r = FrameReader::new(BufReader::with_capacity(5, &data[..]), None);
    assert_eq!(r.read_frame().unwrap().unwrap(), body);
    assert_eq!(r.framing(), Some(Framing::ContentLength));
    assert_eq!(r.read_frame().unwrap().unwrap(), body);
    assert!(r.read_frame().unwrap().is_none());

    // A first JSON line far longer than a header line is still read whole.
    let big = serde_json::to_vec(&json!({"x": "y".repeat(200_000)})).unwrap();
    let data = [big.as_slice(), b"\n"].concat();
    let mut r = FrameReader::new(BufReader::new(&data[..]), None);
    assert_eq!(r.read_frame().unwrap().unwrap(), big);
}
