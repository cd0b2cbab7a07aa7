//! The journal: every input the engine saw, with its time, in an append-only file per
//! *epoch* (`journal-00000001.log`, …) in the data dir.
//!
//! A record is `len: u32 LE`, `crc32(payload): u32 LE`, `payload` (compact JSON of an
//! [`Entry`]). The first entry of an epoch is [`Entry::Start`] (the site's configuration
//! text and the engine's start time: replay starts from `Engine::new`) or
//! [`Entry::Checkpoint`] (replay starts from the snapshot file it names). Replaying the
//! rest gives back the exact state (the engine is deterministic); see docs/operations.md.
//!
//! CRC-32 is the IEEE polynomial (as zlib, gzip, PNG), written here in a few lines rather
//! than taken from a crate: it runs once per record on a few hundred bytes, so a table
//! byte-at-a-time loop is plenty.

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use vaxel_core::site::Text;
use vaxel_core::{CallId, Input, Timestamp};

/// Bytes before each payload: length and CRC.
pub const HEADER: usize = 8;
/// Largest payload accepted when reading (a configuration text is the largest entry).
pub const MAX_PAYLOAD: usize = 64 << 20;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`).
#[must_use]
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Where the call-record files stood when an epoch started: the last `cdr-*.csv` file and
/// its length. Records of the epoch are the lines after it (see `records.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrMark {
    pub file: String,
    pub len: u64,
}

/// One journal entry. `at` is the engine time it was applied at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Entry {
    /// First entry of an epoch: `Engine::new(site(config), at)`.
    #[serde(rename = "start")]
    Start {
        at: Timestamp,
        config: String,
        cdr: Option<CdrMark>,
    },
    /// First entry of an epoch started by a checkpoint: the engine restored from the
    /// snapshot file named here (`snapshot-<epoch>.json`, see `snapshot.rs`), at `at`.
    /// `crc32` is the snapshot file's checksum, checked before it is used (absent in
    /// journals written before it was recorded).
    #[serde(rename = "checkpoint")]
    Checkpoint {
        at: Timestamp,
        snapshot: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        crc32: Option<u32>,
    },
    /// `handle_timeout(at)`: a timer's deadline, or the time a refused input was
    /// handled at (a refusal still lets due timers fire).
    #[serde(rename = "advance")]
    Advance { at: Timestamp },
    /// `Input::Reload` with the site built from this configuration text.
    #[serde(rename = "reload")]
    Reload { at: Timestamp, config: String },
    #[serde(rename = "call.arrived")]
    CallArrived {
        at: Timestamp,
        call: CallId,
        platform: Text,
        to: Text,
        from: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digits: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lang: Option<Text>,
    },
    #[serde(rename = "call.digits")]
    CallDigits {
        at: Timestamp,
        call: CallId,
        digits: String,
    },
    #[serde(rename = "call.answered")]
    CallAnswered {
        at: Timestamp,
        call: CallId,
        agent: Text,
    },
    #[serde(rename = "call.noanswer")]
    CallNoAnswer {
        at: Timestamp,
        call: CallId,
        agent: Text,
    },
    #[serde(rename = "call.hangup")]
    CallHangup {
        at: Timestamp,
        call: CallId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Text>,
    },
    #[serde(rename = "call.transfer")]
    CallTransfer {
        at: Timestamp,
        call: CallId,
        agent: Text,
        to: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<i32>,
    },
    #[serde(rename = "call.park")]
    CallPark {
        at: Timestamp,
        call: CallId,
        agent: Text,
    },
    #[serde(rename = "call.unpark")]
    CallUnpark {
        at: Timestamp,
        call: CallId,
        agent: Text,
    },
    #[serde(rename = "call.requeue")]
    CallRequeue {
        at: Timestamp,
        call: CallId,
        agent: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<i32>,
    },
    #[serde(rename = "call.disposition")]
    CallDisposition {
        at: Timestamp,
        call: CallId,
        agent: Text,
        case_type: Text,
        resolved: bool,
    },
    #[serde(rename = "callback.result")]
    CallbackResult {
        at: Timestamp,
        callback: CallId,
        connected: bool,
    },
    #[serde(rename = "agent.login")]
    AgentLogin {
        at: Timestamp,
        agent: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension: Option<Text>,
    },
    #[serde(rename = "agent.ready")]
    AgentReady { at: Timestamp, agent: Text },
    #[serde(rename = "agent.logout")]
    AgentLogout { at: Timestamp, agent: Text },
    #[serde(rename = "agent.pause")]
    AgentPause {
        at: Timestamp,
        agent: Text,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
    },
    #[serde(rename = "agent.wrapup_done")]
    AgentWrapupDone { at: Timestamp, agent: Text },
    #[serde(rename = "agent.wrapup_until")]
    AgentWrapupUntil {
        at: Timestamp,
        agent: Text,
        until: Timestamp,
    },
    #[serde(rename = "tick")]
    Tick { at: Timestamp },
    #[serde(rename = "crisis")]
    Crisis {
        at: Timestamp,
        on: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prompt: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        route: Option<Text>,
    },
    #[serde(rename = "platform.lost")]
    PlatformLost { at: Timestamp, platform: Text },
}

