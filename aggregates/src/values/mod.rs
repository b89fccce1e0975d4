//! Validated value types: a value that exists is valid.

pub mod money;
pub mod period;
pub mod phone;
pub mod plate;
pub mod restriction;

pub use money::Fen;
pub use period::{MonthDay, Period, SeasonCalendar};
pub use phone::{Phone, PhoneError};
pub use plate::{Plate, PlateError};
pub use restriction::{RestrictionCalendar, RestrictionError, RestrictionPeriod};
