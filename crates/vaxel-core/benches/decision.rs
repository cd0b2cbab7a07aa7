//! Decision cost at scale: 1,000 groups, 10,000 agents (each serving 3 groups), with 1k or
//! 100k calls waiting. Measures (a) a call arriving when every agent is busy (it queues:
//! overflow rules, position, EWT), (b) an agent becoming free (it takes the best call
//! among its groups), (c) a call arriving while agents are free (it is connected).
//! Results and the command are in docs/benchmarks.md.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use vaxel_core::site::Site;
use vaxel_core::{Command, Engine, Input, Output, Timestamp};

const GROUPS: usize = 1_000;
const AGENTS: usize = 10_000;

fn site() -> Arc<Site> {
    let mut s = String::from("[site]\nname = \"Bench\"\ntimezone = \"Europe/Stockholm\"\n");
    for g in 0..GROUPS {
        s.push_str(&format!(
            "\n[[entries]]\nid = \"e{g}\"\nnumber = \"+46851{g:05}\"\nroute = \"group:g{g}\"\n\n[[groups]]\nid = \"g{g}\"\nrequires = {{ s{g} = 2 }}\nwiden = [ {{ after_s = 60, min_level = 1 }} ]\nring_s = 0\nwrapup_s = 0\noverflow = [ {{ when = \"wait_over_s\", value = 600, to = \"group:g{}\", mode = \"expand\" }} ]\n",
            (g + 1) % GROUPS
        ));
    }
    for a in 0..AGENTS {
        // Three distinct groups per agent, spread so every group has ~30 agents.
        let g1 = a % GROUPS;
        let (g2, g3) = ((g1 + 1 + (a / GROUPS) * 37) % GROUPS, (g1 + 500) % GROUPS);
        s.push_str(&format!(
            "\n[[agents]]\nid = \"a{a}\"\nname = \"Agent {a}\"\nextension = \"{}\"\nskills = {{ s{g1} = 2, s{g2} = 2, s{g3} = 1 }}\n",
            100_000 + a
        ));
    }
    let loaded = vaxel_config::load(&s).unwrap_or_else(|d| panic!("{}", d[0]));
    Arc::new(vaxel_config::validate(&loaded.raw).unwrap().site)
}

struct Rig {
    e: Engine,
    now: Timestamp,
    next_call: u64,
    /// What each agent is talking to.
    holding: BTreeMap<Arc<str>, Arc<str>>,
}

impl Rig {
    fn new(site: Arc<Site>, busy_agents: bool, waiting: usize) -> Rig {
        let now = Timestamp(1_772_434_800_000);
        let mut rig = Rig {
            e: Engine::new(site, now),
            now,
            next_call: 0,
            holding: BTreeMap::new(),
        };
        for a in 0..AGENTS {
            rig.input(Input::AgentLogin {
                agent: format!("a{a}").into(),
                extension: None,
            });
        }
        if busy_agents {
            for _ in 0..AGENTS + waiting {
                rig.arrive();
            }
            assert_eq!(rig.holding.len(), AGENTS);
        }
        rig
    }

    fn tick(&mut self) {
        self.now = self.now.plus_ms(1);
    }

    fn input(&mut self, input: Input) {
        self.e.handle(self.now, input).unwrap();
        self.drain();
    }

    /// Answers every connect at once; remembers who holds what.
    fn drain(&mut self) {
        while let Some(o) = self.e.poll_output() {
            if let Output::Command {
                command: Command::Connect { call, agent, .. },
                ..
            } = o
            {
                self.e
                    .handle(
                        self.now,
                        Input::CallAnswered {
                            call: call.clone(),
                            agent: agent.clone(),
                        },
                    )
                    .unwrap();
                self.holding.insert(agent, call);
            }
        }
    }

    fn arrive(&mut self) {
        let g = (self.next_call * 7919) as usize % GROUPS;
        self.next_call += 1;
        let input = Input::CallArrived {
            call: format!("c{}", self.next_call).into(),
            platform: "pbx".into(),
            to: format!("+46851{g:05}").into(),
            from: "+46701234567".into(),
            digits: None,
            lang: None,
        };
        self.input(input);
    }

    /// Agent `a` hangs up its call and takes the next one.
    fn free(&mut self, a: usize) {
        let agent: Arc<str> = format!("a{a}").into();
        let call = self.holding.remove(&agent).unwrap();
        self.input(Input::CallHangup { call, reason: None });
    }
}

