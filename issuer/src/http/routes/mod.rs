//! HTTP handlers. Each extracts, calls [`crate::domain::activation`] or the store, and maps the result.

pub mod account_shares;
pub mod admin;
pub mod admin_records;
pub mod devices;
pub mod family;
pub mod holder;
pub mod page;
pub mod person_info;
pub mod public;
pub mod settlement;
