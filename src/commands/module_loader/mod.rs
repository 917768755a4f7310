//! `provisioning module-loader ...`: the guide's module-loader commands. `sync` is shared with
//! `providers sync`.

mod discover;

pub use discover::discover;
