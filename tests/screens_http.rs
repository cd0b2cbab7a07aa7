//! The screens' routes on a daemon with tokens: the pages and assets answer without a
//! token (they hold no data) with their content types and cache headers, `/` leads to the
//! wallboard, and the data behind them still needs the token.

mod serve_support;

use serve_support::{Daemon, SITE, temp_dir};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// `GET path` with extra header lines: the status and the head, lower-cased.
fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head)
}

fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

#[test]
fn pages_and_assets_are_served_without_a_token_and_data_is_not() {
    let tmp = temp_dir("screens-http");
    let site = tmp.join("site.toml");
    std::fs::write(&site, SITE).expect("write the site");
    let d = Daemon::start(
        &site,
        &tmp.join("data"),
        &[("VAXEL_OPERATOR_TOKENS", "screens-operator-0123456789")],
    );
    for (path, ctype) in [
        ("/wallboard", "text/html; charset=utf-8"),
        ("/wallboard?groups=sales", "text/html; charset=utf-8"),
        ("/assets/wallboard.css", "text/css; charset=utf-8"),
        ("/assets/wallboard.js", "text/javascript; charset=utf-8"),
        ("/assets/stream.js", "text/javascript; charset=utf-8"),
        ("/desk", "text/html; charset=utf-8"),
        ("/assets/desk.css", "text/css; charset=utf-8"),
        ("/assets/desk.js", "text/javascript; charset=utf-8"),
    ] {
        let (status, head) = get(d.http, path, "");
        assert_eq!(status, 200, "{path}: {head}");
        assert_eq!(header(&head, "content-type"), Some(ctype), "{path}");
        assert_eq!(header(&head, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(
            header(&head, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        let etag = header(&head, "etag").unwrap_or("").to_owned();
        assert!(etag.starts_with('"'), "{path}: {head}");
        let (again, _) = get(d.http, path, &format!("If-None-Match: {etag}\r\n"));
        assert_eq!(again, 304, "{path}");
    }
    let (status, head) = get(d.http, "/", "");
    assert!((300..400).contains(&status), "{head}");
    assert_eq!(header(&head, "location"), Some("/wallboard"));
    // The data still needs the token.
    assert_eq!(get(d.http, "/api/v1/stream", "").0, 401);
    assert_eq!(get(d.http, "/assets/nothing.js", "").0, 404);
}
