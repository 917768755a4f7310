//! Integration tests: the real binary against sandboxed provisioning bases.

mod common;

mod cli;
mod config;
mod discovery;
mod install;
mod manifest_edits;
mod oci;
mod pack;
mod readme;
mod remove;
mod signing;
mod sync;
mod validate;
mod vendor;
