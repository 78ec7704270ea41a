//! HTTP tests of the real server (real middleware stack, real hyper, real TCP on loopback) with a
//! real HTTP client (reqwest), plus raw TCP where a test must misbehave as a client would (slow
//! uploads, idle connections, oversized headers).
//!
//! They live inside the crate because two need routes that exist only in test builds
//! (`/__test/panic`, `/__test/sleep`): a shipped server has no way to make a handler panic, and
//! must not have one.

mod harness;
mod http_api;
mod lifecycle;
mod limits;
mod validate_api;