/// What an entry asks of the engine.
#[derive(Debug)]
pub enum Replayed {
    Start,
    Advance,
    Reload { config: String },
    Input(Input),
}

impl Entry {
    /// The entry for `input` applied at `at`; `None` for `Input::Reload`, which is
    /// journaled as [`Entry::Reload`] with its configuration text.
    #[must_use]
    pub fn from_input(at: Timestamp, input: &Input) -> Option<Entry> {
        Some(match input.clone() {
            Input::CallArrived {
                call,
                platform,
                to,
                from,
                digits,
                lang,
            } => Entry::CallArrived {
                at,
                call,
                platform,
                to,
                from,
                digits,
                lang,
            },
            Input::CallDigits { call, digits } => Entry::CallDigits { at, call, digits },
            Input::CallAnswered { call, agent } => Entry::CallAnswered { at, call, agent },
            Input::CallNoAnswer { call, agent } => Entry::CallNoAnswer { at, call, agent },
            Input::CallHangup { call, reason } => Entry::CallHangup { at, call, reason },
            Input::CallTransfer {
                call,
                agent,
                to,
                priority,
            } => Entry::CallTransfer {
                at,
                call,
                agent,
                to,
                priority,
            },
            Input::CallPark { call, agent } => Entry::CallPark { at, call, agent },
            Input::CallUnpark { call, agent } => Entry::CallUnpark { at, call, agent },
            Input::CallRequeue {
                call,
                agent,
                group,
                priority,
            } => Entry::CallRequeue {
                at,
                call,
                agent,
                group,
                priority,
            },
            Input::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            } => Entry::CallDisposition {
                at,
                call,
                agent,
                case_type,
                resolved,
            },
            Input::CallbackResult {
                callback,
                connected,
            } => Entry::CallbackResult {
                at,
                callback,
                connected,
            },
            Input::AgentLogin { agent, extension } => Entry::AgentLogin {
                at,
                agent,
                extension,
            },
            Input::AgentReady { agent } => Entry::AgentReady { at, agent },
            Input::AgentLogout { agent } => Entry::AgentLogout { at, agent },
            Input::AgentPause {
                agent,
                reason,
                note,
                until,
            } => Entry::AgentPause {
                at,
                agent,
                reason,
                note,
                until,
            },
            Input::AgentWrapupDone { agent } => Entry::AgentWrapupDone { at, agent },
            Input::AgentWrapupUntil { agent, until } => {
                Entry::AgentWrapupUntil { at, agent, until }
            }
            Input::Tick => Entry::Tick { at },
            Input::Crisis { on, prompt, route } => Entry::Crisis {
                at,
                on,
                prompt,
                route,
            },
            Input::PlatformLost { platform } => Entry::PlatformLost { at, platform },
            Input::Reload(_) => return None,
        })
    }

    /// The entry's time and what it asks of the engine.
    #[must_use]
    pub fn into_replayed(self) -> (Timestamp, Replayed) {
        let (at, input) = match self {
            Entry::Start { at, .. } | Entry::Checkpoint { at, .. } => {
                return (at, Replayed::Start);
            }
            Entry::Advance { at } => return (at, Replayed::Advance),
            Entry::Reload { at, config } => return (at, Replayed::Reload { config }),
            Entry::CallArrived {
                at,
                call,
                platform,
                to,
                from,
                digits,
                lang,
            } => (
                at,
                Input::CallArrived {
                    call,
                    platform,
                    to,
                    from,
                    digits,
                    lang,
                },
            ),
            Entry::CallDigits { at, call, digits } => (at, Input::CallDigits { call, digits }),
            Entry::CallAnswered { at, call, agent } => (at, Input::CallAnswered { call, agent }),
            Entry::CallNoAnswer { at, call, agent } => (at, Input::CallNoAnswer { call, agent }),
            Entry::CallHangup { at, call, reason } => (at, Input::CallHangup { call, reason }),
            Entry::CallTransfer {
                at,
                call,
                agent,
                to,
                priority,
            } => (
                at,
                Input::CallTransfer {
                    call,
                    agent,
                    to,
                    priority,
                },
            ),
            Entry::CallPark { at, call, agent } => (at, Input::CallPark { call, agent }),
            Entry::CallUnpark { at, call, agent } => (at, Input::CallUnpark { call, agent }),
            Entry::CallRequeue {
                at,
                call,
                agent,
                group,
                priority,
            } => (
                at,
                Input::CallRequeue {
                    call,
                    agent,
                    group,
                    priority,
                },
            ),
            Entry::CallDisposition {
                at,
                call,
                agent,
                case_type,
                resolved,
            } => (
                at,
                Input::CallDisposition {
                    call,
                    agent,
                    case_type,
                    resolved,
                },
            ),
            Entry::CallbackResult {
                at,
                callback,
                connected,
            } => (
                at,
                Input::CallbackResult {
                    callback,
                    connected,
                },
            ),
            Entry::AgentLogin {
                at,
                agent,
                extension,
            } => (at, Input::AgentLogin { agent, extension }),
            Entry::AgentReady { at, agent } => (at, Input::AgentReady { agent }),
            Entry::AgentLogout { at, agent } => (at, Input::AgentLogout { agent }),
            Entry::AgentPause {
                at,
                agent,
                reason,
                note,
                until,
            } => (
                at,
                Input::AgentPause {
                    agent,
                    reason,
                    note,
                    until,
                },
            ),
            Entry::AgentWrapupDone { at, agent } => (at, Input::AgentWrapupDone { agent }),
            Entry::AgentWrapupUntil { at, agent, until } => {
                (at, Input::AgentWrapupUntil { agent, until })
            }
            Entry::Tick { at } => (at, Input::Tick),
            Entry::Crisis {
                at,
                on,
                prompt,
                route,
            } => (at, Input::Crisis { on, prompt, route }),
            Entry::PlatformLost { at, platform } => (at, Input::PlatformLost { platform }),
        };
        (at, Replayed::Input(input))
    }

    /// Appends the entry as one record (header and payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        // Serializing plain data into a Vec cannot fail; fall back to an empty payload
        // (which replay rejects loudly) rather than panic if it ever did.
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.truncate(start + HEADER);
        }
        let len = out.len() - start - HEADER;
        let crc = crc32(&out[start + HEADER..]);
        out[start..start + 4].copy_from_slice(&u32::try_from(len).unwrap_or(0).to_le_bytes());
        out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The name of epoch `n`'s journal file.