fn decisions(c: &mut Criterion) {
    let site = site();
    let mut group = c.benchmark_group("decision");
    for waiting in [1_000usize, 100_000] {
        // (a)+(b): every agent busy, `waiting` calls queued. One iteration = one agent
        // freed (takes the best waiting call, answered) + one new call queued.
        let mut rig = Rig::new(site.clone(), true, waiting);
        let mut a = 0;
        group.bench_with_input(
            BenchmarkId::new("agent_free_then_arrival_queued", waiting),
            &waiting,
            |b, _| {
                b.iter(|| {
                    rig.tick();
                    rig.free(a);
                    rig.arrive();
                    a = (a + 1) % AGENTS;
                    black_box(rig.e.pending_outputs());
                });
            },
        );
        // (a) alone: a call arrives and queues behind `waiting` others, then hangs up.
        let mut rig = Rig::new(site.clone(), true, waiting);
        group.bench_with_input(
            BenchmarkId::new("arrival_queued_and_abandon", waiting),
            &waiting,
            |b, _| {
                b.iter(|| {
                    rig.tick();
                    rig.arrive();
                    let call: Arc<str> = format!("c{}", rig.next_call).into();
                    rig.input(Input::CallHangup { call, reason: None });
                });
            },
        );
    }
    // (c): agents free; a call arrives and is connected, answered and hung up.
    let mut rig = Rig::new(site, false, 0);
    group.bench_function("arrival_connected_answered_hangup", |b| {
        b.iter(|| {
            rig.tick();
            rig.arrive();
            let (agent, call) = rig.holding.pop_first().unwrap();
            let _ = agent;
            rig.input(Input::CallHangup { call, reason: None });
        });
    });
    group.finish();
}

/// (d) A caller's position in the middle of a 10,000-call queue: 5,000 priority callers
/// ahead of 5,000 others; a priority caller arrives (its `queue` command carries position
/// 5,001) and hangs up. The position is a rank count in the queue's order-statistics set,
/// O(log n); it walked every call ahead before.
fn position_mid_queue(c: &mut Criterion) {
    const WAITING: usize = 10_000;
    let site = "[site]\nname = \"Bench\"\ntimezone = \"Europe/Stockholm\"\n\
        [[entries]]\nid = \"normal\"\nnumber = \"+4685100000\"\nroute = \"group:g\"\n\
        [[entries]]\nid = \"urgent\"\nnumber = \"+4685100001\"\nroute = \"group:g\"\npriority = 5\n\
        [[groups]]\nid = \"g\"\nrequires = { g = 1 }\n\
        [[agents]]\nid = \"a\"\nname = \"A\"\nextension = \"1000\"\nskills = { g = 1 }\n";
    let loaded = vaxel_config::load(site).unwrap_or_else(|d| panic!("{}", d[0]));
    let site = Arc::new(vaxel_config::validate(&loaded.raw).unwrap().site);
    let mut now = Timestamp(1_772_434_800_000);
    let mut e = Engine::new(site, now);
    let arrive = |e: &mut Engine, now: Timestamp, n: usize, to: &str| {
        e.handle(
            now,
            Input::CallArrived {
                call: format!("c{n}").into(),
                platform: "pbx".into(),
                to: to.into(),
                from: "+46701234567".into(),
                digits: None,
                lang: None,
            },
        )
        .unwrap();
    };
    for n in 0..WAITING {
        let to = if n % 2 == 0 {
            "+4685100001"
        } else {
            "+4685100000"
        };
        arrive(&mut e, now, n, to);
    }
    while e.poll_output().is_some() {}
    let mut n = WAITING;
    let mut group = c.benchmark_group("decision");
    group.bench_function("position_mid_queue_10000", |b| {
        b.iter(|| {
            now = now.plus_ms(1);
            n += 1;
            arrive(&mut e, now, n, "+4685100001");
            let mut position = 0;
            while let Some(o) = e.poll_output() {
                if let Output::Command {
                    command: Command::Queue { position: p, .. },
                    ..
                } = o
                {
                    position = p;
                }
            }
            assert_eq!(position, 5_001);
            e.handle(
                now,
                Input::CallHangup {
                    call: format!("c{n}").into(),
                    reason: None,
                },
            )
            .unwrap();
            while let Some(o) = e.poll_output() {
                black_box(o);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, decisions, position_mid_queue);
criterion_main!(benches);
