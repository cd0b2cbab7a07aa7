//! Tokens: who may speak the platform protocol (`hello`'s `token`) and use the HTTP API
//! (bearer tokens). Gathered from the site's `[auth]`, the `*_tokens_file` files (one
//! token per line, `#` comments; relative paths are relative to the site file), and the
//! environment (`VAXEL_PLATFORM_TOKENS`, `VAXEL_OPERATOR_TOKENS`, `VAXEL_ADMIN_TOKENS`,
//! comma-separated). Per-agent tokens (the operator's desk) come from `[auth.agent_tokens]`
//! and the `agent_tokens_file` (`AGENT_ID TOKEN` lines, checked by
//! [`vaxel_config::agent_tokens_file`]); they have no environment variable, since each
//! names its agent.

use anyhow::Context as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use vaxel_core::site::{Site, Text};

/// Every token the daemon accepts, by role.
#[derive(Clone, Default)]
pub struct Tokens {
    pub platform: Vec<String>,
    pub operator: Vec<String>,
    pub admin: Vec<String>,
    /// `(agent id, token)`: such a token acts only for its agent (and reads).
    pub agent: Vec<(Text, String)>,
}

impl std::fmt::Debug for Tokens {
    /// Counts only: tokens are secrets and never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("platform", &self.platform.len())
            .field("operator", &self.operator.len())
            .field("admin", &self.admin.len())
            .field("agent", &self.agent.len())
            .finish()
    }
}