#[must_use]
pub fn file_name(epoch: u64) -> String {
    format!("journal-{epoch:08}.log")
}

/// The journal files in `dir`, by epoch, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(n) = name
            .strip_prefix("journal-")
            .and_then(|r| r.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((n, e.path()));
    }
    out.sort();
    Ok(out)
}

/// A journal file read back.
#[derive(Debug)]
pub struct ReadBack {
    pub entries: Vec<Entry>,
    /// Bytes of whole, valid records: where appending resumes.
    pub valid_len: u64,
    /// Bytes after `valid_len` (a torn or corrupt tail), dropped on open.
    pub dropped: u64,
    /// Why the tail was dropped.
    pub reason: Option<String>,
}

/// Reads every whole, valid record of a journal file; stops at the first torn or corrupt
/// one.
pub fn read(path: &Path) -> io::Result<ReadBack> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut entries = Vec::new();
    let mut at = 0usize;
    let mut reason = None;
    while at < data.len() {
        let rest = &data[at..];
        if rest.len() < HEADER {
            reason = Some(format!("torn record header ({} bytes)", rest.len()));
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len > MAX_PAYLOAD {
            reason = Some(format!("record length {len} is implausible"));
            break;
        }
        if rest.len() < HEADER + len {
            reason = Some(format!(
                "torn record: {} of {len} payload bytes",
                rest.len() - HEADER
            ));
            break;
        }
        let payload = &rest[HEADER..HEADER + len];
        if crc32(payload) != crc {
            reason = Some("record checksum mismatch".to_owned());
            break;
        }
        match serde_json::from_slice::<Entry>(payload) {
            Ok(e) => entries.push(e),
            Err(e) => {
                reason = Some(format!("undecodable record: {e}"));
                break;
            }
        }
        at += HEADER + len;
    }
    Ok(ReadBack {
        entries,
        valid_len: at as u64,
        dropped: (data.len() - at) as u64,
        reason,
    })
}

