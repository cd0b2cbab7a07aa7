//! The NATS side of cluster mode: the connection (a clear error when no server answers),
//! the journal stream, the lease bucket and the checkpoint object store, created by the
//! first node that needs them.

use super::args::ClusterConfig;
use anyhow::Context as _;
use async_nats::jetstream::{self, kv, object_store, stream};
use std::time::{Duration, Instant};

/// How long the stream and bucket may take to be made or found, and the stream to be
/// followed (a NATS cluster that has just started elects its JetStream leader first; a
/// server back from a partition answers "JetStream system temporarily unavailable" until
/// it has caught up with the others).
const SETUP: Duration = Duration::from_secs(15);

/// The journal stream's subject.
pub fn subject(name: &str) -> String {
    format!("{name}.journal")
}

/// The journal stream's name.
pub fn stream_name(name: &str) -> String {
    format!("{name}_journal")
}

/// The lease bucket's name.
pub fn bucket_name(name: &str) -> String {
    format!("{name}_lease")
}

/// The checkpoint object store's name.
pub fn checkpoints_name(name: &str) -> String {
    format!("{name}_checkpoints")
}

/// What a node holds of NATS.
pub struct Nats {
    pub js: jetstream::Context,
    pub stream: stream::Stream,
    pub kv: kv::Store,
    pub checkpoints: object_store::ObjectStore,
    /// The stream under the checkpoint store (`OBJ_NAME_checkpoints`): a deleted
    /// checkpoint's tombstone is purged from it.
    pub checkpoint_stream: stream::Stream,
}

/// Between two attempts to reach NATS under `--nats-wait`.
const RETRY: Duration = Duration::from_secs(1);

/// The client pings its server once a lease, but not more often than this.
const MIN_PING: Duration = Duration::from_millis(500);

/// How often the client pings its server. It gives a server up at the third ping
/// unanswered and connects to another: a server gone silent (a cut that sends no reset, a
/// stopped process) would otherwise hold a standby for minutes at the NATS client's
/// default of a minute, and with it the site's one chance of a take-over.
fn ping_interval(lease: Duration) -> Duration {
    lease.max(MIN_PING)
}

/// Connects and finds or makes the stream, the bucket and the checkpoint store. NATS not
/// answering is an error at start, at once or (`--nats-wait`) once the wait is over: every
/// attempt in between is logged, so that a daemon waiting says what for.
pub async fn connect(c: &ClusterConfig) -> anyhow::Result<Nats> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(format!("vaxel {}", c.node))
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(ping_interval(c.lease));
    if let Some(path) = &c.creds {
        opts = opts.credentials_file(path).await.with_context(|| {
            format!(
                "{}: not a NATS credentials file (--nats-creds, [cluster] nats_creds)",
                path.display()
            )
        })?;
    }
    let servers = c
        .urls
        .iter()
        .map(|u| u.clone().into_inner().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let waited = Instant::now();
    let client = loop {
        match opts.clone().connect(c.urls.clone()).await {
            Ok(client) => break client,
            Err(e) if waited.elapsed() < c.wait => {
                let left = c.wait.saturating_sub(waited.elapsed()).as_secs();
                tracing::warn!(error = %e, "cannot reach NATS at {servers} yet: trying again for {left} s more (--nats-wait)");
                tokio::time::sleep(RETRY.min(c.wait.saturating_sub(waited.elapsed()))).await;
            }
            Err(e) => {
                let after = if c.wait.is_zero() {
                    String::new()
                } else {
                    format!(" after waiting {} s (--nats-wait)", c.wait.as_secs())
                };
                anyhow::bail!(
                    "cannot reach NATS ({e}) at {servers}{after}: start the NATS servers first, \
                     or check --nats or [cluster] nats (docs/operations.md, \"Cluster mode\")"
                );
            }
        }
    };
    let js = jetstream::new(client);
    let (stream, kv, (checkpoints, checkpoint_stream)) =
        patiently("JetStream not ready yet: retrying", || setup(&js, c))
            .await
            .map_err(|e| {
                e.context(
                    "NATS answers but JetStream does not: is JetStream enabled on every server?",
                )
            })?;
    Ok(Nats {
        js,
        stream,
        kv,
        checkpoints,
        checkpoint_stream,
    })
}

/// Tries `f` until it succeeds or [`SETUP`] has gone by (then its last error), logging each
/// failure with `retrying`.
pub async fn patiently<T, F, Fut>(retrying: &str, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = Instant::now() + SETUP;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() < deadline => {
                tracing::info!(error = %format!("{e:#}"), "{retrying}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn setup(
    js: &jetstream::Context,
    c: &ClusterConfig,
) -> anyhow::Result<(
    stream::Stream,
    kv::Store,
    (object_store::ObjectStore, stream::Stream),
)> {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: stream_name(&c.name),
            subjects: vec![subject(&c.name)],
            num_replicas: c.replicas,
            storage: stream::StorageType::File,
            // Retried appends keep their message id: within this window, one copy.
            duplicate_window: Duration::from_secs(120),
            description: Some("Växel journal (docs/operations.md, \"Cluster mode\")".into()),
            ..Default::default()
        })
        .await
        .context("cannot create or find the journal stream")?;
    let bucket = bucket_name(&c.name);
    let kv = match js.get_key_value(&bucket).await {
        Ok(kv) => kv,
        Err(_) => js
            .create_key_value(kv::Config {
                bucket: bucket.clone(),
                history: 1,
                num_replicas: c.replicas,
                storage: stream::StorageType::File,
                description: "Växel leadership lease".into(),
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create the lease bucket {bucket}"))?,
    };
    let store = checkpoints_name(&c.name);
    let checkpoints = match js.get_object_store(&store).await {
        Ok(s) => s,
        Err(_) => js
            .create_object_store(object_store::Config {
                bucket: store.clone(),
                num_replicas: c.replicas,
                storage: stream::StorageType::File,
                description: Some(
                    "Växel checkpoints (docs/operations.md, \"Cluster mode\")".into(),
                ),
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create the checkpoint store {store}"))?,
    };
    let under = js
        .get_stream(format!("OBJ_{store}"))
        .await
        .with_context(|| format!("cannot find the stream under the checkpoint store {store}"))?;
    Ok((stream, kv, (checkpoints, under)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15: refusals are retried (a server back from a partition refuses for a while),
    /// and the first success is what comes back.
    #[tokio::test]
    async fn refusals_are_retried_until_one_succeeds() {
        let mut tries = 0;
        let got = patiently("retrying", || {
            tries += 1;
            let n = tries;
            async move {
                if n < 3 {
                    anyhow::bail!("JetStream system temporarily unavailable")
                }
                Ok(n)
            }
        })
        .await;
        assert_eq!(got.ok(), Some(3));
    }

    #[test]
    fn the_client_pings_once_a_lease_but_not_too_often() {
        let ms = Duration::from_millis;
        assert_eq!(ping_interval(ms(1000)), ms(1000));
        assert_eq!(ping_interval(ms(60_000)), ms(60_000));
        assert_eq!(ping_interval(ms(100)), MIN_PING);
    }
}
