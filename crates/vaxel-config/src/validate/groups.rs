//! `[[groups]]`: skills required, strategy, timings, widening steps.

use super::*;

impl<'r> Validator<'r> {
    /// Every skill name agents have or groups require, sorted by name (deterministic
    /// indices).
    pub(super) fn intern_skills(&mut self) {
        let raw = self.raw;
        let mut names: BTreeSet<&str> = BTreeSet::new();
        for a in &raw.agents {
            for s in a.skills.keys() {
                names.insert(s);
                self.agent_skills.insert(s);
            }
        }
        for g in &raw.groups {
            names.extend(g.requires.keys().map(String::as_str));
        }
        for (i, s) in names.into_iter().enumerate() {
            let ix = SkillIdx(u32::try_from(i).unwrap_or(u32::MAX));
            self.skill_ix.insert(s, ix);
        }
    }

    pub(super) fn skill(&self, name: &str) -> SkillIdx {
        self.skill_ix.get(name).copied().unwrap_or(SkillIdx(0))
    }

    pub(super) fn group(&mut self, i: usize, g: &RawGroup, callback_prompt: &Text) -> Group {
        let p = format!("groups[{i}]");
        self.ident(format!("{p}.id"), &g.id);
        let name = match &g.name {
            Some(n) if n.trim().is_empty() => {
                self.err(format!("{p}.name"), "must not be empty");
                text(&g.id)
            }
            Some(n) => text(n),
            None => text(&g.id),
        };
        let mut requires = Vec::new();
        for (s, &lvl) in &g.requires {
            let sp = format!("{p}.requires.{}", key(s));
            let level = self.level(sp.clone(), lvl);
            if !self.agent_skills.contains(s.as_str()) {
                let dym = did_you_mean(s, self.agent_skills.iter().copied());
                self.err(sp, format!("no agent has skill \"{s}\"{dym}"));
            }
            requires.push((self.skill(s), level));
        }
        requires.sort_unstable();
        let widen = self.widen(&p, g, &requires);
        let strategy = match &g.strategy {
            None => Strategy::LongestIdle,
            Some(s) => Strategy::parse(s).unwrap_or_else(|| {
                let names = Strategy::ALL.map(Strategy::name);
                let dym = did_you_mean(s, names);
                let msg = if dym.is_empty() {
                    format!("no strategy \"{s}\"; use one of {}", names.join(", "))
                } else {
                    format!("no strategy \"{s}\"{dym}")
                };
                self.err(format!("{p}.strategy"), msg);
                Strategy::LongestIdle
            }),
        };
        let wrapup_ms = self.secs(
            format!("{p}.wrapup_s"),
            g.wrapup_s,
            defaults::WRAPUP_S,
            0.0,
            3600.0,
        );
        let ring_ms = self.secs(
            format!("{p}.ring_s"),
            g.ring_s,
            defaults::RING_S,
            0.0,
            600.0,
        );
        let max_no_answer = g
            .max_no_answer
            .and_then(|n| self.int(format!("{p}.max_no_answer"), n, 0, 100, "max_no_answer"))
            .map_or(defaults::MAX_NO_ANSWER, |n| u32::try_from(n).unwrap_or(0));
        let calendar = g
            .calendar
            .as_ref()
            .and_then(|c| self.calendar_ref(format!("{p}.calendar"), c));
        let (mut callback_offer_ewt_ms, mut group_callback_prompt) =
            (None, callback_prompt.clone());
        if let Some(cb) = &g.callback {
            callback_offer_ewt_ms = self.opt_secs(
                format!("{p}.callback.offer_when_ewt_over_s"),
                cb.offer_when_ewt_over_s,
                0.0,
                86_400.0,
            );
            if cb.offer_when_ewt_over_s.is_none() {
                self.warn(
                    format!("{p}.callback"),
                    "has no offer_when_ewt_over_s, so a callback is never offered",
                );
            }
            if let Some(pr) = &cb.prompt {
                group_callback_prompt = self.prompt(format!("{p}.callback.prompt"), pr);
            }
        }
        let max_wait_ms = self.opt_secs(format!("{p}.max_wait_s"), g.max_wait_s, 1.0, 86_400.0);
        let on_max_wait = g
            .on_max_wait
            .as_ref()
            .and_then(|t| self.target(format!("{p}.on_max_wait"), t, true));
        if g.on_max_wait.is_some() && g.max_wait_s.is_none() {
            self.warn(
                format!("{p}.on_max_wait"),
                "is never used: the group has no max_wait_s",
            );
        }
        let mut overflow = Vec::new();
        let mut src = Vec::new();
        if g.overflow.len() > MAX_OVERFLOW_RULES {
            self.err(
                format!("{p}.overflow"),
                format!(
                    "{} rules; a group may have at most {MAX_OVERFLOW_RULES} (the engine keeps which have been applied to a call in one bit each)",
                    g.overflow.len()
                ),
            );
        }
        for (j, r) in g.overflow.iter().enumerate() {
            if let Some(rule) = self.overflow(i, &format!("{p}.overflow[{j}]"), r) {
                overflow.push(rule);
                src.push(j);
            }
        }
        self.overflow_src.push(src);
        let queue_prompt = self.opt_prompt(format!("{p}.queue_prompt"), g.queue_prompt.as_ref());
        let announce_every_ms = self.secs(
            format!("{p}.announce_every_s"),
            g.announce_every_s,
            defaults::ANNOUNCE_EVERY_S,
            0.0,
            3600.0,
        );
        let lang = match g.lang.as_deref() {
            None => LangPolicy::Ignore,
            Some(l) => LangPolicy::parse(l).unwrap_or_else(|| {
                self.err(
                    format!("{p}.lang"),
                    format!("\"{l}\" is not a language policy; use \"prefer\" or \"require\""),
                );
                LangPolicy::Ignore
            }),
        };
        Group {
            id: text(&g.id),
            name,
            requires,
            widen,
            strategy,
            lang,
            wrapup_ms,
            ring_ms,
            max_no_answer,
            calendar,
            callback_offer_ewt_ms,
            callback_prompt: group_callback_prompt,
            max_wait_ms,
            on_max_wait,
            overflow,
            queue_prompt,
            announce_every_ms,
        }
    }

