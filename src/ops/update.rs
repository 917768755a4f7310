//! Update (`providers update`): the pinned modules named (every one when none is) and what they
//! need moved to the newest versions their requirements allow.
//!
//! Planned whole before anything is written, as a load is: the new closure resolved
//! ([`versions::plan_update`]), every pack it moves to fetched and verified, and the
//! capabilities of the set it leaves checked against those packs' own manifests. Then applied
//! in one transaction: a failure anywhere, for any of the modules, leaves the infra as it was.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;

use super::load::pack_manifest;
use super::placement::Placement;
use super::report::Failure;
use super::signers;
use crate::artifact::verify::{AllowUnsigned, Unsigned};
use crate::catalog::Catalog;
use crate::fs::Transaction;
use crate::infra::capabilities::{self, Loaded};
use crate::infra::closure::{self, Plan, Provenance};
use crate::infra::lockfile::ProvidersLock;
use crate::infra::session::InfraSession;
use crate::infra::versions::{self, UpdatePlan, VersionChange};
use crate::names::{ModuleName, PackRef, ShortName};
use crate::registry::{Registry, Trust, VerifiedPack};

/// What to update, and how.
pub struct UpdateOptions<'a> {
    /// The modules named, as the lock names them (`aws`, `provisioning_core`) or by module
    /// name (`aws_prov`); every pinned module when empty.
    pub modules: &'a [ShortName],
    /// Where the capability check finds who provides what, for its hints.
    pub catalog: &'a Catalog,
    /// `--allow-unsigned`: the modules that may be unsigned, or signed by a key not trusted.
    pub allow_unsigned: AllowUnsigned,
    /// `--accept-signer`: a version signed by another key than the pin's may be taken (and its
    /// signer recorded); without it, such a module fails.
    pub accept_signer: bool,
    /// Plan only: nothing is fetched or written.
    pub dry_run: bool,
}

/// What an update did, or (with failures, or a dry run) would have done.
#[derive(Debug)]
pub struct UpdateReport {
    pub infra: String,
    /// Each module that moves, comes or goes, in module order.
    pub changes: Vec<VersionChange>,
    /// Whether the infra pins any pack (one of links only has nothing to update).
    pub pinned: bool,
    /// Whether the changes were written.
    pub applied: bool,
    /// What to say although it worked.
    pub warnings: Vec<String>,
    /// Each module whose new version could not be fetched or verified. When there is any,
    /// nothing was written.
    pub failures: Vec<Failure>,
}

/// Updates the session's infra, all or nothing.
pub fn update(
    session: &mut InfraSession<'_>,
    options: &UpdateOptions<'_>,
) -> anyhow::Result<UpdateReport> {
    let named = named_modules(session.lock(), options.modules);
    let prepared = prepare(session, &named, options)?;
    apply_prepared(session, prepared)
}

/// An update planned, its packs fetched and verified and the set it leaves checked (unless a
/// dry run, or nothing moves): nothing is written yet.
pub struct PreparedUpdate {
    plan: UpdatePlan,
    fetched: BTreeMap<ModuleName, VerifiedPack>,
    dry_run: bool,
    pub report: UpdateReport,
}

impl PreparedUpdate {
    /// The changes it would write.
    pub fn changes(&self) -> &[VersionChange] {
        &self.plan.changes
    }
}

/// Plans the update of `named` (every pin when empty) in the session's infra, and fetches,
/// verifies and checks what it moves to, without writing.
pub fn prepare(
    session: &InfraSession<'_>,
    named: &[ModuleName],
    options: &UpdateOptions<'_>,
) -> anyhow::Result<PreparedUpdate> {
    let plan = versions::plan_update(session, named, &options.allow_unsigned)?;
    let mut report = UpdateReport {
        infra: session.infra.name.clone(),
        changes: plan.changes.clone(),
        pinned: session
            .lock()
            .providers
            .iter()
            .any(|entry| entry.pin().is_some()),
        applied: false,
        warnings: Vec::new(),
        failures: Vec::new(),
    };
    let mut fetched = BTreeMap::new();
    if options.dry_run {
        let (lock, accept) = (session.lock(), options.accept_signer);
        report.warnings = signers::foreseen(lock, &plan.records, accept);
    }
    if !plan.changes.is_empty() && !options.dry_run {
        fetched = fetch_all(
            session,
            &plan,
            &options.allow_unsigned,
            &mut report.failures,
        )?;
        let (lock, accept) = (session.lock(), options.accept_signer);
        let (warnings, failures) = (&mut report.warnings, &mut report.failures);
        signers::judge(lock, &fetched, accept, warnings, failures);
        if report.failures.is_empty() {
            refuse_misfit(session, &plan, &fetched, options.catalog)?;
            let yanked = fetched.values().filter_map(super::yanked_warning);
            report.warnings.extend(yanked);
        }
    }
    Ok(PreparedUpdate {
        plan,
        fetched,
        dry_run: options.dry_run,
        report,
    })
}

/// Writes a prepared update in one transaction; a dry run, an update that moves nothing, or
/// one whose packs failed is returned as it is, unwritten.
pub fn apply_prepared(
    session: &mut InfraSession<'_>,
    prepared: PreparedUpdate,
) -> anyhow::Result<UpdateReport> {
    let PreparedUpdate {
        plan,
        fetched,
        dry_run,
        mut report,
    } = prepared;
    if plan.changes.is_empty() || dry_run || !report.failures.is_empty() {
        return Ok(report);
    }
    apply(session, &plan, &fetched, &mut report.warnings)?;
    report.applied = true;
    Ok(report)
}

