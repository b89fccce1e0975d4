//! When a card's holder is reminded that its last approved period is ending.

use super::state::Card;
use crate::values::SeasonCalendar;
use chrono::NaiveDate;

/// A reminder owed today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderDue {
    /// Which of the configured reminders (days before the end).
    pub days_before: u32,
    /// The end of the card's last approved period.
    pub valid_to: NaiveDate,
}

/// The reminder owed on `today` for `card`, given reminders `days` before its last approved
/// period ends: the nearest one whose day has come, while the period has not ended, no renewal
/// is under way (awaiting payment or under review), and a season the card lacks is on sale today
/// (the lot's renewal season). Once a reminder's day has passed unsent, only the nearer one is
/// owed, so a holder never gets two at once. Sending each (card, `valid_to`, `days_before`)
/// once is the caller's.
pub fn reminder_due(
    card: &Card,
    calendar: &SeasonCalendar,
    today: NaiveDate,
    days: &[u32],
) -> Option<ReminderDue> {
    let valid_to = card.validity().to;
    if today > valid_to || card.renewals.iter().any(|r| r.status.is_open()) {
        return None;
    }
    calendar.on_sale(&card.coverage, today)?;
    let left = (valid_to - today).num_days();
    days.iter()
        .copied()
        .filter(|d| i64::from(*d) >= left)
        .min()
        .map(|days_before| ReminderDue {
            days_before,
            valid_to,
        })
}
