//! What [`Registry::fetch_verified`] checks of a fetched pack: its size, sha256 and content hash
//! against the registry's record (and a lock's pin), every archive entry as hostile input, its
//! manifest against the record, and its signature against the trusted keys; and a copy read from
//! a cache that fails, dropped and fetched again.

use super::{FetchError, Fetched, Registry, VerifiedPack};
use crate::artifact::ArtifactFile;
use crate::artifact::verify::{self, Expected, Trust};
use crate::digest::Sha256;
use crate::names::{ModuleName, PackRef};

/// [`verify_fetched`], and when a copy `registry` read from its cache fails, the copy dropped
/// and fetched again ([`Registry::refetch`]): a cached file is trusted no more than the registry
/// that gave it, and an error (with a hint to trust its key) is always about what the registry
/// in use gives now.
pub(super) fn verify_or_refetch<R: Registry + ?Sized>(
    registry: &R,
    fetched: Fetched,
    pack: &PackRef,
    trust: &Trust<'_>,
    pinned: Option<&Sha256>,
    unsigned_hint: &dyn Fn(bool) -> String,
) -> Result<VerifiedPack, FetchError> {
    verify_or_refetch_keeping(registry, fetched, pack, trust, pinned, unsigned_hint)
        .map(|(verified, _)| verified)
}

/// [`verify_or_refetch`], giving back what was verified as it was fetched too: the bytes and
/// signature a mirror copies are exactly those that passed.
pub(super) fn verify_or_refetch_keeping<R: Registry + ?Sized>(
    registry: &R,
    fetched: Fetched,
    pack: &PackRef,
    trust: &Trust<'_>,
    pinned: Option<&Sha256>,
    unsigned_hint: &dyn Fn(bool) -> String,
) -> Result<(VerifiedPack, Fetched), FetchError> {
    match verify_fetched(&fetched, pack, trust, pinned, unsigned_hint) {
        Err(FetchError::Verification { check, detail, .. }) if fetched.cached => {
            let detail = detail.lines().next().unwrap_or_default();
            let fetched = registry.refetch(pack, &format!("{check}: {detail}"))?;
            let verified = verify_fetched(&fetched, pack, trust, pinned, unsigned_hint)?;
            Ok((verified, fetched))
        }
        verified => verified.map(|verified| (verified, fetched)),
    }
}

/// Checks a fetched pack as [`Registry::fetch_verified`] says; `unsigned_hint` words the hint
/// for a pack without a signature (see [`Registry::unsigned_hint`]).
fn verify_fetched(
    fetched: &Fetched,
    pack: &PackRef,
    trust: &Trust<'_>,
    pinned: Option<&Sha256>,
    unsigned_hint: &dyn Fn(bool) -> String,
) -> Result<VerifiedPack, FetchError> {
    let recorded = &fetched.entry;
    let artifact = fetched.loose.then(|| fetched.label.clone());
    if let Some(pinned) = pinned
        && *pinned != recorded.sha256
    {
        return Err(FetchError::PinMismatch {
            pack: pack.clone(),
            pinned: *pinned,
            found: recorded.sha256,
        });
    }
    let report = verify::verify(
        &fetched.bytes,
        pack,
        &Expected {
            size: Some(recorded.size),
            sha256: Some(recorded.sha256),
            content_hash: Some(recorded.content_hash),
        },
        fetched.signature.as_ref(),
        trust,
    );
    if let Some(failure) = report.first_failure() {
        if failure.check == "signature" && fetched.signature.is_none() {
            return Err(unsigned(pack, artifact, trust, unsigned_hint));
        }
        return Err(FetchError::Verification {
            pack: pack.clone(),
            artifact,
            check: failure.check,
            detail: failure.detail.clone(),
        });
    }
    // The report carries what verification read: a pack that passed has both.
    let (Some(files), Some(content_hash)) = (report.files, report.content_hash) else {
        return Err(FetchError::Verification {
            pack: pack.clone(),
            artifact,
            check: "archive",
            detail: "it could not be read".into(),
        });
    };
    // Resolution trusted the registry's record of the dependencies: the pack must say the
    // same.
    let manifest = packed_manifest(&files).map_err(|detail| FetchError::Verification {
        pack: pack.clone(),
        artifact: artifact.clone(),
        check: "dependencies",
        detail,
    })?;
    let kind = manifest
        .kind
        .unwrap_or_else(|| crate::module::ModuleKind::of(&pack.module));
    let dependencies = manifest.dependencies;
    if dependencies != recorded.dependencies {
        return Err(FetchError::Verification {
            pack: pack.clone(),
            artifact,
            check: "dependencies",
            detail: format!(
                "its manifest requires {}, but the registry records {}",
                describe_dependencies(&dependencies),
                describe_dependencies(&recorded.dependencies)
            ),
        });
    }
    Ok(VerifiedPack {
        pack: pack.clone(),
        sha256: report.sha256,
        content_hash,
        files,
        signer: report.signer,
        label: fetched.label.clone(),
        dependencies,
        yanked: recorded.yanked,
        kind,
    })
}

/// The error for `pack`, found unsigned and refused: what would sign it, where it was found.
fn unsigned(
    pack: &PackRef,
    artifact: Option<String>,
    trust: &Trust<'_>,
    hint: &dyn Fn(bool) -> String,
) -> FetchError {
    let own_key = trust
        .keys
        .iter()
        .any(|key| key.source == crate::signing::KeySource::Own);
    let mut hint = hint(own_key);
    if trust.unsigned.overridable() {
        hint.push_str(&format!(
            ", or pass {} to accept it unsigned",
            verify::allow_unsigned_flag(&pack.module)
        ));
    }
    FetchError::Unsigned {
        pack: pack.clone(),
        artifact,
        hint,
    }
}

/// A pack's `manifest.toml`.
fn packed_manifest(files: &[ArtifactFile]) -> Result<crate::module::PackageManifest, String> {
    let manifest = files
        .iter()
        .find(|file| file.path == "manifest.toml")
        .ok_or("it has no `manifest.toml`")?;
    let text = std::str::from_utf8(&manifest.contents)
        .map_err(|_| "its `manifest.toml` is not UTF-8".to_owned())?;
    crate::module::parse_package_manifest(text, std::path::Path::new("manifest.toml"))
}

fn describe_dependencies(
    dependencies: &std::collections::BTreeMap<ModuleName, semver::VersionReq>,
) -> String {
    if dependencies.is_empty() {
        return "nothing".into();
    }
    let each: Vec<String> = dependencies
        .iter()
        .map(|(module, requirement)| format!("{module} {requirement}"))
        .collect();
    each.join(", ")
}
