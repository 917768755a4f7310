//! What pack mode asks of a load: the version (`--version`) and the loose artifacts
//! (`--from`), and the version each module named is asked at.

use std::collections::BTreeMap;

use anyhow::bail;

use crate::artifact::verify::AllowUnsigned;
use crate::names::ModuleName;
use crate::registry::Registry;
use crate::registry::loose::set::LooseSet;
use crate::version_spec::VersionSpec;

/// What pack mode asks for.
pub struct PackOptions {
    /// `--version`: exactly, or a requirement. Without it (`--from` alone), each module named
    /// is asked at the newest version the artifacts hold of it.
    pub version: Option<VersionSpec>,
    /// `--allow-unsigned`: the modules that may be unsigned, or signed by a key not trusted.
    pub allow_unsigned: AllowUnsigned,
    /// `--accept-signer`: a pin may move to a version signed by another key than the pinned
    /// version's.
    pub accept_signer: bool,
    /// The loose artifacts (`--from`): looked in before the configured registries, and their
    /// versions tried first.
    pub from: Option<LooseSet>,
}

/// What the loose artifacts hold, kept when they are handed to the session's registry.
#[derive(Default)]
pub(super) struct Given {
    /// The newest version of each module they hold.
    pub newest: BTreeMap<ModuleName, semver::Version>,
    /// What they hold, for messages; empty when none were given.
    holdings: String,
}

impl PackOptions {
    /// The loose artifacts, to put first in the registry chain, and what they hold.
    pub(super) fn take_from(&mut self) -> (Vec<Box<dyn Registry>>, Given) {
        match self.from.take() {
            Some(set) => {
                let given = Given {
                    newest: set.newest(),
                    holdings: set.holdings(),
                };
                (vec![Box::new(set)], given)
            }
            None => (Vec::new(), Given::default()),
        }
    }

    /// The version `module`, named on the command line, is asked at.
    pub(super) fn spec_for(
        &self,
        module: &ModuleName,
        given: &Given,
    ) -> anyhow::Result<VersionSpec> {
        if let Some(version) = &self.version {
            return Ok(version.clone());
        }
        match given.newest.get(module) {
            Some(version) => Ok(VersionSpec::Exact(version.clone())),
            None if given.holdings.is_empty() => {
                bail!("`{module}` is asked for in pack mode without a version")
            }
            None => bail!(
                "`{module}` is not among the artifacts given with `--from`: they hold {}\nhint: name a module they hold, or add `--version` to take `{module}` from the registries",
                given.holdings
            ),
        }
    }
}
