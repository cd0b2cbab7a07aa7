//! The engine task's working time: its future wrapped so that the CPU time its thread
//! spends inside each `poll` is counted (`vaxel_engine_busy_seconds_total`). Waiting for a
//! request, a timer or the commit thread is not in a poll, and a poll's time off the CPU
//! (the thread preempted on a busy host) is not CPU time, so the counter's rate is the
//! share of a core the engine task itself uses: what a wallboard, a desk or a platform
//! costs it (docs/benchmarks.md "Event streams"). A poll runs on one thread from start to
//! end, so the thread's CPU clock read before and after it measures it exactly.

use prometheus::Counter;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// This thread's CPU time, in seconds.
fn thread_cpu() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// A future whose CPU time inside `poll` is added to a counter, in seconds.
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
        let start = thread_cpu();
        let r = self.inner.as_mut().poll(cx);
        self.busy.inc_by((thread_cpu() - start).max(0.0));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn cpu_time_inside_polls_is_counted_and_waiting_is_not() {
        let c = Counter::new("t", "t").unwrap();
        let whole = Instant::now();
        Timed::new(
            async {
                // Waiting: not counted.
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Working: 20 ms of this thread's CPU, counted.
                let t = thread_cpu();
                while thread_cpu() - t < 0.02 {
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
