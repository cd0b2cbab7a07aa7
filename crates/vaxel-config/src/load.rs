//! TOML text → [`RawSite`]. Syntax errors and values of the wrong type become diagnostics
//! with `line L, column C` and, where known, the key path; unknown keys become warnings with
//! a did-you-mean. Each top-level section and each `[[array]]` item is deserialized on its
//! own, so one bad item does not hide the problems of the others.

use crate::path::{self, Seg};
use crate::raw::{
    RawAgent, RawAuth, RawCallbacks, RawClosed, RawCluster, RawCrisis, RawDirectoryEntry, RawEntry,
    RawGroup, RawGroupCallback, RawMenu, RawOverflow, RawPlatform, RawRecords, RawSite,
    RawSiteInfo, RawWallboard, RawWiden, fields_of,
};
use crate::suggest::suggest;
use crate::{Diagnostic, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// A parsed site file, not yet validated.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub raw: RawSite,
    /// Unknown keys (ignored), each with a did-you-mean where one is close.
    pub warnings: Vec<Diagnostic>,
}

/// Parses a site file. `Err` holds every syntax or type error found (and the warnings met
/// on the way), in file order.
pub fn load(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| {
                let at = e.span().map(|s| s.start).unwrap_or(0);
                let (line, col) = line_col(text, at);
                Diagnostic::error(format!("line {line}, column {col}"), tidy(e.message()))
            })
            .collect());
    }
    let mut l = Loader {
        text,
        found: Vec::new(),
    };
    let mut raw = RawSite::default();
    let mut have_site = false;
    for (k, v) in root.into_inner() {
        let name: &str = k.get_ref();
        match name {
            "site" => {
                have_site = true;
                if let Some(s) = l.one::<RawSiteInfo>(v, "site") {
                    raw.site = s;
                }
            }
            "calendars" => raw.calendars = l.map(v, "calendars"),
            "entries" => raw.entries = l.many::<RawEntry>(v, "entries"),
            "menus" => raw.menus = l.many::<RawMenu>(v, "menus"),
            "groups" => raw.groups = l.many::<RawGroup>(v, "groups"),
            "agents" => raw.agents = l.many::<RawAgent>(v, "agents"),
            "directory" => raw.directory = l.many::<RawDirectoryEntry>(v, "directory"),
            "auth" => raw.auth = l.one::<RawAuth>(v, "auth").unwrap_or_default(),
            "crisis" => raw.crisis = l.one::<RawCrisis>(v, "crisis"),
            "callbacks" => {
                raw.callbacks = l.one::<RawCallbacks>(v, "callbacks").unwrap_or_default()
            }
            "platform" => raw.platform = l.one::<RawPlatform>(v, "platform").unwrap_or_default(),
            "wallboard" => raw.wallboard = l.one::<RawWallboard>(v, "wallboard"),
            "records" => raw.records = l.one::<RawRecords>(v, "records"),
            "cluster" => raw.cluster = l.one::<RawCluster>(v, "cluster"),
            other => {
                let msg = unknown_key_message(other, &path::SECTIONS);
                l.push(
                    Some(k.span().start),
                    Diagnostic::warning(path::key(other), msg),
                );
            }
        }
    }
    if !have_site {
        l.push(
            Some(0),
            Diagnostic::error(
                "site",
                "missing [site] table (its name and timezone are required)",
            ),
        );
    }
    l.found.sort_by_key(|(at, _)| *at);
    let diags: Vec<Diagnostic> = l.found.into_iter().map(|(_, d)| d).collect();
    if diags.iter().any(|d| d.severity == Severity::Error) {
        Err(diags)
    } else {
        Ok(Loaded {
            raw,
            warnings: diags,
        })
    }
}

/// Reads and parses a site file; a file that cannot be read is one error naming it.
pub fn load_file(file: impl AsRef<Path>) -> Result<Loaded, Vec<Diagnostic>> {
    let file = file.as_ref();
    match std::fs::read_to_string(file) {
        Ok(text) => load(&text),
        Err(e) => Err(vec![Diagnostic::error(
            file.display().to_string(),
            format!("cannot read the file: {e}"),
        )]),
    }
}

struct Loader<'t> {
    text: &'t str,
    /// Findings with the byte offset they refer to (for file order).
    found: Vec<(usize, Diagnostic)>,
}

