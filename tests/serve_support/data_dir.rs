//! Reading a daemon's data dir while it runs: its files by kind, and the call records in
//! them. Std only, so that `vaxel-serve`'s own tests (`tests/deadlines.rs`) include this
//! file as well.

use std::fs;
use std::path::{Path, PathBuf};

/// The files in the data dir named `{prefix}…{suffix}` (`cdr-`, `events-`, `journal-`),
/// sorted by name, i.e. by day or epoch; none while the dir does not exist.
pub fn data_files(data: &Path, prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(data)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every call record in the data dir's CSV files: `(call_id, outcome)` per line.
pub fn records(data: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in data_files(data, "cdr-", ".csv") {
        let text = fs::read_to_string(&f).unwrap_or_default();
        // Whole lines only: the daemon may be writing the last one.
        let whole = text.rfind('\n').map_or("", |i| &text[..i]);
        let mut lines = whole.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        // A file just created may not have its header yet (records are written right
        // after the acks are released).
        let (Some(id), Some(outcome)) = (col("call_id"), col("outcome")) else {
            continue;
        };
        for l in lines {
            let cells: Vec<&str> = l.split(',').collect();
            if cells.len() <= id.max(outcome) {
                continue;
            }
            out.push((cells[id].to_owned(), cells[outcome].to_owned()));
        }
    }
    out
}
