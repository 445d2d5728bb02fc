//! A small HTTP/1.1 server for `harnessgym view`: requests with a Content-Length body,
//! keep-alive, and responses that may stream (server-sent events need a flush per event, which
//! general-purpose buffered servers do not give). Loopback only; one thread per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (API requests are small JSON objects).
pub const MAX_BODY: usize = 1 << 20;

pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes a streamed response body.
pub type StreamBody = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send>;

/// What a handler answers: a whole body, or a stream it writes itself (the connection then ends
/// with the stream).
pub enum Reply {
    Body {
        status: u16,
        content_type: &'static str,
        cache: &'static str,
        body: Vec<u8>,
    },
    Stream(StreamBody),
}

pub type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

pub fn serve(listener: TcpListener, handler: Arc<Handler>) {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let handler = handler.clone();
        std::thread::spawn(move || {
            let _ = connection(stream, &*handler);
        });
    }
}

fn connection(stream: TcpStream, handler: &Handler) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err((status, msg)) => {
                write_body(
                    &mut out,
                    status,
                    "text/plain",
                    "no-store",
                    msg.as_bytes(),
                    true,
                )?;
                return Ok(());
            }
        };
        let close = req
            .header("Connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        match handler(&req) {
            Reply::Body {
                status,
                content_type,
                cache,
                body,
            } => write_body(&mut out, status, content_type, cache, &body, close)?,
            Reply::Stream(f) => {
                out.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                )?;
                out.flush()?;
                return f(&mut out);
            }
        }
        if close {
            return Ok(());
        }
    }
}

fn write_body(
    out: &mut TcpStream,
    status: u16,
    content_type: &str,
    cache: &str,
    body: &[u8],
    close: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: {cache}\r\nX-Content-Type-Options: nosniff\r\n{}\r\n",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    );
    let mut buf = Vec::with_capacity(head.len() + body.len());
    buf.extend_from_slice(head.as_bytes());
    buf.extend_from_slice(body);
    out.write_all(&buf)?;
    out.flush()
}

/// `Ok(None)` when the client closed the connection between requests.
fn read_request(r: &mut impl BufRead) -> Result<Option<Request>, (u16, String)> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take((MAX_HEAD - head.len()) as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| (400, e.to_string()))?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err((400, "incomplete request".into()));
        }
        if head.len() + n > MAX_HEAD {
            return Err((400, "request head too large".into()));
        }
        if line == b"\r\n" || line == b"\n" {
            if head.is_empty() {
                continue;
            }
            break;
        }
        head.extend_from_slice(&line);
    }
    let head =
        String::from_utf8(head).map_err(|_| (400, "request head is not UTF-8".to_string()))?;
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err((400, "malformed request line".into()));
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let req = |body| Request {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or("/").to_string(),
        headers: headers.clone(),
        body,
    };
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Transfer-Encoding"))
    {
        return Err((400, "chunked request bodies are not accepted".into()));
    }
    let len = match req(Vec::new()).header("Content-Length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| (400, "bad Content-Length".to_string()))?,
    };
    if len > MAX_BODY {
        return Err((413, "the request is larger than 1 MiB".into()));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).map_err(|e| (400, e.to_string()))?;
    Ok(Some(req(body)))
}
