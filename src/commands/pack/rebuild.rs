//! `pack verify --rebuild`: the pack built again, in a scratch directory, from its source —
//! `--source DIR`; else the commit its provenance records, exported with `git archive` when the
//! repository is at hand and the tree was clean; else the directory it records — and its bytes
//! compared with the artifact's: identical, or the first file that differs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use super::Setup;
use crate::artifact::ArtifactFile;
use crate::artifact::verify::{Check, Status};
use crate::cli::PackOutputArgs;
use crate::context::Context;
use crate::digest::Sha256;
use crate::module::ModuleKind;
use crate::names::PackRef;
use crate::ops::pack::PackInput;
use crate::printer::Printer;
use crate::provenance::Statement;

/// Where the rebuild's source came from, for its report.
struct SourceDir {
    dir: PathBuf,
    described: String,
}

/// Rebuilds `pack` and compares it with `artifact`.
pub(super) fn rebuild(
    pack: &PackRef,
    artifact: &[u8],
    statement: Option<&Statement>,
    source: Option<&Path>,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Check> {
    let (scratch, _) = crate::fs::HeldTempDir::new("provisioning-rebuild-")
        .context("failed to create a scratch directory")?;
    let source = source_dir(pack, statement, source, scratch.path(), context)?;
    let (kind, category) = recorded_kind(pack, statement);
    let (manifest_path, manifest) = source_manifest(pack, &source, context)?;
    let input = PackInput {
        pack: pack.clone(),
        entry: source
            .dir
            .join(manifest.entry.as_deref().unwrap_or("main.ncl")),
        package_dir: source.dir.clone(),
        dependencies: manifest.dependencies.clone(),
        kind,
        category,
        // A module described by `Nickel-pkg.ncl` alone had its pack's `manifest.toml` written
        // from it, as `pack` does.
        described: manifest_path
            .ends_with(crate::module::NICKEL_PKG_FILE)
            .then_some(manifest),
    };
    let output = PackOutputArgs {
        output: Some(scratch.path().join("out")),
        force: true,
        // The examples do not change the bytes.
        skip_tests: true,
    };
    let mut setup = Setup::new(context, &output)?;
    // A scratch artifact needs no signature.
    setup.signing = None;
    let mut packer = setup.packer(context, printer, &output);
    // A fingerprint of a scratch directory gone after the run would never answer again: one more
    // file in the cache with each rebuild.
    packer.fingerprints = None;
    let packed = packer
        .pack(
            // With the package map `pack` evaluates with: a source that imports its
            // dependencies by name (`import provisioning_core`) rebuilds as it packed.
            &mut crate::nickel::Evaluator::with_packages(
                &setup.import_paths(),
                setup.packages(),
                context.evaluation_bounds(),
            ),
            &input,
        )
        .with_context(|| {
            format!(
                "failed to rebuild `{}` {} from {}",
                pack.module, pack.version, source.described
            )
        })?;
    let rebuilt = crate::fs::read(&packed.path, crate::fs::FileKind::Artifact)
        .context("failed to read the rebuilt artifact")?;
    let (status, detail) = if Sha256::of(&rebuilt) == Sha256::of(artifact) {
        (
            Status::Ok,
            format!(
                "reproducible: identical (rebuilt from {})",
                source.described
            ),
        )
    } else {
        (
            Status::Failed,
            format!(
                "not reproducible: {} (rebuilt from {})",
                first_difference(pack, artifact, &rebuilt, context),
                source.described
            ),
        )
    };
    Ok(Check {
        check: "rebuild",
        status,
        detail,
    })
}

/// The directory to rebuild from: `--source`, else the one the provenance records.
fn source_dir(
    pack: &PackRef,
    statement: Option<&Statement>,
    source: Option<&Path>,
    scratch: &Path,
    context: &Context,
) -> anyhow::Result<SourceDir> {
    Ok(match (source, statement) {
        (Some(dir), _) => {
            let dir = crate::config::absolutize(&context.cwd, dir);
            SourceDir {
                described: format!("`{}`", context.display_path(&dir).display()),
                dir,
            }
        }
        (None, Some(statement)) => recorded_source(statement, scratch, context)?,
        (None, None) => bail!(
            "`{}` {} has no provenance to find its source in\nhint: pass `--source DIR`, the module's directory",
            pack.module,
            pack.version
        ),
    })
}

/// The kind and category the provenance records, else the kind the module's name says.
fn recorded_kind(pack: &PackRef, statement: Option<&Statement>) -> (ModuleKind, Option<String>) {
    let kind = statement
        .and_then(|statement| {
            let kind = &statement
                .predicate
                .build_definition
                .external_parameters
                .kind;
            serde_json::from_value::<ModuleKind>(kind.as_str().into()).ok()
        })
        .unwrap_or_else(|| ModuleKind::of(&pack.module));
    let category = statement.and_then(|statement| {
        statement
            .predicate
            .build_definition
            .external_parameters
            .category
            .clone()
    });
    (kind, category)
}

/// The manifest of the module in `source`, read as discovery reads it (`manifest.toml`, else
/// `Nickel-pkg.ncl` alone), with the file it was read from; refused when it is not `pack`'s.
fn source_manifest(
    pack: &PackRef,
    source: &SourceDir,
    context: &Context,
) -> anyhow::Result<(PathBuf, crate::module::PackageManifest)> {
    source_is_a_directory(source)?;
    // As discovery reads it: `manifest.toml`, else `Nickel-pkg.ncl` alone.
    let (manifest_path, manifest) = crate::catalog::Catalog::new(&context.config)
        .read_manifest(&source.dir)
        .map_err(|reason| anyhow::anyhow!("cannot rebuild from {}: {reason}", source.described))?;
    // Another module's source (or another version's) would only "differ" in its first file:
    // say what it holds instead.
    if manifest.name != pack.module.as_str() || manifest.version != pack.version {
        bail!(
            "cannot rebuild `{}` {} from {}: it is the source of `{}` {}\nhint: pass `--source DIR`, the directory of `{}` {}",
            pack.module,
            pack.version,
            source.described,
            manifest.name,
            manifest.version,
            pack.module,
            pack.version
        );
    }
    Ok((manifest_path, manifest))
}

/// A source that is not a directory, said in words rather than by the manifest's failed read.
fn source_is_a_directory(source: &SourceDir) -> anyhow::Result<()> {
    let what = match std::fs::metadata(&source.dir) {
        Ok(metadata) if metadata.is_dir() => return Ok(()),
        Ok(_) => "it is not a directory".to_owned(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            "it does not exist".to_owned()
        }
        Err(error) => error.to_string(),
    };
    bail!(
        "cannot rebuild from {}: {what}\nhint: pass `--source DIR`, the module's directory (the one holding its `manifest.toml` or `Nickel-pkg.ncl`)",
        source.described
    )
}

/// The source a provenance records: the commit, from the repository at hand, when the tree
/// was clean; else the directory as it is now.
fn recorded_source(
    statement: &Statement,
    scratch: &Path,
    context: &Context,
) -> anyhow::Result<SourceDir> {
    let source = &statement
        .predicate
        .build_definition
        .external_parameters
        .source;
    let path = PathBuf::from(&source.path);
    if let Some(git) = source.git.as_ref().filter(|git| !git.dirty)
        && let Some(root) = repository_root(&path, &git.directory)
        && let Some(dir) = export_commit(&root, &git.commit, &git.directory, scratch)
    {
        return Ok(SourceDir {
            dir,
            described: format!(
                "commit {} of `{}`, directory `{}`",
                git.commit,
                context.display_path(&root).display(),
                git.directory
            ),
        });
    }
    if !path.is_dir() {
        bail!(
            "the recorded source `{}` is not here\nhint: pass `--source DIR`, the module's directory",
            path.display()
        );
    }
    Ok(SourceDir {
        described: format!("`{}`", context.display_path(&path).display()),
        dir: path,
    })
}

/// The root of the repository the recorded directory was in, when it is still a repository.
fn repository_root(path: &Path, directory: &str) -> Option<PathBuf> {
    let mut root = path.to_owned();
    for _ in Path::new(directory)
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
    {
        root = root.parent()?.to_owned();
    }
    root.join(".git").exists().then_some(root)
}

/// `directory` at `commit` of the repository at `root`, written under `scratch` by `git
/// archive | tar -x`; `None` when the repository does not have the commit.
fn export_commit(root: &Path, commit: &str, directory: &str, scratch: &Path) -> Option<PathBuf> {
    let target = scratch.join("source");
    crate::fs::create_dir_all(&target).ok()?;
    let mut archive = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["archive", "--format=tar", commit, "--", directory])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let extracted = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&target)
        .stdin(archive.stdout.take()?)
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let archived = archive.wait().ok()?;
    (archived.success() && extracted.success()).then(|| target.join(directory))
}

/// The first file (in path order) that one archive has and the other lacks, or has with other
/// contents.
fn first_difference(pack: &PackRef, artifact: &[u8], rebuilt: &[u8], context: &Context) -> String {
    let limits = context.unpack_limits();
    let read = |bytes: &[u8]| {
        crate::artifact::unpack::read_artifact(bytes, &pack.module, &limits).unwrap_or_default()
    };
    let (published, rebuilt) = (read(artifact), read(rebuilt));
    let mut paths: Vec<&str> = published
        .iter()
        .chain(&rebuilt)
        .map(|file| file.path.as_str())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let find = |files: &'_ [ArtifactFile], path: &str| {
        files.iter().find(|file| file.path == path).cloned()
    };
    for path in paths {
        match (find(&published, path), find(&rebuilt, path)) {
            (Some(_), None) => return format!("`{path}` is in the artifact, not in the rebuild"),
            (None, Some(_)) => return format!("`{path}` is in the rebuild, not in the artifact"),
            (Some(a), Some(b)) if a != b => return format!("`{path}` differs"),
            _ => {}
        }
    }
    "the archives differ, but not in any file's contents or mode".to_owned()
}
