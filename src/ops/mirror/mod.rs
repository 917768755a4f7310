//! `pack mirror`: copies the packs some infras pin (by exact version and hash) and the closure
//! some requirements resolve to, from one registry into a mirror for sites without a network:
//! a directory that is itself a registry, or an OCI namespace ([`Target`]). Every pack is
//! verified on the way as `install` verifies it (size and hashes against the registry's record
//! and the lock's pin, every archive entry, the signature against the trusted keys, and its
//! provenance when it has one), then copied byte for byte with its signature, its record, its
//! yank state and its provenance: the same pack has the same hash in the mirror, so a lock
//! verifies against the mirror unchanged. What the mirror holds already is not fetched again;
//! only its yank state follows the source's.
//!
//! It plans first (the closure, what the mirror lacks, each copy fetched and verified), then
//! writes: into a directory under the registry's lock, one file at a time, each atomically,
//! the artifacts before the records that name them.

mod target;

use std::collections::BTreeMap;

use serde::Serialize;

pub use target::Target;

use crate::artifact::ArtifactName;
use crate::artifact::unpack::Limits;
use crate::artifact::verify::{AllowUnsigned, Trust, Unsigned};
use crate::digest::Sha256;
use crate::infra::Infra;
use crate::infra::lockfile::{LOCK_FILE_NAME, ProvidersLock, Signer};
use crate::module::ModuleKind;
use crate::names::{ModuleName, PackRef};
use crate::printer::Printer;
use crate::registry::{Registry, VersionEntry};
use crate::resolve::{self, Candidate, Origin, Requirement};
use crate::signing::TrustedKey;
use crate::version_spec::ModuleSpec;

/// What to mirror: the packs infras pin, and requirements to resolve with their dependencies.
#[derive(Debug, Default)]
pub struct Wanted {
    pub pins: Vec<Pin>,
    pub requirements: Vec<ModuleSpec>,
}

/// A pack an infra's lock pins.
#[derive(Debug, Clone)]
pub struct Pin {
    pub pack: PackRef,
    pub sha256: Sha256,
    /// The lock records it as installed unsigned (`--allow-unsigned`): accepted so, as `sync`
    /// accepts it.
    pub unsigned: bool,
    pub infra: String,
}

impl Wanted {
    /// Adds what `infra`'s lock pins (its linked modules are live sources: nothing to copy).
    pub fn add_infra(&mut self, infra: &Infra) -> anyhow::Result<()> {
        let lock = ProvidersLock::read(&infra.dir.join(LOCK_FILE_NAME))?;
        for entry in &lock.providers {
            let Some(pin) = entry.pin() else { continue };
            self.pins.push(Pin {
                pack: PackRef::new(entry.module.clone(), entry.version.clone()),
                sha256: pin.sha256,
                unsigned: pin.signer == Signer::Unsigned,
                infra: infra.name.clone(),
            });
        }
        Ok(())
    }
}

/// What [`mirror`] works with.
pub struct MirrorOptions<'a> {
    pub source: &'a dyn Registry,
    pub target: &'a Target,
    pub keys: &'a [TrustedKey],
    pub limits: Limits,
    /// Signs the mirror's TUF metadata when it carries any (a directory mirror).
    pub tuf: Option<&'a crate::tuf::publish::Publisher>,
    pub printer: &'a Printer,
}

/// What mirroring did with one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mirrored {
    Copied,
    AlreadyThere,
    /// The mirror held it already, with another yank state than the source's: updated.
    YankUpdated,
}

/// One pack of the closure and what became of it.
#[derive(Debug, Clone)]
pub struct MirroredPack {
    pub pack: PackRef,
    pub result: Result<Mirrored, String>,
    /// It was copied with its provenance.
    pub provenance: bool,
}

/// A pack verified and ready to be written into the mirror.
#[derive(Debug, Clone)]
struct Copy {
    pack: PackRef,
    /// Its record as the mirror keeps it: the source's, naming the files copied.
    entry: VersionEntry,
    bytes: Vec<u8>,
    signature: Option<String>,
    provenance: Option<Vec<u8>>,
    kind: ModuleKind,
}

/// What one pack of the closure needs.
enum Step {
    Present,
    /// The mirror holds it; its yank state follows the source's record.
    Yank(Box<VersionEntry>),
    Copy(Box<Copy>),
}

/// What a pack of the closure must be: the sha256 a lock pins (or the registry records), and
/// whether it may be unsigned.
#[derive(Debug, Clone)]
struct Want {
    sha256: Option<Sha256>,
    unsigned: bool,
}

