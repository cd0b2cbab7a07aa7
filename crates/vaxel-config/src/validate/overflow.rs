//! A group's overflow rules: conditions, targets and modes.

use super::*;

impl<'r> Validator<'r> {
    pub(super) fn overflow(
        &mut self,
        group: usize,
        p: &str,
        r: &RawOverflow,
    ) -> Option<OverflowRule> {
        let needs_value = r.when != "no_agents";
        let value = match (r.value, needs_value) {
            (None, true) if OVERFLOW_WHEN.contains(&r.when.as_str()) => {
                self.err(
                    format!("{p}.value"),
                    format!("\"{}\" needs a value", r.when),
                );
                None
            }
            (Some(_), false) => {
                self.err(format!("{p}.value"), "\"no_agents\" takes no value");
                None
            }
            (v, _) => v,
        };
        let when = match r.when.as_str() {
            "wait_over_s" => value.map(|v| {
                Condition::WaitOver(self.secs(format!("{p}.value"), Some(v), 0.0, 0.0, 86_400.0))
            }),
            "ewt_over_s" => value.map(|v| {
                Condition::EwtOver(self.secs(format!("{p}.value"), Some(v), 0.0, 0.0, 86_400.0))
            }),
            "queue_over" => value.and_then(|v| {
                if v.fract() == 0.0 && (0.0..=100_000.0).contains(&v) {
                    Some(Condition::QueueOver(v as u32))
                } else {
                    self.err(
                        format!("{p}.value"),
                        format!(
                            "{v} is not a queue length; use a whole number of calls 0..=100000"
                        ),
                    );
                    None
                }
            }),
            "no_agents" => Some(Condition::NoAgents),
            other => {
                let dym = did_you_mean(other, OVERFLOW_WHEN);
                let msg = if dym.is_empty() {
                    format!(
                        "no condition \"{other}\"; use one of {}",
                        OVERFLOW_WHEN.join(", ")
                    )
                } else {
                    format!("no condition \"{other}\"{dym}")
                };
                self.err(format!("{p}.when"), msg);
                None
            }
        };
        let mode = match r.mode.as_deref() {
            None | Some("move") => OverflowMode::Move,
            Some("expand") => OverflowMode::Expand,
            Some(other) => {
                let dym = did_you_mean(other, OVERFLOW_MODES);
                let msg = if dym.is_empty() {
                    format!("no mode \"{other}\"; use move or expand")
                } else {
                    format!("no mode \"{other}\"{dym}")
                };
                self.err(format!("{p}.mode"), msg);
                OverflowMode::Move
            }
        };
        let to = self.target(format!("{p}.to"), &r.to, true)?;
        if mode == OverflowMode::Expand {
            match &to {
                Target::Group(g) if g.ix() == group => {
                    self.err(format!("{p}.to"), "expands to its own group");
                }
                Target::Group(_) => {}
                _ => self.err(
                    format!("{p}.mode"),
                    format!("\"expand\" needs a group target, not \"{}\"", r.to),
                ),
            }
        }
        Some(OverflowRule {
            when: when?,
            to,
            mode,
        })
    }
}
