//! How the sandbox behaves: retry schedule, duplicates, refund delay.

use std::time::Duration;

/// Settings of [`super::SandboxPayments`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Waits between delivery attempts of one notification: the first attempt is immediate,
    /// attempt `n + 1` follows `retry_schedule[n]` after attempt `n` failed; after the last,
    /// the sandbox gives up. See [`SandboxConfig::wechat_retry_schedule`] for the real one.
    pub retry_schedule: Vec<Duration>,
    /// Send every notification a second time once it was first acknowledged (after the first
    /// wait of the schedule), as the real platform may.
    pub duplicate_deliveries: bool,
    /// How long a refund stays processing before its outcome is notified.
    pub refund_delay: Duration,
    /// How long one delivery attempt may take before it counts as failed.
    pub delivery_timeout: Duration,
}

impl Default for SandboxConfig {
    /// The compressed schedule, duplicates on, refunds after 1 s, 5 s per attempt.
    fn default() -> Self {
        SandboxConfig {
            retry_schedule: Self::compressed_retry_schedule(),
            duplicate_deliveries: true,
            refund_delay: Duration::from_secs(1),
            delivery_timeout: Duration::from_secs(5),
        }
    }
}

impl SandboxConfig {
    /// 200 ms, 500 ms, 1 s, 2 s, 5 s, 10 s, 30 s, 60 s, then every 5 minutes until the waits
    /// add up to 24 hours.
    pub fn compressed_retry_schedule() -> Vec<Duration> {
        let mut schedule: Vec<Duration> = [200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000]
            .into_iter()
            .map(Duration::from_millis)
            .collect();
        let day = Duration::from_secs(24 * 3600);
        let mut total: Duration = schedule.iter().sum();
        while total < day {
            schedule.push(Duration::from_secs(300));
            total += Duration::from_secs(300);
        }
        schedule
    }

    /// WeChat Pay's own schedule: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h.
    pub fn wechat_retry_schedule() -> Vec<Duration> {
        [
            15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800,
            21_600, 21_600,
        ]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
    }
}
