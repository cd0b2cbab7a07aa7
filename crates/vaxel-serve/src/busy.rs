//! The engine task's working time: its future wrapped so that the time spent inside each
//! `poll` is counted (`vaxel_engine_busy_seconds_total`). Waiting for a request, a timer
//! or the commit thread is not in a poll, so the counter's rate is the share of a core the
//! engine task uses: what a wallboard, a desk or a platform costs it (docs/benchmarks.md
//! "Event streams"). Counted here, around the task, so the engine task's own loop needs no
//! clock reads of its own for it.

use prometheus::Counter;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// A future whose time inside `poll` is added to a counter, in seconds.
pub struct Timed<F> {
    inner: Pin<Box<F>>,
    busy: Counter,
}

impl<F: Future> Timed<F> {
    pub fn new(inner: F, busy: Counter) -> Timed<F> {
        Timed {
            inner: Box::pin(inner),
            busy,
        }
    }
}

impl<F: Future> Future for Timed<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = Instant::now();
        let r = self.inner.as_mut().poll(cx);
        self.busy.inc_by(start.elapsed().as_secs_f64());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn time_inside_polls_is_counted_and_waiting_is_not() {
        let c = Counter::new("t", "t").unwrap();
        let whole = Instant::now();
        Timed::new(
            async {
                // Waiting: not counted.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                // Working: counted.
                let t = Instant::now();
                while t.elapsed() < std::time::Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
            },
            c.clone(),
        )
        .await;
        let (busy, whole) = (c.get(), whole.elapsed().as_secs_f64());
        // The spin is inside a poll; the sleep's 200 ms are outside every poll.
        assert!(busy >= 0.02, "{busy}");
        assert!(busy <= whole - 0.2, "{busy} of {whole}");
    }
}