impl Loader<'_> {
    fn push(&mut self, at: Option<usize>, d: Diagnostic) {
        self.found.push((at.unwrap_or(usize::MAX), d));
    }

    /// A section at byte `at` that is not written as its kind is.
    fn wrong_shape(&mut self, at: usize, section: &str, message: String) {
        let (line, col) = line_col(self.text, at);
        self.push(
            Some(at),
            Diagnostic::error(format!("{section} (line {line}, column {col})"), message),
        );
    }

    /// Deserializes one value at `prefix`, reporting unknown keys and the first type error.
    fn one<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        prefix: &str,
    ) -> Option<T> {
        let copy = value.clone();
        let mut ignored: Vec<Vec<Seg>> = Vec::new();
        let result = serde_ignored::deserialize(ValueDeserializer::from(value), |p| {
            ignored.push(segs_of(&p));
        });
        for segs in ignored {
            let Some((Seg::Key(unknown), parents)) = segs.split_last() else {
                continue;
            };
            let parents: Vec<&str> = parents
                .iter()
                .filter_map(|s| match s {
                    Seg::Key(k) => Some(k.as_str()),
                    Seg::Index(_) => None,
                })
                .collect();
            let section = prefix.split(['[', '.']).next().unwrap_or(prefix);
            let msg = unknown_key_message(unknown, known_keys(section, &parents));
            let at = find(&copy, &segs);
            self.push(at, Diagnostic::warning(path::join(prefix, &segs), msg));
        }
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let at = e.span().map_or(copy.span().start, |s| s.start);
                let mut segs = Vec::new();
                locate(copy.get_ref(), at, &mut segs, 0);
                let (line, col) = line_col(self.text, at);
                let p = format!("{} (line {line}, column {col})", path::join(prefix, &segs));
                self.push(Some(at), Diagnostic::error(p, tidy(e.message())));
                None
            }
        }
    }

    /// An array of tables (`[[groups]]`), each item on its own.
    fn many<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        section: &str,
    ) -> Vec<T> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => items
                .into_iter()
                .enumerate()
                .filter_map(|(i, item)| self.one(item, &format!("{section}[{i}]")))
                .collect(),
            _ => {
                self.wrong_shape(
                    span.start,
                    section,
                    format!("expected an array of tables; write each item as [[{section}]]"),
                );
                Vec::new()
            }
        }
    }

    /// A table of named tables (`[calendars.office]`), each on its own.
    fn map<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        section: &str,
    ) -> BTreeMap<String, T> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(t) => t
                .into_iter()
                .filter_map(|(k, v)| {
                    let name: String = k.get_ref().to_string();
                    let p = format!("{section}.{}", path::key(&name));
                    self.one(v, &p).map(|t| (name, t))
                })
                .collect(),
            _ => {
                self.wrong_shape(
                    span.start,
                    section,
                    format!("expected a table; write each one as [{section}.NAME]"),
                );
                BTreeMap::new()
            }
        }
    }
}

/// The fields known where an unknown key was met: `section` is the top-level key,
/// `parents` the keys between the item and the unknown key.
fn known_keys(section: &str, parents: &[&str]) -> &'static [&'static str] {
    match (section, parents) {
        ("site", []) => fields_of::<RawSiteInfo>(),
        ("entries", []) => fields_of::<RawEntry>(),
        ("entries", ["closed"]) => fields_of::<RawClosed>(),
        ("menus", []) => fields_of::<RawMenu>(),
        ("groups", []) => fields_of::<RawGroup>(),
        ("groups", ["widen"]) => fields_of::<RawWiden>(),
        ("groups", ["callback"]) => fields_of::<RawGroupCallback>(),
        ("groups", ["overflow"]) => fields_of::<RawOverflow>(),
        ("agents", []) => fields_of::<RawAgent>(),
        ("directory", []) => fields_of::<RawDirectoryEntry>(),
        ("auth", []) => fields_of::<RawAuth>(),
        ("crisis", []) => fields_of::<RawCrisis>(),
        ("callbacks", []) => fields_of::<RawCallbacks>(),
        ("platform", []) => fields_of::<RawPlatform>(),
        ("wallboard", []) | ("groups", ["wallboard"]) => fields_of::<RawWallboard>(),
        ("records", []) => fields_of::<RawRecords>(),
        ("cluster", []) => fields_of::<RawCluster>(),
        _ => &[],
    }
}

