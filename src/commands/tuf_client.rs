//! `registry tuf pin | status`: the consumer's side of a registry's TUF metadata (the pins and
//! what they trust are [`crate::registry::tuf_client`]'s).

use anyhow::Context as _;

use crate::Outcome;
use crate::address::Remote;
use crate::cli::{TufPinArgs, TufStatusArgs};
use crate::context::Context;
use crate::printer::{Printer, Table};
use crate::registry::tuf_client::status::{self, PinStatus};
use crate::registry::tuf_client::{PinDir, Pins, RegistryId};

/// `registry tuf pin <URL|DIR> <root.json> [--force]`: the root checked by its own keys, then
/// recorded for the registry (the same root again changes nothing; another one needs `--force`).
pub fn pin(args: &TufPinArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let (registry, pin) = pin_of(&args.registry, context)?;
    let root_path = crate::config::absolutize(&context.cwd, &args.root);
    let root = crate::fs::read(&root_path, crate::fs::FileKind::Metadata)
        .with_context(|| format!("failed to read `{}`", root_path.display()))?;
    let version = status::check_root(&root).map_err(|reason| {
        anyhow::anyhow!(
            "`{}` is not a TUF root signed by its own root keys: {reason}\nhint: pin the `tuf/root.json` the registry's publisher gave you",
            root_path.display()
        )
    })?;
    if pin.is_pinned() {
        if pin.root()? == root {
            printer.status(
                "Unchanged",
                format!("`{registry}`: this TUF root (version {version}) is pinned already"),
            );
            return Ok(Outcome::Success);
        }
        if !args.force {
            anyhow::bail!(
                "`{registry}` has another TUF root pinned already\nhint: `provisioning registry tuf status {registry}` shows it; `--force` replaces it (and forgets the metadata trusted under it)"
            );
        }
    }
    pin.pin(&registry, &root)?;
    printer.status(
        "Pinned",
        format!(
            "the TUF root of `{registry}` (version {version}): every read from it is now checked against its TUF metadata"
        ),
    );
    Ok(Outcome::Success)
}

/// `registry tuf status [URL|DIR]`: each role's version, expiry and key ids as last verified;
/// every pinned registry without an argument.
pub fn status(
    args: &TufStatusArgs,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    let pins = match &args.registry {
        Some(registry) => {
            let (registry, pin) = pin_of(registry, context)?;
            if !pin.is_pinned() {
                anyhow::bail!(
                    "`{registry}` has no pinned TUF root\nhint: pin it: `provisioning registry tuf pin {registry} <root.json>`"
                );
            }
            vec![pin]
        }
        None => Pins::of_user(&context.env)
            .map(|pins| pins.all())
            .unwrap_or_default(),
    };
    let statuses = pins
        .iter()
        .map(status::status)
        .collect::<Result<Vec<PinStatus>, _>>()?;
    printer.data(&statuses, || {
        let mut table = Table::new(["REGISTRY", "ROLE", "VERSION", "EXPIRES", "KEY IDS"])
            .when_empty("no pinned TUF roots");
        for pinned in &statuses {
            for role in &pinned.roles {
                let expires = if role.expired {
                    format!("{} (expired)", role.expires)
                } else {
                    role.expires.clone()
                };
                let keys: Vec<String> = role.key_ids.iter().map(|id| short(id)).collect();
                table.row([
                    pinned.registry.clone(),
                    role.role.to_owned(),
                    role.version.to_string(),
                    expires,
                    keys.join(", "),
                ]);
            }
        }
        table
    })?;
    for pinned in statuses
        .iter()
        .filter(|pinned| pinned.verified_at.is_none())
    {
        printer.status(
            "Note",
            format!(
                "`{}`: only the pinned root is trusted yet (the first read from it verifies the rest)",
                pinned.registry
            ),
        );
    }
    Ok(Outcome::Success)
}

/// A key id as tables show it: its first 16 hex digits.
fn short(id: &str) -> String {
    id.get(..16).unwrap_or(id).to_owned()
}

/// The registry `text` names, as messages name it, and its pin. An OCI registry is refused:
/// TUF metadata does not travel through OCI registries yet, and a pin that nothing checks would
/// be a promise not kept.
fn pin_of(text: &str, context: &Context) -> anyhow::Result<(String, PinDir)> {
    let pins = Pins::of_user(&context.env).context(
        "no configuration directory to keep the pin in\nhint: set `HOME` (or `XDG_CONFIG_HOME`, or `PROVISIONING_KEYRING`)",
    )?;
    if text.contains("://") {
        return match Remote::parse(text)? {
            Remote::Http(url) => Ok((url.display(), pins.of(&RegistryId::of_http(&url)))),
            Remote::Oci(url) => anyhow::bail!(
                "`{}` is an OCI registry, and TUF metadata does not travel through OCI registries yet: a pinned root would check nothing there, so it is refused\nhint: pin a directory or static HTTP registry that serves the same packs (`provisioning pack mirror --to DIR`); docs/trust.md says why",
                url.display()
            ),
        };
    }
    let dir = crate::config::absolutize(&context.cwd, std::path::Path::new(text));
    if !dir.join("registry").is_dir() && !dir.join("tuf").is_dir() {
        anyhow::bail!(
            "`{}` is not a registry directory: it has neither `registry/` nor `tuf/`\nhint: give the `distribution/` directory that holds `registry/`, `packages/` and `tuf/`",
            dir.display()
        );
    }
    let label = dir.display().to_string();
    Ok((label, pins.of(&RegistryId::of_directory(&dir))))
}
