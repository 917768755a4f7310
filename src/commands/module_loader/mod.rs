//! `provisioning module-loader ...`: the guide's module-loader, for every kind of module:
//! discover, init, load, unload, installed, graph. `sync` is shared with `providers sync`.

mod discover;
mod graph;
mod init;
mod installed;
mod load;

pub use discover::discover;
pub use graph::run as graph;
pub use init::init;
pub use installed::installed;
pub use load::{load, unload};
