//! The database side of the sink: connecting (the password from a file or the environment,
//! never from the site file), the schema (created when missing), the positions, and one
//! batch's transaction.
//!
//! Idempotent twice over. Every row carries its natural key `(day, line)` (its day file
//! and its record number there, the same whenever the file is read: source.rs), inserted
//! with `ON CONFLICT DO NOTHING`; and the file's new position is stored in the same
//! transaction as its rows, so the sink resumes exactly where the database says it is. The
//! position alone would do while nothing goes wrong; the key makes a file read again (cut
//! and rebuilt, positions table dropped, a sink that crashed between commit and noting it)
//! harmless.

use super::kind::{KINDS, RecordKind};
use super::source::{Batch, Position};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};
use vaxel_config::records::PostgresTarget;

/// The environment variable the password may come from.
pub const PASSWORD_ENV: &str = "VAXEL_POSTGRES_PASSWORD";
/// The table of positions: per kind and file, what the database has.
pub const POSITIONS: &str = "vaxel_sink_positions";

/// How to reach the database. `Debug` leaves the password out.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("user", &self.config.get_user())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The URL of `t` with its password: the first line of `t.password_file` (relative to
    /// `base`, the site file's directory), else [`PASSWORD_ENV`], else none (the server may
    /// trust a local user). A password file that cannot be read stops the start.
    pub fn new(t: &PostgresTarget, base: Option<&Path>) -> anyhow::Result<Target> {
        let mut config = tokio_postgres::Config::from_str(t.url.trim())
            .map_err(|e| anyhow::anyhow!("[records] postgres: {e}"))?;
        let password = match &t.password_file {
            Some(f) => {
                let path = base.map_or_else(|| PathBuf::from(f), |b| b.join(f));
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!(
                        "cannot read the PostgreSQL password file {}",
                        path.display()
                    )
                })?;
                Some(text.lines().next().unwrap_or("").to_owned())
            }
            None => std::env::var(PASSWORD_ENV).ok(),
        };
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            config.password(p);
        }
        if config.get_application_name().is_none() {
            config.application_name("vaxel");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        Ok(Target { config })
    }

    /// Connects and creates the schema when missing. The connection is driven by a task
    /// of its own, which ends with it.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection ended");
            }
        });
        // `CREATE … IF NOT EXISTS` notices ("already exists, skipping") are not news.
        // Commits need not wait for the server's WAL flush: a server crash can only lose
        // whole recent transactions, rows and position together, and the sink, reading
        // the positions again when it reconnects, sends those rows again.
        client
            .batch_execute(&format!(
                "SET client_min_messages TO warning;\nSET synchronous_commit TO off;\n{}",
                schema()
            ))
            .await?;
        Ok(client)
    }
}

/// `"name"`: every identifier quoted (`from` is a keyword).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The schema, one `CREATE … IF NOT EXISTS` per kind and the positions table
/// (docs/postgres.md shows it).
#[must_use]
pub fn schema() -> String {
    let mut sql = String::new();
    for kind in KINDS {
        let _ = writeln!(sql, "CREATE TABLE IF NOT EXISTS {} (", kind.table());
        let _ = writeln!(sql, "    day date NOT NULL,");
        let _ = writeln!(sql, "    line bigint NOT NULL,");
        for c in kind.columns() {
            let _ = writeln!(sql, "    {} {},", quoted(c.name), c.sql);
        }
        let _ = writeln!(sql, "    PRIMARY KEY (day, line)");
        let _ = writeln!(sql, ");");
    }
    let _ = writeln!(sql, "CREATE TABLE IF NOT EXISTS {POSITIONS} (");
    let _ = writeln!(sql, "    kind text NOT NULL,");
    let _ = writeln!(sql, "    file text NOT NULL,");
    let _ = writeln!(sql, "    bytes bigint NOT NULL,");
    let _ = writeln!(sql, "    lines bigint NOT NULL,");
    let _ = writeln!(sql, "    updated timestamptz NOT NULL DEFAULT now(),");
    let _ = writeln!(sql, "    PRIMARY KEY (kind, file)");
    let _ = writeln!(sql, ");");
    sql
}

