//! Load (and `providers install`): modules of any kind into an infra, linked to their sources
//! or (pack mode) vendored as verified packs, with their dependency closure.
//!
//! Planned whole before anything is written: every name, the closure of all of them together,
//! every pack fetched and verified, the kind of each pack, clashes of names, and the
//! capabilities of the set the change leaves (a pack's as its own manifest declares them).
//! Then applied in one transaction, N modules as one: a failure anywhere leaves the infra as it
//! was, whatever the change would have replaced.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail};

use super::pack_options::{Given, PackOptions};
use super::placement::Placement;
use super::report::{Event, Failure, Report};
use crate::artifact::verify::Unsigned;
use crate::catalog::{Catalog, Module};
use crate::fs::Transaction;
use crate::infra::capabilities::{self, Loaded};
use crate::infra::closure::{self, Plan, Planned, Provenance, Sources, Target};
use crate::infra::lockfile::ProvidersLock;
use crate::infra::manifest::InfraManifestMut;
use crate::infra::session::InfraSession;
use crate::infra::{link, link_dependency_path, vendor_dependency_path};
use crate::module::{Layout, ModuleKind};
use crate::names::{ModuleName, PackRef};
use crate::registry::{Registry, Trust, VerifiedPack};
use crate::version_spec::{VersionSpec, exactly};

/// What to load, and how.
pub struct LoadOptions<'a> {
    /// The modules named, found in the catalog (in pack mode, possibly known to the registry
    /// alone).
    pub modules: &'a [Module],
    /// Where link mode finds dependencies, and capability hints come from.
    pub catalog: &'a Catalog,
    /// Pack mode; link mode when `None`.
    pub packs: Option<PackOptions>,
    /// The layout links are made in (`Kcl` for `providers install --kcl`: no dependencies).
    pub layout: Layout,
    /// Replace what stands where a named module goes.
    pub force: bool,
    /// Link mode: a module the infra pins as a pack becomes a link. Without it the pin stays,
    /// and the report names the command that switches.
    pub switch_pins: bool,
}

/// A load, planned: nothing written yet.
pub(super) struct LoadPlan {
    closure: Plan,
    fetched: BTreeMap<ModuleName, VerifiedPack>,
    /// The modules named that are placed, in the command's order, with their layout.
    named: Vec<(ModuleName, Layout)>,
    force: bool,
    /// Pins kept, said first.
    events: Vec<Event>,
    warnings: Vec<String>,
}

/// Loads `options.modules` into the session's infra, all or none.
pub fn load(session: &mut InfraSession<'_>, options: LoadOptions<'_>) -> anyhow::Result<Report> {
    let plan = match plan(session, options)? {
        Ok(plan) => plan,
        Err(refused) => return Ok(refused),
    };
    let mut transaction = Transaction::new();
    let mut report = apply(session, plan, &mut transaction)?;
    report.warnings.extend(transaction.commit());
    super::regenerate(session, &mut report.warnings);
    Ok(report)
}

