//! `[[menus]]`: prompts, options, defaults and the menu → menu edges.

use super::*;

impl<'r> Validator<'r> {
    pub(super) fn menus(&mut self) -> Vec<Menu> {
        let raw = self.raw;
        raw.menus
            .iter()
            .enumerate()
            .map(|(i, m)| self.menu(i, m))
            .collect()
    }

    pub(super) fn menu(&mut self, i: usize, m: &RawMenu) -> Menu {
        let p = format!("menus[{i}]");
        self.ident(format!("{p}.id"), &m.id);
        let prompt = self.prompt(format!("{p}.prompt"), &m.prompt);
        let timeout_s = match m.timeout_s {
            None => defaults::MENU_TIMEOUT_S,
            Some(t) if t.is_finite() && t.fract() == 0.0 && (1.0..=120.0).contains(&t) => t as u32,
            Some(t) => {
                self.err(
                    format!("{p}.timeout_s"),
                    format!("{t} s is out of range; use whole seconds 1..=120"),
                );
                defaults::MENU_TIMEOUT_S
            }
        };
        let retries = m
            .retries
            .and_then(|r| self.int(format!("{p}.retries"), r, 0, 10, "retries"))
            .map_or(defaults::MENU_RETRIES, |r| u32::try_from(r).unwrap_or(0));
        let default = self.target(format!("{p}.default"), &m.default, true);
        let mut options = Vec::new();
        for (k, t) in &m.options {
            let op = format!("{p}.options.{}", key(k));
            if !option_key_ok(k) {
                self.err(
                    op.clone(),
                    format!("option \"{k}\" is not a key choice; use 1-4 of the keys 0-9 * #"),
                );
            }
            if let Some(t) = self.target(op, t, true) {
                options.push((text(k), t));
            }
        }
        // BTreeMap order is byte order, the order `Menu::option` searches in.
        let keys: Vec<&String> = m.options.keys().collect();
        for a in &keys {
            if let Some(b) = keys
                .iter()
                .find(|b| b.len() > a.len() && b.starts_with(a.as_str()))
            {
                self.warn(
                    format!("{p}.options.{}", key(a)),
                    format!(
                        "\"{a}\" is a prefix of \"{b}\": callers who press {a} wait for the timeout"
                    ),
                );
            }
        }
        if m.options.is_empty() {
            self.warn(
                format!("{p}.options"),
                "no options: every caller gets the default",
            );
        }
        let default_is_group = matches!(default, Some(Target::Group(_)));
        if !default_is_group {
            for (k, t) in &m.options {
                if t == "callback" {
                    self.warn(
                        format!("{p}.options.{}", key(k)),
                        "a callback needs a group to be served in, but the menu's default is not a group",
                    );
                }
            }
            if m.default == "callback" {
                self.warn(
                    format!("{p}.default"),
                    "a callback needs a group to be served in; make the default a group",
                );
            }
        }
        let max_digits = m
            .options
            .keys()
            .map(|k| u32::try_from(k.chars().count()).unwrap_or(u32::MAX))
            .max()
            .unwrap_or(0);
        let invalid_prompt = match &m.invalid_prompt {
            Some(ip) => self.prompt(format!("{p}.invalid_prompt"), ip),
            None => prompt.clone(),
        };
        Menu {
            id: text(&m.id),
            prompt,
            invalid_prompt,
            timeout_s,
            retries,
            default: default.unwrap_or(Target::Callback),
            options,
            max_digits,
        }
    }
}

/// The menu → menu edges of menu `i` (options and default).
pub(super) fn menu_edges_of(i: usize, m: &Menu) -> Vec<Edge> {
    let p = format!("menus[{i}]");
    let mut out = Vec::new();
    for (k, t) in &m.options {
        if let Target::Menu(to) = t {
            out.push(Edge {
                to: to.ix(),
                path: format!("{p}.options.{}", key(k)),
                default: false,
            });
        }
    }
    if let Target::Menu(to) = &m.default {
        out.push(Edge {
            to: to.ix(),
            path: format!("{p}.default"),
            default: true,
        });
    }
    out
}
