//! The small checks every section uses: identifiers, prompts, durations and numbers in
//! range, skill levels, references to calendars, routing targets, E.164 numbers.

use super::*;

/// Why a string is not an E.164 number (`+`, 2–15 digits, the first not 0), with a
/// did-you-mean when it is a national or spaced-out spelling of one.
pub(crate) fn e164_problem(n: &str) -> Option<String> {
    let ok = n.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    if ok {
        return None;
    }
    let mut msg =
        format!("\"{n}\" is not an E.164 number (\"+\", then 2-15 digits, the first not 0)");
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let guess = if n.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("+46{rest}")
    } else {
        String::new()
    };
    if guess != n && guess.len() > 3 && e164_ok(&guess) {
        let _ = write!(msg, "; did you mean \"{guess}\"?");
    }
    Some(msg)
}

pub(super) fn e164_ok(n: &str) -> bool {
    n.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// Whether `k` is a menu option key: 1–4 of `0-9 * #`.
pub(super) fn option_key_ok(k: &str) -> bool {
    (1..=4).contains(&k.len())
        && k.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

impl<'r> Validator<'r> {
    pub(super) fn ident(&mut self, path: String, id: &str) {
        if id.is_empty() {
            self.err(path, "must not be empty");
        } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.err(path, format!("\"{id}\" must not contain spaces"));
        }
    }

    pub(super) fn prompt(&mut self, path: String, p: &str) -> Text {
        if p.trim().is_empty() {
            self.err(path, "prompt must not be empty");
        }
        text(p)
    }

    pub(super) fn opt_prompt(&mut self, path: String, p: Option<&String>) -> Option<Text> {
        p.map(|p| self.prompt(path, p))
    }

    /// Seconds in `lo..=hi` (file) → milliseconds; the default when absent or bad.
    pub(super) fn secs(
        &mut self,
        path: String,
        v: Option<f64>,
        default: f64,
        lo: f64,
        hi: f64,
    ) -> u64 {
        let Some(v) = v else { return ms(default) };
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.err(
                path,
                format!("{v} s is out of range; use {lo}..={hi} seconds"),
            );
            return ms(default);
        }
        ms(v)
    }

    pub(super) fn opt_secs(
        &mut self,
        path: String,
        v: Option<f64>,
        lo: f64,
        hi: f64,
    ) -> Option<u64> {
        v.map(|s| self.secs(path, Some(s), lo, lo, hi))
    }

    /// An integer in `lo..=hi`; `None` (after an error) when outside.
    pub(super) fn int(
        &mut self,
        path: String,
        v: i64,
        lo: i64,
        hi: i64,
        what: &str,
    ) -> Option<i64> {
        if (lo..=hi).contains(&v) {
            Some(v)
        } else {
            self.err(path, format!("{what} {v} is out of range; use {lo}..={hi}"));
            None
        }
    }

    pub(super) fn level(&mut self, path: String, v: i64) -> u8 {
        self.int(path, v, 1, 10, "level")
            .and_then(|l| u8::try_from(l).ok())
            .unwrap_or(1)
    }

    pub(super) fn calendar_ref(&mut self, path: String, id: &str) -> Option<CalendarIdx> {
        if let Some(&c) = self.calendar_ix.get(id) {
            self.calendars_used.insert(c);
            return u32::try_from(c).ok().map(CalendarIdx);
        }
        let dym = did_you_mean(id, self.raw.calendars.keys().map(String::as_str));
        self.err(path, format!("no calendar \"{id}\"{dym}"));
        None
    }

    /// Resolves `menu:ID | group:ID | number:E164 | callback`. `callback_ok`: the place has a
    /// group to serve a callback in (menus, a group's overflow and on_max_wait).
    pub(super) fn target(&mut self, path: String, t: &str, callback_ok: bool) -> Option<Target> {
        let kinds = ["menu", "group", "number"];
        let Some((kind, id)) = t.split_once(':') else {
            if t == "callback" {
                if callback_ok {
                    return Some(Target::Callback);
                }
                self.err(
                    path,
                    "\"callback\" needs a group to serve it; use it in a menu option or in a group's overflow or on_max_wait",
                );
                return None;
            }
            let dym = did_you_mean(t, ["callback"]);
            let msg = if dym.is_empty() {
                format!("\"{t}\" is not a target; use menu:ID, group:ID, number:+E164 or callback")
            } else {
                format!("\"{t}\" is not a target{dym}")
            };
            self.err(path, msg);
            self.bad_refs = true;
            return None;
        };
        match kind {
            "menu" => {
                if let Some(&m) = self.menu_ix.get(id) {
                    return u32::try_from(m).ok().map(|m| Target::Menu(MenuIdx(m)));
                }
                let mut dym = did_you_mean(id, self.raw.menus.iter().map(|m| m.id.as_str()));
                if dym.is_empty() && self.group_ix.contains_key(id) {
                    dym = format!("; did you mean \"group:{id}\"?");
                }
                self.err(path, format!("no menu \"{id}\"{dym}"));
                self.bad_refs = true;
                None
            }
            "group" => {
                if let Some(&g) = self.group_ix.get(id) {
                    return u32::try_from(g).ok().map(|g| Target::Group(GroupIdx(g)));
                }
                let mut dym = did_you_mean(id, self.raw.groups.iter().map(|g| g.id.as_str()));
                if dym.is_empty() && self.menu_ix.contains_key(id) {
                    dym = format!("; did you mean \"menu:{id}\"?");
                }
                self.err(path, format!("no group \"{id}\"{dym}"));
                self.bad_refs = true;
                None
            }
            "number" => {
                if let Some(problem) = e164_problem(id) {
                    self.err(path, problem);
                    return None;
                }
                if let Some(&e) = self.entry_by_number.get(id) {
                    let eid = &self.raw.entries[e].id;
                    self.warn(
                        path,
                        format!("{id} is this site's own entry \"{eid}\"; the call comes straight back in"),
                    );
                }
                Some(Target::Number(text(id)))
            }
            "agent" => {
                self.err(
                    path,
                    format!("\"{t}\" is not a config target: agents are reached by transfer; use group:ID or number:+E164"),
                );
                None
            }
            other => {
                let msg = match suggest(other, kinds) {
                    Some(k) => {
                        format!("\"{other}:\" is not a target kind; did you mean \"{k}:{id}\"?")
                    }
                    None => format!(
                        "\"{other}:\" is not a target kind; use menu:ID, group:ID, number:+E164 or callback"
                    ),
                };
                self.err(path, msg);
                self.bad_refs = true;
                None
            }
        }
    }
}
