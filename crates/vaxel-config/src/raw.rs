//! The site file as written (../shared/CONFIG.md), before validation. Every field is the
//! loosest type the file can hold, so that `validate` can report *all* problems with their
//! paths instead of stopping at the first one serde meets.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A whole site file.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawSite {
    pub site: RawSiteInfo,
    #[serde(default)]
    pub calendars: BTreeMap<String, RawCalendar>,
    #[serde(default)]
    pub entries: Vec<RawEntry>,
    #[serde(default)]
    pub menus: Vec<RawMenu>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub agents: Vec<RawAgent>,
    #[serde(default)]
    pub directory: Vec<RawDirectoryEntry>,
    #[serde(default)]
    pub auth: RawAuth,
    pub crisis: Option<RawCrisis>,
    /// Project addition: how callbacks are dialled (attempts, delay between them).
    #[serde(default)]
    pub callbacks: RawCallbacks,
    /// Project addition: timing of the platform link and announcements.
    #[serde(default)]
    pub platform: RawPlatform,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawSiteInfo {
    pub name: String,
    pub timezone: String,
    pub service_level_s: Option<f64>,
    pub service_level_target: Option<f64>,
    /// Project addition: seed of the engine's random generator (strategy `random`).
    pub seed: Option<u64>,
    /// Project addition: handle time assumed for the expected-wait estimate before a group
    /// has answered any call (seconds; default 180).
    pub default_handle_s: Option<f64>,
}

/// Opening hours: day keys (`mon-fri`, `sat`, `mon-sun`, `tue`) mapped to one or more
/// comma-separated ranges (`"08:00-12:00,13:00-17:00"`, `"00:00-24:00"`), holidays (closed
/// all day) and, as a project addition, `special` days with their own hours.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawCalendar {
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub special: BTreeMap<String, String>,
    #[serde(flatten)]
    pub days: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawEntry {
    pub id: String,
    pub number: String,
    pub greeting: Option<String>,
    pub route: String,
    pub calendar: Option<String>,
    pub closed: Option<RawClosed>,
    #[serde(default)]
    pub priority: i64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawClosed {
    pub prompt: Option<String>,
    pub route: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawMenu {
    pub id: String,
    pub prompt: String,
    pub timeout_s: Option<f64>,
    pub retries: Option<i64>,
    pub default: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Project addition: the prompt played after an invalid choice (default: `prompt`).
    pub invalid_prompt: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawGroup {
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub requires: BTreeMap<String, i64>,
    #[serde(default)]
    pub widen: Vec<RawWiden>,
    pub strategy: Option<String>,
    pub wrapup_s: Option<f64>,
    pub ring_s: Option<f64>,
    pub max_no_answer: Option<i64>,
    pub calendar: Option<String>,
    pub callback: Option<RawGroupCallback>,
    pub max_wait_s: Option<f64>,
    pub on_max_wait: Option<String>,
    #[serde(default)]
    pub overflow: Vec<RawOverflow>,
    /// Project addition: prompt played while queued, with position and EWT.
    pub queue_prompt: Option<String>,
    /// Project addition: seconds between position/EWT announcements (0 = only on entry).
    pub announce_every_s: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawWiden {
    pub after_s: f64,
    pub min_level: i64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawGroupCallback {
    pub offer_when_ewt_over_s: Option<f64>,
    /// Project addition: the prompt for the offer (default `callback-offer`).
    pub prompt: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawOverflow {
    pub when: String,
    pub value: Option<f64>,
    pub to: String,
    pub mode: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawAgent {
    pub id: String,
    pub name: String,
    pub extension: String,
    #[serde(default)]
    pub skills: BTreeMap<String, i64>,
    /// Project addition: department shown on the wallboard.
    pub department: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawDirectoryEntry {
    pub name: String,
    pub department: Option<String>,
    pub extension: Option<String>,
    /// Project addition: an external number for people outside the PBX.
    pub number: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub agent: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawAuth {
    #[serde(default)]
    pub platform_tokens: Vec<String>,
    #[serde(default)]
    pub operator_tokens: Vec<String>,
    #[serde(default)]
    pub admin_tokens: Vec<String>,
    /// Project addition: files holding one token per line, read by the daemon.
    pub platform_tokens_file: Option<String>,
    pub operator_tokens_file: Option<String>,
    pub admin_tokens_file: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawCrisis {
    pub prompt: Option<String>,
    pub route: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawCallbacks {
    /// Dial attempts before the callback fails (default 3).
    pub attempts: Option<i64>,
    /// Seconds between attempts (default 300).
    pub retry_delay_s: Option<f64>,
    /// Default offer prompt (default `callback-offer`).
    pub prompt: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawPlatform {
    /// Seconds a platform may be gone before its calls end as `platform_lost` (default 30).
    pub grace_s: Option<f64>,
    /// Commands kept for a disconnected platform before it is declared lost (default 10000).
    pub buffer_commands: Option<i64>,
    /// Seconds the engine waits past `ring_s` for an answer before treating it as no
    /// answer (default 5).
    pub ring_grace_s: Option<f64>,
    /// Seconds a parked call may stay parked before it returns to its group (default 300).
    pub park_timeout_s: Option<f64>,
}
