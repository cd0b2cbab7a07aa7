//! `[[agents]]` and the directory: extensions, skills and levels, groups served.

use super::*;

impl<'r> Validator<'r> {
    pub(super) fn agents(&mut self) -> Vec<AgentDef> {
        let raw = self.raw;
        let mut by_ext: FxHashMap<&str, usize> = FxHashMap::default();
        let mut out = Vec::new();
        for (i, a) in raw.agents.iter().enumerate() {
            out.push(self.agent(i, a, &mut by_ext));
        }
        out
    }

    pub(super) fn agent(
        &mut self,
        i: usize,
        a: &'r RawAgent,
        by_ext: &mut FxHashMap<&'r str, usize>,
    ) -> AgentDef {
        let p = format!("agents[{i}]");
        self.ident(format!("{p}.id"), &a.id);
        if a.name.trim().is_empty() {
            self.err(format!("{p}.name"), "must not be empty");
        }
        if !extension_ok(&a.extension) {
            self.err(
                format!("{p}.extension"),
                format!("\"{}\" is not an extension; use 1-15 digits", a.extension),
            );
        } else if let Some(&j) = by_ext.get(a.extension.as_str()) {
            self.err(
                format!("{p}.extension"),
                format!(
                    "extension {} is already agent \"{}\"'s (agents[{j}])",
                    a.extension, self.raw.agents[j].id
                ),
            );
        } else {
            by_ext.insert(&a.extension, i);
        }
        let mut skills = Vec::new();
        for (s, &lvl) in &a.skills {
            let level = self.level(format!("{p}.skills.{}", key(s)), lvl);
            skills.push((self.skill(s), level));
        }
        skills.sort_unstable();
        let department = match &a.department {
            Some(d) if d.trim().is_empty() => {
                self.err(format!("{p}.department"), "must not be empty");
                None
            }
            d => d.as_deref().map(text),
        };
        AgentDef {
            id: text(&a.id),
            name: text(&a.name),
            extension: text(&a.extension),
            department,
            skills,
        }
    }

    pub(super) fn directory(&mut self) -> Vec<DirectoryEntry> {
        let raw = self.raw;
        let mut out = Vec::new();
        for (i, d) in raw.directory.iter().enumerate() {
            let p = format!("directory[{i}]");
            if d.name.trim().is_empty() {
                self.err(format!("{p}.name"), "must not be empty");
            }
            if let Some(ext) = &d.extension
                && !extension_ok(ext)
            {
                self.err(
                    format!("{p}.extension"),
                    format!("\"{ext}\" is not an extension; use 1-15 digits"),
                );
            }
            if let Some(n) = &d.number
                && let Some(problem) = e164_problem(n)
            {
                self.err(format!("{p}.number"), problem);
            }
            for (k, kw) in d.keywords.iter().enumerate() {
                if kw.trim().is_empty() {
                    self.err(format!("{p}.keywords[{k}]"), "must not be empty");
                }
            }
            let agent = d
                .agent
                .as_ref()
                .and_then(|a| match self.agent_ix.get(a.as_str()) {
                    Some(&ix) => u32::try_from(ix).ok().map(AgentIdx),
                    None => {
                        let dym = did_you_mean(a, raw.agents.iter().map(|a| a.id.as_str()));
                        self.err(format!("{p}.agent"), format!("no agent \"{a}\"{dym}"));
                        None
                    }
                });
            if d.extension.is_none() && d.number.is_none() && d.agent.is_none() {
                self.warn(
                    p,
                    "has no extension, number or agent: a call cannot be referred to it",
                );
            }
            out.push(DirectoryEntry {
                name: text(&d.name),
                department: d.department.as_deref().map(text),
                extension: d.extension.as_deref().map(text),
                number: d.number.as_deref().map(text),
                keywords: d.keywords.iter().map(|k| text(k)).collect(),
                agent,
            });
        }
        out
    }
}

/// Extensions are 1–15 digits.
pub(super) fn extension_ok(e: &str) -> bool {
    (1..=15).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit())
}
