//! One function per command, each taking its options and the [`Context`]. Commands turn
//! domain results into output through the [`Printer`]; they hold no domain logic of their own.

pub mod changes;
pub mod export;
pub mod git;
pub mod keys;
pub mod man;
pub mod module_loader;
pub mod pack;
pub mod providers;
pub mod registry;
pub mod test;
pub mod tuf;
pub mod workspace;

use clap::CommandFactory as _;

use crate::Outcome;
use crate::cli::{
    Cli, Command, CompletionsArgs, GitCommand, LockCommand, ModuleLoaderCommand, PackCommand,
    ProvidersCommand, RegistryCommand,
};
use crate::context::Context;
use crate::module::ModuleKind;
use crate::printer::Printer;

pub fn dispatch(command: Command, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    match command {
        Command::Providers(command) => match command {
            ProvidersCommand::List(args) => providers::list(&args, context, printer),
            ProvidersCommand::Info(args) => providers::info(&args, context, printer),
            ProvidersCommand::Install(args) => providers::install(&args, context, printer),
            ProvidersCommand::Remove(args) => providers::remove(&args, context, printer),
            ProvidersCommand::Installed(args) => providers::installed(&args, context, printer),
            ProvidersCommand::Validate(args) => providers::validate(&args, context, printer),
            ProvidersCommand::NickelPkg(args) => providers::nickel_pkg(&args, context, printer),
            ProvidersCommand::Sync(args) => providers::sync(&args, context, printer),
            ProvidersCommand::Outdated(args) => providers::outdated(&args, context, printer),
            ProvidersCommand::Update(args) => providers::update(&args, context, printer),
            ProvidersCommand::Test(args) => test::provider(&args, context, printer),
            ProvidersCommand::Sbom(args) => providers::sbom(&args, context, printer),
            ProvidersCommand::Audit(args) => providers::audit(&args, context, printer),
        },
        Command::ModuleLoader(command) => match command {
            ModuleLoaderCommand::Discover(args) => module_loader::discover(&args, context, printer),
            ModuleLoaderCommand::Init(args) => module_loader::init(&args, context, printer),
            ModuleLoaderCommand::Load(args) => module_loader::load(&args, context, printer),
            ModuleLoaderCommand::Unload(args) => module_loader::unload(&args, context, printer),
            ModuleLoaderCommand::Installed(args) => {
                module_loader::installed(&args, context, printer)
            }
            ModuleLoaderCommand::Graph(args) => module_loader::graph(&args, context, printer),
            ModuleLoaderCommand::Sync(args) => providers::sync(&args, context, printer),
            ModuleLoaderCommand::Test(args) => test::module(&args, context, printer),
        },
        Command::Pack(command) => match command {
            PackCommand::Core(args) => pack::core(&args, context, printer),
            PackCommand::Provider(args) => pack::provider(&args, context, printer),
            PackCommand::Providers(args) => {
                pack::all(ModuleKind::Provider, &args, context, printer)
            }
            PackCommand::Taskserv(args) => {
                pack::named(ModuleKind::Taskserv, &args, context, printer)
            }
            PackCommand::Taskservs(args) => {
                pack::all(ModuleKind::Taskserv, &args, context, printer)
            }
            PackCommand::Cluster(args) => pack::named(ModuleKind::Cluster, &args, context, printer),
            PackCommand::Clusters(args) => pack::all(ModuleKind::Cluster, &args, context, printer),
            PackCommand::List => pack::list(context, printer),
            PackCommand::Clean(args) => pack::clean(&args, context, printer),
            PackCommand::Verify(args) => pack::verify(&args, context, printer),
            PackCommand::Publish(args) => pack::publish(&args, context, printer),
            PackCommand::Yank(args) => pack::yank(&args, context, printer),
            PackCommand::Mirror(args) => pack::mirror(&args, context, printer),
            PackCommand::Index => pack::index(context, printer),
        },
        Command::Keys(command) => keys::run(command, context, printer),
        Command::Git(GitCommand::Setup) => git::setup(context, printer),
        Command::Lock(LockCommand::Merge(args)) => git::lock_merge(&args, printer),
        Command::Registry(RegistryCommand::List(args)) => registry::list(&args, context, printer),
        Command::Registry(RegistryCommand::Tuf(command)) => tuf::run(command, context, printer),
        Command::Export(args) => export::export(&args, context, printer),
        Command::Env(args) => export::env(&args, context, printer),
        Command::Completions(args) => completions(&args, printer),
        Command::Man(args) => man::man(&args, printer),
        Command::EvaluateWorker(args) => evaluate_worker(&args),
    }
}

/// `provisioning completions <shell>`: a completion script generated from the clap definitions.
pub fn completions(args: &CompletionsArgs, _printer: &Printer) -> anyhow::Result<Outcome> {
    let mut buffer = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "provisioning", &mut buffer);
    crate::write_stdout(&String::from_utf8_lossy(&buffer))?;
    Ok(Outcome::Success)
}

/// `provisioning __evaluate-worker` (hidden): a bounded evaluation worker, started by the
/// commands that evaluate Nickel ([`crate::nickel::worker`]).
pub fn evaluate_worker(args: &crate::cli::EvaluateWorkerArgs) -> anyhow::Result<Outcome> {
    crate::nickel::worker::serve(args.max_memory_bytes)?;
    Ok(Outcome::Success)
}
