//! Harness for end-to-end tests across the yibao crates.
#![forbid(unsafe_code)]