/// Plans a load; `Err(report)` when a module named cannot be loaded (each one said).
pub(super) fn plan(
    session: &InfraSession<'_>,
    options: LoadOptions<'_>,
) -> anyhow::Result<Result<LoadPlan, Report>> {
    let named_count = options.modules.len();
    let mut options = options;
    let mut targets = Targets::default();
    if let Some(packs) = &mut options.packs {
        // Opened once, with the loose artifacts first; later calls find it open.
        let (first, given) = packs.take_from();
        session.registry(first)?;
        targets.given = given;
    }
    for module in options.modules {
        let name = module.module_name()?;
        if let Err(error) = targets.add(session, &options, module, &name) {
            targets.fail(&name, error);
        }
    }
    if !targets.failures.is_empty() {
        return Ok(Err(Report::refused(
            &session.infra.name,
            targets.failures,
            named_count,
        )));
    }
    let mut warnings = Vec::new();
    let trust_keys = match &options.packs {
        Some(_) => session.keys()?,
        None => &[],
    };
    let mut closure = match options.layout {
        Layout::Nickel => targets.resolve(session, &options, trust_keys)?,
        Layout::Kcl => targets.legacy(),
    };
    if let Some(packs) = &options.packs {
        for planned in &mut closure.modules {
            if let Some(spec) = targets.specs.get(&planned.module) {
                planned.recorded = Some(spec.manifest_text());
            }
        }
        targets.fetch_all(session, packs, &closure, trust_keys)?;
        let (lock, accept) = (session.lock(), packs.accept_signer);
        let failures = &mut targets.failures;
        super::signers::judge(lock, &targets.fetched, accept, &mut warnings, failures);
    }
    targets.check_planned(session, &closure);
    if !targets.failures.is_empty() {
        return Ok(Err(Report::refused(
            &session.infra.name,
            targets.failures,
            named_count,
        )));
    }
    let set = targets.set_after(&closure, options.catalog)?;
    let dropped: Vec<ModuleName> = closure.dropped.iter().map(|e| e.module.clone()).collect();
    let set = capabilities::changed_set(
        session.context,
        &session.infra,
        session.lock(),
        set,
        &dropped,
    );
    capabilities::refuse_misfit(&session.infra, &set, options.catalog, options.modules, &[])?;
    warnings.extend(yanked_warnings(&targets.fetched));
    Ok(Ok(LoadPlan {
        closure,
        fetched: targets.fetched,
        named: targets.layouts,
        force: options.force,
        events: targets.events,
        warnings,
    }))
}

/// Carries out `plan` in `transaction` (the caller commits it), then records the lock and the
/// manifest in the session.
pub(super) fn apply(
    session: &mut InfraSession<'_>,
    plan: LoadPlan,
    transaction: &mut Transaction,
) -> anyhow::Result<Report> {
    let (context, infra) = (session.context, &session.infra);
    let mut lock = session.lock().clone();
    let mut manifest = session.manifest().clone();
    for (module, layout) in &plan.named {
        legacy_layout(session, module, *layout, &lock, &mut manifest, transaction)?;
    }
    let mut events = plan.events;
    Placement {
        context,
        infra,
        fetched: &plan.fetched,
        force: plan.force,
        named: &plan.named,
    }
    .apply(
        &plan.closure,
        &mut manifest,
        &mut lock,
        transaction,
        &mut events,
    )?;
    let replaced = replaced_by_hand(session, &manifest);
    // Only when it changed: an infra of the legacy layout alone has no `manifest.toml`.
    let rendered = manifest.render();
    if rendered != session.manifest().render() {
        transaction.write(manifest.path(), rendered.as_bytes())?;
    }
    session.stage_lock(&lock, transaction)?;
    let named = plan.named.len();
    let mut warnings = plan.warnings;
    warnings.extend(replaced);
    warnings.extend(session.committed(lock, manifest));
    Ok(Report {
        infra: session.infra.name.clone(),
        events,
        warnings,
        failures: Vec::new(),
        named,
    })
}

/// The dependencies written by hand in the infra's manifest (`upcloud_prov = "^1.0"`, a git
/// source, a path elsewhere) that `manifest` replaces with its own, each named with the line it
/// replaces. The forms this tool writes (a link's path, a pack's `vendor/` path and version) are
/// its own to rewrite, without a word.
fn replaced_by_hand(session: &InfraSession<'_>, manifest: &InfraManifestMut) -> Vec<String> {
    let before = session.manifest();
    let file = session.context.display_path(manifest.path());
    before
        .dependency_names()
        .into_iter()
        .filter_map(|module| {
            let old = before.dependency_line(&module)?;
            let new = manifest.dependency_line(&module)?;
            let name: ModuleName = module.parse().ok()?;
            let own = [
                vendor_dependency_path(&name),
                link_dependency_path(session.context, Layout::Nickel, &name),
            ];
            let written_by_hand = before
                .dependency_path(&module)
                .is_none_or(|path| !own.contains(&path));
            (old != new && written_by_hand).then(|| {
                format!(
                    "`{}`: the dependency `{old}` written there is replaced by `{new}`",
                    file.display()
                )
            })
        })
        .collect()
}

