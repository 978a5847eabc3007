//! Settlement intake: terminals hand off verified presentations, each token settles once
//! across all terminals, settled amounts make up the expense ledger.
//!
//! The once-only key is the token (voucher id + token id). The settlement record is
//! written with insert-if-absent, so the first handoff wins on both backends; a repeat from
//! the same terminal is answered with the same reference (a retry after a lost reply is
//! harmless), a handoff from another terminal is **double use** and recorded for audit.

pub mod completion;
pub mod expenses;
pub mod intake;

/// How long after a token's expiry a terminal may still hand it off, if it verified the
/// token while it was valid: a terminal offline for a week (a city platform cut-over took
/// three days) still gets its visits settled; older claims are refused as too late.
pub const DEFAULT_HANDOFF_WINDOW_SECS: u64 = 7 * 86_400;
