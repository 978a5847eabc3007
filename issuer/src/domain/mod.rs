//! The rules, with no idea they are served over HTTP: activation, family accounts, devices and
//! revocation, settlement and expenses, registry import, rate limits, the operator's
//! registrations. Each operation takes the [`Context`] (store, clock, keys, limits,
//! settings) and plain values (the caller's voucher, not an extractor) and answers a value or
//! a domain error.

pub mod activation;
pub mod caller;
pub mod context;
pub mod devices;
pub mod error;
pub mod family;
pub mod limits;
pub mod operator;
pub mod operator_records;
pub mod registry;
pub mod service_status;
pub mod settlement;

pub use context::Context;
