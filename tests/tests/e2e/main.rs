//! End-to-end tests: real `yibao-keys`, `yibao-issuer`, `yibao-verify` and `redis-server`
//! processes on
//! loopback. One binary for all of them (`cargo test -p yibao-tests --test e2e`).

mod admin_cli;
mod app_login;
mod browser;
mod cashier;
mod cluster;
mod demo;
mod devices;
mod ffi;
mod his;
mod issuer;
mod offline_page;
mod outbox_faults;
mod platform;
mod redis_restart;
mod shares_page;
mod terminal;
