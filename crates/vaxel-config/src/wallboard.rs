//! `[wallboard]` and `[groups.wallboard]` (docs/configuration.md): the screens' language
//! and each group's service-level target and colour thresholds. Kept apart from the
//! routing checks: nothing here changes how a call is routed.
//!
//! A group's value of a key is its own, else the site's `[wallboard]`, else the default
//! ([`defaults`](crate::defaults)); the wait thresholds default to the site's
//! `service_level_s` (amber) and three times it (red), so that a site answering within
//! 60 s does not see red at 60 s.

use crate::Diagnostic;
use crate::raw::{RawSite, RawWallboard};
use vaxel_core::site::{Board, UiLang, Wallboard};

/// Built-in values of the wallboard keys.
pub mod defaults {
    /// `wallboard.lang`.
    pub const LANG: &str = "sv";
    /// How far below the target the service level turns red (`service_level_amber` =
    /// target − this, at least 0).
    pub const SERVICE_LEVEL_AMBER_BELOW_TARGET: f64 = 0.10;
    /// `wait_red_s` as a multiple of `site.service_level_s` (`wait_amber_s` is 1×).
    pub const WAIT_RED_FACTOR: f64 = 3.0;
    /// `waiting_amber`.
    pub const WAITING_AMBER: u32 = 3;
    /// `waiting_red`.
    pub const WAITING_RED: u32 = 10;
}

/// Longest wait a threshold may name (a day).
const MAX_WAIT_S: f64 = 86_400.0;
/// Most waiting calls a threshold may name.
const MAX_WAITING: i64 = 100_000;

/// The wallboard settings of `raw`, with the diagnostics found. `service_level_s` and
/// `service_level_target` are the site's, already validated.
pub(crate) fn wallboard(
    raw: &RawSite,
    service_level_s: f64,
    service_level_target: f64,
) -> (Wallboard, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let empty = RawWallboard::default();
    let site = raw.wallboard.as_ref().unwrap_or(&empty);
    let lang = match site.lang.as_deref() {
        None => UiLang::Sv,
        Some(l) => UiLang::ALL
            .into_iter()
            .find(|u| u.code() == l)
            .unwrap_or_else(|| {
                diags.push(Diagnostic::error(
                    "wallboard.lang",
                    format!("no language \"{l}\"; use \"sv\" or \"en\""),
                ));
                UiLang::Sv
            }),
    };
    if site.service_level_target.is_some() {
        diags.push(Diagnostic::error(
            "wallboard.service_level_target",
            "the site's target is site.service_level_target; [wallboard] has the colours only",
        ));
    }
    // The site's own values are checked once even for a site without groups; the same
    // finding met again through each group is listed once.
    let _ = Check {
        diags: &mut diags,
        own: site,
        own_path: "wallboard",
        site: &empty,
    }
    .board(service_level_s, service_level_target);
    let groups = raw
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let own = g.wallboard.as_ref().unwrap_or(&empty);
            let p = format!("groups[{i}].wallboard");
            if own.lang.is_some() {
                diags.push(Diagnostic::error(
                    format!("{p}.lang"),
                    "the language is the site's: set it in [wallboard]",
                ));
            }
            let mut c = Check {
                diags: &mut diags,
                own,
                own_path: &p,
                site,
            };
            c.board(service_level_s, service_level_target)
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert(d.to_string()));
    (Wallboard { lang, groups }, diags)
}

/// One group's keys, looked up in the group's table and then the site's.
struct Check<'a> {
    diags: &'a mut Vec<Diagnostic>,
    own: &'a RawWallboard,
    own_path: &'a str,
    site: &'a RawWallboard,
}

