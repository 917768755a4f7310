use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::artifact::ArtifactName;
use crate::artifact::verify::{self, Check, Expected, SignatureFile, Status, Trust, Unsigned};
use crate::cli::VerifyArgs;
use crate::config::absolutize;
use crate::context::Context;
use crate::names::PackRef;
use crate::printer::{Printer, Table};
use crate::registry::http::{HttpRegistry, HttpUrl};
use crate::registry::loose::{LooseArtifact, LooseSource};
use crate::registry::{DirectoryRegistry, Registries, Registry as _, VersionEntry};

#[derive(Debug, Serialize)]
struct VerifyReport {
    module: String,
    version: String,
    artifact: String,
    verified: bool,
    signer: Option<String>,
    checks: Vec<Check>,
    /// With `--provenance`, what the verified provenance says.
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<super::provenance::ProvenanceSummary>,
}

/// `pack verify <artifact | module@version>`: size, sha256 and content hash against what the
/// registry records, the archive's entries, and the signature against the trusted keys. A
/// `module@version` is found as `install` finds it: locally, else in the OCI registry's cache or
/// on the network. An artifact URL in a static registry's `packages/` is checked against that
/// registry's record of it.
///
/// `--provenance` checks the provenance beside it too, `--rebuild` builds it again from its
/// source and compares the bytes.
pub fn verify(args: &VerifyArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let (pack, source) = target(&args.target, context, args.provenance || args.rebuild)?;
    let expected = source
        .entry
        .as_ref()
        .map_or_else(Expected::default, |entry| Expected {
            size: Some(entry.size),
            sha256: Some(entry.sha256),
            content_hash: Some(entry.content_hash),
        });
    let keys = context.trusted_keys()?;
    let trust = Trust {
        keys: &keys,
        limits: context.unpack_limits(),
        // Verification reports; it has no `--allow-unsigned` to accept what fails.
        unsigned: Unsigned::Refused,
    };
    let mut report = verify::verify(
        &source.bytes,
        &pack,
        &expected,
        source.signature.as_ref(),
        &trust,
    );
    // A loose artifact has no record: what its own manifest says is checked instead.
    if source.entry.is_none()
        && let Some(files) = &report.files
    {
        report
            .checks
            .insert(report.checks.len() - 1, manifest_check(&pack, files));
    }
    let mut verified_provenance = None;
    if args.provenance {
        let (check, verified) =
            super::provenance::check(&pack, &report.sha256, source.provenance.as_ref(), &keys);
        report.checks.push(check);
        verified_provenance = verified;
    }
    if args.rebuild {
        let statement = match (&verified_provenance, &source.provenance, &args.source) {
            (Some(verified), _, _) => Some(verified.statement.clone()),
            (None, Some(found), None) => Some(super::provenance::statement(found)?),
            _ => None,
        };
        report.checks.push(super::rebuild::rebuild(
            &pack,
            &source.bytes,
            statement.as_ref(),
            args.source.as_deref(),
            context,
            printer,
        )?);
    }
    let (module, version) = (&pack.module, &pack.version);
    let output = VerifyReport {
        provenance: verified_provenance
            .as_ref()
            .map(super::provenance::ProvenanceSummary::of),
        module: module.to_string(),
        version: version.to_string(),
        artifact: source.label,
        verified: report.passed(),
        signer: report.signer.as_ref().map(|s| s.key_id.to_string()),
        checks: report.checks.clone(),
    };
    printer.data(&output, || {
        let mut table = Table::new(["CHECK", "STATUS", "DETAIL"]);
        for check in &output.checks {
            let status = match check.status {
                Status::Ok => "ok",
                Status::Failed => "FAILED",
                Status::Allowed => "allowed",
                Status::Skipped => "skipped",
            };
            let detail = check.detail.lines().next().unwrap_or_default().to_owned();
            table.row([check.check.into(), status.into(), detail]);
        }
        table
    })?;
    if let Some(failure) = report.first_failure() {
        for check in report.checks.iter().filter(|c| c.status == Status::Failed) {
            printer.error_message(format!("{}: {}", check.check, check.detail));
        }
        anyhow::bail!(
            "`{module}` {version} failed verification ({})",
            failure.check
        );
    }
    if let Some(signer) = &report.signer {
        printer.status(
            "Verified",
            format!(
                "`{module}` {version}: signed by key {} ({})",
                signer.key_id, signer.source
            ),
        );
    }
    if let Some(verified) = &verified_provenance {
        printer.status("Source", verified.statement.source());
        printer.status("Builder", verified.statement.builder());
    }
    Ok(Outcome::Success)
}

/// Whether the archive's `manifest.toml` names the module and version its file name gives.
fn manifest_check(pack: &PackRef, files: &[crate::artifact::ArtifactFile]) -> Check {
    let found = files
        .iter()
        .find(|file| file.path == "manifest.toml")
        .and_then(|file| std::str::from_utf8(&file.contents).ok())
        .ok_or_else(|| "the archive has no readable `manifest.toml`".to_owned())
        .and_then(|text| {
            crate::module::parse_package_manifest(text, std::path::Path::new("manifest.toml"))
        });
    let (status, detail) = match found {
        Ok(manifest)
            if manifest.name == pack.module.as_str() && manifest.version == pack.version =>
        {
            (
                Status::Ok,
                format!(
                    "names `{}` {}, as the file name does",
                    pack.module, pack.version
                ),
            )
        }
        Ok(manifest) => (
            Status::Failed,
            format!(
                "names `{}` {}, but the file name says `{}` {}",
                manifest.name, manifest.version, pack.module, pack.version
            ),
        ),
        Err(reason) => (Status::Failed, reason),
    };
    Check {
        check: "manifest",
        status,
        detail,
    }
}

