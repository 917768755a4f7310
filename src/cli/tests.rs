use super::*;

#[test]
fn invocation_names_expand_to_subcommands() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["provisioning", "providers", "list"],
            &["provisioning", "providers", "list"],
        ),
        (
            &["/usr/bin/module-loader", "sync", "x"],
            &["provisioning", "module-loader", "sync", "x"],
        ),
        (
            &["./pack", "providers"],
            &["provisioning", "pack", "providers"],
        ),
        (
            &["providers", "install", "upcloud", "homelab"],
            &["provisioning", "providers", "install", "upcloud", "homelab"],
        ),
        (&["packer", "list"], &["packer", "list"]),
    ];
    for (input, expected) in cases {
        let args = input.iter().map(OsString::from).collect();
        let expanded: Vec<OsString> = expand_invocation_name(args);
        let expected: Vec<OsString> = expected.iter().map(OsString::from).collect();
        assert_eq!(expanded, expected, "for {input:?}");
    }
}

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory as _;
    Cli::command().debug_assert();
}