impl Check<'_> {
    /// The value of a key and the path it came from: the group's, else the site's.
    fn pick<T: Copy>(
        &self,
        key: &str,
        get: impl Fn(&RawWallboard) -> Option<T>,
    ) -> Option<(T, String)> {
        get(self.own)
            .map(|v| (v, format!("{}.{key}", self.own_path)))
            .or_else(|| get(self.site).map(|v| (v, format!("wallboard.{key}"))))
    }

    fn err(&mut self, path: String, message: String) {
        self.diags.push(Diagnostic::error(path, message));
    }

    fn share(&mut self, key: &str, get: impl Fn(&RawWallboard) -> Option<f64>) -> Option<f64> {
        let (v, path) = self.pick(key, get)?;
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Some(v)
        } else {
            self.err(
                path,
                format!("{v} is out of range; use a share from 0 to 1 (0.8 = 80 %)"),
            );
            None
        }
    }

    fn secs(&mut self, key: &str, get: impl Fn(&RawWallboard) -> Option<f64>) -> Option<f64> {
        let (v, path) = self.pick(key, get)?;
        if v.is_finite() && v > 0.0 && v <= MAX_WAIT_S {
            Some(v)
        } else {
            self.err(
                path,
                format!("{v} s is out of range; use more than 0 and at most {MAX_WAIT_S} seconds"),
            );
            None
        }
    }

    fn count(&mut self, key: &str, get: impl Fn(&RawWallboard) -> Option<i64>) -> Option<u32> {
        let (v, path) = self.pick(key, get)?;
        match u32::try_from(v) {
            Ok(n) if (1..=MAX_WAITING).contains(&v) => Some(n),
            _ => {
                self.err(
                    path,
                    format!("{v} is out of range; use 1..={MAX_WAITING} calls"),
                );
                None
            }
        }
    }

    /// Checks that amber (`lo`) comes no later than red (`hi`), naming the red key where
    /// it was set (or the amber key, when red is the default).
    fn ordered(&mut self, keys: [&str; 2], values: [f64; 2], paths: [Option<String>; 2]) {
        let [lo_key, hi_key] = keys;
        let [lo, hi] = values;
        if lo > hi {
            let [lo_path, hi_path] = paths;
            if let Some(path) = hi_path.or(lo_path) {
                self.err(
                    path,
                    format!("{hi_key} ({hi}) is below {lo_key} ({lo}); red must come after amber"),
                );
            }
        }
    }

    /// Where a key was set, if anywhere.
    fn origin<T: Copy>(
        &self,
        key: &str,
        get: impl Fn(&RawWallboard) -> Option<T>,
    ) -> Option<String> {
        self.pick(key, get).map(|(_, p)| p)
    }

    fn board(&mut self, service_level_s: f64, site_target: f64) -> Board {
        let target = match self.own.service_level_target {
            None => site_target,
            Some(t) if t.is_finite() && t > 0.0 && t <= 1.0 => t,
            Some(t) => {
                self.err(
                    format!("{}.service_level_target", self.own_path),
                    format!("{t} is out of range; use a share above 0 and at most 1 (0.8 = 80 %)"),
                );
                site_target
            }
        };
        let sl_amber = self
            .share("service_level_amber", |w| w.service_level_amber)
            .unwrap_or((target - defaults::SERVICE_LEVEL_AMBER_BELOW_TARGET).max(0.0));
        if sl_amber > target {
            self.err(
                format!("{}.service_level_amber", self.own_path),
                format!("{sl_amber} is above the group's service-level target {target}; the level is red below it, amber below the target"),
            );
        }
        let wait_amber = self.secs("wait_amber_s", |w| w.wait_amber_s);
        let wait_red = self.secs("wait_red_s", |w| w.wait_red_s);
        let wait_amber_s = wait_amber.unwrap_or(service_level_s);
        let wait_red_s =
            wait_red.unwrap_or((service_level_s * defaults::WAIT_RED_FACTOR).max(wait_amber_s));
        let paths = [
            self.origin("wait_amber_s", |w| w.wait_amber_s),
            self.origin("wait_red_s", |w| w.wait_red_s),
        ];
        self.ordered(
            ["wait_amber_s", "wait_red_s"],
            [wait_amber_s, wait_red_s],
            paths,
        );
        let waiting_amber = self
            .count("waiting_amber", |w| w.waiting_amber)
            .unwrap_or(defaults::WAITING_AMBER);
        let waiting_red = self
            .count("waiting_red", |w| w.waiting_red)
            .unwrap_or(defaults::WAITING_RED.max(waiting_amber));
        let paths = [
            self.origin("waiting_amber", |w| w.waiting_amber),
            self.origin("waiting_red", |w| w.waiting_red),
        ];
        self.ordered(
            ["waiting_amber", "waiting_red"],
            [f64::from(waiting_amber), f64::from(waiting_red)],
            paths,
        );
        Board {
            service_level_target: target,
            service_level_amber: sl_amber.min(target),
            wait_amber_s,
            wait_red_s: wait_red_s.max(wait_amber_s),
            waiting_amber,
            waiting_red: waiting_red.max(waiting_amber),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::load_site;

    const BASE: &str = r#"
[site]
name = "T"
timezone = "Europe/Stockholm"
service_level_s = 30
service_level_target = 0.9

[[entries]]
id = "e"
number = "+4610100"
route = "group:g"

[[entries]]
id = "f"
number = "+4610200"
route = "group:h"

[[groups]]
id = "g"
requires = { s = 1 }

[[groups]]
id = "h"
requires = { s = 1 }

[[agents]]
id = "a"
name = "A"
extension = "1"
skills = { s = 1 }
"#;

    fn errors(extra_site: &str, extra_g: &str) -> Vec<String> {
        let text = BASE.replacen(
            "[[groups]]\nid = \"h\"",
            &format!("{extra_g}\n[[groups]]\nid = \"h\"",),
            1,
        ) + extra_site;
        match load_site(&text) {
            Ok(_) => Vec::new(),
            Err(d) => d
                .iter()
                .filter(|d| d.is_error())
                .map(ToString::to_string)
                .collect(),
        }
    }

    #[test]
    fn defaults_follow_the_sites_service_level() {
        let v = load_site(BASE).map_err(|d| format!("{d:?}"));
        let Ok(v) = v else { panic!("{v:?}") };
        assert_eq!(v.site.wallboard.lang.code(), "sv");
        let b = v.site.wallboard.groups[0];
        assert!((b.service_level_target - 0.9).abs() < 1e-12);
        assert!((b.service_level_amber - 0.8).abs() < 1e-12);
        assert!((b.wait_amber_s - 30.0).abs() < 1e-12);
        assert!((b.wait_red_s - 90.0).abs() < 1e-12);
        assert_eq!((b.waiting_amber, b.waiting_red), (3, 10));
    }

    #[test]
    fn a_group_overrides_the_site_which_overrides_the_defaults() {
        let text = BASE.replacen(
            "[[groups]]\nid = \"h\"",
            "[groups.wallboard]\nservice_level_target = 0.5\nwaiting_red = 4\n\n[[groups]]\nid = \"h\"",
            1,
        ) + "\n[wallboard]\nlang = \"en\"\nwaiting_amber = 2\nwait_red_s = 45\n";
        let v = load_site(&text).map_err(|d| format!("{d:?}"));
        let Ok(v) = v else { panic!("{v:?}") };
        assert_eq!(v.site.wallboard.lang.code(), "en");
        let [g, h] = [v.site.wallboard.groups[0], v.site.wallboard.groups[1]];
        assert!((g.service_level_target - 0.5).abs() < 1e-12);
        assert!((h.service_level_target - 0.9).abs() < 1e-12);
        assert_eq!((g.waiting_amber, g.waiting_red), (2, 4));
        assert_eq!((h.waiting_amber, h.waiting_red), (2, 10));
        assert!((g.wait_red_s - 45.0).abs() < 1e-12);
    }

    #[test]
    fn wrong_values_are_errors_naming_their_key() {
        assert_eq!(
            errors("\n[wallboard]\nlang = \"de\"\n", ""),
            ["error: wallboard.lang: no language \"de\"; use \"sv\" or \"en\""]
        );
        assert_eq!(
            errors(
                "",
                "[groups.wallboard]\nwait_amber_s = 100\nwait_red_s = 50\n"
            ),
            [
                "error: groups[0].wallboard.wait_red_s: wait_red_s (50) is below wait_amber_s (100); red must come after amber"
            ]
        );
        assert_eq!(
            errors("", "[groups.wallboard]\nservice_level_target = 1.5\n"),
            [
                "error: groups[0].wallboard.service_level_target: 1.5 is out of range; use a share above 0 and at most 1 (0.8 = 80 %)"
            ]
        );
        assert_eq!(
            errors("", "[groups.wallboard]\nwaiting_amber = 0\n"),
            ["error: groups[0].wallboard.waiting_amber: 0 is out of range; use 1..=100000 calls"]
        );
        assert_eq!(
            errors(
                "\n[wallboard]\nservice_level_target = 0.5\n",
                "[groups.wallboard]\nlang = \"en\"\n"
            ),
            [
                "error: groups[0].wallboard.lang: the language is the site's: set it in [wallboard]",
                "error: wallboard.service_level_target: the site's target is site.service_level_target; [wallboard] has the colours only",
            ]
        );
        // A misspelt key is an unknown key: an error, with the did-you-mean.
        assert_eq!(
            errors("\n[wallboard]\nwait_ambr_s = 3\n", ""),
            ["error: wallboard.wait_ambr_s: unknown key; did you mean \"wait_amber_s\"?"]
        );
    }
}
