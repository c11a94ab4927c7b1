//! Work on a long list on every core: the list is cut into chunks, worked
//! on by a few threads, and handed back in order, with at most two chunks
//! per thread in flight (so 100,000 listeners never exist twice in
//! memory, as they would if each thread did half and the halves were
//! joined).
//!
//! Rendering 10,000 listeners is one core's work for 20-40 ms while the
//! others wait (measured with `whyport --timings`, tools/bench); the
//! listing's order is the report's, so the chunks must come back in it.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Below this many items the threads cost more than they save.
pub(crate) const WORTH_IT: usize = 1024;

/// Chunks of `items` of `size` each, worked on by `work` (given the
/// thread's own state, made by `S::default()` and kept from chunk to
/// chunk, a cache say, and the index of the chunk's first item) on
/// `threads` threads (`None`: one per CPU whyport may use, at most 8), and
/// handed to `consume` as an iterator in the list's order. With fewer than
/// [`WORTH_IT`] items, or one thread, everything runs here, in order, with
/// one state (and the CPUs are not even counted).
///
/// When `consume` returns before taking every chunk (the output was
/// closed), the threads stop at their next chunk. A thread that panics
/// ends the iterator early and the panic is raised again here.
pub(crate) fn in_order<T, S, R, O>(
    items: &[T],
    size: usize,
    threads: Option<usize>,
    work: impl Fn(&mut S, usize, &[T]) -> R + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = R>) -> O,
) -> O
where
    T: Sync,
    S: Default,
    R: Send,
{
    let size = size.max(1);
    let count = items.len().div_ceil(size);
    let threads = if items.len() < WORTH_IT {
        1
    } else {
        threads
            .unwrap_or_else(|| crate::collect::cpus().min(8))
            .min(count)
    };
    if threads <= 1 {
        let mut state = S::default();
        let mut each = items
            .chunks(size)
            .enumerate()
            .map(|(i, c)| work(&mut state, i * size, c));
        return consume(&mut each);
    }
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(threads);
        for first in 0..threads {
            // One chunk waits in the channel while the next is made.
            let (tx, rx): (SyncSender<R>, Receiver<R>) = sync_channel(1);
            receivers.push(rx);
            let work = &work;
            scope.spawn(move || {
                let mut state = S::default();
                for c in (first..count).step_by(threads) {
                    let start = c * size;
                    let end = (start + size).min(items.len());
                    if tx
                        .send(work(&mut state, start, &items[start..end]))
                        .is_err()
                    {
                        return; // the consumer stopped
                    }
                }
            });
        }
        let mut next = 0;
        let mut each = std::iter::from_fn(|| {
            let got = receivers.get(next % threads)?.recv().ok();
            next += 1;
            got
        });
        // The receivers are dropped with `each` when this closure returns,
        // so a thread blocked on a full channel wakes and stops before the
        // scope waits for it.
        consume(&mut each)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_back_in_order_on_several_threads() {
        let items: Vec<u32> = (0..10_000).collect();
        let got: Vec<u32> = in_order(
            &items,
            97,
            Some(3),
            |_: &mut (), first, c| {
                assert_eq!(c[0] as usize, first);
                c.iter().map(|x| x * 2).collect::<Vec<u32>>()
            },
            |it| it.flatten().collect(),
        );
        assert_eq!(got, items.iter().map(|x| x * 2).collect::<Vec<u32>>());
    }

    #[test]
    fn a_consumer_that_stops_early_does_not_hang_the_threads() {
        let items: Vec<u32> = (0..100_000).collect();
        let made = std::sync::atomic::AtomicUsize::new(0);
        let first: Vec<Vec<u32>> = in_order(
            &items,
            10,
            Some(2),
            |_: &mut (), _, c| {
                made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                c.to_vec()
            },
            |it| it.take(3).collect(),
        );
        assert_eq!(
            first,
            vec![
                (0..10).collect::<Vec<u32>>(),
                (10..20).collect(),
                (20..30).collect()
            ]
        );
        // Each thread makes at most the chunk it holds and the one queued
        // beyond what was taken: far from all 10,000.
        assert!(made.load(std::sync::atomic::Ordering::Relaxed) <= 3 + 2 * 2);
    }

    #[test]
    fn short_lists_and_one_thread_run_here_with_one_state() {
        let items: Vec<u32> = (0..100).collect();
        let here = std::thread::current().id();
        let got: Vec<(usize, u32)> = in_order(
            &items,
            7,
            Some(4),
            |seen: &mut usize, _, c| {
                assert_eq!(std::thread::current().id(), here);
                *seen += c.len();
                (*seen, c.iter().sum::<u32>())
            },
            |it| it.collect(),
        );
        assert_eq!(got.iter().map(|(_, s)| s).sum::<u32>(), 4950);
        assert_eq!(
            got.last().map(|(seen, _)| *seen),
            Some(100),
            "one state throughout"
        );
    }

    #[test]
    fn each_thread_keeps_its_state_from_chunk_to_chunk() {
        let items: Vec<u32> = (0..4_000).collect();
        // Each chunk reports how many chunks its thread had made before.
        let before: Vec<usize> = in_order(
            &items,
            100,
            Some(2),
            |made: &mut usize, _, _| {
                *made += 1;
                *made - 1
            },
            |it| it.collect(),
        );
        // Chunk c is thread c % 2's (c / 2)th.
        let expected: Vec<usize> = (0..40).map(|c| c / 2).collect();
        assert_eq!(before, expected);
    }
}
