//! Waiting: for several futures at once, so that requests to systemd travel together instead of
//! one round trip after another; and for a future unless the host cancels first.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;
use zruntime::SharedRuntime;

/// Runs every future concurrently and returns their outputs in the order given.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(outputs.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}

/// Runs `work` to completion, or until `cancelled()` is true, checked every `period` (a host's
/// cancellation is a flag, not a wake-up). `None` when cancelled.
pub async fn until_cancelled<F: Future>(
    runtime: &SharedRuntime,
    period: Duration,
    cancelled: impl Fn() -> bool,
    work: F,
) -> Option<F::Output> {
    let mut work = pin!(work);
    let mut tick = runtime.sleep(period);
    poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        while Pin::new(&mut tick).poll(cx).is_ready() {
            if cancelled() {
                return Poll::Ready(None);
            }
            tick.reset_after(period);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Pending on its first `polls_left` polls (waking itself), then ready with `value`.
    struct Slow<'a> {
        polls_left: u32,
        value: u32,
        finished: &'a Cell<Vec<u32>>,
    }

    impl Future for Slow<'_> {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<u32> {
            if self.polls_left == 0 {
                let mut done = self.finished.take();
                done.push(self.value);
                self.finished.set(done);
                Poll::Ready(self.value)
            } else {
                self.polls_left -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn outputs_keep_the_given_order_whatever_order_futures_finish_in() {
        let finished = Cell::new(Vec::new());
        let futures = [(3, 10), (0, 20), (1, 30)].map(|(polls_left, value)| Slow {
            polls_left,
            value,
            finished: &finished,
        });
        let outputs = zruntime::block_on(join_all(futures));
        assert_eq!(outputs, [10, 20, 30]);
        assert_eq!(finished.take(), [20, 30, 10]);
    }

    #[test]
    fn work_that_never_ends_stops_soon_after_cancellation() {
        let flag = std::sync::atomic::AtomicBool::new(false);
        let started = std::time::Instant::now();
        let outcome = zruntime::block_on(async {
            let runtime = SharedRuntime::current().unwrap();
            let cancel_later = async {
                runtime.sleep(Duration::from_millis(50)).await;
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                std::future::pending::<()>().await
            };
            until_cancelled(
                &runtime,
                Duration::from_millis(5),
                || flag.load(std::sync::atomic::Ordering::Relaxed),
                cancel_later,
            )
            .await
        });
        assert_eq!(outcome, None);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn finished_work_is_returned_when_not_cancelled() {
        let outcome = zruntime::block_on(async {
            let runtime = SharedRuntime::current().unwrap();
            until_cancelled(&runtime, Duration::from_millis(5), || false, async { 7 }).await
        });
        assert_eq!(outcome, Some(7));
    }

    #[test]
    fn nothing_to_join_is_ready_at_once() {
        let outputs = zruntime::block_on(join_all(Vec::<std::future::Ready<u8>>::new()));
        assert!(outputs.is_empty());
    }
}
