//! Money as integer fen (1 yuan = 100 fen). Never a float.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of money in fen (¥360.00 = `Fen(36000)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    /// The amount in fen.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_display_as_yuan_with_two_decimals() {
        assert_eq!(Fen(36000).to_string(), "¥360.00");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(-150).to_string(), "-¥1.50");
    }
}
