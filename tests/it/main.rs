//! Integration tests: the real binary against sandboxed provisioning bases.
// Tests build their fixtures, and break things on purpose, by writing directly.
#![allow(clippy::disallowed_methods)]

mod common;

mod adversarial;
mod bounds;
mod cli;
mod compliance;
mod config;
mod daily_loop;
mod debris;
mod dependencies;
mod discovery;
mod docs;
mod evaluation;
mod faults;
mod fixtures;
mod help;
mod hostile_registry;
mod hostile_token;
mod hot_path;
mod http_registry;
mod install;
mod late_signatures;
mod libraries;
mod linear_reads;
mod lock_merge;
mod loose;
mod loose_closure;
mod manifest_edits;
mod message_suite;
mod messages;
mod mirror;
mod modules;
mod nickel_packages;
mod nickel_pkg_modules;
mod oci;
mod operations;
mod pack;
mod panics;
mod parsers;
mod poisoned_cache;
mod provenance;
mod races;
mod readme;
mod reads;
mod registries;
mod remove;
mod signing;
mod site;
mod sources;
mod sync;
mod validate;
mod vendor;
mod versions;
mod workspace;
