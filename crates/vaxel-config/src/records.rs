//! `[records]` (docs/configuration.md, docs/postgres.md): a copy of the daemon's call
//! records in PostgreSQL. Kept apart from the routing checks: nothing here changes how a
//! call is routed, and the engine never sees it.
//!
//! The URL must not hold the password: the site file is copied into the journal, so a
//! secret there would be written to disk beside every epoch. The
//! password comes from `postgres_password_file` or the daemon's environment
//! (`VAXEL_POSTGRES_PASSWORD`). Messages here never repeat the URL, in case it does.

use crate::Diagnostic;
use crate::raw::RawSite;

/// What `[records]` asks of the daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordsSink {
    /// The database the call records are copied to; `None`: no copy.
    pub postgres: Option<PostgresTarget>,
}

/// A PostgreSQL database to write to: its URL (checked to hold no password) and where the
/// password is, if in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresTarget {
    /// `postgresql://user@host:port/db?options`, no password in it.
    pub url: String,
    /// The file holding the password (first line), relative to the site file's directory.
    pub password_file: Option<String>,
}

/// `sslmode` values this build cannot honour: it has no TLS (docs/postgres.md).
const TLS_MODES: [&str; 3] = ["require", "verify-ca", "verify-full"];

/// The `[records]` settings of `raw`, with the diagnostics found.
pub(crate) fn records(raw: &RawSite) -> (RecordsSink, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let Some(r) = raw.records.as_ref() else {
        return (RecordsSink::default(), diags);
    };
    if let Some(f) = &r.postgres_password_file
        && f.trim().is_empty()
    {
        diags.push(Diagnostic::error(
            "records.postgres_password_file",
            "file path must not be empty",
        ));
    }
    let Some(url) = r.postgres.as_deref() else {
        if r.postgres_password_file.is_some() {
            diags.push(Diagnostic::warning(
                "records.postgres_password_file",
                "has no effect without records.postgres",
            ));
        }
        return (RecordsSink::default(), diags);
    };
    if let Some(problem) = url_problem(url) {
        diags.push(Diagnostic::error("records.postgres", problem));
    }
    let target = PostgresTarget {
        url: url.to_owned(),
        password_file: r.postgres_password_file.clone(),
    };
    (
        RecordsSink {
            postgres: Some(target),
        },
        diags,
    )
}

/// Why `url` is not a PostgreSQL URL the daemon will use, without quoting it.
fn url_problem(url: &str) -> Option<String> {
    let url = url.trim();
    let Some(rest) = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
    else {
        return Some("not a PostgreSQL URL; write postgresql://USER@HOST:PORT/DATABASE".to_owned());
    };
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, q),
        None => (rest, ""),
    };
    let authority = authority.split('/').next().unwrap_or("");
    let has_password = authority
        .rsplit_once('@')
        .is_some_and(|(user, _)| user.contains(':'));
    let params = || {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
    };
    if has_password || params().any(|(k, _)| k == "password") {
        return Some(
            "the URL holds a password; keep it out of the site file: put it in \
             records.postgres_password_file or the daemon's VAXEL_POSTGRES_PASSWORD"
                .to_owned(),
        );
    }
    if let Some((_, mode)) = params().find(|(k, _)| *k == "sslmode")
        && TLS_MODES.contains(&mode)
    {
        return Some(format!(
            "sslmode={mode} needs TLS, which this build does not have; reach the database over \
             a unix socket, loopback or a tunnel (docs/postgres.md)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_site;
    use crate::section_tests::{SITE, refused, with_section};

    fn with(records: &str) -> Result<crate::Validated, Vec<Diagnostic>> {
        with_section("records", records)
    }

    fn errors(records: &str) -> Vec<String> {
        refused("records", records)
    }

    #[test]
    fn a_url_and_a_password_file_are_taken() {
        let v = with(
            "postgres = \"postgresql://vaxel@db.local:5432/calls\"\npostgres_password_file = \"pw\"",
        )
        .expect("valid");
        assert_eq!(
            v.records.postgres,
            Some(PostgresTarget {
                url: "postgresql://vaxel@db.local:5432/calls".into(),
                password_file: Some("pw".into()),
            })
        );
        let none = load_site(SITE).expect("valid");
        assert_eq!(none.records, RecordsSink::default());
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_repeating_it() {
        for url in [
            "postgresql://vaxel:s3cret@db/calls",
            "postgres://vaxel@db/calls?password=s3cret",
        ] {
            let errs = errors(&format!("postgres = \"{url}\""));
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].starts_with("error: records.postgres: the URL holds a password"));
            assert!(!errs[0].contains("s3cret"), "{errs:?}");
        }
        // An `@` in the path or a colon in the host's port is no password.
        assert!(with("postgres = \"postgresql://vaxel@db:5432/calls\"").is_ok());
    }

    #[test]
    fn other_problems_are_named() {
        let errs = errors("postgres = \"mysql://db/calls\"");
        assert!(errs[0].contains("not a PostgreSQL URL"), "{errs:?}");
        let errs = errors("postgres = \"postgresql://db/calls?sslmode=require\"");
        assert!(errs[0].contains("sslmode=require needs TLS"), "{errs:?}");
        let errs = errors("postgres = \"postgresql://db/c\"\npostgres_password_file = \" \"");
        assert!(errs[0].contains("file path must not be empty"), "{errs:?}");
        let errs = errors("postgress = \"postgresql://db/c\"");
        assert!(errs[0].contains("did you mean \"postgres\""), "{errs:?}");
        let v = with("postgres_password_file = \"pw\"").expect("a warning only");
        assert!(
            v.warnings[0].to_string().contains("has no effect"),
            "{:?}",
            v.warnings
        );
    }
}
