//! Reading many GPUs at once: a small pool of scoped threads that hands out indices and keeps the
//! results in index order. No runtime: `std::thread::scope`, one atomic counter, one slot per index.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Calls `read(index)` for every index in `0..count` on up to `max_threads` threads (fewer when
/// there are fewer indices), the calling thread being one of them, and returns the results in
/// index order, whatever order they finished in. One index starts no thread.
///
/// Each thread asks `stop` before it takes its next index and takes none once it answers true.
/// An index comes back `None` when it was not read: it was never taken because `stop` said so, or
/// the thread reading it panicked (the other threads go on with the remaining indices). A thread
/// that cannot be started only lowers the parallelism: the calling thread reads in any case.
pub fn read_in_index_order<T, R, S>(
    count: u32,
    max_threads: usize,
    stop: S,
    read: R,
) -> Vec<Option<T>>
where
    T: Send + Sync,
    R: Fn(u32) -> T + Sync,
    S: Fn() -> bool + Sync,
{
    let count = count as usize;
    let slots: Vec<OnceLock<T>> = (0..count).map(|_| OnceLock::new()).collect();
    // usize, not u32: each thread takes one index past the end, which must not wrap to 0.
    let next = AtomicUsize::new(0);
    let work = || {
        while !stop() {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(index) else {
                break;
            };
            // In range, so the index fits the u32 it came from.
            let value = read(index as u32);
            // Each index is taken once, so its slot is empty.
            let _ = slot.set(value);
        }
    };
    let helpers = max_threads.min(count).saturating_sub(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers)
            .filter_map(|n| {
                std::thread::Builder::new()
                    .name(format!("eidos-gpu-{n}"))
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        // A panicked read leaves its index empty, on this thread as on the helpers (joined
        // here, which keeps `scope` from re-raising their panics).
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        for handle in handles {
            let _ = handle.join();
        }
    });
    slots.into_iter().map(OnceLock::into_inner).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// Indices that have finished, and a way to wait for one.
    #[derive(Default)]
    struct Finished {
        done: Mutex<Vec<u32>>,
        changed: Condvar,
    }

    impl Finished {
        fn mark(&self, index: u32) {
            self.done.lock().unwrap().push(index);
            self.changed.notify_all();
        }

        /// Waits until `index` has finished; false if it did not within a minute (the reads
        /// did not overlap, so it never can).
        fn wait_for(&self, index: u32) -> bool {
            let done = self.done.lock().unwrap();
            let (_done, timeout) = self
                .changed
                .wait_timeout_while(done, Duration::from_secs(60), |d| !d.contains(&index))
                .unwrap();
            !timeout.timed_out()
        }
    }

    /// Each index waits for the next one to finish first, so they finish last to first: only
    /// possible if all of them run at once, and the results must still come back first to last.
    #[test]
    fn reads_overlap_and_results_keep_index_order_though_they_finish_in_reverse() {
        let count = 8;
        let finished = Finished::default();
        let results = read_in_index_order(
            count,
            16,
            || false,
            |index| {
                let waited = index + 1 == count || finished.wait_for(index + 1);
                finished.mark(index);
                (index, waited)
            },
        );
        let expected: Vec<_> = (0..count).map(|i| Some((i, true))).collect();
        assert_eq!(results, expected);
        assert_eq!(*finished.done.lock().unwrap(), [7, 6, 5, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn no_more_threads_than_asked_for_and_every_index_read_once() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let reads = AtomicUsize::new(0);
        let results = read_in_index_order(
            100,
            3,
            || false,
            |index| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::yield_now();
                reads.fetch_add(1, Ordering::SeqCst);
                running.fetch_sub(1, Ordering::SeqCst);
                index * 2
            },
        );
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert_eq!(reads.load(Ordering::SeqCst), 100);
        let expected: Vec<_> = (0..100).map(|i| Some(i * 2)).collect();
        assert_eq!(results, expected);
    }

    #[test]
    fn one_index_is_read_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let results = read_in_index_order(1, 16, || false, |_| std::thread::current().id());
        assert_eq!(results, [Some(caller)]);
    }

    #[test]
    fn nothing_to_read_starts_nothing() {
        let results: Vec<Option<u32>> =
            read_in_index_order(0, 16, || false, |_| panic!("nothing to read"));
        assert!(results.is_empty());
    }

    /// One thread, so the order of reads is known: stopping after index 2 leaves 3 and 4 unread.
    #[test]
    fn indices_not_taken_before_the_stop_come_back_empty() {
        let stop = AtomicBool::new(false);
        let results = read_in_index_order(
            5,
            1,
            || stop.load(Ordering::SeqCst),
            |index| {
                if index == 2 {
                    stop.store(true, Ordering::SeqCst);
                }
                index
            },
        );
        assert_eq!(results, [Some(0), Some(1), Some(2), None, None]);
    }

    #[test]
    fn a_read_that_panics_loses_only_its_own_index() {
        let results = read_in_index_order(
            6,
            2,
            || false,
            |index| {
                if index == 3 {
                    panic!("GPU 3 panicked (on purpose, in a test)");
                }
                index
            },
        );
        assert_eq!(results, [Some(0), Some(1), Some(2), None, Some(4), Some(5)]);
    }
}
