//! The journal: every input the engine saw, with its time, in an append-only file per
//! *epoch* (`journal-00000001.log`, …) in the data dir.
//!
//! A record is `len: u32 LE`, `crc32(payload): u32 LE`, `payload` (compact JSON of an
//! [`Entry`]). The first entry of an epoch is [`Entry::Start`] (the site's configuration
//! text and the engine's start time: replay starts from `Engine::new`) or
//! [`Entry::Checkpoint`] (replay starts from the snapshot file it names). Replaying the
//! rest gives back the exact state (the engine is deterministic); see docs/operations.md.
//!
//! An input's payload is the input itself, `{"k":"<event>","at":…,<its fields>}`, written
//! by the same serde model as the wire (`vaxel_proto::flat`); the other entries are the few
//! control records of the daemon. CRC-32 is the IEEE polynomial (as zlib, gzip, PNG).

use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use vaxel_core::site::Text;
use vaxel_core::{Input, Timestamp};
use vaxel_proto::flat::{self, Dialect};

/// Bytes before each payload: length and CRC.
pub const HEADER: usize = 8;
/// Largest payload accepted when reading (a configuration text is the largest entry).
pub const MAX_PAYLOAD: usize = 64 << 20;

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`), through `crc32fast` (the same
/// polynomial and bytes as the table loop it replaced, several times faster: it runs on
/// the engine task for every journaled input).
#[must_use]
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Where the call-record files stood when an epoch started: the last `cdr-*.csv` file and
/// its length. Records of the epoch are the lines after it (see `records.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrMark {
    pub file: String,
    pub len: u64,
    /// The earlier records files and their lengths then: recovery checks that none was
    /// deleted or cut since (their records are in no journal kept). Absent in marks
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<(String, u64)>,
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
        /// Where the event-log files stood, as `cdr` for the call records (absent in
        /// journals written before the event log existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        events: Option<CdrMark>,
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
    /// `Engine::reload` with the site built from this configuration text.
    #[serde(rename = "reload")]
    Reload { at: Timestamp, config: String },
    /// Protocol version 2: `platform` said `hello` with `protocol` (and `last_cmd`, the
    /// last command it processed): from now on its commands are kept until acknowledged
    /// (version 2) or not at all (version 1). Journaled for a version 2 `hello`, and for a
    /// version 1 `hello` of a platform whose commands were kept. `at` is the engine's time.
    #[serde(rename = "session")]
    Session {
        at: Timestamp,
        platform: Text,
        protocol: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_cmd: Option<u64>,
    },
    /// Protocol version 2: `platform` acknowledged every command up to number `upto`
    /// (journaled only when that drops kept commands).
    #[serde(rename = "ack")]
    Ack {
        at: Timestamp,
        platform: Text,
        upto: u64,
    },
    /// An input the engine handled at `at`. Written as `{"k":"<event>","at":…,<the input's fields>}`.
    #[serde(skip)]
    Input { at: Timestamp, input: Input },
}

/// What an entry asks of the engine.
#[derive(Debug)]
pub enum Replayed {
    Start,
    Advance,
    Reload {
        config: String,
    },
    Input(Input),
    /// A `session` entry: see [`Entry::Session`].
    Session {
        platform: Text,
        protocol: u64,
        last_cmd: Option<u64>,
    },
    /// An `ack` entry.
    Ack {
        platform: Text,
        upto: u64,
    },
}

impl Entry {
    /// The entry's time and what it asks of the engine.
    #[must_use]
    pub fn into_replayed(self) -> (Timestamp, Replayed) {
        match self {
            Entry::Start { at, .. } | Entry::Checkpoint { at, .. } => (at, Replayed::Start),
            Entry::Advance { at } => (at, Replayed::Advance),
            Entry::Reload { at, config } => (at, Replayed::Reload { config }),
            Entry::Input { at, input } => (at, Replayed::Input(input)),
            Entry::Session {
                at,
                platform,
                protocol,
                last_cmd,
            } => (
                at,
                Replayed::Session {
                    platform,
                    protocol,
                    last_cmd,
                },
            ),
            Entry::Ack { at, platform, upto } => (at, Replayed::Ack { platform, upto }),
        }
    }

