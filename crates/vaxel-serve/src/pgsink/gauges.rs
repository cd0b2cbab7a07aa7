//! The sink's metrics (docs/operations.md, "Metrics"), registered in the daemon's registry
//! and set by the sink's task only. Labels: `kind`, from the fixed set of record kinds.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The sink's series.
#[derive(Clone, Debug)]
pub struct Gauges {
    pub connected: IntGauge,
    pub rows_written: IntCounterVec,
    pub rows_skipped: IntCounterVec,
    pub backlog_rows: IntGaugeVec,
    pub backlog_bytes: IntGaugeVec,
    pub errors: IntCounterVec,
    pub last_error: IntGauge,
}

impl Gauges {
    /// Registers every series in `r`.
    pub fn new(r: &Registry) -> prometheus::Result<Gauges> {
        fn reg<C: prometheus::core::Collector + Clone + 'static>(
            r: &Registry,
            c: C,
        ) -> prometheus::Result<C> {
            r.register(Box::new(c.clone()))?;
            Ok(c)
        }
        Ok(Gauges {
            connected: reg(
                r,
                IntGauge::new(
                    "vaxel_postgres_connected",
                    "1 while the PostgreSQL sink has a working connection to its database.",
                )?,
            )?,
            rows_written: reg(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_postgres_rows_written_total",
                        "Rows the PostgreSQL sink inserted (rows already in the database are not counted).",
                    ),
                    &["kind"],
                )?,
            )?,
            rows_skipped: reg(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_postgres_rows_skipped_total",
                        "Records the PostgreSQL sink left out (named in the log): damaged lines, rows the database refused.",
                    ),
                    &["kind"],
                )?,
            )?,
            backlog_rows: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "vaxel_postgres_backlog_rows",
                        "Records in the data dir not yet in PostgreSQL.",
                    ),
                    &["kind"],
                )?,
            )?,
            backlog_bytes: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "vaxel_postgres_backlog_bytes",
                        "Bytes of the data dir's files not yet in PostgreSQL.",
                    ),
                    &["kind"],
                )?,
            )?,
            errors: reg(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "vaxel_postgres_errors_total",
                        "Failed connections and writes of the PostgreSQL sink, by what failed (connect, write, read).",
                    ),
                    &["op"],
                )?,
            )?,
            last_error: reg(
                r,
                IntGauge::new(
                    "vaxel_postgres_last_error_timestamp_seconds",
                    "Unix time of the PostgreSQL sink's last error (0: none since start).",
                )?,
            )?,
        })
    }
}