    pub(super) fn widen(
        &mut self,
        p: &str,
        g: &RawGroup,
        requires: &[(SkillIdx, u8)],
    ) -> Vec<Widen> {
        let mut out: Vec<Widen> = Vec::new();
        if !g.widen.is_empty() && g.requires.is_empty() {
            self.warn(
                format!("{p}.widen"),
                "has no effect: the group requires no skills",
            );
        }
        if g.widen.len() > MAX_WIDEN_STEPS {
            self.err(
                format!("{p}.widen"),
                format!(
                    "{} steps; a group may have at most {MAX_WIDEN_STEPS}",
                    g.widen.len()
                ),
            );
        }
        for (j, w) in g.widen.iter().enumerate() {
            let wp = format!("{p}.widen[{j}]");
            let after_ms = self.secs(format!("{wp}.after_s"), Some(w.after_s), 0.0, 0.0, 86_400.0);
            let min_level = self.level(format!("{wp}.min_level"), w.min_level);
            let mut raises = false;
            if let Some(prev) = out.last() {
                if after_ms <= prev.after_ms {
                    self.err(
                        format!("{wp}.after_s"),
                        format!(
                            "{} s must be later than the step before ({} s)",
                            w.after_s,
                            prev.after_ms as f64 / 1000.0
                        ),
                    );
                }
                if min_level > prev.min_level {
                    raises = true;
                    self.err(
                        format!("{wp}.min_level"),
                        format!(
                            "{min_level} must not be above the step before ({}): widening only lowers levels",
                            prev.min_level
                        ),
                    );
                }
            }
            let before = |req: u8| out.last().map_or(req, |w: &Widen| req.min(w.min_level));
            let lowers = requires
                .iter()
                .any(|&(_, req)| req.min(min_level) < before(req));
            if !requires.is_empty() && !lowers && !raises {
                self.warn(
                    format!("{wp}.min_level"),
                    format!("has no effect: {min_level} lowers no required level"),
                );
            }
            out.push(Widen {
                after_ms,
                min_level,
            });
        }
        out.sort_by_key(|w| w.after_ms);
        out
    }
}
