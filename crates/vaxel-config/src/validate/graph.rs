//! The routing graph as a whole: menu loops, overflow cycles, what no entry reaches and
//! what no agent can serve.

use super::*;

/// An edge of the routing graph, with the path of the key that makes it.
#[derive(Clone, Debug)]
pub(super) struct Edge {
    pub(super) to: usize,
    pub(super) path: String,
    /// Menus: the edge is `default` (taken when the caller presses nothing).
    pub(super) default: bool,
}

impl<'r> Validator<'r> {
    /// A loop of menus through `default` edges is an error (a caller who presses nothing
    /// goes round forever); a loop that needs a key press somewhere is a warning.
    pub(super) fn menu_loops(&mut self, edges: &[Vec<Edge>]) {
        let raw = self.raw;
        let ids = |c: &[usize]| cycle_text(c, |m| raw.menus[m].id.as_str());
        let defaults: Vec<Vec<usize>> = edges
            .iter()
            .map(|es| es.iter().filter(|e| e.default).map(|e| e.to).collect())
            .collect();
        let mut in_default_loop = vec![false; edges.len()];
        for c in cycles(&defaults) {
            for &m in &c {
                in_default_loop[m] = true;
            }
            self.err(
                format!("menus[{}].default", c[0]),
                format!(
                    "menu loop through defaults: {}; a caller who presses nothing goes round forever",
                    ids(&c)
                ),
            );
        }
        let all: Vec<Vec<usize>> = edges
            .iter()
            .map(|es| es.iter().map(|e| e.to).collect())
            .collect();
        for c in cycles(&all) {
            if c.iter().any(|&m| in_default_loop[m]) {
                continue;
            }
            let next = c.get(1).copied().unwrap_or(c[0]);
            let path = edges[c[0]]
                .iter()
                .find(|e| e.to == next && !e.default)
                .or_else(|| edges[c[0]].iter().find(|e| e.to == next))
                .map_or_else(|| format!("menus[{}]", c[0]), |e| e.path.clone());
            self.warn(
                path,
                format!(
                    "menu loop: {}; callers can go round by pressing keys",
                    ids(&c)
                ),
            );
        }
    }

    /// A cycle of `move` overflow rules (and `on_max_wait`) between groups is an error.
    pub(super) fn overflow_cycles(&mut self, groups: &[Group]) {
        let raw = self.raw;
        let mut edges: Vec<Vec<Edge>> = vec![Vec::new(); groups.len()];
        for (i, g) in groups.iter().enumerate() {
            let p = format!("groups[{i}]");
            // `overflow` only holds the rules that resolved; `overflow_src` has their
            // indices in the file.
            for (rule, &j) in g.overflow.iter().zip(&self.overflow_src[i]) {
                if let (Target::Group(to), OverflowMode::Move) = (&rule.to, rule.mode) {
                    edges[i].push(Edge {
                        to: to.ix(),
                        path: format!("{p}.overflow[{j}].to"),
                        default: false,
                    });
                }
            }
            if let Some(Target::Group(to)) = &g.on_max_wait {
                edges[i].push(Edge {
                    to: to.ix(),
                    path: format!("{p}.on_max_wait"),
                    default: false,
                });
            }
        }
        let adj: Vec<Vec<usize>> = edges
            .iter()
            .map(|es| es.iter().map(|e| e.to).collect())
            .collect();
        for c in cycles(&adj) {
            let next = c.get(1).copied().unwrap_or(c[0]);
            let path = edges[c[0]]
                .iter()
                .find(|e| e.to == next)
                .map_or_else(|| format!("groups[{}]", c[0]), |e| e.path.clone());
            let ids = cycle_text(&c, |g| raw.groups[g].id.as_str());
            self.err(
                path,
                format!("overflow cycle: {ids}; a call could move between these groups forever"),
            );
        }
    }

