//! # yibao-issuer
//!
//! The issuer service: the insured-person registry, authorised activation channels,
//! activation, holder credentials, and short-lived signed QR tokens.

#![forbid(unsafe_code)]

pub mod id_number;
pub mod model;
pub mod registry;
pub mod secrets;
pub mod store;
