//! `providers validate` and `providers installed`: links, manifests and Nickel evaluation.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn the_example_infra_validates() {
    let context = TestContext::examples_installed();
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    aws                aws_prov           link  ok     ok
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  main.ncl           -     -      ok
    -                  providers.ncl      -     -      ok
    --- stderr
           Valid `wuji`: 3 modules and 2 Nickel files
    ");
    assert_snapshot!(context.run(["providers", "validate", "wuji", "--format", "json", "--quiet"]), @r#"
    exit: 0
    --- stdout
    {
      "infra": "wuji",
      "valid": true,
      "modules": [
        {
          "name": "aws",
          "module": "aws_prov",
          "mode": "link",
          "version": "1.0.0",
          "source": "extensions/providers/aws/nickel",
          "state": "ok",
          "required_by": [],
          "direct": true,
          "evaluation": "ok"
        },
        {
          "name": "provisioning_core",
          "module": "provisioning_core",
          "kind": "core",
          "mode": "link",
          "version": "0.1.0",
          "source": "schemas",
          "state": "ok",
          "required_by": [
            "aws_prov",
            "upcloud_prov"
          ],
          "direct": false,
          "evaluation": "ok"
        },
        {
          "name": "upcloud",
          "module": "upcloud_prov",
          "mode": "link",
          "version": "0.0.1",
          "source": "extensions/providers/upcloud/nickel",
          "state": "ok",
          "required_by": [],
          "direct": true,
          "evaluation": "ok"
        }
      ],
      "files": [
        {
          "path": "main.ncl",
          "evaluation": "ok"
        },
        {
          "path": "providers.ncl",
          "evaluation": "ok"
        }
      ]
    }
    --- stderr
    "#);
    assert_snapshot!(context.run(["providers", "installed", "wuji"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  VERSION  STATE  SOURCE                               REQUIRED BY
    aws                aws_prov           link  1.0.0    ok     extensions/providers/aws/nickel      -
    provisioning_core  provisioning_core  link  0.1.0    ok     schemas                              aws_prov, upcloud_prov
    upcloud            upcloud_prov       link  0.0.1    ok     extensions/providers/upcloud/nickel  -
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "installed", "wuji", "--format", "yaml"]), @"
    exit: 0
    --- stdout
    infra: wuji
    providers:
    - name: aws
      module: aws_prov
      mode: link
      version: 1.0.0
      source: extensions/providers/aws/nickel
      state: ok
      required_by: []
      direct: true
    - name: provisioning_core
      module: provisioning_core
      kind: core
      mode: link
      version: 0.1.0
      source: schemas
      state: ok
      required_by:
      - aws_prov
      - upcloud_prov
      direct: false
    - name: upcloud
      module: upcloud_prov
      mode: link
      version: 0.0.1
      source: extensions/providers/upcloud/nickel
      state: ok
      required_by: []
      direct: true
    --- stderr
    ");
}

#[test]
fn installed_on_an_empty_infra_says_so() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "installed", "homelab"]), @"
    exit: 0
    --- stdout
    no providers installed in `homelab`
    --- stderr
    ");
}

#[test]
fn main_ncl_without_its_modules_fails_with_nickels_diagnostic() {
    let context = TestContext::examples().installed("wuji", &["upcloud"]);
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @"
    exit: 1
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  main.ncl           -     -      failed
    -                  providers.ncl      -     -      ok
    --- stderr
    error: `[BASE]/workspace/infra/wuji/main.ncl` does not evaluate:
    error: unknown package aws_prov
      ┌─ [BASE]/workspace/infra/wuji/main.ncl:4:11
      │
    4 │ let aws = import aws_prov in
      │           ^^^^^^^^^^^^^^^ imported here
    error: `wuji` is not valid: 1 problem
    ");
}

#[test]
fn a_contract_violation_shows_file_line_and_value() {
    let context = TestContext::examples_installed();
    let main = context.read("workspace/infra/wuji/main.ncl").replace("zone = \"fi-hel2\", plan = \"2xCPU-4GB\" },\n    upcloud.make_server { hostname = \"wuji-web-2\"", "zone = \"mars-1\", plan = \"2xCPU-4GB\" },\n    upcloud.make_server { hostname = \"wuji-web-2\"");
    context.write("workspace/infra/wuji/main.ncl", &main);
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @r#"
    exit: 1
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    aws                aws_prov           link  ok     ok
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  main.ncl           -     -      failed
    -                  providers.ncl      -     -      ok
    --- stderr
    error: `[BASE]/workspace/infra/wuji/main.ncl` does not evaluate:
    error: contract broken by the value of `zone`
       ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/upcloud_prov/contracts.ncl:24:12
       │
    24 │     zone | Zone,
       │            ---- expected type
       │
       ┌─ [BASE]/workspace/infra/wuji/main.ncl:7:59
       │
     7 │     upcloud.make_server { hostname = "wuji-web-1", zone = "mars-1", plan = "2xCPU-4GB" },
       │                                                           ^^^^^^^^ applied to this expression
       │
       ┌─ <unknown> (generated by evaluation):1:1
       │
     1 │ "mars-1"
       │ -------- evaluated to this value
    error: `wuji` is not valid: 1 problem
    "#);
}

