//! Shared pieces for yibao's end-to-end tests, peer comparisons and benchmarks.
//!
//! [`sample`] builds the reference token used everywhere a "normal" token is needed;
//! [`peers`] encodes the same claims as a JWT (EdDSA) and a PASETO v4.public token, the two
//! formats a team would otherwise pick.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod fixture;
pub mod paired;
pub mod peers;
pub mod phone;
pub mod process;
pub mod qr;
pub mod redis_cluster;
pub mod redis_server;
pub mod sample;
