//! `providers list`, `providers info` and `module-loader discover`.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn list_shows_every_example_provider() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "list"]), @"
    exit: 0
    --- stdout
    NAME     VERSION  NICKEL  KCL  PATH                          DESCRIPTION
    aws      1.0.0    yes     no   extensions/providers/aws      Amazon EC2 instances and VPCs
    local    0.2.0    yes     no   extensions/providers/local    Local libvirt virtual machines
    upcloud  0.0.1    yes     yes  extensions/providers/upcloud  UpCloud servers, networks and storage
    --- stderr
    ");
}

#[test]
fn list_as_json() {
    let context = TestContext::new();
    context.provider("upcloud").create();
    assert_snapshot!(context.run(["providers", "list", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    [
      {
        "name": "upcloud",
        "module": "upcloud_prov",
        "version": "0.0.1",
        "description": "The upcloud provider",
        "nickel": true,
        "kcl": false,
        "path": "extensions/providers/upcloud"
      }
    ]
    --- stderr
    "#);
}

#[test]
fn list_with_kcl_reads_the_legacy_layout() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "list", "--kcl", "--format", "yaml"]), @"
    exit: 0
    --- stdout
    - name: aws
      module: aws_prov
      version: null
      description: null
      nickel: true
      kcl: false
      path: extensions/providers/aws
    - name: local
      module: local_prov
      version: null
      description: null
      nickel: true
      kcl: false
      path: extensions/providers/local
    - name: upcloud
      module: upcloud_prov
      version: 0.0.1
      description: UpCloud servers (legacy KCL layout)
      nickel: true
      kcl: true
      path: extensions/providers/upcloud
    --- stderr
    ");
}

