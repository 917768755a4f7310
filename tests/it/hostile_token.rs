//! The real binary against registries that ask for a bearer token ([`HostileRegistry`] in its
//! `token` modes): a token endpoint that never ends its answer is refused within its bound and
//! in bounded memory; a realm over plain HTTP beyond this machine is refused; the user's
//! credentials go to a token endpoint only on the registry's own host and port, or on a host
//! `distribution.token_hosts` names.

use std::process::Command;

use insta::assert_snapshot;

use crate::common::HostileRegistry;
use crate::hostile_registry::{INSTALL, PACK, releaser_and_teammate, run, run_wrapped};

/// The address space the command may take: far above what it needs (a few hundred MiB of
/// mappings, mostly never touched), far below what reading an endless answer whole takes.
const MEMORY_CEILING: u64 = 1024 * 1024 * 1024;

const BASIC: &[(&str, &str)] = &[
    ("PROVISIONING_REGISTRY_USERNAME", "ci"),
    ("PROVISIONING_REGISTRY_PASSWORD", "s3cret"),
];

/// `command` under `prlimit`, its address space capped at [`MEMORY_CEILING`].
fn within_memory_ceiling(command: Command) -> Command {
    let mut capped = Command::new("prlimit");
    capped
        .arg(format!("--as={MEMORY_CEILING}"))
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear();
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            capped.env(name, value);
        }
    }
    if let Some(dir) = command.get_current_dir() {
        capped.current_dir(dir);
    }
    capped
}

/// Which credentials a registry's token endpoint got (`basic`, `none`), once each.
fn token_requests(registry: &HostileRegistry) -> Vec<String> {
    let seen: std::collections::BTreeSet<String> = registry
        .requests()
        .lines()
        .filter_map(|line| line.strip_prefix("TOKEN "))
        .map(str::to_owned)
        .collect();
    seen.into_iter().collect()
}

#[test]
fn an_endless_token_is_refused_within_its_bound_in_bounded_memory() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("token-endless", &releaser, PACK);
    let list = run_wrapped(
        &team,
        &registry,
        &[],
        &["registry", "list"],
        within_memory_ceiling,
    );
    let before = team.tree("workspace");
    let install = run_wrapped(&team, &registry, BASIC, INSTALL, within_memory_ceiling);
    insta::allow_duplicates! {
        assert_snapshot!(list, @"
        exit: 1
        --- stdout
        --- stderr
        error: the registry `[HOST]` failed to list its modules: its token endpoint `[HOST]` answered with more than 65536 bytes, the most a token may take
        ");
    }
    assert_snapshot!(install, @"
    exit: 1
    --- stdout
    --- stderr
    error: failed to install `aws` 1.0.0 into `wuji`
      caused by: the registry `[HOST]` failed to give `aws_prov` 1.0.0: its token endpoint `[HOST]` answered with more than 65536 bytes, the most a token may take
    ");
    assert_eq!(team.tree("workspace"), before, "the infra is unchanged");
}

#[test]
fn a_registry_that_hands_out_tokens_serves_a_pack_that_installs() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("token", &releaser, PACK);
    run(&team, &registry, &[], INSTALL).success();
    assert_eq!(token_requests(&registry), ["none"], "asked for anonymously");
}

#[test]
fn a_realm_over_plain_http_beyond_this_machine_is_refused() {
    let (releaser, team) = releaser_and_teammate();
    let realm = ["--realm", "http://example.invalid/token"];
    let registry = HostileRegistry::start_with("token", &releaser, PACK, &realm);
    assert_snapshot!(run(&team, &registry, BASIC, &["registry", "list"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[HOST]` failed to list its modules: its token endpoint `http://example.invalid/token` is refused: it is plain HTTP to a host beyond this machine (plain HTTP is for loopback hosts only)
    ");
}

/// A registry's host is its host and port: a token endpoint on another port of the same
/// address is another host, which gets the credentials only when the config names it.
#[test]
fn credentials_go_to_a_token_endpoint_on_another_host_only_when_the_config_names_it() {
    let (releaser, team) = releaser_and_teammate();
    let own = HostileRegistry::start("token", &releaser, PACK);
    let tokens = HostileRegistry::start("token", &releaser, PACK);
    let realm = format!("http://127.0.0.1:{}/token", tokens.port);
    let registry = HostileRegistry::start_with("token", &releaser, PACK, &["--realm", &realm]);
    let list = ["registry", "list", "aws_prov"];

    run(&team, &own, BASIC, &list).success();
    assert_eq!(token_requests(&own), ["basic"], "the registry's own");

    run(&team, &registry, BASIC, &list).success();
    assert_eq!(token_requests(&tokens), ["none"], "withheld");

    let allowed = format!("127.0.0.1:{}", tokens.port);
    let trusted = [
        BASIC[0],
        BASIC[1],
        ("PROVISIONING_DISTRIBUTION_TOKEN_HOSTS", allowed.as_str()),
    ];
    run(&team, &registry, &trusted, &list).success();
    assert_eq!(
        token_requests(&tokens),
        ["basic", "none"],
        "sent, once configured"
    );
}

/// A token endpoint on another host that refuses a request made without the credentials: the
/// error says they were withheld, and which key sends them.
#[test]
fn a_token_endpoint_refusing_withheld_credentials_names_the_key_that_sends_them() {
    let (releaser, team) = releaser_and_teammate();
    let tokens = HostileRegistry::start("token-login", &releaser, PACK);
    let realm = format!("http://127.0.0.1:{}/token", tokens.port);
    let registry = HostileRegistry::start_with("token", &releaser, PACK, &["--realm", &realm]);
    let refused = run(&team, &registry, BASIC, &["registry", "list"]);
    let refused = refused
        .to_string()
        .replace(&tokens.port.to_string(), "[TOKEN PORT]");
    assert_snapshot!(refused, @"
    exit: 1
    --- stdout
    --- stderr
    error: the registry `[HOST]` failed to list its modules: its token endpoint `127.0.0.1:[TOKEN PORT]` answered 401 Unauthorized: UNAUTHORIZED unauthorized
    hint: your credentials were not sent to `127.0.0.1:[TOKEN PORT]`, which is not the registry's host: if you trust it with them, add it to `distribution.token_hosts` (or `PROVISIONING_DISTRIBUTION_TOKEN_HOSTS`)
    ");
    assert_eq!(token_requests(&tokens), ["none"], "withheld");
}

/// A token of the user's own is the registry's credential: it is sent to the registry, never
/// to a token endpoint.
#[test]
fn the_users_own_token_is_never_sent_to_a_token_endpoint() {
    let (releaser, team) = releaser_and_teammate();
    let registry = HostileRegistry::start("token", &releaser, PACK);
    let env = [("PROVISIONING_REGISTRY_TOKEN", "hostile-token")];
    run(&team, &registry, &env, INSTALL).success();
    assert_eq!(token_requests(&registry), Vec::<String>::new());
}
