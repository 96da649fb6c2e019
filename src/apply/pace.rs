//! Pacing: the requests an apply makes (writes, and the reads that check or
//! probe them) are spread at most `rate` a second across every change in
//! flight, so a platform with a request budget is not run into its limit.
//! A rate limit answered anyway (429 with `Retry-After`) holds every
//! writer, not only the one that met it, until the platform said to come
//! back. Without a rate, only the hold applies.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// One pace for every request of an apply.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    /// When the next request may start.
    next: Mutex<Instant>,
}

impl Pacer {
    /// At most `per_second` requests a second (`None`: as fast as the
    /// parallelism allows).
    pub fn new(per_second: Option<f64>) -> Pacer {
        let interval = per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        Pacer {
            interval,
            next: Mutex::new(Instant::now()),
        }
    }

    fn next(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for this request's slot.
    pub async fn turn(&self) {
        let (slot, now) = {
            let mut next = self.next();
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval.unwrap_or(Duration::ZERO);
            (slot, now)
        };
        // A slot already here starts at once: a timer, even one due now,
        // fires on the runtime's next tick (a millisecond away).
        if slot > now {
            tokio::time::sleep_until(slot).await;
        }
    }

    /// The platform asked everyone to wait `d`: no request starts before.
    pub fn hold(&self, d: Duration) {
        let mut next = self.next();
        let until = Instant::now() + d;
        if until > *next {
            *next = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spread_at_the_rate_and_a_hold_delays_them_all() {
        let p = Pacer::new(Some(10.0));
        let start = Instant::now();
        for _ in 0..5 {
            p.turn().await;
        }
        // Slots at 0, 100, 200, 300 and 400 ms.
        assert_eq!(start.elapsed(), Duration::from_millis(400));
        p.hold(Duration::from_secs(2));
        p.turn().await;
        assert_eq!(start.elapsed(), Duration::from_millis(2400));
        let free = Pacer::new(None);
        let t = Instant::now();
        for _ in 0..100 {
            free.turn().await;
        }
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    /// On the real clock: a slot that has come starts at once, without
    /// waiting for the timer's next tick (a millisecond per request).
    #[tokio::test]
    async fn a_slot_that_has_come_starts_without_waiting_for_the_timer() {
        let free = Pacer::new(None);
        for _ in 0..3 {
            assert_eq!(futures::FutureExt::now_or_never(free.turn()), Some(()));
        }
    }
}
