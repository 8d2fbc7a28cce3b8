//! A small work-stealing map over a slice, for the build's parallel phases.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Parsing recurses once per nesting level; workers get the stack a main thread has.
const WORKER_STACK: usize = 8 * 1024 * 1024;

/// Maps `f` over `items` with one thread per worker state (a database handle,
/// say, made on the calling thread), keeping the order.
pub fn map_with<T: Sync, S: Send, R: Send>(
    items: &[T],
    mut states: Vec<S>,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    states.truncate(items.len().max(1));
    if states.len() <= 1 {
        let Some(mut state) = states.pop() else { return Vec::new() };
        return items.iter().map(|item| f(&mut state, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let slots = Mutex::new(&mut results);
    std::thread::scope(|s| {
        for mut state in states {
            let (next, slots, f) = (&next, &slots, &f);
            std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(s, move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= items.len() {
                            break;
                        }
                        let r = f(&mut state, &items[i]);
                        slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                    }
                })
                .expect("the system can start a build thread");
        }
    });
    results.into_iter().map(|r| r.expect("every item was mapped")).collect()
}

pub fn map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, vec![(); jobs.max(1)], |(), item| f(item))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(super::map(&items, 4, |i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
}
