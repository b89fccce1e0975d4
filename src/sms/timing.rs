//! How long sending a code usually takes, so that a code request for a phone with no card
//! (which sends nothing) answers after about as long as one that sends: the answer's timing
//! must not tell who holds a card.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A moving average of recent code sends.
#[derive(Debug, Default)]
pub struct SendTiming {
    /// Microseconds, exponentially weighted (1/8 per send); 0 before the first send.
    average_us: AtomicU64,
}

impl SendTiming {
    /// Counts one send that took `took`.
    pub fn record(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // Lost updates between concurrent sends only blur an estimate.
        let old = self.average_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.average_us.store(new, Ordering::Relaxed);
    }

    /// What a send usually takes (zero before any).
    pub fn typical(&self) -> Duration {
        Duration::from_micros(self.average_us.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typical_send_follows_recent_sends() {
        let t = SendTiming::default();
        assert_eq!(t.typical(), Duration::ZERO);
        t.record(Duration::from_millis(80));
        assert_eq!(t.typical(), Duration::from_millis(80));
        for _ in 0..40 {
            t.record(Duration::from_millis(200));
        }
        let typical = t.typical().as_millis();
        assert!((195..=200).contains(&typical), "{typical}");
    }
}