/// Mirrors `wanted` from the source into the target: one result per pack of the closure, in
/// order. An error is what stops everything (a requirement that does not resolve, a mirror
/// that cannot be written); a pack that fails verification fails alone, and nothing of it is
/// written.
pub fn mirror(wanted: &Wanted, options: &MirrorOptions<'_>) -> anyhow::Result<Vec<MirroredPack>> {
    let _lock = options.target.lock(options.printer)?;
    let (wants, mut results) = closure(wanted, options)?;
    let modules: Vec<ModuleName> = wants
        .keys()
        .map(|pack| pack.module.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let there = read_indexes(options.target.registry(), &modules);
    let recorded = read_indexes(options.source, &modules);
    let mut copies = Vec::new();
    let mut yanks = Vec::new();
    for (pack, want) in &wants {
        let mut provenance = false;
        let result = match plan(pack, want, &there, &recorded, options) {
            Ok(Step::Present) => Ok(Mirrored::AlreadyThere),
            Ok(Step::Yank(entry)) => {
                yanks.push((pack.clone(), *entry));
                Ok(Mirrored::YankUpdated)
            }
            Ok(Step::Copy(copy)) => {
                provenance = copy.provenance.is_some();
                copies.push(*copy);
                Ok(Mirrored::Copied)
            }
            Err(error) => Err(error),
        };
        results.push(MirroredPack {
            pack: pack.clone(),
            result,
            provenance,
        });
    }
    let written = options
        .target
        .write(&copies, &yanks, options.source, options.tuf)?;
    for (pack, error) in written {
        if let Some(result) = results.iter_mut().find(|result| result.pack == pack) {
            result.result = Err(error);
        }
    }
    results.sort_by(|a, b| a.pack.cmp(&b.pack));
    Ok(results)
}

/// Every pack to mirror: the pins (one sha256 per pack, whichever infras pin it) and the
/// resolution of the requirements against the source. A pack two infras pin with different
/// bytes comes back as a failure.
fn closure(
    wanted: &Wanted,
    options: &MirrorOptions<'_>,
) -> anyhow::Result<(BTreeMap<PackRef, Want>, Vec<MirroredPack>)> {
    let mut wants: BTreeMap<PackRef, Want> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut pinned_by: BTreeMap<&PackRef, &Pin> = BTreeMap::new();
    for pin in &wanted.pins {
        if let Some(first) = pinned_by.get(&pin.pack) {
            if first.sha256 != pin.sha256 {
                wants.remove(&pin.pack);
                failures.push(MirroredPack {
                    pack: pin.pack.clone(),
                    result: Err(format!(
                        "`{}` pins `{}` {} with sha256 {}, but `{}` pins it with sha256 {}: one of the locks is not what the registry holds",
                        first.infra,
                        pin.pack.module,
                        pin.pack.version,
                        first.sha256.short(),
                        pin.infra,
                        pin.sha256.short()
                    )),
                    provenance: false,
                });
            }
            continue;
        }
        pinned_by.insert(&pin.pack, pin);
        wants.insert(
            pin.pack.clone(),
            Want {
                sha256: Some(pin.sha256),
                unsigned: pin.unsigned,
            },
        );
    }
    if !wanted.requirements.is_empty() {
        for pack in resolve_requirements(&wanted.requirements, options)? {
            wants.entry(pack).or_insert(Want {
                sha256: None,
                unsigned: false,
            });
        }
    }
    let failed: Vec<&PackRef> = failures.iter().map(|failure| &failure.pack).collect();
    wants.retain(|pack, _| !failed.contains(&pack));
    Ok((wants, failures))
}

/// The packs `requirements` resolve to in the source, with their dependencies, as `install`
/// resolves them: the newest signed (by a trusted key), non-yanked version of each.
fn resolve_requirements(
    requirements: &[ModuleSpec],
    options: &MirrorOptions<'_>,
) -> anyhow::Result<Vec<PackRef>> {
    let roots: Vec<Requirement> = requirements
        .iter()
        .map(|wanted| Requirement {
            module: wanted.module.clone(),
            requirement: wanted.spec.requirement(),
            origin: Origin::Root(format!("the mirror of {wanted}")),
        })
        .collect();
    let index = SourceIndex {
        source: options.source,
        keys: options.keys,
    };
    let resolution = resolve::resolve(&roots, &index, &BTreeMap::new())?;
    Ok(resolution
        .into_iter()
        .map(|(module, resolved)| PackRef::new(module, resolved.version))
        .collect())
}

/// The source's records, as resolution reads them.
struct SourceIndex<'a> {
    source: &'a dyn Registry,
    keys: &'a [TrustedKey],
}

impl resolve::Index for SourceIndex<'_> {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        let entries = self
            .source
            .index(module)
            .map_err(|error| error.to_string())?;
        if entries.is_empty() {
            return Err(format!(
                "no packs of `{module}` in {}",
                self.source.description()
            ));
        }
        Ok(entries
            .iter()
            .map(|entry| Candidate {
                version: entry.version.clone(),
                dependencies: entry.dependencies.clone(),
                excluded: crate::infra::closure::exclusion(module, entry, self.keys, false, false),
            })
            .collect())
    }
}