/// What the database has of each of `kind`'s files.
pub async fn positions(
    client: &Client,
    kind: &dyn RecordKind,
) -> anyhow::Result<BTreeMap<String, Position>> {
    let rows = client
        .query(
            &format!("SELECT file, bytes, lines FROM {POSITIONS} WHERE kind = $1"),
            &[&kind.name()],
        )
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let (file, bytes, lines): (String, i64, i64) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        out.insert(
            file,
            Position {
                bytes: u64::try_from(bytes).unwrap_or(0),
                lines: u64::try_from(lines).unwrap_or(0),
            },
        );
    }
    Ok(out)
}

/// Inserts `batch` and moves its file's position, in one transaction. Returns the rows
/// inserted (those already there are not).
pub async fn write(
    client: &mut Client,
    kind: &dyn RecordKind,
    batch: &Batch,
) -> anyhow::Result<u64> {
    let tx = client.transaction().await?;
    let rows = numbered(batch);
    let mut inserted = 0;
    if !rows.is_empty() {
        let (sql, params) = insert(kind, &batch.day, &rows);
        inserted = tx.execute(&sql, &as_sql(&params)).await?;
    }
    finish(tx, kind, batch).await?;
    Ok(inserted)
}

/// [`write`], one row at a time under a savepoint of its own, for a batch the database
/// refused a value of ([`refused_a_value`]): the rows it refuses are left out and
/// returned (record number, the server's message), the others go in. A line edited by
/// hand thus costs its own row, not the copy of every record after it.
pub async fn write_each(
    client: &mut Client,
    kind: &dyn RecordKind,
    batch: &Batch,
) -> anyhow::Result<(u64, Vec<(u64, String)>)> {
    let mut tx = client.transaction().await?;
    let (mut inserted, mut refused) = (0, Vec::new());
    for row in numbered(batch) {
        let (sql, params) = insert(kind, &batch.day, std::slice::from_ref(&row));
        let sp = tx.transaction().await?;
        match sp.execute(&sql, &as_sql(&params)).await {
            Ok(n) => {
                sp.commit().await?;
                inserted += n;
            }
            Err(e) if e.as_db_error().is_some() => {
                sp.rollback().await?;
                let msg = e
                    .as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_default();
                refused.push((row.0, msg));
            }
            Err(e) => return Err(e.into()),
        }
    }
    finish(tx, kind, batch).await?;
    Ok((inserted, refused))
}

/// Whether `e` is the database refusing a value of a row (SQLSTATE class 22, a data
/// exception such as a malformed timestamp, or 23502, a `NULL` where none may be): the
/// row's fault, which no retry mends.
#[must_use]
pub fn refused_a_value(e: &anyhow::Error) -> bool {
    e.downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|c| c.code().starts_with("22") || c.code() == "23502")
}

/// The rows of `batch` that have cells, with their record numbers.
fn numbered(batch: &Batch) -> Vec<(u64, &Vec<Option<String>>)> {
    (batch.first_line..)
        .zip(&batch.rows)
        .filter(|(_, cells)| !cells.is_empty())
        .collect()
}

