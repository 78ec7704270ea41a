//! Waiting for several futures at once, so that requests to systemd travel together instead of
//! one round trip after another.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

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
    fn nothing_to_join_is_ready_at_once() {
        let outputs = zruntime::block_on(join_all(Vec::<std::future::Ready<u8>>::new()));
        assert!(outputs.is_empty());
    }
}