    /// Reads one payload: a control entry by its `k`, any other `k` as an input.
    pub fn decode(payload: &[u8]) -> serde_json::Result<Entry> {
        let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(payload)?;
        if matches!(
            map.get("k").and_then(|k| k.as_str()),
            Some("start" | "checkpoint" | "advance" | "reload" | "session" | "ack")
        ) {
            return serde_json::from_value(map.into());
        }
        let (Some(serde_json::Value::String(k)), Some(at)) = (map.remove("k"), map.remove("at"))
        else {
            return Err(serde::de::Error::missing_field("k` or `at"));
        };
        let at = serde_json::from_value(at)?;
        // The input's own (externally tagged) shape: `{"<event>":{<fields>}}`, or the
        // bare name for a unit variant (`tick`).
        let tagged = if map.is_empty() {
            serde_json::Value::String(k)
        } else {
            serde_json::Value::Object(std::iter::once((k, map.into())).collect())
        };
        let input = serde_json::from_value(tagged)?;
        Ok(Entry::Input { at, input })
    }

    /// Appends the entry as one record (header and payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        // Serializing plain data into a Vec cannot fail; fall back to an empty payload
        // (which replay rejects loudly) rather than panic if it ever did.
        let written = match self {
            Entry::Input { at, input } => {
                flat::write_input(out, "k", &[("at", Some(at.0))], input, Dialect::Full);
                out.push(b'}');
                true
            }
            control => serde_json::to_writer(&mut *out, control).is_ok(),
        };
        if !written {
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

/// The temporary name epoch `n`'s journal file is written under before it is renamed.
#[must_use]
pub fn tmp_name(epoch: u64) -> String {
    format!("{}{TMP_SUFFIX}", file_name(epoch))
}

/// The journal files in `dir`, by epoch, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    list_ending(dir, ".log")
}

/// The temporary journal files in `dir` (a crash before one was installed), by epoch.
pub fn list_tmp(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    list_ending(dir, ".log.tmp")
}

fn list_ending(dir: &Path, suffix: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(n) = name
            .strip_prefix("journal-")
            .and_then(|r| r.strip_suffix(suffix))
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
    /// Bytes after `valid_len` (a torn tail or damage), if any.
    pub dropped: u64,
    /// Why reading stopped at `valid_len`.
    pub reason: Option<String>,
    /// Whole, valid records found *after* the point where reading stopped. Zero means the
    /// bad bytes are a torn tail (a crash mid-append: never acknowledged, safe to drop);
    /// anything else is damage in the middle of the file, which holds acknowledged input.
    pub valid_after: u64,
}

impl ReadBack {
    /// Damage with valid records after it (not a torn tail): refuse, or salvage.
    #[must_use]
    pub fn damaged_mid_file(&self) -> bool {
        self.dropped > 0 && self.valid_after > 0
    }
}

/// The record starting at `rest`, if it is whole and valid: its entry and length.
fn record_at(rest: &[u8]) -> Result<(Entry, usize), String> {
    if rest.len() < HEADER {
        return Err(format!("torn record header ({} bytes)", rest.len()));
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if len > MAX_PAYLOAD {
        return Err(format!("record length {len} is implausible"));
    }
    if rest.len() < HEADER + len {
        return Err(format!(
            "torn record: {} of {len} payload bytes",
            rest.len() - HEADER
        ));
    }
    let payload = &rest[HEADER..HEADER + len];
    if crc32(payload) != crc {
        return Err("record checksum mismatch".to_owned());
    }
    match Entry::decode(payload) {
        Ok(e) => Ok((e, HEADER + len)),
        Err(e) => Err(format!("undecodable record: {e}")),
    }
}

/// Every record of `data`, which must be whole records only (a message of the cluster's
/// journal stream, docs/operations.md "Cluster mode"): the first bad one is an error
/// naming its offset and why, never skipped.
pub fn decode_records(data: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let (e, len) = record_at(&data[at..]).map_err(|why| format!("at byte {at}: {why}"))?;
        entries.push(e);
        at += len;
    }
    Ok(entries)
}

/// Whole, valid records in `data`, found by trying every offset (damage may have changed a
/// length, so the records after it are not where the headers say). A payload is a JSON
/// object, so only offsets whose payload starts with `{` are checked in full.
fn count_valid_records(data: &[u8]) -> u64 {
    let mut n = 0;
    let mut at = 0;
    while at + HEADER < data.len() {
        if data[at + HEADER] == b'{'
            && let Ok((_, len)) = record_at(&data[at..])
        {
            n += 1;
            at += len;
        } else {
            at += 1;
        }
    }
    n
}

/// Reads every whole, valid record of a journal file up to the first torn or corrupt one,
/// and counts the valid records after that one (see [`ReadBack::valid_after`]).
pub fn read(path: &Path) -> io::Result<ReadBack> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut entries = Vec::new();
    let mut at = 0usize;
    let mut reason = None;
    while at < data.len() {
        match record_at(&data[at..]) {
            Ok((e, len)) => {
                entries.push(e);
                at += len;
            }
            Err(why) => {
                reason = Some(why);
                break;
            }
        }
    }
    let valid_after = data.get(at + 1..).map_or(0, count_valid_records);
    Ok(ReadBack {
        entries,
        valid_len: at as u64,
        dropped: (data.len() - at) as u64,
        reason,
        valid_after,
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

    /// Creates epoch `epoch`'s file with its first entry, durably (file and directory).
    /// The file is written under a temporary name and renamed: a `journal-*.log` always
    /// begins with a whole first entry, so one that does not is damage, not a crash.
    pub fn create(dir: &Path, epoch: u64, start: &Entry) -> io::Result<JournalFile> {
        let mut buf = Vec::new();
        start.encode(&mut buf);
        JournalFile::create_with(dir, epoch, &buf)
    }

    /// Creates epoch `epoch`'s file holding `records` (whole records, the first one its
    /// first entry), durably, by the same temporary file and rename as [`create`](Self::create).
    pub fn create_with(dir: &Path, epoch: u64, records: &[u8]) -> io::Result<JournalFile> {
        JournalFile::prepare(dir, epoch, records)?.install()
    }

    /// Writes epoch `epoch`'s file under its temporary name, durably, not yet installed.
    /// A checkpoint prepares the journal before it writes the snapshot, so a snapshot with
    /// neither its journal nor the temporary file means the journal was lost.
    pub fn prepare(dir: &Path, epoch: u64, records: &[u8]) -> io::Result<Prepared> {
        let tmp = dir.join(tmp_name(epoch));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(records)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(Prepared {
            dir: dir.to_owned(),
            tmp,
            jf: JournalFile {
                epoch,
                file,
                len: records.len() as u64,
            },
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

/// A journal file written under its temporary name (see [`JournalFile::prepare`]).
#[derive(Debug)]
pub struct Prepared {
    dir: PathBuf,
    tmp: PathBuf,
    jf: JournalFile,
}

impl Prepared {
    /// Renames the file to its epoch's name, durably: from now on it is the journal.
    pub fn install(self) -> io::Result<JournalFile> {
        let Prepared { dir, tmp, mut jf } = self;
        fs::rename(&tmp, dir.join(file_name(jf.epoch)))?;
        sync_dir(&dir)?;
        jf.seek_end()?;
        Ok(jf)
    }
}

/// Makes a directory's entries (a created or removed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What [`replace_durably`] adds to a file's name while it is written: a file so named is
/// never a whole one.
pub const TMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` as `dir`'s file `name`, durably and whole or not at all: under the name
/// `{name}.tmp` ([`TMP_SUFFIX`]) first (removed again if anything fails), fsynced,
/// renamed, the directory fsynced. Returns the file's path.
pub fn replace_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_reference_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// Payloads as the journal wrote them before inputs were serialized by the core's
    /// model (one `Entry` variant per input, tagged `k`, `at` first): they still decode,
    /// and encode back to the same bytes.
    #[test]
    fn journals_of_the_old_shape_decode_to_the_same_bytes() {
        let old = [
            r#"{"k":"start","at":5,"config":"[site]\n","cdr":null}"#,
            r#"{"k":"checkpoint","at":6,"snapshot":"snapshot-00000002.json","crc32":7}"#,
            r#"{"k":"advance","at":8}"#,
            r#"{"k":"reload","at":9,"config":"x"}"#,
            r#"{"k":"call.arrived","at":1772437503250,"call":"c1","platform":"pbx-1","to":"+4685080000","from":"","digits":"8,1"}"#,
            r#"{"k":"call.arrived","at":1,"call":"c\"2","platform":"p","to":"1","from":"2","lang":"sv"}"#,
            r#"{"k":"call.digits","at":2,"call":"c1","digits":""}"#,
            r#"{"k":"call.transfer","at":3,"call":"c1","agent":"a1","to":"group:g","priority":-2}"#,
            r#"{"k":"call.disposition","at":3,"call":"c1","agent":"a1","case_type":"x","resolved":true}"#,
            r#"{"k":"callback.result","at":4,"callback":"c1","connected":false}"#,
            r#"{"k":"agent.pause","at":7,"agent":"a1","reason":"lunch","until":9}"#,
            r#"{"k":"agent.wrapup_until","at":7,"agent":"a1","until":9}"#,
            r#"{"k":"tick","at":10}"#,
            r#"{"k":"crisis","at":11,"on":true,"route":"group:g"}"#,
            r#"{"k":"platform.lost","at":12,"platform":"pbx-1"}"#,
        ];
        for line in old {
            let entry = Entry::decode(line.as_bytes());
            assert!(entry.is_ok(), "{line}: {entry:?}");
            let mut buf = Vec::new();
            if let Ok(e) = &entry {
                e.encode(&mut buf);
            }
            assert_eq!(buf.get(HEADER..), Some(line.as_bytes()), "{line}");
            assert_eq!(
                buf.get(4..HEADER),
                Some(&crc32(line.as_bytes()).to_le_bytes()[..])
            );
        }
        let input = Entry::decode(old[4].as_bytes()).map(Entry::into_replayed);
        assert!(
            matches!(&input, Ok((Timestamp(1_772_437_503_250), Replayed::Input(Input::CallArrived { platform, lang: None, .. }))) if &**platform == "pbx-1"),
            "{input:?}"
        );
        assert!(Entry::decode(br#"{"k":"call.teleport","at":1,"call":"c1"}"#).is_err());
        assert!(Entry::decode(br#"{"k":"call.hangup","call":"c1"}"#).is_err());
    }

    /// `crc32fast` computes the checksum the table loop wrote into existing journals.
    #[test]
    fn crc32_known_vectors() {
        // zlib's crc32 of the same bytes.
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
    }

    #[test]
    fn entries_round_trip_and_a_torn_tail_is_dropped() {
        let tmp = crate::scratch::fresh_dir("journal");
        let dir = tmp.path();
        let start = Entry::Start {
            at: Timestamp(5),
            config: "[site]\n".into(),
            cdr: None,
            events: None,
        };
        let mut jf = JournalFile::create(dir, 1, &start).ok();
        let e = Some(Entry::Input {
            at: Timestamp(7),
            input: Input::AgentPause {
                agent: "a1".into(),
                reason: Some("lunch".into()),
                note: None,
                until: Some(Timestamp(9)),
            },
        });
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
    }

    /// Bad bytes with valid records after them are damage, not a torn tail.
    #[test]
    fn damage_mid_file_is_told_from_a_torn_tail() {
        let tmp = crate::scratch::fresh_dir("journal-mid");
        let dir = tmp.path();
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        for at in 1..=3 {
            offsets.push(buf.len());
            Entry::Advance { at: Timestamp(at) }.encode(&mut buf);
        }
        let path = dir.join(file_name(1));
        let mut mid = buf.clone();
        mid[offsets[1] + HEADER + 2] ^= 1;
        fs::write(&path, &mid).ok();
        let back = read(&path).ok();
        assert_eq!(back.as_ref().map(|b| b.entries.len()), Some(1));
        assert_eq!(back.as_ref().map(|b| b.valid_len), Some(offsets[1] as u64));
        assert_eq!(back.as_ref().map(|b| b.valid_after), Some(1));
        assert_eq!(back.as_ref().map(ReadBack::damaged_mid_file), Some(true));

        // The same bad record last: a torn tail.
        let mut tail = buf[..offsets[2]].to_vec();
        tail[offsets[1] + HEADER + 2] ^= 1;
        fs::write(&path, &tail).ok();
        let back = read(&path).ok();
        assert_eq!(back.as_ref().map(|b| b.valid_after), Some(0));
        assert_eq!(back.as_ref().map(ReadBack::damaged_mid_file), Some(false));
    }
}
