//! The site-wide sections: `[site]`, the id indexes, `[auth]`, `[crisis]`, `[callbacks]`,
//! `[platform]`.

use super::*;

impl<'r> Validator<'r> {
    /// First-occurrence maps of every id, and the duplicate-id / duplicate-number errors.
    pub(super) fn index_names(&mut self) {
        let raw = self.raw;
        for (i, e) in raw.entries.iter().enumerate() {
            if let Some(&j) = self.entry_ix.get(e.id.as_str()) {
                self.err(
                    format!("entries[{i}].id"),
                    format!("duplicate entry id \"{}\" (first at entries[{j}])", e.id),
                );
            } else {
                self.entry_ix.insert(&e.id, i);
            }
            if let Some(&j) = self.entry_by_number.get(e.number.as_str()) {
                self.err(
                    format!("entries[{i}].number"),
                    format!(
                        "number {} is already entry \"{}\" (entries[{j}])",
                        e.number, raw.entries[j].id
                    ),
                );
            } else {
                self.entry_by_number.insert(&e.number, i);
            }
        }
        for (i, m) in raw.menus.iter().enumerate() {
            if let Some(&j) = self.menu_ix.get(m.id.as_str()) {
                self.err(
                    format!("menus[{i}].id"),
                    format!("duplicate menu id \"{}\" (first at menus[{j}])", m.id),
                );
            } else {
                self.menu_ix.insert(&m.id, i);
            }
        }
        for (i, g) in raw.groups.iter().enumerate() {
            if let Some(&j) = self.group_ix.get(g.id.as_str()) {
                self.err(
                    format!("groups[{i}].id"),
                    format!("duplicate group id \"{}\" (first at groups[{j}])", g.id),
                );
            } else {
                self.group_ix.insert(&g.id, i);
            }
        }
        for (i, a) in raw.agents.iter().enumerate() {
            if let Some(&j) = self.agent_ix.get(a.id.as_str()) {
                self.err(
                    format!("agents[{i}].id"),
                    format!("duplicate agent id \"{}\" (first at agents[{j}])", a.id),
                );
            } else {
                self.agent_ix.insert(&a.id, i);
            }
        }
        for (i, id) in raw.calendars.keys().enumerate() {
            self.calendar_ix.insert(id, i);
        }
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn site_info(&mut self) -> (Text, TimeZone, u64, f64, u64, u64) {
        let s = &self.raw.site;
        if s.name.trim().is_empty() {
            self.err("site.name", "must not be empty");
        }
        let tz = match TimeZone::get(&s.timezone) {
            Ok(tz) => tz,
            Err(_) => {
                let names: Vec<String> = jiff::tz::db()
                    .available()
                    .map(|n| n.as_str().to_owned())
                    .collect();
                let dym = did_you_mean(&s.timezone, names.iter().map(String::as_str));
                self.err(
                    "site.timezone",
                    format!("unknown time zone \"{}\"{dym}", s.timezone),
                );
                TimeZone::UTC
            }
        };
        let sl = self.secs(
            "site.service_level_s".into(),
            s.service_level_s,
            defaults::SERVICE_LEVEL_S,
            1.0,
            3600.0,
        );
        let target = match s.service_level_target {
            None => defaults::SERVICE_LEVEL_TARGET,
            Some(t) if t > 0.0 && t <= 1.0 => t,
            Some(t) => {
                self.err(
                    "site.service_level_target",
                    format!("{t} is out of range; use a share above 0 and at most 1 (0.8 = 80 %)"),
                );
                defaults::SERVICE_LEVEL_TARGET
            }
        };
        let handle = self.secs(
            "site.default_handle_s".into(),
            s.default_handle_s,
            defaults::DEFAULT_HANDLE_S,
            1.0,
            86_400.0,
        );
        (
            text(&s.name),
            tz,
            sl,
            target,
            s.seed.unwrap_or(defaults::SEED),
            handle,
        )
    }

    pub(super) fn auth(&mut self) -> Auth {
        let a = &self.raw.auth;
        let mut tokens = |role: &str, list: &[String]| -> Vec<Text> {
            for (i, t) in list.iter().enumerate() {
                let tp = format!("auth.{role}[{i}]");
                if t.is_empty() {
                    self.err(tp, "token must not be empty");
                } else if t.chars().count() < MIN_TOKEN_LEN {
                    self.warn(
                        tp,
                        format!("token is shorter than {MIN_TOKEN_LEN} characters; use a long random one"),
                    );
                }
            }
            list.iter().map(|t| text(t)).collect()
        };
        let platform_tokens = tokens("platform_tokens", &a.platform_tokens);
        let operator_tokens = tokens("operator_tokens", &a.operator_tokens);
        let admin_tokens = tokens("admin_tokens", &a.admin_tokens);
        let mut file = |role: &str, f: &Option<String>| -> Option<Text> {
            let f = f.as_ref()?;
            if f.trim().is_empty() {
                self.err(format!("auth.{role}"), "file path must not be empty");
            }
            Some(text(f))
        };
        let platform_tokens_file = file("platform_tokens_file", &a.platform_tokens_file);
        let operator_tokens_file = file("operator_tokens_file", &a.operator_tokens_file);
        let admin_tokens_file = file("admin_tokens_file", &a.admin_tokens_file);
        let agent_tokens_file = file("agent_tokens_file", &a.agent_tokens_file);
        let agent_ids: Vec<&str> = self.raw.agents.iter().map(|a| a.id.as_str()).collect();
        let others: Vec<&str> = a
            .operator_tokens
            .iter()
            .chain(&a.admin_tokens)
            .map(String::as_str)
            .collect();
        let pairs: Vec<(&str, &str)> = a
            .agent_tokens
            .iter()
            .map(|(a, t)| (a.as_str(), t.as_str()))
            .collect();
        let path = |i: usize| format!("auth.agent_tokens.{}", pairs.get(i).map_or("", |p| p.0));
        let mut warnings = Vec::new();
        for (i, (_, token)) in pairs.iter().enumerate() {
            if !token.is_empty() && token.chars().count() < MIN_TOKEN_LEN {
                warnings.push((
                    path(i),
                    format!(
                        "token is shorter than {MIN_TOKEN_LEN} characters; use a long random one"
                    ),
                ));
            }
        }
        let checked = check_agent_tokens(&pairs, &agent_ids, &others);
        let (agent_tokens, errors) = match checked {
            Ok(ok) => (ok, Vec::new()),
            Err(e) => (
                Vec::new(),
                e.into_iter().map(|(i, m)| (path(i), m)).collect(),
            ),
        };
        for (p, m) in warnings {
            self.warn(p, m);
        }
        for (p, m) in errors {
            self.err(p, m);
        }
        Auth {
            platform_tokens,
            operator_tokens,
            admin_tokens,
            platform_tokens_file,
            operator_tokens_file,
            admin_tokens_file,
            agent_tokens,
            agent_tokens_file,
        }
    }

    pub(super) fn crisis(&mut self) -> Option<Crisis> {
        let c = self.raw.crisis.as_ref()?;
        let prompt = self.opt_prompt("crisis.prompt".into(), c.prompt.as_ref());
        let route = c
            .route
            .as_ref()
            .and_then(|r| self.target("crisis.route".into(), r, false));
        if c.prompt.is_none() && c.route.is_none() {
            self.warn(
                "crisis",
                "has neither prompt nor route: switching crisis mode on changes nothing",
            );
        }
        Some(Crisis { prompt, route })
    }

    pub(super) fn callbacks(&mut self) -> CallbackPolicy {
        let c = &self.raw.callbacks;
        let attempts = c
            .attempts
            .and_then(|n| self.int("callbacks.attempts".into(), n, 1, 10, "attempts"))
            .map_or(defaults::CALLBACK_ATTEMPTS, |n| {
                u32::try_from(n).unwrap_or(1)
            });
        let retry_delay_ms = self.secs(
            "callbacks.retry_delay_s".into(),
            c.retry_delay_s,
            defaults::CALLBACK_RETRY_DELAY_S,
            10.0,
            86_400.0,
        );
        let prompt = match &c.prompt {
            Some(p) => self.prompt("callbacks.prompt".into(), p),
            None => text(defaults::CALLBACK_PROMPT),
        };
        CallbackPolicy {
            attempts,
            retry_delay_ms,
            prompt,
        }
    }

    pub(super) fn platform(&mut self) -> PlatformPolicy {
        let c = &self.raw.platform;
        let grace_ms = self.secs(
            "platform.grace_s".into(),
            c.grace_s,
            defaults::PLATFORM_GRACE_S,
            0.0,
            3600.0,
        );
        let buffer_commands = c
            .buffer_commands
            .and_then(|n| {
                self.int(
                    "platform.buffer_commands".into(),
                    n,
                    1,
                    1_000_000,
                    "buffer_commands",
                )
            })
            .map_or(defaults::PLATFORM_BUFFER_COMMANDS, |n| {
                usize::try_from(n).unwrap_or(defaults::PLATFORM_BUFFER_COMMANDS)
            });
        let unacked_bytes = c
            .unacked_bytes
            .and_then(|n| {
                self.int(
                    "platform.unacked_bytes".into(),
                    n,
                    64 << 10,
                    1 << 30,
                    "unacked_bytes",
                )
            })
            .map_or(defaults::PLATFORM_UNACKED_BYTES, |n| {
                usize::try_from(n).unwrap_or(defaults::PLATFORM_UNACKED_BYTES)
            });
        let ring_grace_ms = self.secs(
            "platform.ring_grace_s".into(),
            c.ring_grace_s,
            defaults::PLATFORM_RING_GRACE_S,
            0.0,
            60.0,
        );
        let park_timeout_ms = self.secs(
            "platform.park_timeout_s".into(),
            c.park_timeout_s,
            defaults::PLATFORM_PARK_TIMEOUT_S,
            1.0,
            86_400.0,
        );
        PlatformPolicy {
            grace_ms,
            buffer_commands,
            unacked_bytes,
            ring_grace_ms,
            park_timeout_ms,
        }
    }
}
