//! Tokens: who may speak the platform protocol (`hello`'s `token`) and use the HTTP API
//! (bearer tokens). Gathered from the site's `[auth]`, the `*_tokens_file` files (one
//! token per line, `#` comments; relative paths are relative to the site file), and the
//! environment (`VAXEL_PLATFORM_TOKENS`, `VAXEL_OPERATOR_TOKENS`, `VAXEL_ADMIN_TOKENS`,
//! comma-separated).

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::Path;
use vaxel_core::site::{Auth, Text};

/// Every token the daemon accepts, by role.
#[derive(Clone, Default)]
pub struct Tokens {
    pub platform: Vec<String>,
    pub operator: Vec<String>,
    pub admin: Vec<String>,
}

impl std::fmt::Debug for Tokens {
    /// Counts only: tokens are secrets and never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("platform", &self.platform.len())
            .field("operator", &self.operator.len())
            .field("admin", &self.admin.len())
            .finish()
    }
}

impl Tokens {
    /// Collects the tokens of `auth` (from a site file in `base`, if any) and the
    /// environment.
    pub fn gather(auth: &Auth, base: Option<&Path>) -> anyhow::Result<Tokens> {
        Ok(Tokens {
            platform: role(
                &auth.platform_tokens,
                auth.platform_tokens_file.as_deref(),
                "VAXEL_PLATFORM_TOKENS",
                base,
            )?,
            operator: role(
                &auth.operator_tokens,
                auth.operator_tokens_file.as_deref(),
                "VAXEL_OPERATOR_TOKENS",
                base,
            )?,
            admin: role(
                &auth.admin_tokens,
                auth.admin_tokens_file.as_deref(),
                "VAXEL_ADMIN_TOKENS",
                base,
            )?,
        })
    }

    /// Whether a `hello` with `token` may speak. With no platform token configured every
    /// `hello` is accepted (allowed only on loopback; see [`check_exposure`]).
    #[must_use]
    pub fn platform_ok(&self, token: Option<&str>) -> bool {
        if self.platform.is_empty() {
            return true;
        }
        token.is_some_and(|tok| self.platform.iter().any(|t| ct_eq(t, tok)))
    }
}

/// One role's tokens: inline, from its file, from its environment variable.
fn role(
    inline: &[Text],
    file: Option<&str>,
    var: &str,
    base: Option<&Path>,
) -> anyhow::Result<Vec<String>> {
    let mut dst: Vec<String> = inline.iter().map(|s| s.to_string()).collect();
    if let Some(file) = file {
        let path = match base {
            Some(b) if Path::new(file).is_relative() => b.join(file),
            _ => Path::new(file).to_owned(),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read tokens file {}", path.display()))?;
        dst.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if let Ok(v) = std::env::var(var) {
        dst.extend(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    dst.sort();
    dst.dedup();
    Ok(dst)
}

/// Equality whose time does not depend on where the strings differ.
#[must_use]
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Refuses to serve without tokens on a non-loopback address.
pub fn check_exposure(tokens: &Tokens, tcp: SocketAddr, http: SocketAddr) -> anyhow::Result<()> {
    if tokens.platform.is_empty() && !tcp.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {tcp} without platform tokens: the site has none \
             (set [auth] platform_tokens, platform_tokens_file or VAXEL_PLATFORM_TOKENS), \
             or listen on a loopback address such as 127.0.0.1"
        );
    }
    if (tokens.operator.is_empty() || tokens.admin.is_empty()) && !http.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve HTTP on {http} without operator and admin tokens \
             (set [auth] operator_tokens and admin_tokens, their *_file keys, or \
             VAXEL_OPERATOR_TOKENS / VAXEL_ADMIN_TOKENS), or use a loopback address"
        );
    }
    Ok(())
}