#[test]
fn an_edit_to_the_source_is_seen_without_reinstalling() {
    let context = TestContext::examples_installed();
    context.run(["providers", "validate", "wuji"]).success();
    let defaults = "extensions/providers/aws/nickel/defaults.ncl";
    let broken = context
        .read(defaults)
        .replace("volume_gb | default = 20", "volume_gb | default = -5");
    context.write(defaults, &broken);
    context.write("workspace/infra/wuji/main.ncl", "let aws = import \"aws_prov/main.ncl\" in\n{ db = aws.make_server { hostname = \"db\" } }\n");
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @"
    exit: 1
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    aws                aws_prov           link  ok     failed
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  main.ncl           -     -      failed
    -                  providers.ncl      -     -      ok
    --- stderr
    error: `[BASE]/workspace/infra/wuji/.nickel-modules/aws_prov/main.ncl` does not evaluate:
    error: contract broken by the value of `volume_gb`
           expected a positive integer
       ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/aws_prov/contracts.ncl:18:17
       │
    18 │     volume_gb | std.number.PosNat,
       │                 ----------------- expected type
       │
       ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/aws_prov/defaults.ncl:5:25
       │
     5 │   volume_gb | default = -5,
       │                         ^^ applied to this expression
       │
       ┌─ <unknown> (generated by evaluation):1:1
       │
     1 │ -5
       │ -- evaluated to this value
    error: `[BASE]/workspace/infra/wuji/main.ncl` does not evaluate:
    error: contract broken by the value of `volume_gb`
           expected a positive integer
       ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/aws_prov/contracts.ncl:18:17
       │
    18 │     volume_gb | std.number.PosNat,
       │                 ----------------- expected type
       │
       ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/aws_prov/defaults.ncl:5:25
       │
     5 │   volume_gb | default = -5,
       │                         ^^ applied to this expression
       │
       ┌─ <unknown> (generated by evaluation):1:1
       │
     1 │ -5
       │ -- evaluated to this value
    error: `wuji` is not valid: 2 problems
    ");
}

#[test]
fn a_syntax_error_in_a_module_is_reported() {
    let context = TestContext::new();
    context.infra("wuji");
    context
        .provider("broken")
        .file("main.ncl", "{\n  a = 1,\n  b = ,\n}\n")
        .create();
    context
        .run(["providers", "install", "broken", "wuji"])
        .success();
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @r#"
    exit: 1
    --- stdout
    NAME    MODULE         MODE  STATE  EVALUATION
    broken  broken_prov    link  ok     failed
    -       providers.ncl  -     -      failed
    --- stderr
    error: `[BASE]/workspace/infra/wuji/.nickel-modules/broken_prov/main.ncl` does not evaluate:
    error: unexpected token
      ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/broken_prov/main.ncl:3:7
      │
    3 │   b = ,
      │       ^
    error: `[BASE]/workspace/infra/wuji/providers.ncl` does not evaluate:
    error: unexpected token
      ┌─ [BASE]/workspace/infra/wuji/.nickel-modules/broken_prov/main.ncl:3:7
      │
    3 │   b = ,
      │       ^
      │
      ┌─ [BASE]/workspace/infra/wuji/providers.ncl:4:12
      │
    4 │   broken = import "broken_prov/main.ncl",
      │            ----------------------------- imported here
    error: `wuji` is not valid: 2 problems
    "#);
}

