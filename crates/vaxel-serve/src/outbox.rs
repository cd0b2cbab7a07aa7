//! Protocol version 2 (docs/protocol.md "Version 2"): every command for a platform gets
//! its number (`cmd_no`: per platform id, from 1, strictly increasing, gap-free), and the
//! commands a version 2 platform has not acknowledged are kept, so that a new `hello`
//! saying the last one it processed gets exactly the rest, in order.
//!
//! Part of the [`Machine`](crate::machine::Machine), changed only by what the journal
//! holds: commands are numbered as the engine produces them (replay produces the same
//! ones, so the same numbers), and a `hello` and an `ack` that change what is kept are
//! journaled (`session` and `ack` entries). After a restart the outbox is therefore exactly
//! what it was at the last durable entry: the numbers continue, and every command not
//! acknowledged before the crash is still kept (docs/operations.md "Platform sessions").
//!
//! The checkpoint saves it (snapshot field `outbox`). Plain data, no I/O.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use vaxel_core::Command;
use vaxel_core::site::Text;
use vaxel_proto::ProtoErrorKind;

/// One platform's numbers and kept commands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// The last number given (0: none yet).
    pub last: u64,
    /// Commands up to this number are not kept (acknowledged, or never kept: version 1,
    /// a lost platform); every one after it, up to `last`, is in `kept`.
    pub from: u64,
    /// The platform's session speaks version 2: its commands are kept until acknowledged.
    pub keep: bool,
    /// `(number, command)`, oldest first.
    pub kept: VecDeque<(u64, Command)>,
    /// What `kept` holds in memory ([`cost`]); recomputed after a restore.
    #[serde(skip)]
    bytes: usize,
    /// The last number handed out on a connection (its commit durable): not saved, after
    /// a restart every number recovered is durable.
    #[serde(skip)]
    released: u64,
}

/// What one kept command holds in memory: the entry and the call id it owns alone (the
/// other strings are the site's, shared).
#[must_use]
pub fn cost(cmd: &Command) -> usize {
    std::mem::size_of::<(u64, Command)>() + 2 * std::mem::size_of::<usize>() + cmd.call().len()
}

/// Every platform's log.
#[derive(Debug, Default)]
pub struct Outbox {
    logs: BTreeMap<Text, Log>,
    /// Platforms whose kept commands grew since [`Outbox::take_grown`].
    grown: BTreeSet<Text>,
}

impl Outbox {
    /// The outbox a snapshot saved; every number in it is durable.
    #[must_use]
    pub fn restore(saved: Vec<(Text, Log)>) -> Outbox {
        let logs = saved
            .into_iter()
            .map(|(p, mut l)| {
                l.bytes = l.kept.iter().map(|(_, c)| cost(c)).sum();
                l.released = l.last;
                (p, l)
            })
            .collect();
        Outbox {
            logs,
            grown: BTreeSet::new(),
        }
    }

    /// What a checkpoint saves.
    #[must_use]
    pub fn save(&self) -> Vec<(Text, Log)> {
        self.logs
            .iter()
            .map(|(p, l)| (p.clone(), l.clone()))
            .collect()
    }

    /// Gives `cmd` for `platform` its number, keeping it when the platform speaks
    /// version 2.
    pub fn number(&mut self, platform: &Text, cmd: &Command) -> u64 {
        let log = self.logs.entry(platform.clone()).or_default();
        log.last += 1;
        if log.keep {
            log.bytes += cost(cmd);
            log.kept.push_back((log.last, cmd.clone()));
            if !self.grown.contains(platform) {
                self.grown.insert(platform.clone());
            }
        } else {
            log.from = log.last;
        }
        log.last
    }

    /// `platform` said `hello` with `protocol`: version 2 keeps its commands from now on
    /// (and `last_cmd` acknowledges), version 1 keeps none.
    pub fn session(&mut self, platform: &Text, v2: bool, last_cmd: Option<u64>) {
        let log = self.logs.entry(platform.clone()).or_default();
        log.keep = v2;
        if v2 {
            if let Some(n) = last_cmd {
                self.ack(platform, n);
            }
        } else {
            Self::forget(log);
        }
    }

    /// `platform` processed every command up to `upto`: they are no longer kept.
    pub fn ack(&mut self, platform: &Text, upto: u64) {
        let Some(log) = self.logs.get_mut(platform) else {
            return;
        };
        let upto = upto.min(log.last);
        if upto <= log.from {
            return;
        }
        while log.kept.front().is_some_and(|(n, _)| *n <= upto) {
            if let Some((_, c)) = log.kept.pop_front() {
                log.bytes = log.bytes.saturating_sub(cost(&c));
            }
        }
        log.from = upto;
    }

    /// `platform` was lost (its calls ended `platform_lost`): nothing kept, and nothing
    /// kept from now on until it says `hello` again. Returns the commands dropped.
    pub fn lose(&mut self, platform: &Text) -> usize {
        let Some(log) = self.logs.get_mut(platform) else {
            return 0;
        };
        let n = log.kept.len();
        log.keep = false;
        Self::forget(log);
        n
    }

    fn forget(log: &mut Log) {
        log.kept.clear();
        log.bytes = 0;
        log.from = log.last;
    }

    /// Whether an acknowledgement of `upto` (or a `hello`'s `last_cmd`) changes what is
    /// kept (and so is worth a journal entry).
    #[must_use]
    pub fn acks_anything(&self, platform: &str, upto: u64) -> bool {
        self.logs
            .get(platform)
            .is_some_and(|l| upto.min(l.last) > l.from)
    }