/// Each problem is reported once, in its row. Regression: each was also printed as a warning on
/// stderr, so the terminal showed every missing manifest twice.
#[test]
fn list_reports_a_provider_without_a_readable_manifest() {
    let context = TestContext::new();
    context.provider("good").create();
    context.write("extensions/providers/nomanifest/nickel/main.ncl", "{}");
    context.write(
        "extensions/providers/badtoml/nickel/manifest.toml",
        "[package\nname = 1\n",
    );
    context.write(
        "extensions/providers/wrongname/nickel/manifest.toml",
        "[package]\nname = \"other_prov\"\nversion = \"0.0.1\"\n",
    );
    context.write(
        "extensions/providers/badversion/nickel/manifest.toml",
        "[package]\nname = \"badversion_prov\"\nversion = \"one\"\n",
    );
    context.write(
        "extensions/providers/noentry/nickel/manifest.toml",
        "[package]\nname = \"noentry_prov\"\nversion = \"0.0.1\"\n",
    );
    context.write("extensions/providers/Bad Name/nickel/manifest.toml", "");
    assert_snapshot!(context.run(["providers", "list"]), @r#"
    exit: 1
    --- stdout
    NAME        VERSION  NICKEL  KCL  PATH                             DESCRIPTION
    Bad Name    -        yes     no   extensions/providers/Bad Name    -
    badtoml     -        yes     no   extensions/providers/badtoml     -
    badversion  -        yes     no   extensions/providers/badversion  -
    good        0.0.1    yes     no   extensions/providers/good        The good provider
    noentry     -        yes     no   extensions/providers/noentry     -
    nomanifest  -        yes     no   extensions/providers/nomanifest  -
    wrongname   -        yes     no   extensions/providers/wrongname   -
    --- stderr
    error: `[BASE]/extensions/providers/Bad Name`: a provider is named by its directory, and `Bad Name` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`
    hint: rename the directory, e.g. to `bad-name`
    error: `[BASE]/extensions/providers/badtoml/nickel/manifest.toml` is not a valid manifest: line 1, column 9: unclosed table, expected `]`
    error: `[BASE]/extensions/providers/badversion/nickel/manifest.toml`: `version = "one"` is not a version (`MAJOR.MINOR.PATCH`, e.g. `1.2.3`)
    error: the entry point `[BASE]/extensions/providers/noentry/nickel/main.ncl` does not exist
    error: no manifest: `[BASE]/extensions/providers/nomanifest/nickel/manifest.toml` does not exist
    error: `[BASE]/extensions/providers/wrongname/nickel/manifest.toml` names the package `other_prov`, expected `wrongname_prov`
    "#);
    // Regression: `module-loader discover` printed the error in the description column and
    // exited 0; an invalid directory name did not name the directory.
    assert_snapshot!(context.run(["module-loader", "discover", "providers", "a"]), @r#"
    exit: 1
    --- stdout
    NAME        CATEGORY  VERSION  DESCRIPTION  PATH
    Bad Name    -         -        -            extensions/providers/Bad Name
    badtoml     -         -        -            extensions/providers/badtoml
    badversion  -         -        -            extensions/providers/badversion
    nomanifest  -         -        -            extensions/providers/nomanifest
    wrongname   -         -        -            extensions/providers/wrongname
    --- stderr
    error: `[BASE]/extensions/providers/Bad Name`: a provider is named by its directory, and `Bad Name` is not a valid name: it must start with a lower-case letter or digit and hold only `a-z`, `0-9`, `_` and `-`
    hint: rename the directory, e.g. to `bad-name`
    error: `[BASE]/extensions/providers/badtoml/nickel/manifest.toml` is not a valid manifest: line 1, column 9: unclosed table, expected `]`
    error: `[BASE]/extensions/providers/badversion/nickel/manifest.toml`: `version = "one"` is not a version (`MAJOR.MINOR.PATCH`, e.g. `1.2.3`)
    error: no manifest: `[BASE]/extensions/providers/nomanifest/nickel/manifest.toml` does not exist
    error: `[BASE]/extensions/providers/wrongname/nickel/manifest.toml` names the package `other_prov`, expected `wrongname_prov`
    "#);
}

#[test]
fn list_of_an_empty_base_says_so() {
    let context = TestContext::new();
    assert_snapshot!(context.run(["providers", "list"]), @"
    exit: 0
    --- stdout
    no providers found in `extensions/providers`
    --- stderr
    ");
}

#[test]
fn info_shows_one_provider_in_full() {
    let context = TestContext::examples().installed("wuji", &["upcloud"]);
    context.write("distribution/packages/upcloud_prov_0.10.0.tar", "");
    context.write("distribution/packages/upcloud_prov_0.9.0.tar", "");
    assert_snapshot!(context.run(["providers", "info", "upcloud"]), @"
    exit: 0
    --- stdout
    FIELD            VALUE
    name             upcloud
    module           upcloud_prov
    package          upcloud_prov
    version          0.0.1
    description      UpCloud servers, networks and storage
    dependencies     provisioning_core ^0.1
    path             extensions/providers/upcloud
    entry            extensions/providers/upcloud/nickel/main.ncl
    files            contracts.ncl, defaults.ncl, main.ncl, manifest.toml, network_upcloud.ncl, server_upcloud.ncl
    packed versions  0.9.0, 0.10.0
    used by          wuji (link 0.0.1, nickel)
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "info", "upcloud", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    {
      "name": "upcloud",
      "module": "upcloud_prov",
      "path": "extensions/providers/upcloud",
      "layout": "nickel",
      "manifest": {
        "name": "upcloud_prov",
        "version": "0.0.1",
        "description": "UpCloud servers, networks and storage",
        "entry": "main.ncl",
        "dependencies": {
          "provisioning_core": "^0.1"
        }
      },
      "entry": "extensions/providers/upcloud/nickel/main.ncl",
      "files": [
        "contracts.ncl",
        "defaults.ncl",
        "main.ncl",
        "manifest.toml",
        "network_upcloud.ncl",
        "server_upcloud.ncl"
      ],
      "packed_versions": [
        "0.9.0",
        "0.10.0"
      ],
      "used_by": [
        {
          "infra": "wuji",
          "mode": "link",
          "version": "0.0.1",
          "layout": "nickel"
        }
      ]
    }
    --- stderr
    "#);
}

#[test]
fn info_of_an_unknown_provider_lists_the_known_ones() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "info", "gcp"]), @"
    exit: 1
    --- stdout
    --- stderr
    error: unknown provider `gcp`
    hint: found providers: `aws`, `local`, `upcloud`
    ");
}

#[test]
fn discover_filters_by_kind_and_name() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["module-loader", "discover", "taskservs"]), @"
    exit: 0
    --- stdout
    NAME        CATEGORY           VERSION  DESCRIPTION                           PATH
    containerd  container-runtime  0.1.0    containerd container runtime          extensions/taskservs/container-runtime/containerd
    crio        container-runtime  0.1.0    CRI-O container runtime               extensions/taskservs/container-runtime/crio
    kubernetes  kubernetes         1.30.0   Kubernetes control plane and kubelet  extensions/taskservs/kubernetes/kubernetes
    --- stderr
    ");
    assert_snapshot!(context.run(["module-loader", "discover", "providers", "cl"]), @"
    exit: 0
    --- stdout
    NAME     CATEGORY  VERSION  DESCRIPTION                            PATH
    upcloud  -         0.0.1    UpCloud servers, networks and storage  extensions/providers/upcloud
    --- stderr
    ");
    assert_snapshot!(context.run(["module-loader", "discover", "clusters", "--format", "json"]), @r#"
    exit: 0
    --- stdout
    [
      {
        "kind": "clusters",
        "name": "web",
        "version": "0.1.0",
        "description": "A load-balanced web cluster",
        "path": "extensions/clusters/web"
      }
    ]
    --- stderr
    "#);
    assert_snapshot!(context.run(["module-loader", "discover", "clusters", "nothing-matches"]), @"
    exit: 0
    --- stdout
    no clusters matching `nothing-matches` found
    --- stderr
    ");
}
