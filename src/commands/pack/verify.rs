use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::cli::VerifyArgs;
use crate::config::absolutize;
use crate::context::Context;
use crate::pack::unpack::Limits;
use crate::pack::verify::{self, Check, Expected, SignatureFile, Status};
use crate::printer::{Printer, Table};
use crate::registry::{LocalRegistry, RegistryError};

#[derive(Debug, Serialize)]
struct VerifyReport {
    module: String,
    version: String,
    artifact: String,
    verified: bool,
    signer: Option<String>,
    checks: Vec<Check>,
}

/// `pack verify <artifact | module@version>`: size, sha256 and content hash against what the
/// registry records, the archive's entries, and the signature against the trusted keys. A
/// `module@version` is found as `install` finds it: locally, else in the OCI registry's cache or
/// on the network.
pub fn verify(args: &VerifyArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let (module, version, source) = target(&args.target, context)?;
    let expected = source
        .entry
        .as_ref()
        .map_or_else(Expected::default, |entry| Expected {
            size: Some(entry.size),
            sha256: Some(entry.sha256.clone()),
            content_hash: Some(entry.content_hash.clone()),
        });
    let trusted = crate::signing::trusted_keys(&context.env, &context.base)?;
    let limits = Limits::from_config(&context.config.distribution);
    let report = verify::verify(
        &source.bytes,
        &module,
        &version.to_string(),
        &expected,
        source.signature.as_ref(),
        &trusted,
        &limits,
        false,
    );
    let output = VerifyReport {
        module: module.clone(),
        version: version.to_string(),
        artifact: source.label,
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

/// What to verify: the bytes, what a registry records about them, their signature.
struct Target {
    bytes: Vec<u8>,
    entry: Option<crate::registry::VersionEntry>,
    signature: Option<SignatureFile>,
    label: String,
}

/// `module@version`, or an artifact path named `<module>_<version>.tar` (compared with the local
/// registry's record of that version, when it has one).
fn target(target: &str, context: &Context) -> anyhow::Result<(String, semver::Version, Target)> {
    let path = absolutize(&context.cwd, std::path::Path::new(target));
    if !path.exists() {
        let Some((module, version)) = target.split_once('@') else {
            anyhow::bail!(
                "`{}` does not exist\nhint: give an artifact file or `module@version`",
                path.display()
            );
        };
        let version = semver::Version::parse(version).map_err(|error| {
            crate::UsageError(format!(
                "`{version}` in `{target}` is not a semantic version: {error}"
            ))
        })?;
        let source = crate::registry::fetch(context, module, &version)?;
        let label = format!("{module}@{version} from `{}`", source.label);
        let target = Target {
            bytes: source.bytes,
            entry: Some(source.entry),
            signature: source.signature,
            label,
        };
        return Ok((module.to_owned(), version, target));
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
    let entry = match LocalRegistry::from_config(&context.config).resolve(&module, &version) {
        Ok((entry, _)) => Some(entry),
        Err(RegistryError::UnknownModule { .. } | RegistryError::UnknownVersion { .. }) => None,
        Err(error) => return Err(error.into()),
    };
    let bytes = fs_err::read(&path).context("failed to read the artifact")?;
    let signature = SignatureFile::beside(&path).context("failed to read the signature")?;
    let label = context.display_path(&path).display().to_string();
    Ok((
        module,
        version,
        Target {
            bytes,
            entry,
            signature,
            label,
        },
    ))
}