    /// Groups and menus no entry, menu, overflow, on_max_wait or crisis route leads to.
    pub(super) fn reachability(
        &mut self,
        entries: &[Entry],
        menus: &[Menu],
        groups: &[Group],
        crisis: Option<&Crisis>,
    ) {
        let mut seen_menu = vec![false; menus.len()];
        let mut seen_group = vec![false; groups.len()];
        let mut queue: VecDeque<Target> = VecDeque::new();
        for e in entries {
            queue.push_back(e.route.clone());
            queue.extend(e.closed_route.clone());
        }
        if let Some(c) = crisis {
            queue.extend(c.route.clone());
        }
        while let Some(t) = queue.pop_front() {
            match t {
                Target::Menu(m) if !seen_menu[m.ix()] => {
                    seen_menu[m.ix()] = true;
                    let menu = &menus[m.ix()];
                    queue.push_back(menu.default.clone());
                    queue.extend(menu.options.iter().map(|(_, t)| t.clone()));
                }
                Target::Group(g) if !seen_group[g.ix()] => {
                    seen_group[g.ix()] = true;
                    let group = &groups[g.ix()];
                    queue.extend(group.overflow.iter().map(|r| r.to.clone()));
                    queue.extend(group.on_max_wait.clone());
                }
                _ => {}
            }
        }
        for (m, seen) in seen_menu.iter().enumerate() {
            if !seen {
                self.warn(
                    format!("menus[{m}]"),
                    format!("unreachable: no entry, menu, overflow or crisis route leads to menu \"{}\"", menus[m].id),
                );
            }
        }
        for (g, seen) in seen_group.iter().enumerate() {
            if !seen {
                self.warn(
                    format!("groups[{g}]"),
                    format!(
                        "unreachable: no entry, menu, overflow, on_max_wait or crisis route leads to group \"{}\" (only transfers can)",
                        groups[g].id
                    ),
                );
            }
        }
    }

    /// A group no agent meets the requirements of, even at the widest widen step.
    pub(super) fn serveability(&mut self, groups: &[Group], agents: &[AgentDef]) {
        let raw = self.raw;
        for (i, g) in groups.iter().enumerate() {
            if raw.groups[i]
                .requires
                .keys()
                .any(|s| !self.agent_skills.contains(s.as_str()))
            {
                continue; // already reported as an unknown skill
            }
            if agents
                .iter()
                .any(|a| g.qualifying_step(&a.skills).is_some())
            {
                continue;
            }
            let p = if g.requires.is_empty() {
                format!("groups[{i}]")
            } else {
                format!("groups[{i}].requires")
            };
            let widest = g.widen.len();
            let name = |s: SkillIdx| {
                self.skill_ix
                    .iter()
                    .find(|(_, ix)| **ix == s)
                    .map_or("?", |(n, _)| *n)
            };
            let mut short = Vec::new();
            let mut all = Vec::new();
            for &(s, req) in &g.requires {
                let need = g.level_at_step(req, widest);
                let best = agents
                    .iter()
                    .map(|a| skill_level(&a.skills, s))
                    .max()
                    .unwrap_or(0);
                all.push(format!("{} >= {need}", name(s)));
                if best < need {
                    short.push(format!(
                        "the best {} level is {best} (needs {need})",
                        name(s)
                    ));
                }
            }
            let msg = if agents.is_empty() {
                "no agent can ever serve this group: the site has no agents".to_owned()
            } else if !short.is_empty() {
                format!(
                    "no agent can ever serve this group, even after widening: {}",
                    short.join(", ")
                )
            } else {
                format!(
                    "no agent can ever serve this group, even after widening: nobody has all of {}",
                    all.join(", ")
                )
            };
            self.err(p, msg);
        }
    }
}

/// `a → b → a`.
pub(super) fn cycle_text<'a>(c: &[usize], id: impl Fn(usize) -> &'a str) -> String {
    let mut s: Vec<&str> = c.iter().map(|&n| id(n)).collect();
    s.push(id(c[0]));
    s.join(" → ")
}

/// One shortest cycle through each node that starts one: for each node `s` in index order
/// not already on a reported cycle, a breadth-first search over nodes `>= s` back to `s`.
/// Every returned cycle starts at its smallest node. Iterative, so deep graphs cannot
/// overflow the stack.
pub(super) fn cycles(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adj.len();
    let mut on_cycle = vec![false; n];
    let mut out = Vec::new();
    for s in 0..n {
        if on_cycle[s] {
            continue;
        }
        let mut parent: Vec<Option<usize>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut queue = VecDeque::from([s]);
        let mut closing: Option<usize> = None;
        'bfs: while let Some(u) = queue.pop_front() {
            for &v in &adj[u] {
                if v == s {
                    closing = Some(u);
                    break 'bfs;
                }
                if v > s && !seen[v] {
                    seen[v] = true;
                    parent[v] = Some(u);
                    queue.push_back(v);
                }
            }
        }
        if let Some(last) = closing {
            let mut c = vec![last];
            let mut u = last;
            while u != s {
                match parent[u] {
                    Some(p) => {
                        c.push(p);
                        u = p;
                    }
                    None => break,
                }
            }
            c.reverse();
            for &m in &c {
                on_cycle[m] = true;
            }
            out.push(c);
        }
    }
    out
}
