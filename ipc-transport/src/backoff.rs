//! Reconnect back-off: RECONNECT_IVL with jitter, doubling up to RECONNECT_IVL_MAX.

use std::time::Duration;

/// The delay before each reconnect attempt of one connector. Pure: no clock, no sockets.
///
/// The first delay lies in `[ivl, 2*ivl)`. When `max` is above `ivl`, each failure doubles
/// the base up to `max` and the delay lies in `[base, min(2*base, max)]`. A `max` at or below
/// `ivl` is ignored (libzmq's rule). `ivl` of `None` means never reconnect.
#[derive(Debug, Clone)]
pub struct Backoff {
    ivl: Option<Duration>,
    max: Option<Duration>,
    base: Duration,
    rng: u64,
}

impl Backoff {
    /// A back-off for RECONNECT_IVL `ivl` and RECONNECT_IVL_MAX `max`; `seed` drives jitter.
    pub fn new(ivl: Option<Duration>, max: Option<Duration>, seed: u64) -> Backoff {
        let ivl = ivl.filter(|d| !d.is_zero());
        Backoff {
            base: ivl.unwrap_or_default(),
            max: max.filter(|m| ivl.is_some_and(|i| *m > i)),
            ivl,
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: plenty for jitter.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The delay before the next attempt, or `None` if reconnecting is off.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let ivl = self.ivl?;
        let base = self.base;
        let span = base.as_nanos().min(u128::from(u64::MAX)) as u64; // <= u64::MAX by min
        let jitter = if span == 0 {
            0
        } else {
            self.next_random() % span
        };
        let mut delay = base.saturating_add(Duration::from_nanos(jitter));
        if let Some(max) = self.max {
            delay = delay.min(max.max(base));
            self.base = base.saturating_mul(2).min(max);
        } else {
            self.base = ivl;
        }
        Some(delay)
    }

    /// Whether reconnecting is on at all.
    pub fn enabled(&self) -> bool {
        self.ivl.is_some()
    }

    /// A connection succeeded: start again from `ivl`.
    pub fn reset(&mut self) {
        self.base = self.ivl.unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn jitter_stays_within_ivl_and_twice_ivl() {
        let mut b = Backoff::new(Some(ms(100)), None, 7);
        for _ in 0..10_000 {
            let d = b.next_delay().unwrap();
            assert!(d >= ms(100) && d < ms(200), "{d:?}");
        }
    }

    #[test]
    fn doubling_up_to_max_without_overflow() {
        let mut b = Backoff::new(Some(ms(100)), Some(ms(1000)), 3);
        let first = b.next_delay().unwrap();
        assert!(first >= ms(100) && first < ms(200));
        for _ in 0..10_000 {
            let d = b.next_delay().unwrap();
            assert!(d >= ms(200) && d <= ms(1000), "{d:?}");
        }
        assert!(b.next_delay().unwrap() == ms(1000));
        b.reset();
        assert!(b.next_delay().unwrap() < ms(200));
    }

    #[test]
    fn max_below_ivl_is_ignored_and_zero_or_none_means_never() {
        let mut b = Backoff::new(Some(ms(100)), Some(ms(50)), 1);
        for _ in 0..100 {
            let d = b.next_delay().unwrap();
            assert!(d >= ms(100) && d < ms(200));
        }
        assert_eq!(Backoff::new(None, None, 1).next_delay(), None);
        assert_eq!(Backoff::new(Some(ms(0)), None, 1).next_delay(), None);
    }

    #[test]
    fn huge_intervals_saturate() {
        let mut b = Backoff::new(Some(Duration::MAX / 2), Some(Duration::MAX), 9);
        for _ in 0..100 {
            assert!(b.next_delay().is_some());
        }
    }
}
