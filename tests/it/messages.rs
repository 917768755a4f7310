//! What a user reads when a command is given something wrong: each message names what it is
//! about (the module, the version, the file) and, when there is one, the next step.

use insta::assert_snapshot;

use crate::common::TestContext;

/// Regression: `pack --version` and `module@version` showed semver's parser errors
/// ("unexpected character 'l' while parsing major version number").
#[test]
fn a_version_that_does_not_parse_says_what_a_version_looks_like() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["pack", "provider", "aws", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V>': `latest` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["pack", "core", "--version", "1.2"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '1.2' for '--version <V>': `1.2` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["pack", "providers", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V>': `latest` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");
    assert_snapshot!(context.run(["pack", "verify", "aws_prov@latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: `aws_prov@latest`: `latest` is not a version
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release
    ");
    assert_snapshot!(context.run(["pack", "yank", "aws_prov@"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'aws_prov@' for '<PACK>': `aws_prov@`: the version is empty
    hint: give an exact version, `MAJOR.MINOR.PATCH`: `1.2.3`, or `1.2.3-rc.1` for a pre-release

    For more information, try '--help'.
    ");

    assert_snapshot!(context.run(["providers", "install", "aws", "wuji", "--version", "latest"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'latest' for '--version <V|REQ>': `latest` is neither a version nor a version requirement
    hint: give an exact version (`1.2.3`) or a version requirement in Cargo's syntax: `0.1` (meaning `^0.1`), `^1.2`, `~1.2.3`, `=1.2.3`, `>=1.0, <2.0` or `*`

    For more information, try '--help'.
    ");
}

/// Regression: a `.pub` file that does not exist was read as a base64 key ("base64 conversion
/// failed").
#[test]
fn keys_trust_of_a_missing_file_says_no_such_file() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["keys", "trust", "/nonexistent.pub"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: no such file `/nonexistent.pub`
    hint: give a minisign `.pub` file, or the public key itself (`RW...`, the second line of a `.pub` file)
    ");
    context.write("notes.txt", "not a key\n");
    assert_snapshot!(context.run(["keys", "trust", "notes.txt"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: `notes.txt` is not a minisign key: base64 conversion failed - was an actual public key given?
    ");
}