/// One form at a time: a module linked in the other layout loses that link and its dependency
/// there; a module linked in the legacy layout gets its dependency in `kcl.mod`.
fn legacy_layout(
    session: &InfraSession<'_>,
    module: &ModuleName,
    layout: Layout,
    lock: &ProvidersLock,
    manifest: &mut InfraManifestMut,
    transaction: &mut Transaction,
) -> anyhow::Result<()> {
    let (context, infra) = (session.context, &session.infra);
    if let Some(existing) = lock.module(module)
        && existing.layout != layout
    {
        let old = existing.layout;
        link::remove_symlink(context, infra, old, module, transaction)?;
        match old {
            Layout::Nickel => {
                manifest.remove_dependency(module.as_str());
            }
            Layout::Kcl => {
                let mut legacy = InfraManifestMut::open(&infra.manifest_path(old), &infra.name)?;
                legacy.remove_dependency(module.as_str());
                transaction.write(legacy.path(), legacy.render().as_bytes())?;
            }
        }
    }
    if layout == Layout::Kcl {
        let mut legacy = InfraManifestMut::open(&infra.manifest_path(layout), &infra.name)?;
        legacy.set_path_dependency(
            module.as_str(),
            &link_dependency_path(context, layout, module),
        );
        transaction.write(legacy.path(), legacy.render().as_bytes())?;
    }
    Ok(())
}

fn yanked_warnings(fetched: &BTreeMap<ModuleName, VerifiedPack>) -> Vec<String> {
    fetched.values().filter_map(super::yanked_warning).collect()
}

/// A version fixed before resolution, with its dependencies and how it gets in.
type Fixed = (
    semver::Version,
    BTreeMap<ModuleName, semver::VersionReq>,
    Provenance,
);

/// The modules named, as they are planned.
#[derive(Default)]
struct Targets {
    targets: Vec<Target>,
    /// The kind each named module is loaded as.
    kinds: BTreeMap<ModuleName, ModuleKind>,
    layouts: Vec<(ModuleName, Layout)>,
    fetched: BTreeMap<ModuleName, VerifiedPack>,
    /// What each module linked by name declares, as the catalog read it.
    capabilities: BTreeMap<ModuleName, crate::module::Capabilities>,
    /// Pack mode: the version each module named is asked at.
    specs: BTreeMap<ModuleName, VersionSpec>,
    /// What the loose artifacts (`--from`) hold.
    given: Given,
    events: Vec<Event>,
    failures: Vec<Failure>,
}

impl Targets {
    fn fail(&mut self, module: &ModuleName, error: anyhow::Error) {
        self.failures.push(Failure {
            module: module.clone(),
            error,
        });
    }

    /// Plans the module named `name`: a link to its source, a pin kept, or a pack to fetch
    /// (an exact version is fetched and verified now: what the registry has of it decides).
    fn add(
        &mut self,
        session: &InfraSession<'_>,
        options: &LoadOptions<'_>,
        module: &Module,
        name: &ModuleName,
    ) -> anyhow::Result<()> {
        let lock = session.lock();
        let kind = module.kind;
        super::refuse_clash(&session.infra, lock, name, kind)?;
        let (fixed, requirement) = match &options.packs {
            None => {
                let Some(package) = module.package() else {
                    bail!(
                        "{} `{}` cannot be loaded: {}",
                        module.kind.as_str(),
                        module.name,
                        module.problem().unwrap_or_default()
                    );
                };
                if let Some(entry) = lock.module(name).filter(|entry| entry.pin().is_some())
                    && !options.switch_pins
                {
                    let switch = switch_command(&session.infra.name, module);
                    self.events.push(Event::PinKept {
                        entry: entry.clone(),
                        switch,
                    });
                    return Ok(());
                }
                self.capabilities
                    .insert(name.clone(), package.manifest.capabilities.clone());
                let version = package.manifest.version.clone();
                let requirement = exactly(&version);
                let dependencies = package.manifest.dependencies.clone();
                let provenance = Provenance::Source(package.dir.clone(), kind);
                (Some((version, dependencies, provenance)), requirement)
            }
            Some(packs) => {
                let spec = packs.spec_for(name, &self.given)?;
                let fixed = self.prefetch(session, packs, name, &spec)?;
                let requirement = spec.requirement();
                self.specs.insert(name.clone(), spec);
                (fixed, requirement)
            }
        };
        self.targets.push(Target {
            module: name.clone(),
            requirement,
            fixed,
        });
        self.kinds.insert(name.clone(), kind);
        self.layouts.push((name.clone(), options.layout));
        Ok(())
    }

