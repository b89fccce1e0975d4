//! Black-box tests of the service against a real PostgreSQL: one fresh database per test.

mod app;
mod audit;
mod bench;
mod cli;
mod code_requests;
mod command_side;
mod daily_takings;
mod desk;
mod fakes;
mod faults;
mod fixtures;
mod helpers;
mod http_bad_input;
mod http_flows;
mod http_hardening;
mod http_security;
mod load;
mod openapi;
mod privacy;
mod production;
mod read_side;
mod reconciliation;
mod sms_gateways;
mod staff;
mod store;
mod wechat_pay_client;
