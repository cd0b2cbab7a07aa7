use super::*;
use crate::metrics::Metrics;

/// An engine task on the built-in city (not running yet), with a commit "thread" that
/// makes every commit durable at once.
fn task() -> (EngineTask, EngineHandle, CancellationToken) {
    let Ok(v) = vaxel_config::load_site(vaxel_config::STOCKHOLM) else {
        panic!("the built-in city validates");
    };
    let site = Arc::new(v.site);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let Ok(tokens) = TokenStore::new(&site, None, addr, addr) else {
        panic!("the built-in city's tokens");
    };
    let Ok(metrics) = Metrics::new() else {
        panic!("metrics");
    };
    let (commits, mut commit_rx) = mpsc::channel::<Commit>(64);
    let (done, committed) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(c) = commit_rx.recv().await {
            let _ = done.send(Committed::Upto(c.id));
        }
    });
    let shutdown = CancellationToken::new();
    let (task, handle) = start(Setup {
        machine: Machine::new(
            vaxel_config::STOCKHOLM.into(),
            site,
            Timestamp(1_772_434_800_000),
        ),
        clock: ClockMode::Event,
        observer: Arc::new(metrics),
        commits,
        committed,
        checkpoint: CheckpointPolicy {
            every_inputs: u64::MAX,
        },
        max_clock_step: Duration::from_secs(86_400),
        unknown_keys: vaxel_config::UnknownKeys::Error,
        outbound_bytes: platform::OUTBOUND_BYTES,
        tokens: Arc::new(tokens),
        cluster: None,
        shutdown: shutdown.clone(),
    });
    (task, handle, shutdown)
}

fn running() -> (EngineHandle, CancellationToken) {
    let (task, handle, shutdown) = task();
    tokio::spawn(task.run());
    (handle, shutdown)
}

/// Issue 12 #9: admin and desktop actions and reads queued behind every platform
/// batch waiting. A request from the HTTP layer is served before platform requests
/// that came earlier.
#[tokio::test]
async fn http_requests_go_ahead_of_platform_batches() {
    let (task, h, shutdown) = task();
    let Ok(city) = vaxel_config::stockholm() else {
        panic!("the built-in city validates");
    };
    let agent = city.site.agents[0].id.clone();
    let (login, _login_done) = oneshot::channel();
    let queued = h.requests().try_send(Request::Apply(
        Input::AgentLogin {
            agent: agent.clone(),
            extension: None,
        },
        login,
    ));
    assert!(queued.is_ok());
    let (tx, rx) = oneshot::channel();
    assert!(h.http.try_send(Request::Snapshot(tx)).is_ok());
    tokio::spawn(task.run());
    let Ok(p) = rx.await else {
        panic!("a snapshot")
    };
    let state = p
        .snapshot
        .agents
        .iter()
        .find(|x| x.id == agent)
        .map(|x| x.state);
    assert_eq!(
        state,
        Some(vaxel_core::snapshot::AgentState::LoggedOut),
        "served after the platform's login"
    );
    shutdown.cancel();
}

/// Issue 12 #9: every reader asked the engine task for a snapshot of its own. Now
/// readers between two changes share one, the task publishes it for the readers that
/// need no request, and readiness asks nothing.
#[tokio::test]
async fn readers_share_one_snapshot_per_change() {
    let (h, shutdown) = running();
    let Ok(a) = h.snapshot().await else {
        panic!("a snapshot")
    };
    let Ok(b) = h.snapshot().await else {
        panic!("a snapshot")
    };
    assert!(Arc::ptr_eq(&a, &b), "two readers, no change: one snapshot");
    let Ok(p) = h.latest().await else {
        panic!("published")
    };
    assert!(Arc::ptr_eq(&a, &p.snapshot));
    assert!(h.ready());

    let agent = a.agents[0].id.clone();
    let r = h
        .apply(Input::AgentLogin {
            agent: agent.clone(),
            extension: None,
        })
        .await;
    assert!(r.is_ok(), "{r:?}");
    // Read after the answer: the change is in.
    let Ok(c) = h.snapshot().await else {
        panic!("a snapshot")
    };
    assert!(!Arc::ptr_eq(&a, &c));
    let state = |s: &Snapshot| {
        s.agents
            .iter()
            .find(|x| x.id == agent)
            .map(|x| format!("{:?}", x.state))
    };
    assert_ne!(state(&a), state(&c));
    // And published for the streams within a fifth of a second.
    let mut published = h.published();
    while published
        .borrow_and_update()
        .as_ref()
        .is_none_or(|p| !Arc::ptr_eq(&p.snapshot, &c))
    {
        let r = tokio::time::timeout(Duration::from_secs(5), published.changed()).await;
        assert!(matches!(r, Ok(Ok(()))), "never published");
    }
    // `/api/v1/snapshot` and the event streams send one JSON text: serialized once.
    let Some(p) = published.borrow().clone() else {
        panic!("published")
    };
    let Ok(cur) = h.current().await else {
        panic!("a snapshot")
    };
    assert!(Arc::ptr_eq(&cur.snapshot, &c));
    let (Some(a), Some(b)) = (cur.json(), p.json()) else {
        panic!("the snapshot serializes")
    };
    assert!(std::ptr::eq(a, b), "one text for the snapshot's readers");
    shutdown.cancel();
}