    /// An exact version, fetched and verified before planning.
    fn prefetch(
        &mut self,
        session: &InfraSession<'_>,
        packs: &PackOptions,
        name: &ModuleName,
        spec: &VersionSpec,
    ) -> anyhow::Result<Option<Fixed>> {
        let VersionSpec::Exact(version) = spec else {
            return Ok(None);
        };
        let registry = session.registry(Vec::new())?;
        let trust = trust(session, session.keys()?, packs);
        let verified =
            registry.fetch_verified(&PackRef::new(name.clone(), version.clone()), &trust, None)?;
        let fixed = (
            verified.pack.version.clone(),
            verified.dependencies.clone(),
            Provenance::Fetched,
        );
        self.fetched.insert(name.clone(), verified);
        Ok(Some(fixed))
    }

    /// The closure of every target together. When it cannot be resolved, each target that
    /// cannot be resolved alone is named; a combination that only fails together is one error.
    fn resolve(
        &mut self,
        session: &InfraSession<'_>,
        options: &LoadOptions<'_>,
        keys: &[crate::signing::TrustedKey],
    ) -> anyhow::Result<Plan> {
        let registry = match &options.packs {
            Some(_) => Some(session.registry(Vec::new())?),
            None => None,
        };
        let sources = match (registry, &options.packs) {
            (Some(registry), Some(packs)) => Sources::Registry {
                registry,
                keys,
                allow_unsigned: &packs.allow_unsigned,
                prefer: &self.given.newest,
            },
            _ => Sources::Catalog(options.catalog),
        };
        let (context, infra, lock) = (session.context, &session.infra, session.lock());
        let together = closure::plan(context, infra, lock, &self.targets, &sources);
        let error = match together {
            Ok(plan) => return Ok(plan),
            Err(error) => error,
        };
        if self.targets.len() > 1 {
            for target in &self.targets {
                if let Err(alone) =
                    closure::plan(context, infra, lock, std::slice::from_ref(target), &sources)
                {
                    self.failures.push(Failure {
                        module: target.module.clone(),
                        error: alone.into(),
                    });
                }
            }
            if !self.failures.is_empty() {
                return Ok(Plan {
                    modules: Vec::new(),
                    dropped: Vec::new(),
                });
            }
            return Err(anyhow!(error).context("the modules named cannot be loaded together"));
        }
        let module = self.targets[0].module.clone();
        self.fail(&module, error.into());
        Ok(Plan {
            modules: Vec::new(),
            dropped: Vec::new(),
        })
    }

    /// The legacy layout: the named modules alone, linked, no dependencies.
    fn legacy(&self) -> Plan {
        let modules = self
            .targets
            .iter()
            .filter_map(|target| {
                let (version, _, provenance) = target.fixed.clone()?;
                Some(Planned {
                    module: target.module.clone(),
                    version,
                    provenance,
                    required_by: std::collections::BTreeSet::new(),
                    direct: true,
                    recorded: None,
                })
            })
            .collect();
        Plan {
            modules,
            dropped: Vec::new(),
        }
    }

    /// Fetches and verifies every pack of the plan not fetched yet, together first; each one
    /// that fails is named.
    fn fetch_all(
        &mut self,
        session: &InfraSession<'_>,
        packs: &PackOptions,
        closure: &Plan,
        keys: &[crate::signing::TrustedKey],
    ) -> anyhow::Result<()> {
        let wanted: Vec<PackRef> = closure
            .modules
            .iter()
            .filter(|planned| matches!(planned.provenance, Provenance::Registry(_)))
            .filter(|planned| !self.fetched.contains_key(&planned.module))
            .map(|planned| PackRef::new(planned.module.clone(), planned.version.clone()))
            .collect();
        let registry = session.registry(Vec::new())?;
        registry.prefetch(&wanted);
        let trust = trust(session, keys, packs);
        for pack in wanted {
            match registry.fetch_verified(&pack, &trust, None) {
                Ok(verified) => {
                    self.fetched.insert(pack.module, verified);
                }
                Err(error) => self.fail(&pack.module, error.into()),
            }
        }
        Ok(())
    }

