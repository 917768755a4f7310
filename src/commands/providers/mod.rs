//! `provisioning providers ...`: discover providers and manage what an infra has installed.

mod audit;
mod info;
mod install;
mod installed;
mod list;
mod nickel_pkg;
mod outdated;
mod remove;
mod sbom;
mod sync;
mod update;
mod validate;

pub use audit::audit;
pub use info::info;
pub use install::install;
pub use installed::installed;
pub use list::list;
pub use nickel_pkg::nickel_pkg;
pub use outdated::outdated;
pub use remove::remove;
pub use sbom::sbom;
pub use sync::sync;
pub use update::update;
pub use validate::validate;
