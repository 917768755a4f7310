use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::cli::VerifyArgs;
use crate::config::absolutize;
use crate::context::Context;
use crate::pack::unpack::Limits;
use crate::pack::verify::{self, Check, Expected, SignatureFile, Status};
use crate::printer::{Printer, Table};
use crate::registry::LocalRegistry;
use crate::signing::Keyring;

#[derive(Debug, Serialize)]
struct VerifyReport {
    module: String,
    version: String,
    artifact: String,
    verified: bool,
    signer: Option<String>,
    checks: Vec<Check>,
}

/// `pack verify <artifact | module@version>`: size, sha256 and content hash against the
/// registry metadata, the archive's entries, and the signature against the trusted keys.
pub fn verify(args: &VerifyArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = LocalRegistry::from_config(&context.config);
    let (module, version, path) = target(&args.target, context, &registry)?;
    let recorded = match registry.resolve(&module, &version) {
        Ok((entry, _)) => Some(entry),
        Err(
            crate::registry::RegistryError::UnknownModule { .. }
            | crate::registry::RegistryError::UnknownVersion { .. },
        ) => None,
        Err(error) => return Err(error.into()),
    };
    let bytes = fs_err::read(&path).context("failed to read the artifact")?;
    let expected = recorded
        .as_ref()
        .map_or_else(Expected::default, |entry| Expected {
            size: Some(entry.size),
            sha256: Some(entry.sha256.clone()),
            content_hash: Some(entry.content_hash.clone()),
        });
    let signature = SignatureFile::beside(&path).context("failed to read the signature")?;
    let trusted = Keyring::new(&context.env, &context.base)
        .map_or_else(|_| Ok(Vec::new()), |k| k.trusted())?;
    let limits = Limits {
        max_entries: context.config.distribution.unpack_max_entries,
        max_bytes: context.config.distribution.unpack_max_bytes,
    };
    let report = verify::verify(
        &bytes,
        &module,
        &version.to_string(),
        &expected,
        signature.as_ref(),
        &trusted,
        &limits,
        false,
    );
    let output = VerifyReport {
        module: module.clone(),
        version: version.to_string(),
        artifact: context.display_path(&path).display().to_string(),
        verified: report.passed(),
        signer: report.signer.as_ref().map(|s| s.key_id.clone()),
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
    Ok(Outcome::Success)
}

/// `module@version`, or an artifact path named `<module>_<version>.tar`.
fn target(
    target: &str,
    context: &Context,
    registry: &LocalRegistry,
) -> anyhow::Result<(String, semver::Version, PathBuf)> {
    let path = absolutize(&context.cwd, std::path::Path::new(target));
    if !path.exists() {
        if let Some((module, version)) = target.split_once('@') {
            let version = semver::Version::parse(version).map_err(|error| {
                crate::UsageError(format!(
                    "`{version}` in `{target}` is not a semantic version: {error}"
                ))
            })?;
            let (_, path) = registry.resolve(module, &version)?;
            return Ok((module.to_owned(), version, path));
        }
        anyhow::bail!(
            "`{}` does not exist\nhint: give an artifact file or `module@version`",
            path.display()
        );
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let parsed = name
        .strip_suffix(".tar")
        .and_then(|stem| stem.rsplit_once('_'))
        .and_then(|(module, version)| {
            Some((module.to_owned(), semver::Version::parse(version).ok()?))
        });
    let Some((module, version)) = parsed else {
        anyhow::bail!(
            "`{name}` is not named `<module>_<version>.tar`, so its module and version are unknown"
        );
    };
    Ok((module, version, path))
}
