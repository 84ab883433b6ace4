//! Warnings a flood could repeat thousands of times a second (refused
//! sign-ins, refused connections, a busy database) are logged at most once
//! every ten seconds each, saying how many were held back since: a flood
//! must not also fill the operator's disk with log lines. (A sign-in flood
//! of 200 clients drew about 30,000 refusals a second.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(10);

/// One kind of warning, logged now and then.
pub struct NowAndThen {
    last: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl NowAndThen {
    /// A warning not logged yet; `const`, so it can be a `static` beside the
    /// code that warns.
    pub const fn new() -> NowAndThen {
        NowAndThen {
            last: Mutex::new(None),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this occurrence should be logged, `n` being how many
    /// were held back since the last one logged; `None` to stay quiet.
    pub fn due(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < EVERY) {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(Instant::now());
        Some(self.held_back.swap(0, Ordering::Relaxed))
    }
}

impl Default for NowAndThen {
    fn default() -> Self {
        NowAndThen::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_once_with_its_count() {
        let warning = NowAndThen::new();
        assert_eq!(warning.due(), Some(0));
        for _ in 0..1000 {
            assert_eq!(warning.due(), None);
        }
        *warning.last.lock().unwrap() = Some(Instant::now() - EVERY);
        assert_eq!(warning.due(), Some(1000));
    }
}
