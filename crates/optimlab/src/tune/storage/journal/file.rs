//! The journal file: incremental reads from the last offset and appends of whole lines
//! (one write each, fsynced as [`Sync`] says), every decision taken under the lock after
//! reading to the end.

use super::lock::FileLock;
use super::replay::{Replay, apply, parse_line, to_line};
use super::{JournalStorage, Sync};
use crate::tune::error::{Result, TuneError};
use crate::tune::storage::model::Model;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// With [`Sync::Normal`], how old the last fsync may be when an append comes.
pub(super) const SYNC_PERIOD: Duration = Duration::from_secs(1);

impl JournalStorage {
    pub(super) fn io(&self, what: &str, e: std::io::Error) -> TuneError {
        TuneError::Storage(format!("journal '{}': {what}: {e}", self.path.display()))
    }

    /// The replayed model, read up to the end of the file.
    pub(super) fn caught_up(&self) -> Result<MutexGuard<'_, Replay>> {
        let mut r = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        self.catch_up(&mut r)?;
        Ok(r)
    }

    /// Applies the complete lines appended since the last read.
    pub(super) fn catch_up(&self, r: &mut Replay) -> Result<()> {
        let mut f = File::open(&self.path).map_err(|e| self.io("cannot read", e))?;
        f.seek(SeekFrom::Start(r.offset))
            .map_err(|e| self.io("cannot read", e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| self.io("cannot read", e))?;
        let mut start = 0;
        while let Some(len) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + len];
            let number = r.lines + 1;
            match parse_line(line) {
                Ok(Some(v)) => apply(&mut r.model, &v).map_err(|m| self.corrupt(number, &m))?,
                Ok(None) => {} // a torn line from a crashed writer
                Err(m) => return Err(self.corrupt(number, &m)),
            }
            r.lines = number;
            start += len + 1;
            r.offset += (len + 1) as u64;
        }
        Ok(())
    }

    pub(super) fn corrupt(&self, line: u64, m: &str) -> TuneError {
        TuneError::Corrupt(format!(
            "journal '{}' line {line}: {m}",
            self.path.display()
        ))
    }

    /// Under the file lock and up to date: `decide` returns the operations to append (as one
    /// write) and a note; after they are replayed, `then` reads the answer from the model.
    pub(super) fn locked<X, T>(
        &self,
        decide: impl FnOnce(&mut Model) -> Result<(Vec<Value>, X)>,
        then: impl FnOnce(&Model, X) -> Result<T>,
    ) -> Result<T> {
        let mut r = self.replay.lock().unwrap_or_else(|e| e.into_inner());
        let _lock = FileLock::acquire(&self.path, &self.lock_path)?;
        self.catch_up(&mut r)?;
        let (ops, note) = decide(&mut r.model)?;
        if !ops.is_empty() {
            self.append(&mut r, &ops)?;
        }
        then(&r.model, note)
    }

    /// Appends whole lines in one write, fsyncs as `self.sync` says, and replays them. Called
    /// under the lock, caught up: a torn last line (a writer died mid-append) is cut off
    /// first, so that it never becomes an invalid line in the middle of the file, which
    /// Optuna would refuse. When the file ends where this write began and where it ended
    /// (nobody wrote without the lock), the lines are replayed from memory, not read back.
    pub(super) fn append(&self, r: &mut Replay, ops: &[Value]) -> Result<()> {
        let fail = |e| self.io("cannot append", e);
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        let len = f.metadata().map_err(fail)?.len();
        // Caught up, everything past the offset is a torn line: no need to look for it.
        let whole = if len >= r.offset {
            r.offset
        } else {
            whole_lines_len(&mut f, len).map_err(fail)?
        };
        if whole < len {
            f.set_len(whole)
                .map_err(|e| self.io("cannot cut off the torn last line", e))?;
        }
        let mut text = String::new();
        for v in ops {
            text.push_str(&to_line(v));
            text.push('\n');
        }
        f.write_all(text.as_bytes()).map_err(fail)?;
        let now = Instant::now();
        let sync = match self.sync {
            Sync::Full => true,
            Sync::Normal => r.synced.is_none_or(|t| now - t >= SYNC_PERIOD),
        };
        if sync {
            f.sync_all().map_err(fail)?;
            r.synced = Some(now);
            r.dirty = false;
        } else {
            r.dirty = true;
        }
        let end = f.metadata().map_err(fail)?.len();
        if whole != r.offset || end != whole + text.len() as u64 {
            return self.catch_up(r);
        }
        for line in text.lines() {
            let number = r.lines + 1;
            let v = parse_line(line.as_bytes())
                .map_err(|m| self.corrupt(number, &m))?
                .ok_or_else(|| self.corrupt(number, "a line this process wrote is torn"))?;
            apply(&mut r.model, &v).map_err(|m| self.corrupt(number, &m))?;
            r.lines = number;
            r.offset += line.len() as u64 + 1;
        }
        Ok(())
    }

    /// Fsyncs the journal if an append since the last fsync was not (see [`Sync::Normal`]).
    pub(super) fn sync_now(&self, r: &mut Replay) -> Result<()> {
        if r.dirty {
            OpenOptions::new()
                .append(true)
                .open(&self.path)
                .and_then(|f| f.sync_all())
                .map_err(|e| self.io("cannot fsync", e))?;
            r.dirty = false;
            r.synced = Some(Instant::now());
        }
        Ok(())
    }
}

/// The length of the file up to and including its last newline (0 when it has none).
fn whole_lines_len(f: &mut File, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}
