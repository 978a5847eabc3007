//! HTTP handlers. Each extracts, calls [`crate::domain::activation`] or the store, and maps the result.

pub mod admin;
pub mod devices;
pub mod family;
pub mod holder;
pub mod page;
pub mod public;
pub mod settlement;
