//! Per-agent tokens of the desk: who may act for which agent (docs/operations.md "Tokens").

use super::*;

/// Per-agent tokens: `(agent id, token)` pairs.
pub type AgentTokens = Vec<(Text, Text)>;

/// Checks per-agent tokens, `(agent id, token)` pairs from the site file's
/// `[auth.agent_tokens]` or the lines of its `agent_tokens_file` (read by
/// [`agent_tokens_file`]): the agent must be one of `agents` (with a did-you-mean), the
/// token not empty, without spaces, and not also an operator or admin token in `others`
/// (a token has one role). Each problem comes with the index of its pair.
pub fn check_agent_tokens(
    pairs: &[(&str, &str)],
    agents: &[&str],
    others: &[&str],
) -> Result<AgentTokens, Vec<(usize, String)>> {
    let mut problems = Vec::new();
    let mut ok = Vec::new();
    for (i, &(agent, token)) in pairs.iter().enumerate() {
        if !agents.contains(&agent) {
            let dym = did_you_mean(agent, agents.iter().copied());
            problems.push((i, format!("no agent \"{agent}\"{dym}")));
        } else if token.is_empty() {
            problems.push((i, "token must not be empty".to_owned()));
        } else if token.chars().any(char::is_whitespace) {
            problems.push((i, "a token contains no spaces".to_owned()));
        } else if others.contains(&token) {
            problems.push((
                i,
                "this token is also an operator or admin token: give the agent its own".to_owned(),
            ));
        } else if pairs[..i].iter().any(|&(a, t)| t == token && a != agent) {
            problems.push((
                i,
                "the same token is given to another agent: each agent needs its own".to_owned(),
            ));
        } else {
            ok.push((Text::from(agent), Text::from(token)));
        }
    }
    if problems.is_empty() {
        Ok(ok)
    } else {
        Err(problems)
    }
}

/// Reads an `agent_tokens_file`'s text: one `AGENT_ID TOKEN` pair a line, blank lines and
/// `#` comments skipped, checked by [`check_agent_tokens`] against the site's agents and
/// its operator and admin tokens. Errors say `line N: …`.
pub fn agent_tokens_file(
    text: &str,
    site: &vaxel_core::site::Site,
    others: &[&str],
) -> Result<AgentTokens, Vec<String>> {
    let agents: Vec<&str> = site.agents.iter().map(|a| &*a.id).collect();
    let mut pairs = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(agent), Some(token), None) => {
                pairs.push((agent, token));
                lines.push(n + 1);
            }
            _ => problems.push(format!(
                "line {}: expected `AGENT_ID TOKEN` (two words)",
                n + 1
            )),
        }
    }
    match check_agent_tokens(&pairs, &agents, others) {
        Ok(ok) if problems.is_empty() => Ok(ok),
        Ok(_) => Err(problems),
        Err(e) => {
            problems.extend(
                e.into_iter()
                    .map(|(i, m)| format!("line {}: {m}", lines.get(i).copied().unwrap_or(0))),
            );
            Err(problems)
        }
    }
}
