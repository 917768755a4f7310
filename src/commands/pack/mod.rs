//! `provisioning pack ...`: build artifacts of providers and the core schemas, list and clean
//! the packages directory.

mod clean;
mod core;
mod list;
mod provider;
mod verify;

pub use clean::clean;
pub use core::core;
pub use list::list;
pub use provider::{provider, providers};
pub use verify::verify;

use crate::cli::PackOutputArgs;
use crate::config::absolutize;
use crate::context::Context;
use crate::nickel::ExportCache;
use crate::pack::Destination;
use crate::pack::local::{Packed, Packer, SigningKey, Written};
use crate::printer::Printer;
use crate::registry::LocalRegistry;
use crate::signing::Keyring;

/// What every pack command sets up: the registry, where artifacts go, the evaluation cache and
/// the signing key.
struct Setup {
    registry: LocalRegistry,
    destination: Destination,
    cache: ExportCache,
    signing: Option<SigningKey>,
}

impl Setup {
    fn new(context: &Context, output: &PackOutputArgs) -> anyhow::Result<Self> {
        let registry = LocalRegistry::from_config(&context.config);
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
        let cache = ExportCache::new(&context.config.distribution.cache_path);
        // No config directory (neither `XDG_CONFIG_HOME` nor `HOME`) means no key: pack unsigned.
        let signing = match Keyring::new(&context.env, &context.base) {
            Ok(keyring) => keyring.signing_key()?,
            Err(_) => None,
        };
        Ok(Self {
            registry,
            destination,
            cache,
            signing,
        })
    }

    fn packer<'a>(&'a self, context: &'a Context, printer: &'a Printer, force: bool) -> Packer<'a> {
        Packer {
            registry: &self.registry,
            destination: &self.destination,
            metadata: &context.config.distribution.metadata,
            cache: Some(&self.cache),
            now: context.now(),
            force,
            signing: self.signing.as_ref(),
            printer,
        }
    }
}

/// The status line of one packed module.
fn report_packed(packed: &Packed, context: &Context, printer: &Printer) {
    let verb = match packed.written {
        Written::Created => "Packed",
        Written::Replaced => "Replaced",
        Written::Unchanged => "Unchanged",
    };
    let signed = match &packed.signer {
        Some(key_id) => format!("signed by {key_id}"),
        None => "unsigned".to_owned(),
    };
    printer.status(
        verb,
        format!(
            "`{}` {} → `{}` ({}, sha256 {}, {signed})",
            packed.module,
            packed.version,
            context.display_path(&packed.path).display(),
            human_size(packed.size),
            &packed.sha256[..12]
        ),
    );
}

/// `10.0 KiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
