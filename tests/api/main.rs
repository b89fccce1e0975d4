//! Black-box tests of the service against a real PostgreSQL: one fresh database per test.

mod cli;
mod command_side;
mod desk;
mod fixtures;
mod helpers;
mod read_side;
mod store;
