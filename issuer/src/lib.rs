//! # yibao-issuer
//!
//! The issuer service: the insured-person registry, authorised activation channels,
//! activation, holder credentials, short-lived signed QR tokens (JSON, SVG, PNG), the trust
//! bundle for terminals, settlement intake (handoffs, online decode, amounts) and the
//! expense ledger, and the operator's endpoints. [`app::router`] builds the axum
//! service; [`store`] holds the embedded (redb) and Redis backends.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod devices;
pub mod error;
pub mod family;
pub mod id_number;
pub mod limits;
pub mod model;
pub mod openapi;
pub mod qr;
pub mod registry;
pub mod routes;
pub mod secrets;
pub mod service;
pub mod settlement;
pub mod setup;
pub mod shutdown;
pub mod signing;
pub mod state;
pub mod store;
pub mod strict_json;
pub mod telemetry;