fn as_sql(params: &[Option<String>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Moves `batch`'s file to its new position and commits `tx`.
async fn finish(
    tx: tokio_postgres::Transaction<'_>,
    kind: &dyn RecordKind,
    batch: &Batch,
) -> anyhow::Result<()> {
    // A file begun after a checkpoint (`Batch::before`) is not a whole copy's bytes: no
    // byte is stored for it (a node with the whole file reads it again from its start,
    // the rows in skipped by their key), its lines counted as a whole copy's.
    let (bytes, lines) = match batch.before {
        0 => (batch.end.bytes, batch.end.lines),
        before => (0, before + batch.end.lines),
    };
    let bytes = i64::try_from(bytes).context("position out of range")?;
    let lines = i64::try_from(lines).context("position out of range")?;
    tx.execute(
        &format!(
            "INSERT INTO {POSITIONS} (kind, file, bytes, lines) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, file) DO UPDATE SET bytes = EXCLUDED.bytes, \
             lines = EXCLUDED.lines, updated = now()"
        ),
        &[&kind.name(), &batch.file, &bytes, &lines],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One multi-row `INSERT … ON CONFLICT DO NOTHING` of `rows` (record number, cells) of
/// `day`. Every value goes as text and is cast by the server to its column's type, so the
/// cells need no conversion here and the server checks them.
fn insert(
    kind: &dyn RecordKind,
    day: &str,
    rows: &[(u64, &Vec<Option<String>>)],
) -> (String, Vec<Option<String>>) {
    let cols = kind.columns();
    let mut sql = format!("INSERT INTO {} (day, line", kind.table());
    for c in cols {
        let _ = write!(sql, ", {}", quoted(c.name));
    }
    sql.push_str(") VALUES ");
    let mut params: Vec<Option<String>> = Vec::with_capacity(rows.len() * (cols.len() + 2));
    for (i, (line, cells)) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        params.push(Some(day.to_owned()));
        params.push(Some(line.to_string()));
        let _ = write!(
            sql,
            "(${}::text::date, ${}::text::bigint",
            params.len() - 1,
            params.len()
        );
        for (c, cell) in cols.iter().zip(cells.iter()) {
            params.push(cell.clone());
            let ty = c.sql.split_whitespace().next().unwrap_or("text");
            let _ = write!(sql, ", ${}::text::{ty}", params.len());
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (day, line) DO NOTHING");
    (sql, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgsink::kind::CallRecords;

    #[test]
    fn the_schema_and_an_insert_name_every_column() {
        let s = schema();
        assert!(
            s.contains("CREATE TABLE IF NOT EXISTS vaxel_calls ("),
            "{s}"
        );
        assert!(s.contains("    \"from\" text,\n"), "{s}");
        assert!(
            s.contains("    \"wait_s\" numeric(12,3) NOT NULL,\n"),
            "{s}"
        );
        assert!(s.contains("PRIMARY KEY (kind, file)"), "{s}");
        assert!(
            s.contains("CREATE TABLE IF NOT EXISTS vaxel_events (\n    day date NOT NULL,\n    line bigint NOT NULL,\n    \"time\" timestamptz NOT NULL,\n"),
            "{s}"
        );
        assert!(s.contains("    \"group\" text,\n"), "{s}");

        let cells: Vec<Option<String>> = (0..19).map(|i| Some(i.to_string())).collect();
        let (sql, params) = insert(&CallRecords, "2026-03-02", &[(7, &cells), (8, &cells)]);
        assert_eq!(params.len(), 2 * 21);
        assert_eq!(params[1].as_deref(), Some("7"));
        assert!(
            sql.starts_with("INSERT INTO vaxel_calls (day, line, \"call_id\""),
            "{sql}"
        );
        assert!(
            sql.contains("($1::text::date, $2::text::bigint, $3::text::text"),
            "{sql}"
        );
        assert!(sql.contains("$12::text::numeric(12,3)"), "{sql}");
        assert!(sql.contains("($22::text::date"), "{sql}");
        assert!(sql.ends_with("ON CONFLICT (day, line) DO NOTHING"), "{sql}");
    }

    /// docs/postgres.md shows the schema a DBA may create beforehand: exactly this one.
    #[test]
    fn the_docs_show_the_schema() {
        let doc = include_str!("../../../../docs/postgres.md");
        assert!(doc.contains(&schema()), "docs/postgres.md:\n{}", schema());
    }

    #[test]
    fn the_password_comes_from_its_file_and_is_never_shown() {
        let tmp = crate::scratch::fresh_dir("pgtarget");
        let dir = tmp.path();
        std::fs::write(dir.join("pw"), "s3cret-pass\nignored\n").expect("write");
        let t = PostgresTarget {
            url: "postgresql://vaxel@127.0.0.1:5432/calls".into(),
            password_file: Some("pw".into()),
        };
        let target = Target::new(&t, Some(dir)).expect("target");
        assert_eq!(target.config.get_password(), Some(&b"s3cret-pass"[..]));
        assert!(!format!("{target:?}").contains("s3cret"));
        let missing = PostgresTarget {
            password_file: Some("nope".into()),
            ..t
        };
        let e = Target::new(&missing, Some(dir)).expect_err("no file");
        assert!(
            format!("{e:#}").contains("cannot read the PostgreSQL password file"),
            "{e:#}"
        );
    }
}