    /// Refuses packs of another kind than the one named, and names that clash with the lock.
    fn check_planned(&mut self, session: &InfraSession<'_>, closure: &Plan) {
        let infra = &session.infra;
        for planned in &closure.modules {
            let module = &planned.module;
            let kind = match (&planned.provenance, self.fetched.get(module)) {
                (Provenance::Source(_, kind), _) => *kind,
                (_, Some(verified)) => verified.kind,
                _ => continue,
            };
            if let Some(expected) = self.kinds.get(module).filter(|k| **k != kind)
                && let Some(verified) = self.fetched.get(module)
            {
                let error = anyhow!(
                    "`{module}` {} in `{}` is a {}, not a {}\nhint: `provisioning module-loader load {} {} {} --version {}`",
                    verified.pack.version,
                    verified.label,
                    kind.as_str(),
                    expected.as_str(),
                    kind.dir_name(),
                    infra.name,
                    module.short_name(),
                    verified.pack.version
                );
                self.fail(module, error);
                continue;
            }
            if let Err(error) = super::refuse_clash(infra, session.lock(), module, kind) {
                self.fail(module, error);
            }
        }
    }

    /// What the change puts in the set, with the capabilities each will have: a source's
    /// manifest, or a verified pack's own.
    fn set_after(&self, closure: &Plan, catalog: &Catalog) -> anyhow::Result<Vec<Loaded>> {
        let mut set = Vec::new();
        for planned in &closure.modules {
            let module = &planned.module;
            let (kind, capabilities) = match (&planned.provenance, self.fetched.get(module)) {
                // A named module as the catalog read it (the legacy layout has no
                // `manifest.toml`); a dependency from its source's manifest (`manifest.toml`,
                // or `Nickel-pkg.ncl` alone).
                (Provenance::Source(dir, kind), _) => (
                    *kind,
                    match self.capabilities.get(module) {
                        Some(capabilities) => Ok(capabilities.clone()),
                        None => catalog
                            .read_manifest(dir)
                            .map(|(_, manifest)| manifest.capabilities),
                    },
                ),
                (Provenance::Registry(_) | Provenance::Fetched, Some(verified)) => (
                    verified.kind,
                    pack_manifest(verified).map(|manifest| manifest.capabilities),
                ),
                _ => continue,
            };
            set.push(Loaded {
                module: module.clone(),
                kind,
                capabilities: capabilities.map_err(|error| anyhow!("{error}"))?,
            });
        }
        Ok(set)
    }
}

/// The manifest a verified pack carries.
pub(super) fn pack_manifest(
    verified: &VerifiedPack,
) -> Result<crate::module::PackageManifest, String> {
    let manifest_file = Layout::Nickel.manifest_file();
    let path = Path::new(verified.pack.module.as_str()).join(manifest_file);
    let file = verified
        .files
        .iter()
        .find(|file| file.path == manifest_file)
        .ok_or_else(|| format!("`{}` is missing from the pack", path.display()))?;
    let text = String::from_utf8_lossy(&file.contents);
    crate::module::parse_package_manifest(&text, &path)
}

fn trust<'a>(
    session: &InfraSession<'_>,
    keys: &'a [crate::signing::TrustedKey],
    packs: &PackOptions,
) -> Trust<'a> {
    Trust {
        keys,
        limits: session.context.unpack_limits(),
        unsigned: Unsigned::Overridable(packs.allow_unsigned.clone()),
    }
}

/// The command that makes `module`, pinned as a pack, a link.
fn switch_command(infra: &str, module: &Module) -> String {
    match module.kind {
        ModuleKind::Provider => format!("provisioning providers install {} {infra}", module.name),
        kind => format!(
            "provisioning module-loader load {} {infra} {} --link",
            kind.dir_name(),
            module.name
        ),
    }
}
