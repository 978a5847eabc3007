//! # yibao-issuer
//!
//! The issuer service: the insured-person registry, authorised activation channels,
//! activation, holder credentials, short-lived signed QR tokens (JSON, SVG, PNG), the trust
//! bundle for terminals, settlement intake (handoffs, online decode, amounts) and the
//! expense ledger, and the operator's endpoints.
//!
//! Layers, each importing only those below it: [`http`] (the axum router, extractors,
//! bodies, the OpenAPI document, errors as `{code, message}`) over [`domain`] (activation,
//! family, devices, settlement, registry, limits: operations over a [`domain::Context`]) over
//! [`store`] (the trait, the embedded and Redis backends) over [`model`] (the records kept),
//! beside the value modules [`id_number`], [`secrets`], [`sealed`] and [`signing`]. The binaries,
//! [`config`], [`setup`] and [`demo`] sit on top.

#![forbid(unsafe_code)]

#[cfg(test)]
mod layers;

pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod id_number;
pub mod model;
pub mod sealed;
pub mod secrets;
pub mod setup;
pub mod shutdown;
pub mod signing;
pub mod store;
pub mod telemetry;