/// An open journal file, appended to by the commit thread.
#[derive(Debug)]
pub struct JournalFile {
    pub epoch: u64,
    file: File,
    /// Bytes written so far (all of them whole records).
    pub len: u64,
}

impl JournalFile {
    /// Opens an existing epoch file for appending, cutting it at `valid_len` (dropping a
    /// torn tail).
    pub fn open_at(dir: &Path, epoch: u64, valid_len: u64) -> io::Result<JournalFile> {
        let path = dir.join(file_name(epoch));
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        if file.metadata()?.len() != valid_len {
            file.set_len(valid_len)?;
            file.sync_all()?;
        }
        let mut jf = JournalFile {
            epoch,
            file,
            len: valid_len,
        };
        jf.seek_end()?;
        Ok(jf)
    }

    /// Creates epoch `epoch`'s file with its `Start` entry, durably (file and directory).
    pub fn create(dir: &Path, epoch: u64, start: &Entry) -> io::Result<JournalFile> {
        let path = dir.join(file_name(epoch));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        let mut buf = Vec::new();
        start.encode(&mut buf);
        file.write_all(&buf)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(JournalFile {
            epoch,
            file,
            len: buf.len() as u64,
        })
    }

    fn seek_end(&mut self) -> io::Result<()> {
        use std::io::Seek as _;
        self.file.seek(io::SeekFrom::Start(self.len))?;
        Ok(())
    }

    /// Appends whole records (not yet durable).
    pub fn append(&mut self, records: &[u8]) -> io::Result<()> {
        self.file.write_all(records)?;
        self.len += records.len() as u64;
        Ok(())
    }

    /// Makes everything appended durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Makes a directory's entries (a created or removed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_reference_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn entries_round_trip_and_a_torn_tail_is_dropped() {
        let dir = std::env::temp_dir().join(format!("vaxel-journal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).ok();
        let start = Entry::Start {
            at: Timestamp(5),
            config: "[site]\n".into(),
            cdr: None,
        };
        let mut jf = JournalFile::create(&dir, 1, &start).ok();
        let e = Entry::from_input(
            Timestamp(7),
            &Input::AgentPause {
                agent: "a1".into(),
                reason: Some("lunch".into()),
                note: None,
                until: Some(Timestamp(9)),
            },
        );
        let mut buf = Vec::new();
        if let Some(e) = &e {
            e.encode(&mut buf);
        }
        let whole = buf.len();
        buf.extend_from_slice(&[1, 2, 3]);
        if let Some(jf) = jf.as_mut() {
            jf.append(&buf).ok();
            jf.sync().ok();
        }
        let back = read(&dir.join(file_name(1))).ok();
        let back = back.as_ref();
        assert_eq!(back.map(|b| b.entries.len()), Some(2));
        assert_eq!(back.map(|b| b.entries[1].clone()), e);
        assert_eq!(back.map(|b| b.dropped), Some(3));
        assert_eq!(
            back.map(|b| b.valid_len),
            jf.as_ref().map(|j| j.len - 3),
            "valid length stops before the torn bytes ({whole} whole)"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