impl Tokens {
    /// Collects the tokens of `site`'s `[auth]` (from a site file in `base`, if any) and
    /// the environment.
    pub fn gather(site: &Site, base: Option<&Path>) -> anyhow::Result<Tokens> {
        let auth = &site.auth;
        let mut tokens = Tokens {
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
            agent: Vec::new(),
        };
        tokens.agent = agent_tokens(site, base, &tokens)?;
        Ok(tokens)
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

/// The tokens in force, replaced as a whole when a reload brings new ones (SIGHUP or
/// `POST /api/v1/reload`: rotating tokens needs no restart). Readers take the current set
/// (an `Arc` clone under a read lock held for an instant), so a check never sees half of an
/// old set and half of a new one. Not engine state: the one-owner rule is the engine's.
#[derive(Debug)]
pub struct TokenStore {
    current: RwLock<Arc<Tokens>>,
    /// The site file's directory, for relative `*_tokens_file` paths.
    base: Option<PathBuf>,
    /// The addresses served, for [`check_exposure`].
    tcp: SocketAddr,
    http: SocketAddr,
}

impl TokenStore {
    /// Gathers the tokens of `auth` and checks them against the addresses served.
    pub fn new(
        site: &Site,
        base: Option<&Path>,
        tcp: SocketAddr,
        http: SocketAddr,
    ) -> anyhow::Result<TokenStore> {
        let tokens = Tokens::gather(site, base)?;
        check_exposure(&tokens, tcp, http)?;
        Ok(TokenStore {
            current: RwLock::new(Arc::new(tokens)),
            base: base.map(Path::to_owned),
            tcp,
            http,
        })
    }

    /// The tokens in force.
    #[must_use]
    pub fn current(&self) -> Arc<Tokens> {
        match self.current.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Gathers the tokens of a reloaded site's `auth` (files and environment read again)
    /// and puts them in force; on an error (an unreadable file, an exposed address left
    /// without tokens) the tokens in force stay and the error says why.
    pub fn refresh(&self, site: &Site) -> anyhow::Result<()> {
        let tokens = Tokens::gather(site, self.base.as_deref())?;
        check_exposure(&tokens, self.tcp, self.http)?;
        let tokens = Arc::new(tokens);
        match self.current.write() {
            Ok(mut t) => *t = tokens,
            Err(poisoned) => *poisoned.into_inner() = tokens,
        }
        Ok(())
    }
}

/// The path of a `*_tokens_file`: relative to the site file's directory.
fn tokens_path(file: &str, base: Option<&Path>) -> PathBuf {
    match base {
        Some(b) if Path::new(file).is_relative() => b.join(file),
        _ => Path::new(file).to_owned(),
    }
}

/// The per-agent tokens: the site file's (validated with it) and its `agent_tokens_file`'s,
/// checked against the site's agents and the operator and admin tokens gathered.
fn agent_tokens(
    site: &Site,
    base: Option<&Path>,
    others: &Tokens,
) -> anyhow::Result<Vec<(Text, String)>> {
    let auth = &site.auth;
    let mut dst: Vec<(Text, String)> = auth
        .agent_tokens
        .iter()
        .map(|(a, t)| (a.clone(), t.to_string()))
        .collect();
    if let Some(file) = &auth.agent_tokens_file {
        let path = tokens_path(file, base);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read agent tokens file {}", path.display()))?;
        let roles: Vec<&str> = others
            .operator
            .iter()
            .chain(&others.admin)
            .map(String::as_str)
            .collect();
        let pairs = vaxel_config::agent_tokens_file(&text, site, &roles).map_err(|problems| {
            anyhow::anyhow!(
                "agent tokens file {}: {}",
                path.display(),
                problems.join("; ")
            )
        })?;
        dst.extend(pairs.into_iter().map(|(a, t)| (a, t.to_string())));
    }
    // A token of an operator or admin (from a file or the environment) would act with the
    // larger role; the same token for two agents for whichever comes first: refused.
    if let Some((a, _)) = dst
        .iter()
        .find(|(_, t)| others.operator.contains(t) || others.admin.contains(t))
    {
        anyhow::bail!(
            "agent tokens: agent \"{a}\"'s token is also an operator or admin token; give the agent its own"
        );
    }
    for (i, (a, t)) in dst.iter().enumerate() {
        if let Some((b, _)) = dst[..i].iter().find(|(b, u)| u == t && b != a) {
            anyhow::bail!(
                "agent tokens: agents \"{b}\" and \"{a}\" have the same token; each agent needs its own"
            );
        }
    }
    dst.sort();
    dst.dedup();
    Ok(dst)
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
        let path = tokens_path(file, base);
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

#[cfg(test)]
mod tests {
    use super::*;
    use vaxel_core::site::Auth;

    fn auth(platform: &str, operator: &str, admin: &str) -> Site {
        let list = |t: &str| {
            if t.is_empty() {
                Vec::new()
            } else {
                vec![Text::from(t)]
            }
        };
        let mut site = vaxel_config::stockholm().unwrap().site;
        site.auth = Auth {
            platform_tokens: list(platform),
            operator_tokens: list(operator),
            admin_tokens: list(admin),
            ..Auth::default()
        };
        site
    }

    #[test]
    fn agent_tokens_come_from_the_site_and_its_file_and_are_checked() {
        let dir = crate::scratch::fresh_dir("agent-tokens");
        let mut site = auth("", "op-token-0123456789", "");
        let agent = site.agents[0].id.clone();
        let other = site.agents[1].id.clone();
        site.auth.agent_tokens = vec![(agent.clone(), "desk-a-0123456789".into())];
        site.auth.agent_tokens_file = Some("agents.tokens".into());
        std::fs::write(
            dir.path().join("agents.tokens"),
            format!("# desk tokens\n{other} desk-b-0123456789\n"),
        )
        .unwrap();
        let t = Tokens::gather(&site, Some(dir.path())).unwrap();
        assert_eq!(t.agent.len(), 2);
        assert!(
            t.agent
                .contains(&(other.clone(), "desk-b-0123456789".to_owned()))
        );

        // Each problem says where and what.
        let bad = |text: &str| {
            std::fs::write(dir.path().join("agents.tokens"), text).unwrap();
            format!("{:#}", Tokens::gather(&site, Some(dir.path())).unwrap_err())
        };
        let e = bad("nobody-here x-0123456789\n");
        assert!(e.contains("line 1: no agent \"nobody-here\""), "{e}");
        let e = bad(&format!("{other}\n"));
        assert!(e.contains("line 1: expected `AGENT_ID TOKEN`"), "{e}");
        let e = bad(&format!("{other} op-token-0123456789\n"));
        assert!(e.contains("also an operator or admin token"), "{e}");
        let e = bad(&format!("{other} desk-a-0123456789\n"));
        assert!(e.contains("the same token"), "{e}");
        std::fs::remove_file(dir.path().join("agents.tokens")).unwrap();
        let e = format!("{:#}", Tokens::gather(&site, Some(dir.path())).unwrap_err());
        assert!(e.contains("cannot read agent tokens file"), "{e}");
    }

    #[test]
    fn a_refresh_that_would_expose_an_address_keeps_the_tokens_in_force() {
        let tcp: SocketAddr = "10.0.0.1:7070".parse().unwrap();
        let http: SocketAddr = "127.0.0.1:7080".parse().unwrap();
        let store = TokenStore::new(&auth("p-1", "", ""), None, tcp, http).unwrap();
        assert!(store.current().platform_ok(Some("p-1")));

        let err = store.refresh(&auth("", "o", "a")).unwrap_err().to_string();
        assert!(err.contains("without platform tokens"), "{err}");
        assert!(store.current().platform_ok(Some("p-1")), "unchanged");

        store.refresh(&auth("p-2", "", "")).unwrap();
        assert!(!store.current().platform_ok(Some("p-1")));
        assert!(store.current().platform_ok(Some("p-2")));
    }
}