#[test]
fn dangling_links_and_drifted_manifests_are_reported() {
    let context = TestContext::new();
    context.infra("wuji");
    context.provider("gone").create();
    context.provider("kept").create();
    context.provider("replaced").create();
    for name in ["gone", "kept", "replaced"] {
        context
            .run(["providers", "install", name, "wuji"])
            .success();
    }
    std::fs::remove_dir_all(context.path("extensions/providers/gone")).expect("rm");
    let manifest = context.read("workspace/infra/wuji/manifest.toml").replace(
        "kept_prov = { path = \"./.nickel-modules/kept_prov\" }\n",
        "",
    );
    context.write("workspace/infra/wuji/manifest.toml", &manifest);
    let link = context.path("workspace/infra/wuji/.nickel-modules/replaced_prov");
    std::fs::remove_file(&link).expect("unlink");
    context.write(
        "workspace/infra/wuji/.nickel-modules/replaced_prov/main.ncl",
        "{}",
    );
    assert_snapshot!(context.run(["providers", "installed", "wuji"]), @"
    exit: 0
    --- stdout
    NAME      MODULE         MODE  VERSION  STATE              SOURCE                                REQUIRED BY
    gone      gone_prov      link  0.0.1    dangling link      extensions/providers/gone/nickel      -
    kept      kept_prov      link  0.0.1    manifest mismatch  extensions/providers/kept/nickel      -
    replaced  replaced_prov  link  0.0.1    not a link         extensions/providers/replaced/nickel  -
    --- stderr
    ");
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @r#"
    exit: 1
    --- stdout
    NAME      MODULE         MODE  STATE              EVALUATION
    gone      gone_prov      link  dangling link      skipped
    kept      kept_prov      link  manifest mismatch  skipped
    replaced  replaced_prov  link  not a link         skipped
    -         providers.ncl  -     -                  failed
    --- stderr
    error: `gone_prov` (dangling link): `[BASE]/workspace/infra/wuji/.nickel-modules/gone_prov` points at `../../../../extensions/providers/gone/nickel`, which does not exist
    error: `kept_prov` (manifest mismatch): `manifest.toml` has no dependency `kept_prov`
    error: `replaced_prov` (not a link): `[BASE]/workspace/infra/wuji/.nickel-modules/replaced_prov` is not a symlink
    error: `[BASE]/workspace/infra/wuji/providers.ncl` does not evaluate:
    error: import of gone_prov/main.ncl failed: could not find import (looked in [[BASE]/workspace/infra/wuji, [BASE]/workspace/infra/wuji/.nickel-modules, [BASE]/workspace/infra/wuji/vendor])
      ┌─ [BASE]/workspace/infra/wuji/providers.ncl:4:10
      │
    4 │   gone = import "gone_prov/main.ncl",
      │          --------------------------- imported here
    error: `wuji` is not valid: 4 problems
    "#);
}

#[test]
fn a_link_to_the_wrong_source_is_reported() {
    let context = TestContext::new();
    context.infra("wuji");
    context.provider("one").create();
    context.provider("two").create();
    context
        .run(["providers", "install", "one", "wuji"])
        .success();
    let link = context.path("workspace/infra/wuji/.nickel-modules/one_prov");
    std::fs::remove_file(&link).expect("unlink");
    std::os::unix::fs::symlink("../../../../extensions/providers/two/nickel", &link)
        .expect("symlink");
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @"
    exit: 1
    --- stdout
    NAME  MODULE         MODE  STATE         EVALUATION
    one   one_prov       link  wrong target  skipped
    -     providers.ncl  -     -             ok
    --- stderr
    error: `one_prov` (wrong target): `[BASE]/workspace/infra/wuji/.nickel-modules/one_prov` resolves to `[BASE]/extensions/providers/two/nickel`, the lock says `[BASE]/extensions/providers/one/nickel`
    error: `wuji` is not valid: 1 problem
    ");
}

#[test]
fn a_version_bump_at_the_source_is_a_warning() {
    let context = TestContext::new();
    context.infra("wuji");
    context.provider("up").create();
    context
        .run(["providers", "install", "up", "wuji"])
        .success();
    context.provider("up").version("0.0.2").create();
    assert_snapshot!(context.run(["providers", "validate", "wuji"]), @"
    exit: 0
    --- stdout
    NAME  MODULE         MODE  STATE  EVALUATION
    up    up_prov        link  ok     ok
    -     providers.ncl  -     -      ok
    --- stderr
    warning: `up_prov` is now version 0.0.2 at its source; the lock records 0.0.1
    hint: run `provisioning providers install up wuji` again to record it
           Valid `wuji`: 1 module and providers.ncl
    ");
}

#[test]
fn every_example_provider_evaluates() {
    let context = TestContext::examples();
    for provider in ["upcloud", "aws", "local"] {
        context
            .run(["providers", "install", provider, "homelab"])
            .success();
    }
    assert_snapshot!(context.run(["providers", "validate", "homelab"]), @"
    exit: 0
    --- stdout
    NAME               MODULE             MODE  STATE  EVALUATION
    aws                aws_prov           link  ok     ok
    local              local_prov         link  ok     ok
    provisioning_core  provisioning_core  link  ok     ok
    upcloud            upcloud_prov       link  ok     ok
    -                  providers.ncl      -     -      ok
    --- stderr
           Valid `homelab`: 4 modules and providers.ncl
    ");
}
