//! Dialogue steps the daemon tests share, on a [`Client`]: an input and its `ok`, and the
//! openings several tests play before they crash, cut or restart the daemon. Written once
//! here so that a change of the protocol or the test site is made in one place.

use super::Client;

/// The `seq` an input line carries (`"seq":N`).
fn seq_of(line: &str) -> u64 {
    line.split_once(r#""seq":"#)
        .map(|(_, rest)| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no seq in {line:?}"))
}

/// The acknowledgement of the input with `seq`.
fn ok_line(seq: u64) -> String {
    format!(r#"{{"cmd":"ok","seq":{seq}}}"#)
}

impl Client {
    /// Sends `line` (with its `"seq":N`); the next line must be its `ok`, nothing before.
    #[track_caller]
    pub fn acked(&mut self, line: &str) {
        self.call(line, &[&ok_line(seq_of(line))]);
    }

    /// Sends `line` (with its `"seq":N`) and returns the lines up to and including its
    /// `ok`: the commands it caused, whichever they are; an `error` fails the test.
    #[track_caller]
    pub fn until_ok(&mut self, line: &str) -> Vec<String> {
        let ok = ok_line(seq_of(line));
        self.send(line);
        let mut lines = Vec::new();
        loop {
            let l = self.recv().expect("an answer");
            let done = l == ok;
            assert!(!l.contains(r#""cmd":"error""#), "{l}; before: {lines:?}");
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// The opening many tests share: agent `a1` logs in (`seq` 1, at 1 s) and takes call
    /// `c1` from `from` to the site's `+4610100` (2 s), answered (3 s) and hung up (4 s):
    /// `seq` 1 to 4, one call record once the wrap-up ends.
    #[track_caller]
    pub fn one_answered_call(&mut self, from: &str) {
        self.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
        self.call(
            &format!(
                r#"{{"ev":"call.arrived","call":"c1","to":"+4610100","from":"{from}","at":2000,"seq":2}}"#
            ),
            &[
                r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
                r#"{"cmd":"ok","seq":2}"#,
            ],
        );
        self.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3000,"seq":3}"#);
        self.acked(r#"{"ev":"call.hangup","call":"c1","at":4000,"seq":4}"#);
    }

    /// Agents `a1` and `a2` log in (1 s, `seq` 1 and 2).
    #[track_caller]
    pub fn two_agents_in(&mut self) {
        self.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
        self.acked(r#"{"ev":"agent.login","agent":"a2","at":1000,"seq":2}"#);
    }

    /// [`two_agents_in`](Self::two_agents_in), and three calls arrive: `c1` answered by
    /// `a1` and hung up (6 s), `c2` ringing `a2`, `c3` queued and then ringing `a1`: `seq`
    /// 1 to 7, one call record once it is written.
    #[track_caller]
    pub fn three_calls_two_ringing(&mut self) {
        self.two_agents_in();
        self.call(
            r#"{"ev":"call.arrived","call":"c1","to":"+4610100","from":"+4671","at":2000,"seq":3}"#,
            &[
                r#"{"cmd":"connect","call":"c1","agent":"a1","extension":"1001","ring_s":20}"#,
                r#"{"cmd":"ok","seq":3}"#,
            ],
        );
        self.acked(r#"{"ev":"call.answered","call":"c1","agent":"a1","at":3000,"seq":4}"#);
        self.call(
            r#"{"ev":"call.arrived","call":"c2","to":"+4610100","from":"+4672","at":4000,"seq":5}"#,
            &[
                r#"{"cmd":"connect","call":"c2","agent":"a2","extension":"1002","ring_s":20}"#,
                r#"{"cmd":"ok","seq":5}"#,
            ],
        );
        self.call(
            r#"{"ev":"call.arrived","call":"c3","to":"+4610100","from":"+4673","at":5000,"seq":6}"#,
            &[
                r#"{"cmd":"queue","call":"c3","group":"sales","position":1,"ewt_s":198}"#,
                r#"{"cmd":"ok","seq":6}"#,
            ],
        );
        self.call(
            r#"{"ev":"call.hangup","call":"c1","at":6000,"seq":7}"#,
            &[
                r#"{"cmd":"connect","call":"c3","agent":"a1","extension":"1001","ring_s":20}"#,
                r#"{"cmd":"ok","seq":7}"#,
            ],
        );
    }
}