type Indexes = BTreeMap<ModuleName, Result<Vec<VersionEntry>, String>>;

/// The records of `modules` in `registry`, read together.
fn read_indexes(registry: &dyn Registry, modules: &[ModuleName]) -> Indexes {
    modules
        .iter()
        .cloned()
        .zip(registry.index_many(modules))
        .map(|(module, entries)| (module, entries.map_err(|error| error.to_string())))
        .collect()
}

fn find<'a>(indexes: &'a Indexes, pack: &PackRef) -> Result<Option<&'a VersionEntry>, String> {
    match indexes.get(&pack.module) {
        Some(Ok(entries)) => Ok(entries.iter().find(|entry| entry.version == pack.version)),
        Some(Err(error)) => Err(error.clone()),
        None => Ok(None),
    }
}

/// What `pack` needs: nothing, its yank state, or a copy, fetched and verified now.
fn plan(
    pack: &PackRef,
    want: &Want,
    there: &Indexes,
    recorded: &Indexes,
    options: &MirrorOptions<'_>,
) -> Result<Step, String> {
    let there = find(there, pack)?;
    let recorded = find(recorded, pack);
    let source = recorded.as_ref().ok().copied().flatten();
    let expected = want.sha256.or_else(|| source.map(|entry| entry.sha256));
    if let Some(there) = there {
        if expected.is_some_and(|expected| expected != there.sha256) {
            return Err(format!(
                "the mirror `{}` holds `{}` {} with sha256 {}, not {}: a version in a registry is never replaced\nhint: mirror into another directory or namespace, or remove it from the mirror first",
                options.target.label(),
                pack.module,
                pack.version,
                there.sha256.short(),
                expected.map_or_else(String::new, |sha256| sha256.short().to_owned())
            ));
        }
        return Ok(match source {
            Some(source)
                if source.sha256 == there.sha256
                    && (source.yanked, &source.yank_reason)
                        != (there.yanked, &there.yank_reason) =>
            {
                Step::Yank(Box::new(source.clone()))
            }
            _ => Step::Present,
        });
    }
    let recorded = recorded?.cloned();
    fetch(pack, want, recorded, options).map(|copy| Step::Copy(Box::new(copy)))
}

/// Fetches `pack` from the source and verifies it (and its provenance) for the mirror.
fn fetch(
    pack: &PackRef,
    want: &Want,
    recorded: Option<VersionEntry>,
    options: &MirrorOptions<'_>,
) -> Result<Copy, String> {
    let trust = Trust {
        keys: options.keys,
        limits: options.limits,
        unsigned: if want.unsigned {
            Unsigned::Overridable(AllowUnsigned::All)
        } else {
            Unsigned::Refused
        },
    };
    let (verified, fetched) =
        crate::registry::fetch_verified_keeping(options.source, pack, &trust, want.sha256.as_ref())
            .map_err(|error| error.to_string())?;
    let provenance = provenance(pack, &verified.sha256, options)?;
    let mut entry = recorded.unwrap_or_else(|| fetched.entry.clone());
    let artifact = ArtifactName::new(pack.clone());
    entry.signature = fetched.signature.as_ref().map(|_| artifact.signature());
    entry.signer = verified.signer.as_ref().map(|signer| signer.key_id);
    entry.provenance = provenance
        .as_ref()
        .map(|_| crate::provenance::file_name(&artifact));
    Ok(Copy {
        pack: pack.clone(),
        entry,
        bytes: fetched.bytes,
        signature: fetched.signature.map(|signature| signature.text),
        provenance,
        kind: verified.kind,
    })
}

/// The provenance of `pack` in the source, verified (its DSSE signature against the trusted
/// keys, its subject against the artifact), when the source holds one.
fn provenance(
    pack: &PackRef,
    sha256: &Sha256,
    options: &MirrorOptions<'_>,
) -> Result<Option<Vec<u8>>, String> {
    let Some(bytes) = options
        .source
        .provenance(pack, sha256)
        .map_err(|error| error.to_string())?
    else {
        return Ok(None);
    };
    let artifact = ArtifactName::new(pack.clone());
    let path = std::path::PathBuf::from(crate::provenance::file_name(&artifact));
    crate::provenance::parse(&path, &bytes)
        .and_then(|envelope| {
            crate::provenance::verify(&path, &envelope, options.keys, &artifact, sha256)
        })
        .map_err(|error| {
            format!(
                "`{}` {} failed verification: provenance: {error}",
                pack.module, pack.version
            )
        })?;
    Ok(Some(bytes))
}
