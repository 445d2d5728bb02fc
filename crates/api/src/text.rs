//! Windows of lines of large files: a sparse line index (a byte offset every 1,024 lines) is built
//! once per file with a byte scan and extended when the file grows, so a window anywhere in a
//! 1 GB file costs one seek plus the window's bytes, and the file never sits in memory.

use crate::types::TextWindow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

const STRIDE: u64 = 1024;
/// Longer lines are cut in windows (the whole line is still counted and searchable).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
pub const DEFAULT_LINES: u32 = 500;
pub const MAX_LINES: u32 = 5000;
/// Line indexes kept at once (each is ~8 bytes per 1,024 lines).
const CACHED_FILES: usize = 64;

/// Numbers line indexes, so a reader can tell a file read afresh from one appended to.
static VERSIONS: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone)]
struct LineIndex {
    /// New for each index built from the start of the file (see [`TextWindow::version`]).
    version: u64,
    mtime: Option<SystemTime>,
    /// Bytes scanned so far.
    scanned: u64,
    /// Newlines seen in the scanned bytes.
    newlines: u64,
    /// Offset just after the last newline seen.
    last_line_start: u64,
    /// `marks[k]` = byte offset where line `k * STRIDE` starts.
    marks: Vec<u64>,
    /// The first and the last (up to `scanned`) [`PROBE`] bytes scanned: a file that was
    /// rewritten rather than appended to (it may have grown past the old size in between) no
    /// longer has them, and its index starts over.
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Bytes compared at each end of the scanned part before an index is reused.
const PROBE: u64 = 64;

impl LineIndex {
    fn new() -> LineIndex {
        LineIndex {
            version: VERSIONS.fetch_add(1, Ordering::Relaxed),
            mtime: None,
            scanned: 0,
            newlines: 0,
            last_line_start: 0,
            marks: vec![0],
            head: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// The bytes at `[at, at + len)` of `file`.
    fn bytes_at(file: &mut File, at: u64, len: u64) -> std::io::Result<Vec<u8>> {
        file.seek(SeekFrom::Start(at))?;
        let mut out = Vec::with_capacity(len as usize);
        file.take(len).read_to_end(&mut out)?;
        Ok(out)
    }

    /// Remembers the ends of the scanned part (after a scan).
    fn remember_ends(&mut self, file: &mut File) -> std::io::Result<()> {
        let len = self.scanned.min(PROBE);
        self.head = Self::bytes_at(file, 0, len)?;
        self.tail = Self::bytes_at(file, self.scanned - len, len)?;
        Ok(())
    }

    /// Whether `file` still starts and (up to `scanned`) ends with the bytes scanned.
    fn still_prefix_of(&self, file: &mut File) -> std::io::Result<bool> {
        let len = self.scanned.min(PROBE);
        Ok(Self::bytes_at(file, 0, len)? == self.head
            && Self::bytes_at(file, self.scanned - len, len)? == self.tail)
    }

    /// Scans `file` from where the last scan stopped up to `size`.
    fn extend(&mut self, file: &mut File, size: u64) -> std::io::Result<()> {
        file.seek(SeekFrom::Start(self.scanned))?;
        let mut buf = vec![0u8; 256 * 1024];
        while self.scanned < size {
            let want = buf.len().min((size - self.scanned) as usize);
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            for i in memchr::memchr_iter(b'\n', &buf[..n]) {
                self.newlines += 1;
                self.last_line_start = self.scanned + i as u64 + 1;
                if self.newlines.is_multiple_of(STRIDE) {
                    self.marks.push(self.last_line_start);
                }
            }
            self.scanned += n as u64;
        }
        Ok(())
    }

    /// Lines in the scanned bytes; a last line without a newline counts.
    fn total_lines(&self) -> u64 {
        self.newlines + u64::from(self.scanned > self.last_line_start)
    }
}

/// Line indexes of recently read files, keyed by path.
#[derive(Default)]
pub struct TextCache {
    files: Mutex<HashMap<String, LineIndex>>,
}

impl TextCache {
    /// Reads up to `max_lines` lines from line `start_line` (0-based) of `path`.
    pub fn window(
        &self,
        path: &Path,
        start_line: u64,
        max_lines: u32,
    ) -> std::io::Result<TextWindow> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let size = meta.len();
        let mtime = meta.modified().ok();
        let key = path.to_string_lossy().into_owned();

        let mut idx = crate::lock(&self.files).remove(&key);
        let mut li = match idx.take() {
            Some(li) if li.scanned == size && li.mtime == mtime => li,
            // Append-only files (outputs, logs) grow: keep what was scanned, unless the file
            // was rewritten meanwhile (its scanned bytes are no longer the same). A rewrite to
            // the same size shows in the modification time.
            Some(li) if li.scanned < size && li.still_prefix_of(&mut file)? => li,
            _ => LineIndex::new(),
        };
        if li.scanned != size || li.head.is_empty() {
            li.extend(&mut file, size)?;
            li.remember_ends(&mut file)?;
        }
        li.mtime = mtime;
        let version = li.version;
        let total_lines = li.total_lines();
        let start_line = start_line.min(total_lines);
        let mark = (start_line / STRIDE) as usize;
        let offset = li.marks[mark.min(li.marks.len() - 1)];
        let skip = start_line - (mark as u64) * STRIDE;
        {
            let mut files = crate::lock(&self.files);
            if files.len() >= CACHED_FILES {
                files.clear();
            }
            files.insert(key, li);
        }

        file.seek(SeekFrom::Start(offset))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file.take(size - offset));
        for _ in 0..skip {
            if skip_line(&mut reader)? == 0 {
                break;
            }
        }
        let mut lines = Vec::new();
        let mut cut_lines = Vec::new();
        let mut buf = Vec::new();
        while lines.len() < max_lines.clamp(1, MAX_LINES) as usize {
            buf.clear();
            let (read, cut) = read_line_capped(&mut reader, &mut buf)?;
            if read == 0 {
                break;
            }
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            if cut {
                cut_lines.push(lines.len() as u32);
            }
            lines.push(String::from_utf8_lossy(&buf).into_owned());
        }
        Ok(TextWindow {
            path: path.to_string_lossy().into_owned(),
            size,
            total_lines,
            start_line,
            lines,
            cut_lines,
            version,
        })
    }
}

/// Skips one line; returns the bytes skipped (0 at the end).
fn skip_line(r: &mut impl BufRead) -> std::io::Result<usize> {
    let mut n = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                r.consume(i + 1);
                return Ok(n + i + 1);
            }
            None => {
                let len = buf.len();
                r.consume(len);
                n += len;
            }
        }
    }
}

/// Reads one line keeping at most [`MAX_LINE_BYTES`] of it; returns (bytes consumed, was cut).
fn read_line_capped(r: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    let mut n = 0;
    let mut cut = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((n, cut));
        }
        let (take, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = if cut {
            0
        } else {
            MAX_LINE_BYTES.saturating_sub(out.len())
        };
        if take > room {
            cut = true;
        }
        // Keep whole UTF-8 characters when cutting.
        let mut keep = take.min(room);
        while keep < take && keep > 0 && (buf[keep] & 0xC0) == 0x80 {
            keep -= 1;
        }
        out.extend_from_slice(&buf[..keep]);
        r.consume(take);
        n += take;
        if done {
            return Ok((n, cut));
        }
    }
}