    /// Where a `hello` with `last_cmd` resumes: the number after which commands are sent
    /// again. Without `last_cmd`, after the last one the platform acknowledged (or, for
    /// one never kept, after the last one handed out). A number never sent, or one whose
    /// successors are no longer kept, is refused.
    pub fn resume_point(
        &self,
        platform: &str,
        last_cmd: Option<u64>,
    ) -> Result<u64, ProtoErrorKind> {
        let (from, released) = self
            .logs
            .get(platform)
            .map_or((0, 0), |l| (l.from, l.released));
        match last_cmd {
            None => Ok(from.min(released)),
            Some(n) if n > released => Err(ProtoErrorKind::ResumeAhead {
                got: n,
                last: released,
            }),
            Some(n) if n < from => Err(ProtoErrorKind::ResumeGone {
                got: n,
                kept_from: from,
            }),
            Some(n) => Ok(n),
        }
    }

    /// The kept commands after `after`, up to the last one handed out, in order (those not
    /// yet durable are handed out when they are).
    #[must_use]
    pub fn resend(&self, platform: &str, after: u64) -> Vec<(u64, Command)> {
        self.logs.get(platform).map_or_else(Vec::new, |l| {
            l.kept
                .iter()
                .filter(|(n, _)| *n > after && *n <= l.released)
                .cloned()
                .collect()
        })
    }

    /// Command `no` of `platform` is durable and handed out.
    pub fn released(&mut self, platform: &str, no: u64) {
        if let Some(l) = self.logs.get_mut(platform) {
            l.released = l.released.max(no);
        }
    }

    /// Every number given so far is durable (after recovery: the journal holds them).
    pub fn all_released(&mut self) {
        for l in self.logs.values_mut() {
            l.released = l.last;
        }
    }

    /// The last number handed out to `platform` (0: none).
    #[must_use]
    pub fn last_released(&self, platform: &str) -> u64 {
        self.logs.get(platform).map_or(0, |l| l.released)
    }

    /// What `platform`'s kept commands hold in memory.
    #[must_use]
    pub fn bytes(&self, platform: &str) -> usize {
        self.logs.get(platform).map_or(0, |l| l.bytes)
    }

    /// Whether `platform`'s session speaks version 2 (its commands are kept).
    #[must_use]
    pub fn keeps(&self, platform: &str) -> bool {
        self.logs.get(platform).is_some_and(|l| l.keep)
    }

    /// The platforms whose kept commands grew since the last call.
    pub fn take_grown(&mut self) -> BTreeSet<Text> {
        std::mem::take(&mut self.grown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hangup(call: &str) -> Command {
        Command::Hangup {
            call: call.into(),
            prompt: None,
        }
    }

    #[test]
    fn numbers_are_per_platform_and_only_version_2_keeps() {
        let mut o = Outbox::default();
        let (a, b): (Text, Text) = ("pbx-a".into(), "pbx-b".into());
        o.session(&a, true, None);
        assert_eq!(o.number(&a, &hangup("1")), 1);
        assert_eq!(o.number(&a, &hangup("2")), 2);
        assert_eq!(o.number(&b, &hangup("3")), 1, "b is numbered on its own");
        assert_eq!(
            o.take_grown().into_iter().collect::<Vec<_>>(),
            vec![a.clone()]
        );
        o.released(&a, 2);
        o.released(&b, 1);
        assert_eq!(o.resend(&a, 0).len(), 2);
        assert!(o.resend(&b, 0).is_empty(), "version 1 keeps nothing");
        assert_eq!(o.resume_point(&b, None), Ok(1));
        assert!(o.bytes(&a) > 0);
    }

    #[test]
    fn acks_trim_and_resume_checks_its_number() {
        let mut o = Outbox::default();
        let p: Text = "pbx".into();
        o.session(&p, true, None);
        for i in 0..5 {
            o.number(&p, &hangup(&i.to_string()));
        }
        o.released(&p, 4);
        o.ack(&p, 2);
        assert_eq!(o.resume_point(&p, None), Ok(2));
        assert_eq!(o.resume_point(&p, Some(3)), Ok(3));
        assert_eq!(
            o.resend(&p, 3).iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![4],
            "5 is not durable yet"
        );
        assert_eq!(
            o.resume_point(&p, Some(5)),
            Err(ProtoErrorKind::ResumeAhead { got: 5, last: 4 })
        );
        assert_eq!(
            o.resume_point(&p, Some(1)),
            Err(ProtoErrorKind::ResumeGone {
                got: 1,
                kept_from: 2
            })
        );
        assert!(!o.acks_anything(&p, 2));
        assert_eq!(o.lose(&p), 3);
        assert_eq!(o.bytes(&p), 0);
        assert_eq!(o.number(&p, &hangup("x")), 6, "numbers go on after a loss");
        assert!(o.resend(&p, 0).is_empty());
    }

    #[test]
    fn a_saved_outbox_comes_back_the_same() {
        let mut o = Outbox::default();
        let p: Text = "pbx".into();
        o.session(&p, true, None);
        o.number(&p, &hangup("1"));
        o.number(&p, &hangup("2"));
        o.ack(&p, 1);
        let saved = o.save();
        let Ok(json) = serde_json::to_string(&saved) else {
            panic!("serializes")
        };
        let Ok(back) = serde_json::from_str::<Vec<(Text, Log)>>(&json) else {
            panic!("reads back")
        };
        let r = Outbox::restore(back);
        assert_eq!(r.bytes(&p), o.bytes(&p));
        assert_eq!(r.last_released(&p), 2, "everything recovered is durable");
        assert_eq!(r.resend(&p, 1).len(), 1);
    }
}