fn unknown_key_message(unknown: &str, known: &[&str]) -> String {
    match suggest(unknown, known.iter().copied()) {
        Some(s) => format!("unknown key; did you mean \"{s}\"?"),
        None if known.is_empty() => "unknown key".to_owned(),
        None => format!("unknown key; known keys here: {}", known.join(", ")),
    }
}

/// serde_ignored's path as our segments (its `Some`/newtype steps are not in the file).
fn segs_of(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    use serde_ignored::Path as P;
    let mut out = match p {
        P::Root => return Vec::new(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => segs_of(parent),
    };
    match p {
        P::Seq { index, .. } => out.push(Seg::Index(*index)),
        P::Map { key, .. } => out.push(Seg::Key(key.clone())),
        _ => {}
    }
    out
}

/// Deepest TOML depth we walk when locating a position (the parser bounds nesting anyway).
const MAX_DEPTH: usize = 64;

/// Appends to `out` the path of the deepest key or item under `v` whose key or value spans
/// `at`; returns whether anything was found.
fn locate(v: &DeValue<'_>, at: usize, out: &mut Vec<Seg>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match v {
        DeValue::Table(t) => {
            for (k, child) in t.iter() {
                let hit = k.span().contains(&at) || child.span().contains(&at);
                out.push(Seg::Key(k.get_ref().to_string()));
                if locate(child.get_ref(), at, out, depth + 1) || hit {
                    return true;
                }
                out.pop();
            }
            false
        }
        DeValue::Array(a) => {
            for (i, child) in a.into_iter().enumerate() {
                out.push(Seg::Index(i));
                if locate(child.get_ref(), at, out, depth + 1) || child.span().contains(&at) {
                    return true;
                }
                out.pop();
            }
            false
        }
        _ => false,
    }
}

