//! `pack index`: the registry directory's `index.json` and web pages, written from its metadata
//! (every command that changes the registry also ends here).

use anyhow::Context as _;

use crate::Outcome;
use crate::address::Remote;
use crate::config::{Config, Location};
use crate::context::Context;
use crate::printer::Printer;
use crate::registry::DirectoryRegistry;
use crate::registry::site::{self, Written};

/// `pack index`: refresh `distribution/index.json`, `index.html` and `modules/*.html`.
pub fn index(context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let registry = DirectoryRegistry::from_config(&context.config);
    let written = refresh(&registry, context, printer)?;
    printer.status(
        "Indexed",
        format!(
            "{} module{} in `{}` (`index.json`, `index.html`, `{}/`; {} file{} changed)",
            written.modules,
            if written.modules == 1 { "" } else { "s" },
            context.display_path(&written.dir).display(),
            site::MODULES_DIR,
            written.changed,
            if written.changed == 1 { "" } else { "s" },
        ),
    );
    Ok(Outcome::Success)
}

/// The index and pages of `registry`, under its lock.
pub(super) fn refresh(
    registry: &DirectoryRegistry,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Written> {
    let publisher = tuf_publisher(context);
    let url = install_url(&context.config);
    let written = site::refresh(registry, url.as_deref(), publisher.as_ref(), printer)
        .context("failed to write the registry's index and pages")?;
    report(&written, context, printer);
    Ok(written)
}

/// [`refresh`] after a command that changed the registry and succeeded at that: a failure here
/// (another module's broken metadata) is said, and left for `pack index` once it is fixed.
/// Whether the refresh succeeded.
pub(super) fn refresh_or_warn(
    registry: &DirectoryRegistry,
    context: &Context,
    printer: &Printer,
) -> bool {
    refresh(registry, context, printer)
        .inspect_err(|error| warn(error, printer))
        .is_ok()
}

pub(super) fn warn(error: &anyhow::Error, printer: &Printer) {
    printer.warning(format!(
        "{error:#}\nhint: the registry changed, but `index.json` and the pages did not follow: fix it, then run `provisioning pack index`"
    ));
}

/// The same, for a caller that holds the registry's lock.
pub(super) fn write(
    registry: &DirectoryRegistry,
    context: &Context,
    printer: &Printer,
) -> anyhow::Result<Written> {
    let publisher = tuf_publisher(context);
    let url = install_url(&context.config);
    let written = site::write(registry, url.as_deref(), publisher.as_ref())
        .context("failed to write the registry's index and pages")?;
    report(&written, context, printer);
    Ok(written)
}

/// The index and pages of a registry about to get TUF metadata (`registry tuf init`, which
/// holds the lock): the first targets include `index.json`.
pub(crate) fn index_without_tuf(
    registry: &DirectoryRegistry,
    context: &Context,
) -> anyhow::Result<Written> {
    site::write(registry, install_url(&context.config).as_deref(), None)
        .context("failed to write the registry's index and pages")
}

/// Before a command changes `registry`: when it carries TUF metadata, the keys that sign it
/// are in the keyring (so that a refusal comes before any change).
pub(crate) fn check_tuf_keys(
    registry: &DirectoryRegistry,
    context: &Context,
) -> anyhow::Result<()> {
    let Ok(site) = site::site_dir(registry) else {
        return Ok(());
    };
    if !crate::tuf::is_enabled(&site) {
        return Ok(());
    }
    let publisher =
        tuf_publisher(context).ok_or(site::SiteError::NoTufKeyring { dir: site.clone() })?;
    publisher.check_keys(&site).with_context(|| {
        format!(
            "the registry `{}` carries TUF metadata, and this command cannot sign it: nothing was changed",
            context.display_path(&site).display()
        )
    })
}

/// What signs the registry's TUF metadata, when it carries any: the user's keyring (none
/// without one: the registry's write then says so).
pub(crate) fn tuf_publisher(context: &Context) -> Option<crate::tuf::publish::Publisher> {
    let keyring = crate::signing::Keyring::new(&context.env, &context.base).ok()?;
    Some(crate::tuf::publish::Publisher::new(
        crate::tuf::keys::TufKeys::of(&keyring),
        crate::tuf::publish::Expiries::from_config(&context.config.tuf),
    ))
}

fn report(written: &Written, context: &Context, printer: &Printer) {
    if let Some(versions) = written.tuf {
        printer.status(
            "Signed",
            format!(
                "TUF metadata of `{}/`: targets v{}, snapshot v{}, timestamp v{}",
                context.display_path(&written.dir).display(),
                versions.targets,
                versions.snapshot,
                versions.timestamp
            ),
        );
    }
    printer.verbose(format!(
        "`{}`: index and pages of {} modules, {} files changed",
        context.display_path(&written.dir).display(),
        written.modules,
        written.changed
    ));
}

/// The address the pages give in their install commands: the configured HTTP registry's, when
/// there is one (and only one).
fn install_url(config: &Config) -> Option<String> {
    let mut http = config
        .distribution
        .registries
        .iter()
        .filter_map(|registry| match &registry.location {
            Location::Remote(Remote::Http(url)) => Some(url.display()),
            _ => None,
        });
    let url = http.next()?;
    http.next().is_none().then_some(url)
}
