//! Resolution of an infra of 100 modules against a registry of 1,000 modules × 20 versions
//! (issue: "under 50 ms"). Two measurements:
//!
//! - `in memory`: the resolver alone, over an index already in memory;
//! - `from metadata`: what `providers install --version` does, reading each module's registry
//!   metadata (`distribution/registry/<module>.json`, 20 versions each) from disk as resolution
//!   asks for it, and resolving.
//!
//! `cargo bench --bench resolve` (a release build). The 100 modules depend on each other (up to
//! three dependencies each, different for every version, with caret and range requirements
//! that often exclude the newest version); the other 900 are in the registry and never read.
//! Results: docs/performance.md.

// The fixture is written directly, as tests write theirs; the results go to stdout.
#![allow(clippy::disallowed_methods, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use provisioning::names::ModuleName;
use provisioning::registry::{DirectoryRegistry, Registry};
use provisioning::resolve::{self, Candidate, Index, Origin, Requirement};
use semver::{Version, VersionReq};

const MODULES: usize = 1000;
const VERSIONS: u64 = 20;
const INFRA: usize = 100;

/// A deterministic pseudo-random sequence (no dependency for a benchmark's inputs).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn name(index: usize) -> ModuleName {
    format!("m{index:04}_prov").parse().expect("a valid name")
}

/// The version of module `index` that every requirement on it allows: 1.10.0 to 1.19.0. The
/// requirements differ (ranges with upper bounds below the newest version, carets), so the
/// newest version is often not allowed and modules must settle on older ones; a solution always
/// exists.
fn allowed(index: usize) -> u64 {
    10 + (index as u64 * 7) % 10
}

/// The dependencies of one version of module `index`: up to three of the infra's modules after
/// it, each with a requirement around the version all requirements allow.
fn dependencies(index: usize, rng: &mut Lcg) -> BTreeMap<ModuleName, VersionReq> {
    let mut dependencies = BTreeMap::new();
    if index + 1 >= INFRA {
        return dependencies;
    }
    for _ in 0..rng.next(4) {
        let target = index + 1 + rng.next((INFRA - index - 1) as u64) as usize;
        let good = allowed(target);
        let below = good - rng.next(5);
        let requirement = if rng.next(3) == 0 {
            format!("^1.{below}")
        } else {
            format!(">=1.{below}, <1.{}", good + 1 + rng.next(3))
        };
        dependencies.insert(name(target), VersionReq::parse(&requirement).expect("req"));
    }
    dependencies
}

fn index_in_memory() -> BTreeMap<ModuleName, Vec<Candidate>> {
    let mut rng = Lcg(42);
    (0..MODULES)
        .map(|index| {
            let candidates = (0..VERSIONS)
                .map(|minor| Candidate {
                    version: Version::new(1, minor, 0),
                    dependencies: dependencies(index, &mut rng),
                    excluded: None,
                })
                .collect();
            (name(index), candidates)
        })
        .collect()
}

struct Memory(BTreeMap<ModuleName, Vec<Candidate>>);

impl Index for Memory {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        self.0
            .get(module)
            .cloned()
            .ok_or_else(|| format!("unknown module `{module}`"))
    }
}

struct OnDisk<'a>(&'a DirectoryRegistry);

impl Index for OnDisk<'_> {
    fn candidates(&self, module: &ModuleName) -> Result<Vec<Candidate>, String> {
        Ok(self
            .0
            .index(module)
            .map_err(|error| error.to_string())?
            .into_iter()
            .map(|entry| Candidate {
                version: entry.version,
                dependencies: entry.dependencies,
                excluded: None,
            })
            .collect())
    }
}

/// Writes the index as a `distribution/` directory: one metadata file per module.
fn write_registry(index: &BTreeMap<ModuleName, Vec<Candidate>>, dir: &std::path::Path) {
    let registry = dir.join("registry");
    std::fs::create_dir_all(&registry).expect("mkdir");
    std::fs::create_dir_all(dir.join("packages")).expect("mkdir");
    for (module, candidates) in index {
        let versions: Vec<serde_json::Value> = candidates
            .iter()
            .map(|candidate| {
                serde_json::json!({
                    "version": candidate.version.to_string(),
                    "package_file": format!("{module}_{}.tar", candidate.version),
                    "sha256": "0".repeat(64),
                    "content_hash": "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    "size": 10240,
                    "created": "2026-11-28T00:00:00Z",
                    "signature": null,
                    "dependencies": candidate.dependencies.iter()
                        .map(|(name, req)| (name.to_string(), req.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                })
            })
            .collect();
        let metadata = serde_json::json!({
            "name": module.to_string(),
            "maintainer": "", "repository": "", "license": "MIT", "homepage": "",
            "versions": versions,
        });
        std::fs::write(
            registry.join(format!("{module}.json")),
            serde_json::to_vec_pretty(&metadata).expect("json"),
        )
        .expect("write metadata");
    }
}

fn roots() -> Vec<Requirement> {
    (0..INFRA)
        .map(|index| Requirement {
            module: name(index),
            requirement: VersionReq::STAR,
            origin: Origin::Root("the infra".into()),
        })
        .collect()
}

/// Runs `work` until a second has passed (at least 10 times); prints the mean and the minimum.
fn measure(label: &str, mut work: impl FnMut() -> usize) {
    let mut times = Vec::new();
    let started = Instant::now();
    let mut resolved = 0;
    while times.len() < 10 || started.elapsed() < Duration::from_secs(1) {
        let start = Instant::now();
        resolved = work();
        times.push(start.elapsed());
    }
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let min = times.iter().min().copied().unwrap_or_default();
    println!(
        "{label:<14} {resolved} modules resolved: mean {:.2} ms, min {:.2} ms ({} runs)",
        mean.as_secs_f64() * 1000.0,
        min.as_secs_f64() * 1000.0,
        times.len()
    );
}

fn main() {
    let index = index_in_memory();
    let roots = roots();
    let memory = Memory(index.clone());
    measure("in memory", || {
        resolve::resolve(&roots, &memory, &BTreeMap::new())
            .expect("resolves")
            .len()
    });

    let dir = tempfile::tempdir().expect("temp dir");
    write_registry(&index, dir.path());
    let registry = DirectoryRegistry::in_distribution_dir(dir.path(), dir.path());
    measure("from metadata", || {
        resolve::resolve(&roots, &OnDisk(&registry), &BTreeMap::new())
            .expect("resolves")
            .len()
    });
}
