//! The screens served by `vaxel serve` on its HTTP port (docs/screens.md: the wallboard
//! and the operator's desk): pages and their assets are embedded in the binary (no CDN,
//! nothing fetched at run time) and hold no data, so they need no token; the data comes from `/api/v1/stream` with the viewer's
//! token, sent by the page's script as a header (never in a URL, which proxies and access
//! logs keep).
//!
//! Every asset answers with its content type, an `ETag` (a hash of the bytes, so a new
//! build is picked up at once) and `Cache-Control: no-cache` (the browser revalidates and
//! gets `304` while the build is the same), plus headers that keep the page from being
//! framed or from loading anything from elsewhere.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::OnceLock;

/// One embedded file.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: OnceLock<HeaderValue>,
}

impl Asset {
    const fn new(body: &'static str, content_type: &'static str) -> Asset {
        Asset {
            body,
            content_type,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &HeaderValue {
        self.etag.get_or_init(|| {
            let tag = format!("\"{:016x}\"", fnv1a(self.body.as_bytes()));
            HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
        })
    }

    fn respond(&self, request: &HeaderMap) -> Response {
        let etag = self.etag().clone();
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == etag.to_str().unwrap_or(""))
            });
        let mut resp = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            self.body.into_response()
        };
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        h.insert(header::ETAG, etag);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                 img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        );
        resp
    }
}

/// FNV-1a, 64 bits: an ETag only needs to change when the bytes do.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

static WALLBOARD_HTML: Asset =
    Asset::new(include_str!("wallboard.html"), "text/html; charset=utf-8");
static WALLBOARD_CSS: Asset = Asset::new(include_str!("wallboard.css"), "text/css; charset=utf-8");
static WALLBOARD_JS: Asset = Asset::new(
    include_str!("wallboard.js"),
    "text/javascript; charset=utf-8",
);
static DESK_HTML: Asset = Asset::new(include_str!("desk.html"), "text/html; charset=utf-8");
static DESK_CSS: Asset = Asset::new(include_str!("desk.css"), "text/css; charset=utf-8");
static DESK_JS: Asset = Asset::new(include_str!("desk.js"), "text/javascript; charset=utf-8");
static STREAM_JS: Asset = Asset::new(include_str!("stream.js"), "text/javascript; charset=utf-8");

/// `GET /`: the wallboard is the daemon's front page.
pub async fn index() -> Redirect {
    Redirect::to("/wallboard")
}

/// `GET /wallboard` (`?groups=a,b` is read by the page's script).
pub async fn wallboard(headers: HeaderMap) -> Response {
    WALLBOARD_HTML.respond(&headers)
}

/// `GET /assets/wallboard.css`.
pub async fn wallboard_css(headers: HeaderMap) -> Response {
    WALLBOARD_CSS.respond(&headers)
}

/// `GET /assets/wallboard.js`.
pub async fn wallboard_js(headers: HeaderMap) -> Response {
    WALLBOARD_JS.respond(&headers)
}

/// `GET /desk`: the operator's desk (the agent signs in on the page itself).
pub async fn desk(headers: HeaderMap) -> Response {
    DESK_HTML.respond(&headers)
}

/// `GET /assets/desk.css`.
pub async fn desk_css(headers: HeaderMap) -> Response {
    DESK_CSS.respond(&headers)
}

/// `GET /assets/desk.js`.
pub async fn desk_js(headers: HeaderMap) -> Response {
    DESK_JS.respond(&headers)
}

/// `GET /assets/stream.js`: the token-carrying event-stream client the screens share.
pub async fn stream_js(headers: HeaderMap) -> Response {
    STREAM_JS.respond(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let first = WALLBOARD_JS.respond(&HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let Some(tag) = first.headers().get(header::ETAG).cloned() else {
            panic!("no etag");
        };
        assert_eq!(
            first
                .headers()
                .get(header::CONTENT_TYPE)
                .map(HeaderValue::as_bytes),
            Some(&b"text/javascript; charset=utf-8"[..])
        );
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(
            WALLBOARD_JS.respond(&again).status(),
            StatusCode::NOT_MODIFIED
        );
        let mut other = HeaderMap::new();
        other.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\""));
        assert_eq!(WALLBOARD_JS.respond(&other).status(), StatusCode::OK);
    }
}
