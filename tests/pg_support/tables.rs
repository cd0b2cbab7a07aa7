//! The sink's tables (docs/postgres.md) and the daily files they copy, compared row by
//! row: the rows on disk and in the database as the same text. (The files are listed by
//! `serve_support`: a test using this module has it too.)

use super::Postgres;
use crate::serve_support::{SITE, write_site};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the sink may take to catch up (it retries a lost database at most every 10 s).
pub const CATCH_UP: Duration = Duration::from_secs(40);

/// [`SITE`] copying its records to `pg`, the password read from `pg-password` beside it.
pub fn site_for(dir: &Path, pg: &Postgres, password: &str) -> PathBuf {
    super::password_file(dir, password);
    write_site(
        dir,
        &format!(
            "{SITE}\n[records]\npostgres = \"{}\"\npostgres_password_file = \"pg-password\"\n",
            pg.url()
        ),
    )
}

/// One of the sink's tables and the daily files it copies.
pub struct Kind {
    /// The files' prefix: `{prefix}YYYY-MM-DD.csv`.
    pub prefix: &'static str,
    pub table: &'static str,
    /// The label of its metrics' series.
    pub label: &'static str,
    /// The columns after the key, in file (and table) order.
    pub columns: &'static [&'static str],
}

pub const CALLS: Kind = Kind {
    prefix: "cdr-",
    table: "vaxel_calls",
    label: "calls",
    columns: &vaxel_sim::cdr::CDR_COLUMNS,
};

pub const EVENTS: Kind = Kind {
    prefix: "events-",
    table: "vaxel_events",
    label: "events",
    columns: &vaxel_sim::events::EVENT_COLUMNS,
};

impl Kind {
    /// The series of metric `name` for this kind, as `/metrics` writes its name.
    pub fn series(&self, name: &str) -> String {
        format!("{name}{{kind=\"{}\"}}", self.label)
    }

    /// The kind's files in `data`, by name (= by day).
    pub fn files(&self, data: &Path) -> Vec<String> {
        crate::serve_support::data_files(data, self.prefix, ".csv")
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    /// The kind's rows on disk, as rows of text comparable with [`Kind::db_rows`]: day,
    /// line number, then every column, times as epoch milliseconds and durations as
    /// milliseconds.
    pub fn disk_rows(&self, data: &Path) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for f in self.files(data) {
            let day = &f[self.prefix.len()..f.len() - ".csv".len()];
            let mut r = csv::Reader::from_path(data.join(&f)).expect("read a file");
            let header = r.headers().expect("header").clone();
            assert_eq!(
                header.iter().collect::<Vec<_>>(),
                self.columns,
                "{f}: the columns"
            );
            for (n, rec) in r.records().enumerate() {
                let rec = rec.expect("a record");
                let mut row = vec![day.to_owned(), (n + 1).to_string()];
                for (name, cell) in header.iter().zip(rec.iter()) {
                    row.push(normal(name, cell));
                }
                out.push(row);
            }
        }
        out
    }

    /// The table's rows as [`Kind::disk_rows`] writes them (psql's `t`/`f` as
    /// `true`/`false`, `NULL` as an empty cell).
    pub fn db_rows(&self, pg: &Postgres) -> Vec<Vec<String>> {
        let select: Vec<String> = self
            .columns
            .iter()
            .map(|c| match kind_of(c) {
                Cell::Time => format!("(extract(epoch from \"{c}\") * 1000)::bigint"),
                Cell::Duration => format!("(\"{c}\" * 1000)::bigint"),
                Cell::Other => format!("\"{c}\""),
            })
            .collect();
        pg.query(&format!(
            "SELECT day, line, {} FROM {} ORDER BY day, line",
            select.join(", "),
            self.table
        ))
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| match c.as_str() {
                    "t" => "true".into(),
                    "f" => "false".into(),
                    _ => c,
                })
                .collect()
        })
        .collect()
    }

    pub fn db_count(&self, pg: &Postgres) -> i64 {
        pg.count(&format!("SELECT count(*) FROM {}", self.table))
    }

    /// Waits until the table holds exactly the rows on disk in `data`, and returns their
    /// number (`log`: the daemon's log, shown when it never does).
    #[track_caller]
    pub fn wait_equal(&self, pg: &Postgres, data: &Path, log: &dyn Fn() -> String) -> usize {
        let until = Instant::now() + CATCH_UP;
        // Files are written just after the acks: equal only counts once the file has stood
        // still for a poll, or the table may equal a file still being written.
        let mut before = usize::MAX;
        loop {
            let disk = self.disk_rows(data);
            let still = std::mem::replace(&mut before, disk.len()) == disk.len();
            if still && self.db_count(pg) == disk.len() as i64 {
                let db = self.db_rows(pg);
                assert_eq!(db.len(), disk.len());
                for (a, b) in db.iter().zip(&disk) {
                    assert_eq!(a, b, "{} row != its line on disk", self.table);
                }
                return disk.len();
            }
            assert!(
                Instant::now() < until,
                "{} never caught up: {} rows of {}; log:\n{}",
                self.table,
                self.db_count(pg),
                disk.len(),
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How a column's cells compare.
pub enum Cell {
    Time,
    Duration,
    Other,
}

pub fn kind_of(column: &str) -> Cell {
    match column {
        "arrived" | "queued" | "answered" | "ended" | "time" => Cell::Time,
        "announced_ewt_s" | "ewt_s" => Cell::Other,
        c if c.ends_with("_s") => Cell::Duration,
        _ => Cell::Other,
    }
}

pub fn normal(column: &str, cell: &str) -> String {
    if cell.is_empty() {
        return String::new();
    }
    match kind_of(column) {
        Cell::Time => cell
            .parse::<jiff::Timestamp>()
            .expect("a timestamp")
            .as_millisecond()
            .to_string(),
        Cell::Duration => format!(
            "{}",
            (cell.parse::<f64>().expect("seconds") * 1000.0).round()
        ),
        Cell::Other => cell.to_owned(),
    }
}