/// A name as the lock has it (`aws`, `provisioning_core`), or a module name (`aws_prov`).
pub(super) fn named_modules(lock: &ProvidersLock, names: &[ShortName]) -> Vec<ModuleName> {
    names
        .iter()
        .map(|name| match lock.get(name) {
            Some(entry) => entry.module.clone(),
            None => {
                let module = ModuleName::from(name);
                if lock.module(&module).is_some() {
                    module
                } else {
                    name.provider_module()
                }
            }
        })
        .collect()
}

/// Fetches and verifies every version the plan moves to, together first; each one that fails
/// is a failure of its module.
fn fetch_all(
    session: &InfraSession<'_>,
    plan: &UpdatePlan,
    allow_unsigned: &AllowUnsigned,
    failures: &mut Vec<Failure>,
) -> anyhow::Result<BTreeMap<ModuleName, VerifiedPack>> {
    let registry = session.registry(Vec::new())?;
    let trust = Trust {
        keys: session.keys()?,
        limits: session.context.unpack_limits(),
        unsigned: Unsigned::Overridable(allow_unsigned.clone()),
    };
    let wanted: Vec<PackRef> = plan
        .changes
        .iter()
        .filter_map(|change| {
            let version = change.to.clone()?;
            Some(PackRef::new(change.module.clone(), version))
        })
        .collect();
    registry.prefetch(&wanted);
    let mut fetched = BTreeMap::new();
    for pack in wanted {
        match registry.fetch_verified(&pack, &trust, None) {
            Ok(verified) => {
                fetched.insert(pack.module, verified);
            }
            Err(error) => failures.push(Failure {
                module: pack.module,
                error: error.into(),
            }),
        }
    }
    Ok(fetched)
}

/// Refuses an update whose set of modules would not fit together: the lock's, with each
/// module that moves as its verified pack declares itself, without those that go.
fn refuse_misfit(
    session: &InfraSession<'_>,
    plan: &UpdatePlan,
    fetched: &BTreeMap<ModuleName, VerifiedPack>,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let mut adding = Vec::new();
    for (module, verified) in fetched {
        let capabilities = pack_manifest(verified)
            .map_err(|error| anyhow!("{error}"))?
            .capabilities;
        adding.push(Loaded {
            module: module.clone(),
            kind: verified.kind,
            capabilities,
        });
    }
    let removing: Vec<ModuleName> = plan
        .changes
        .iter()
        .filter(|change| change.to.is_none())
        .map(|change| change.module.clone())
        .collect();
    let (context, infra) = (session.context, &session.infra);
    let set = capabilities::changed_set(context, infra, session.lock(), adding, &removing);
    let moving: Vec<String> = fetched
        .values()
        .map(|verified| format!("`{}` {}", verified.pack.module, verified.pack.version))
        .collect();
    capabilities::refuse_update_misfit(infra, &set, catalog, &moving)
}

/// Carries out the plan in one transaction: every version that moves vendored, what nothing
/// needs any more dropped, the manifest (requirements kept as written) and the lock written,
/// then the generated files refreshed.
fn apply(
    session: &mut InfraSession<'_>,
    plan: &UpdatePlan,
    fetched: &BTreeMap<ModuleName, VerifiedPack>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    let (context, infra) = (session.context, &session.infra);
    let mut lock = session.lock().clone();
    let mut manifest = session.manifest().clone();
    let closure_plan = closure_plan(&lock, plan, fetched);
    let mut transaction = Transaction::new();
    Placement {
        context,
        infra,
        fetched,
        force: false,
        named: &[],
    }
    .apply(
        &closure_plan,
        &mut manifest,
        &mut lock,
        &mut transaction,
        &mut Vec::new(),
    )?;
    transaction.write(manifest.path(), manifest.render().as_bytes())?;
    session.stage_lock(&lock, &mut transaction)?;
    warnings.extend(transaction.commit());
    warnings.extend(session.committed(lock, manifest));
    super::regenerate(session, warnings);
    Ok(())
}

/// The plan in the form [`Placement`] carries out: a module that moves comes from the
/// registry, every other one stays as the lock has it (with who requires it now).
fn closure_plan(
    lock: &ProvidersLock,
    plan: &UpdatePlan,
    fetched: &BTreeMap<ModuleName, VerifiedPack>,
) -> Plan {
    let modules = plan
        .resolution
        .iter()
        .map(|(module, resolved)| closure::Planned {
            module: module.clone(),
            version: resolved.version.clone(),
            provenance: match plan.records.get(module) {
                Some(record) if fetched.contains_key(module) => {
                    Provenance::Registry(Box::new(record.clone()))
                }
                _ => Provenance::Locked,
            },
            required_by: resolved.required_by.clone(),
            direct: lock.module(module).is_some_and(|entry| entry.direct) || resolved.root,
            recorded: plan.recorded.get(module).cloned(),
        })
        .collect();
    let gone: BTreeSet<&ModuleName> = plan
        .changes
        .iter()
        .filter(|change| change.to.is_none())
        .map(|change| &change.module)
        .collect();
    let dropped = lock
        .providers
        .iter()
        .filter(|entry| gone.contains(&entry.module))
        .cloned()
        .collect();
    Plan { modules, dropped }
}
