//! `provisioning pack ...`: build artifacts of providers and the core schemas, list and clean
//! the packages directory.

mod clean;
mod core;
mod index;
mod list;
mod mirror;
mod modules;
mod provenance;
mod publish;
mod rebuild;
mod verify;
mod yank;

pub use clean::clean;
pub use core::core;
pub use index::index;
pub(crate) use index::{check_tuf_keys, index_without_tuf, tuf_publisher};
pub use list::list;
pub use mirror::mirror;
pub(crate) use modules::input_for;
pub use modules::{all, named, provider};
pub use publish::publish;
pub use verify::verify;
pub use yank::yank;

use crate::artifact::Destination;
use crate::catalog::Catalog;
use crate::cli::PackOutputArgs;
use crate::config::absolutize;
use crate::context::Context;
use crate::dependencies::ModuleImports;
use crate::nickel::ExportCache;
use crate::ops::pack::{Fingerprints, Packed, Packer, Signing, SigningKey, SiteStamp, Written};
use crate::printer::Printer;
use crate::registry::DirectoryRegistry;
use crate::signing::Keyring;

/// What every pack command sets up: the registry, where artifacts go, the evaluation cache and
/// the signing key.
struct Setup {
    registry: DirectoryRegistry,
    /// Seconds since the epoch, for `created`.
    now: u64,
    destination: Destination,
    cache: ExportCache,
    fingerprints: Fingerprints,
    site_stamp: SiteStamp,
    signing: Option<SigningKey>,
    /// The modules dependencies name, reachable from one import directory.
    imports: ModuleImports,
}

impl Setup {
    fn new(context: &Context, output: &PackOutputArgs) -> anyhow::Result<Self> {
        let registry = DirectoryRegistry::from_config(&context.config);
        let destination = match &output.output {
            Some(dir) => Destination {
                dir: absolutize(&context.cwd, dir),
                index: false,
            },
            None => Destination {
                dir: registry.pack_path.clone(),
                index: true,
            },
        };
        if destination.index {
            check_tuf_keys(&registry, context)?;
        }
        let cache = ExportCache::new(&context.config.distribution.cache_path);
        let fingerprints = Fingerprints::new(&context.config.distribution.cache_path);
        let site_stamp = SiteStamp::new(&context.config.distribution.cache_path);
        // No config directory (neither `XDG_CONFIG_HOME` nor `HOME`) means no key: pack unsigned.
        let signing = match Keyring::new(&context.env, &context.base) {
            Ok(keyring) => keyring.signing_key()?,
            Err(_) => None,
        };
        let imports = ModuleImports::prepare(&Catalog::new(&context.config))?;
        Ok(Self {
            imports,
            now: context.now()?,
            registry,
            destination,
            cache,
            fingerprints,
            site_stamp,
            signing,
        })
    }

    /// `index.json` and the pages after packing into the registry (not into `--output`).
    /// Skipped when nothing the site is made from or of changed since the last refresh
    /// ([`SiteStamp`]): a pack that wrote nothing reads no metadata.
    fn refresh_site(&self, context: &Context, printer: &Printer) {
        if !self.destination.index || self.site_stamp.is_current(&self.registry) {
            return;
        }
        let started = std::time::SystemTime::now();
        if index::refresh_or_warn(&self.registry, context, printer) {
            self.site_stamp.record(&self.registry, started);
        }
    }

    fn packer<'a>(
        &'a self,
        context: &'a Context,
        printer: &'a Printer,
        output: &PackOutputArgs,
    ) -> Packer<'a> {
        Packer {
            registry: &self.registry,
            destination: &self.destination,
            metadata: &context.config.distribution.metadata,
            cache: Some(&self.cache),
            fingerprints: Some(&self.fingerprints),
            now: self.now,
            force: output.force,
            skip_tests: output.skip_tests,
            signing: self.signing.as_ref(),
            imports: &self.imports,
            printer,
        }
    }

    /// The import path packing evaluates with: the modules, by name.
    fn import_paths(&self) -> Vec<std::path::PathBuf> {
        vec![self.imports.dir.clone()]
    }

    /// The package map packing evaluates with: the modules, by name, as packages.
    fn packages(&self) -> &crate::nickel::Packages {
        self.imports.packages()
    }
}

/// What packing did to one version, as its status line and the summary of a kind say it.
fn verb(packed: &Packed) -> &'static str {
    match (packed.written, packed.signing) {
        (Written::Created, _) => "Packed",
        (Written::Replaced, _) => "Replaced",
        // Same bytes, signed only now: the signature came later.
        (Written::Unchanged, Signing::Made) => "Signed",
        (Written::Unchanged, _) => "Unchanged",
    }
}

/// The counts of what packing did, in a fixed order, those that are not zero:
/// `2 packed, 1 unchanged`.
fn tally(packed: &[Packed]) -> String {
    ["Packed", "Replaced", "Signed", "Unchanged"]
        .into_iter()
        .filter_map(|verb_name| {
            let count = packed.iter().filter(|one| verb(one) == verb_name).count();
            (count > 0).then(|| format!("{count} {}", verb_name.to_lowercase()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Warns when `--version` packs `subject` as a version lower than the one its manifest (at
/// `declared.1`) declares: allowed (`--version` wins, in the artifact only), but rarely meant,
/// since the pack then sorts before releases its source already claims to be. Every kind, the
/// core included, warns through here.
fn warn_if_lower(
    subject: &str,
    version: &semver::Version,
    declared: (&semver::Version, &std::path::Path),
    context: &Context,
    printer: &Printer,
) {
    let (declared, manifest) = declared;
    if version < declared {
        printer.warning(format!(
            "{subject} is packed as {version}, lower than the version {declared} its manifest `{}` declares\nhint: leave out `--version` to pack it as {declared}, or pass a version not lower than it",
            context.display_path(manifest).display()
        ));
    }
}

/// The status line of one packed module.
fn report_packed(packed: &Packed, context: &Context, printer: &Printer) {
    for leftover in &packed.leftovers {
        printer.warning(leftover);
    }
    let verb = verb(packed);
    let signed = match (&packed.signer, packed.written, packed.signing) {
        (Some(key_id), Written::Unchanged, Signing::Made) => {
            format!("added the signature of key {key_id}, the bytes are unchanged")
        }
        (Some(key_id), _, _) => format!("signed by {key_id}"),
        (None, _, _) => "unsigned".to_owned(),
    };
    printer.status(
        verb,
        format!(
            "`{}` {} → `{}` ({}, sha256 {}, {signed})",
            packed.module,
            packed.version,
            context.display_path(&packed.path).display(),
            indicatif::HumanBytes(packed.size),
            packed.sha256.short()
        ),
    );
    if let (Signing::KeptAnother { ours }, Some(theirs)) = (packed.signing, &packed.signer) {
        printer.warning(format!(
            "kept the signature of `{}` {} by key {theirs}: your key {ours} did not replace it\nhint: pass `--force` to sign it with your key instead",
            packed.module, packed.version
        ));
    }
}