/// Byte offset of the key (or item) at `segs` under `v`.
fn find(v: &Spanned<DeValue<'_>>, segs: &[Seg]) -> Option<usize> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(v.span().start);
    };
    match (v.get_ref(), first) {
        (DeValue::Table(t), Seg::Key(want)) => {
            let (k, child) = t.iter().find(|(k, _)| k.get_ref() == want)?;
            if rest.is_empty() {
                Some(k.span().start)
            } else {
                find(child, rest)
            }
        }
        (DeValue::Array(a), Seg::Index(i)) => find(a.into_iter().nth(*i)?, rest),
        _ => None,
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
pub(crate) fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// serde's wording in the file's terms (`f64` → a number, `field` → key).
fn tidy(msg: &str) -> String {
    let mut m = msg.trim().to_owned();
    for (from, to) in [
        ("expected f64", "expected a number"),
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("missing field", "missing key"),
        ("unknown field", "unknown key"),
    ] {
        m = m.replace(from, to);
    }
    if let Some(i) = m.find("expected struct ") {
        m.truncate(i);
        m.push_str("expected a table");
    }
    if let Some(first) = m.get(..1) {
        let lower = first.to_lowercase();
        m.replace_range(..1, &lower);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "[site]\nname = \"x\"\ntimezone = \"Europe/Stockholm\"\n";

    fn errs(text: &str) -> Vec<String> {
        load(text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn minimal_file_loads() {
        let l = load(MIN).unwrap();
        assert_eq!(l.raw.site.name, "x");
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn a_section_in_the_wrong_shape_says_how_to_write_it() {
        // Top-level keys come before the first table.
        let e = errs(&format!("groups = 3\n{MIN}"));
        assert_eq!(
            e,
            [
                "error: groups (line 1, column 10): expected an array of tables; write each item as [[groups]]"
            ],
        );
        let e = errs(&format!("calendars = [1]\n{MIN}"));
        assert_eq!(
            e,
            [
                "error: calendars (line 1, column 13): expected a table; write each one as [calendars.NAME]"
            ],
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = errs("[site]\nname = \"x\"\ntimezone = \n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("error: line 3, column "), "{e:?}");
    }

    #[test]
    fn type_errors_have_line_column_and_key_path() {
        let text =
            format!("{MIN}\n[[groups]]\nid = \"a\"\n\n[[groups]]\nid = \"b\"\nwrapup_s = \"30\"\n");
        let e = errs(&text);
        assert_eq!(
            e,
            vec![
                "error: groups[1].wrapup_s (line 10, column 12): invalid type: string \"30\", expected a number"
            ]
        );
    }

    #[test]
    fn every_bad_item_is_reported() {
        let text = format!(
            "{MIN}\n[[agents]]\nid = \"a\"\nname = \"A\"\n\n[[agents]]\nid = \"b\"\nname = \"B\"\nextension = \"2\"\nskills = {{ x = \"high\" }}\n"
        );
        let e = errs(&text);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("error: agents[0] (line 5, column 1): missing key `extension`"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("error: agents[1].skills.x (line 13, column 16): invalid type"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_keys_warn_with_did_you_mean() {
        let text = format!(
            "{MIN}srvice_level_s = 20\n\n[[groups]]\nid = \"a\"\n\n[[groups]]\nid = \"b\"\n\n[[groups]]\nid = \"c\"\nwrapup = 30\noverflow = [{{ when = \"no_agents\", to = \"group:a\", moed = \"move\" }}]\n\n[grups]\n"
        );
        let l = load(&text).unwrap();
        let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            vec![
                "warning: site.srvice_level_s: unknown key; did you mean \"service_level_s\"?",
                "warning: groups[2].wrapup: unknown key; did you mean \"wrapup_s\"?",
                "warning: groups[2].overflow[0].moed: unknown key; did you mean \"mode\"?",
                "warning: grups: unknown key; did you mean \"groups\"?",
            ]
        );
    }

    #[test]
    fn sections_of_the_wrong_shape() {
        let e = errs(&format!("groups = 3\n{MIN}"));
        assert_eq!(
            e,
            vec![
                "error: groups (line 1, column 10): expected an array of tables; write each item as [[groups]]"
            ]
        );
        let e = errs("name = \"x\"\n");
        assert!(
            e.iter()
                .any(|d| d.starts_with("error: site: missing [site] table")),
            "{e:?}"
        );
    }

    #[test]
    fn calendar_values_keep_their_position() {
        let e = errs(&format!("{MIN}\n[calendars.office]\nmon-fri = 8\n"));
        assert_eq!(
            e,
            vec![
                "error: calendars.office.mon-fri (line 6, column 11): invalid type: integer `8`, expected a string"
            ]
        );
    }

    #[test]
    fn nested_inline_values_have_their_path() {
        let e = errs(&format!(
            "{MIN}\n[[groups]]\nid = \"a\"\noverflow = [{{ when = \"wait_over_s\", value = \"60\", to = \"callback\" }}]\n"
        ));
        assert_eq!(
            e,
            vec![
                "error: groups[0].overflow[0].value (line 7, column 45): invalid type: string \"60\", expected a number"
            ]
        );
    }

    #[test]
    fn holidays_may_name_the_swedish_rule_beside_dates() {
        let l = crate::load_site(&format!(
            "{MIN}\n[calendars.office]\nmon-fri = \"08:00-17:00\"\nholidays = [\"se\", \"2028-12-23\"]\n[calendars.other]\nmon-fri = \"08:00-17:00\"\nholidays = \"se\"\n"
        ))
        .unwrap();
        for c in &l.site.calendars {
            assert_eq!(
                c.holiday_rule,
                Some(vaxel_core::holidays::HolidayRule::Sweden),
                "{}",
                c.id
            );
        }
        let err = crate::load_site(&format!(
            "{MIN}\n[calendars.office]\nholidays = [\"sweden\"]\n"
        ))
        .unwrap_err();
        assert!(
            err.iter().any(|d| d
                .to_string()
                .contains("the rule of Swedish public holidays is \"se\"")),
            "{err:?}"
        );
    }

    #[test]
    fn holidays_may_be_bare_toml_dates() {
        let l = load(&format!(
            "{MIN}\n[calendars.office]\nholidays = [2026-12-24, \"2026-12-25\"]\n"
        ))
        .unwrap();
        assert_eq!(
            l.raw.calendars["office"].holidays,
            ["2026-12-24", "2026-12-25"]
        );
        let e = errs(&format!(
            "{MIN}\n[calendars.office]\nholidays = [\"2026-12-24\", 5]\n"
        ));
        assert_eq!(
            e,
            vec![
                "error: calendars.office.holidays[1] (line 6, column 27): invalid type: integer `5`, expected a date like \"2026-12-24\""
            ]
        );
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\nåäö x", 10), (2, 5));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn unreadable_file_is_one_error() {
        let e = load_file("/nonexistent/vaxel/site.toml").unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.starts_with("cannot read the file"));
    }
}