/// What to verify: the bytes, what a registry records about them, their signature.
struct Target {
    bytes: Vec<u8>,
    entry: Option<VersionEntry>,
    signature: Option<SignatureFile>,
    label: String,
    /// Its provenance, when asked for and found.
    provenance: Option<super::provenance::Found>,
}

/// What the static registry an artifact URL is in records of it: for
/// `https://host/base/packages/<module>_<version>.tar`, its version's entry in
/// `https://host/base/registry/<module>.json`. `None` when the URL is not in a `packages/`
/// directory, or that registry has no record of the module or the version: the artifact is then
/// checked as a loose one.
fn http_record(
    dir: &str,
    url: &str,
    options: &crate::registry::RegistryOptions<'_>,
) -> anyhow::Result<Option<VersionEntry>> {
    let Some(base) = dir.trim_end_matches('/').strip_suffix("/packages") else {
        return Ok(None);
    };
    let file = url.rsplit('/').next().unwrap_or_default();
    let Ok(name) = file.parse::<ArtifactName>() else {
        return Ok(None);
    };
    let registry = HttpRegistry::new(
        HttpUrl::parse(base)?,
        options.env,
        &options.config.distribution,
        options.offline,
    );
    let pack = name.pack();
    match registry.index(&pack.module) {
        Ok(entries) => Ok(entries
            .into_iter()
            .find(|entry| entry.version == pack.version)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error).with_context(|| {
            format!(
                "failed to read the record of `{}` {} in the registry `{base}`, that `{url}` is in",
                pack.module, pack.version
            )
        }),
    }
}

/// `module@version`, or an artifact path named `<module>_<version>.tar` (compared with the local
/// registry's record of that version, when it has one).
/// With `provenance`, the provenance beside it too.
fn target(target: &str, context: &Context, provenance: bool) -> anyhow::Result<(PackRef, Target)> {
    if crate::address::is_http_url(target) {
        let options = context.registry_options();
        let source = LooseSource::parse(target, &context.cwd)?;
        let entry = match &source {
            LooseSource::Url { dir, .. } => http_record(dir, target, &options)?,
            LooseSource::Path(_) => None,
        };
        let loose = LooseArtifact::new(source, &options)?;
        let pack = loose.pack().clone();
        let fetched = loose.fetch(&pack)?;
        // Outside a registry, its record is made from its own bytes: nothing independent to
        // compare them with, so its own manifest is checked instead.
        let target = Target {
            bytes: fetched.bytes,
            entry: entry.filter(|entry| entry.version == pack.version),
            signature: fetched.signature,
            label: fetched.label,
            // A loose artifact has no registry to keep its provenance.
            provenance: None,
        };
        return Ok((pack, target));
    }
    let path = absolutize(&context.cwd, std::path::Path::new(target));
    if !path.exists() {
        if !target.contains('@') {
            anyhow::bail!(
                "`{}` does not exist\nhint: give an artifact file or `module@version`",
                path.display()
            );
        }
        let pack: PackRef = target
            .parse()
            .map_err(|error: crate::names::PackRefError| crate::UsageError(error.to_string()))?;
        let registry = Registries::open(&context.registry_options())?.chain();
        let fetched = registry.fetch(&pack)?;
        let label = format!("{pack} from `{}`", fetched.label);
        let sha256 = crate::digest::Sha256::of(&fetched.bytes);
        let provenance = match provenance {
            true => registry.provenance(&pack, &sha256)?,
            false => None,
        }
        // Named as the registry names it, beside the artifact (its label names the registry).
        .map(|bytes| super::provenance::Found {
            path: crate::provenance::file_name(&ArtifactName::new(pack.clone())).into(),
            bytes,
        });
        let target = Target {
            bytes: fetched.bytes,
            entry: Some(fetched.entry),
            signature: fetched.signature,
            label,
            provenance,
        };
        return Ok((pack, target));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let pack = name
        .parse::<ArtifactName>()
        .map_err(|_| {
            anyhow::anyhow!(
                "`{name}` is not named `<module>_<version>.tar`, so its module and version are unknown"
            )
        })?
        .pack()
        .clone();
    let entry = match DirectoryRegistry::from_config(&context.config).resolve(&pack) {
        Ok(entry) => Some(entry),
        Err(error) if error.is_not_found() => None,
        Err(error) => return Err(error.into()),
    };
    let bytes = crate::fs::read(&path, crate::fs::FileKind::Artifact)
        .context("failed to read the artifact")?;
    let signature = SignatureFile::beside(&path).context("failed to read the signature")?;
    let label = context.display_path(&path).display().to_string();
    let provenance = match provenance {
        true => provenance_beside(&path, &pack)?,
        false => None,
    };
    Ok((
        pack,
        Target {
            bytes,
            entry,
            signature,
            label,
            provenance,
        },
    ))
}

/// The provenance file beside an artifact file, if there is one.
fn provenance_beside(
    artifact: &std::path::Path,
    pack: &PackRef,
) -> anyhow::Result<Option<super::provenance::Found>> {
    let name = crate::provenance::file_name(&ArtifactName::new(pack.clone()));
    let path = artifact.with_file_name(name);
    match crate::fs::read(&path, crate::fs::FileKind::Provenance) {
        Ok(bytes) => Ok(Some(super::provenance::Found { path, bytes })),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("failed to read `{}`", path.display())),
    }
}
