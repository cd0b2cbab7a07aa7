//! The site file as written (docs/configuration.md), before validation. Every field is the
//! loosest type the file can hold, so that `validate` can report *all* problems with their
//! paths instead of stopping at the first one serde meets.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

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
    /// Project addition: the wallboard's language and the site's default colours.
    pub wallboard: Option<RawWallboard>,
    /// Project addition: where the daemon also sends its call records (PostgreSQL).
    pub records: Option<RawRecords>,
    /// Project addition: the settings every node of a cluster shares (`vaxel serve
    /// --cluster`).
    pub cluster: Option<RawCluster>,
}

/// `[cluster]`: what every node of a cluster must agree on (docs/operations.md, "Cluster
/// mode"). Read by the daemon at start only; the engine never sees it. A node's own
/// settings (its id, its advertised addresses) are flags, not keys.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawCluster {
    /// The NATS servers' URLs.
    pub nats: Option<Vec<String>>,
    /// Prefix of the stream's, the lease bucket's and the checkpoint store's names.
    pub name: Option<String>,
    pub lease_ms: Option<i64>,
    pub stream_replicas: Option<i64>,
    /// A NATS credentials file (relative to the site file).
    pub nats_creds: Option<String>,
    pub nats_wait_s: Option<i64>,
}

/// `[records]`: a copy of the call records in PostgreSQL (docs/postgres.md). Read by the
/// daemon only; the engine never sees it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawRecords {
    /// `postgresql://user@host:port/db?…`, without a password.
    pub postgres: Option<String>,
    /// A file whose first line is the database password (relative to the site file).
    pub postgres_password_file: Option<String>,
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
/// all day: dates, and as a project addition the rule `"se"`) and, as a project addition,
/// `special` days with their own hours.
///
/// Deserialized by hand rather than with `#[serde(flatten)]`: every key other than
/// `holidays` and `special` is a day key, and a value of the wrong type keeps its position in
/// the file (flatten buffers values and loses it).
#[derive(Clone, Debug, Default)]
pub struct RawCalendar {
    pub holidays: Vec<String>,
    pub special: BTreeMap<String, String>,
    pub days: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for RawCalendar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CalendarVisitor;
        impl<'de> Visitor<'de> for CalendarVisitor {
            type Value = RawCalendar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of day keys, `holidays` and `special`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawCalendar, A::Error> {
                let mut cal = RawCalendar::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "holidays" => {
                            let days: HolidayList = map.next_value()?;
                            cal.holidays = days.0;
                        }
                        "special" => cal.special = map.next_value()?,
                        _ => {
                            let hours: String = map.next_value()?;
                            cal.days.insert(key, hours);
                        }
                    }
                }
                Ok(cal)
            }
        }
        deserializer.deserialize_map(CalendarVisitor)
    }
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
    /// Project addition: `prefer` or `require` agents with the caller's language skill.
    pub lang: Option<String>,
    /// Project addition: the group's service-level target and wallboard colours.
    pub wallboard: Option<RawWallboard>,
}

/// `[wallboard]` (the site's defaults) and `[groups.wallboard]` (one group's): one shape,
/// so that a group overrides exactly the keys the site sets. `lang` belongs to the site
/// and `service_level_target` to a group (the site's is `site.service_level_target`);
/// `validate` says so when one is in the other place.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RawWallboard {
    /// `sv` or `en`.
    pub lang: Option<String>,
    pub service_level_target: Option<f64>,
    pub service_level_amber: Option<f64>,
    pub wait_amber_s: Option<f64>,
    pub wait_red_s: Option<f64>,
    pub waiting_amber: Option<i64>,
    pub waiting_red: Option<i64>,
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
    /// Project addition: per-agent tokens for the operator's desk, agent id → token. An
    /// agent token acts only for its own agent.
    #[serde(default)]
    pub agent_tokens: BTreeMap<String, String>,
    /// Project addition: a file of `AGENT_ID TOKEN` lines, read by the daemon.
    pub agent_tokens_file: Option<String>,
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
    /// Bytes of unacknowledged commands kept for one protocol version 2 platform before it
    /// is declared lost (default 4 MiB).
    pub unacked_bytes: Option<i64>,
    /// Seconds the engine waits past `ring_s` for an answer before treating it as no
    /// answer (default 5).
    pub ring_grace_s: Option<f64>,
    /// Seconds a parked call may stay parked before it returns to its group (default 300).
    pub park_timeout_s: Option<f64>,
}

/// A date as written: a string (`"2026-12-24"`) or a bare TOML date (`2026-12-24`), kept
/// as text for `validate` to parse and report.
struct DateText(String);

/// A calendar's `holidays`: a list of dates and holiday rules (`["se", "2026-12-23"]`), or
/// one rule alone (`"se"`).
struct HolidayList(Vec<String>);

impl<'de> Deserialize<'de> for HolidayList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = HolidayList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a list of dates like \"2026-12-24\" and holiday rules (\"se\"), or \"se\"",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HolidayList, E> {
                Ok(HolidayList(vec![v.to_owned()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<HolidayList, A::Error> {
                let mut out = Vec::new();
                while let Some(d) = seq.next_element::<DateText>()? {
                    out.push(d.0);
                }
                Ok(HolidayList(out))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl<'de> Visitor<'de> for DateVisitor {
            type Value = DateText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date like \"2026-12-24\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateText, E> {
                Ok(DateText(v.to_owned()))
            }
            // toml hands a bare date over as a one-entry map holding its text.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DateText, A::Error> {
                match map.next_entry::<String, String>()? {
                    Some((_, text)) => Ok(DateText(text)),
                    None => Err(de::Error::custom("expected a date like \"2026-12-24\"")),
                }
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

/// The field names a derived `Deserialize` struct accepts, read from serde itself (so the
/// did-you-mean for unknown keys never drifts from the model above). Empty for types that
/// are not structs.
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always fails: it only records what the struct asked for.
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields
}

/// A deserializer that records the `fields` of `deserialize_struct` and refuses everything.
struct FieldsProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
