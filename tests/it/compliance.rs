//! Compliance outputs: `providers sbom` (CycloneDX and SPDX, checked by the formats' own
//! validators from the test venv: `cyclonedx-python-lib` and `spdx-tools`) and `providers audit`.

use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;
use serde_json::Value;

use crate::common::{TestContext, sha256_file};

/// `wuji` pins `aws_prov` 1.0.0 (and so the core schemas) and links `upcloud`.
fn pinned_and_linked() -> TestContext {
    TestContext::released()
        .installed("wuji", &["aws@1.0.0"])
        .installed("wuji", &["upcloud"])
}

/// Runs `script` with the test venv's `python3` on `file`; panics with its output when it fails.
pub(crate) fn python(script: &str, file: &Path) -> Result<(), String> {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .expect("python3 runs (scripts/test puts the test venv first on PATH)");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

pub(crate) const CYCLONEDX_VALIDATE: &str = "
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if error is not None:
    sys.exit(str(error))
";

/// spdx-tools' own validation (the JSON schema and the spec's rules); exits 1 on any finding.
pub(crate) const SPDX_VALIDATE: &str = "
import sys
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
messages = validate_full_spdx_document(parse_file(sys.argv[1]))
if messages:
    sys.exit('\\n'.join(m.validation_message for m in messages))
";

fn json(context: &TestContext, relative: &str) -> Value {
    serde_json::from_str(&context.read(relative)).expect("an SBOM is JSON")
}

/// The sha256 of each pinned artifact, computed here from the registry's files.
fn artifact_sha256(context: &TestContext, artifact: &str) -> String {
    sha256_file(&context.path(&format!("distribution/packages/{artifact}")))
}

#[test]
fn the_cyclonedx_sbom_validates_and_lists_every_module_with_its_hash() {
    let context = pinned_and_linked();
    context
        .run(["providers", "sbom", "wuji", "--output", "wuji.cdx.json"])
        .success();
    python(CYCLONEDX_VALIDATE, &context.path("wuji.cdx.json"))
        .expect("the CycloneDX validator accepts the SBOM");
    let bom = json(&context, "wuji.cdx.json");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["metadata"]["component"]["name"], "wuji");
    let components = bom["components"].as_array().expect("components");
    let names: Vec<&str> = components
        .iter()
        .map(|component| component["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["aws_prov", "provisioning_core", "upcloud_prov"]);
    for (component, artifact) in [
        (&components[0], "aws_prov_1.0.0.tar"),
        (&components[1], "provisioning_core_0.1.0.tar"),
    ] {
        let sha256 = artifact_sha256(&context, artifact);
        assert_eq!(component["hashes"][0]["alg"], "SHA-256");
        assert_eq!(component["hashes"][0]["content"], sha256.as_str());
        let purl = component["purl"]
            .as_str()
            .expect("a pinned pack has a purl");
        assert!(
            purl.ends_with(&format!("?checksum=sha256:{sha256}")),
            "{purl}"
        );
        assert!(
            context
                .read("workspace/infra/wuji/providers.manifest.yaml")
                .contains(&sha256)
        );
        assert_eq!(component["licenses"][0]["expression"], "MIT");
    }
    // The linked provider: no hash, no purl, marked as a link to its local source.
    let upcloud = &components[2];
    assert_eq!(upcloud.get("hashes"), None);
    assert_eq!(upcloud.get("purl"), None);
    let properties = upcloud["properties"].to_string();
    assert!(
        properties.contains(r#"{"name":"provisioning:mode","value":"link"}"#),
        "{properties}"
    );
    assert_snapshot!(serde_json::to_string_pretty(&bom["dependencies"]).expect("json"), @r#"
    [
      {
        "dependsOn": [
          "aws_prov@1.0.0",
          "upcloud_prov@0.0.1"
        ],
        "ref": "infra:wuji"
      },
      {
        "dependsOn": [
          "provisioning_core@0.1.0"
        ],
        "ref": "aws_prov@1.0.0"
      },
      {
        "dependsOn": [],
        "ref": "provisioning_core@0.1.0"
      },
      {
        "dependsOn": [
          "provisioning_core@0.1.0"
        ],
        "ref": "upcloud_prov@0.0.1"
      }
    ]
    "#);
}

#[test]
fn the_spdx_sbom_validates_and_lists_every_module_with_its_hash() {
    let context = pinned_and_linked();
    let run = context.run(["providers", "sbom", "wuji", "--format", "spdx"]);
    run.success();
    context.write("wuji.spdx.json", &run.stdout);
    python(SPDX_VALIDATE, &context.path("wuji.spdx.json")).expect("spdx-tools accepts the SBOM");
    let document = json(&context, "wuji.spdx.json");
    assert_eq!(document["spdxVersion"], "SPDX-2.3");
    let packages = document["packages"].as_array().expect("packages");
    let summary: Vec<String> = packages
        .iter()
        .map(|package| {
            format!(
                "{} {} {} {}",
                package["name"].as_str().expect("name"),
                package["versionInfo"].as_str().unwrap_or("-"),
                package["checksums"][0]["checksumValue"]
                    .as_str()
                    .unwrap_or("-"),
                package["downloadLocation"].as_str().expect("location"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "wuji - - NOASSERTION".to_owned(),
            format!(
                "aws_prov 1.0.0 {} NOASSERTION",
                artifact_sha256(&context, "aws_prov_1.0.0.tar")
            ),
            format!(
                "provisioning_core 0.1.0 {} NOASSERTION",
                artifact_sha256(&context, "provisioning_core_0.1.0.tar")
            ),
            "upcloud_prov 0.0.1 - NOASSERTION".to_owned(),
        ]
    );
    assert!(
        packages[3]["comment"]
            .as_str()
            .expect("a linked module says so")
            .contains("linked live from the local source `extensions/providers/upcloud/nickel`")
    );
    let relationships: Vec<String> = document["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .map(|relationship| {
            format!(
                "{} {} {}",
                relationship["spdxElementId"].as_str().expect("from"),
                relationship["relationshipType"].as_str().expect("type"),
                relationship["relatedSpdxElement"].as_str().expect("to"),
            )
        })
        .collect();
    assert_snapshot!(relationships.join("\n"), @"
    SPDXRef-DOCUMENT DESCRIBES SPDXRef-Infra
    SPDXRef-Infra DEPENDS_ON SPDXRef-Package-aws.prov
    SPDXRef-Infra DEPENDS_ON SPDXRef-Package-upcloud.prov
    SPDXRef-Package-aws.prov DEPENDS_ON SPDXRef-Package-provisioning.core
    SPDXRef-Package-upcloud.prov DEPENDS_ON SPDXRef-Package-provisioning.core
    ");
}

#[test]
fn an_sbom_is_the_same_bytes_each_time_and_its_identity_follows_its_content() {
    let context = pinned_and_linked();
    for format in ["cyclonedx", "spdx"] {
        let first = context.run(["providers", "sbom", "wuji", "--format", format]);
        let second = context.run(["providers", "sbom", "wuji", "--format", format]);
        first.success();
        assert_eq!(first.stdout, second.stdout, "{format}");
    }
    let before = context.run(["providers", "sbom", "wuji"]);
    context
        .run(["providers", "remove", "upcloud", "wuji"])
        .success();
    let after = context.run(["providers", "sbom", "wuji"]);
    let serial = |run: &crate::common::Run| {
        serde_json::from_str::<Value>(&run.stdout).expect("json")["serialNumber"].clone()
    };
    assert_ne!(serial(&before), serial(&after));
}

#[test]
fn sbom_refuses_formats_it_does_not_write() {
    let context = TestContext::examples();
    assert_snapshot!(context.run(["providers", "sbom", "wuji", "--format", "yaml"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: `providers sbom` writes `cyclonedx` or `spdx`, not `yaml`
    hint: `--format cyclonedx` (the default) or `--format spdx`
    ");
    assert_snapshot!(context.run(["providers", "list", "--format", "spdx"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: `--format spdx` is for `providers sbom` only
    hint: other commands print `table`, `json` or `yaml`
    ");
}

#[test]
fn audit_passes_clean_pins_and_fails_on_a_yanked_one_with_its_reason() {
    let context = pinned_and_linked();
    let _filters = context.filters().bind();
    assert_snapshot!(context.run(["providers", "audit", "wuji"]), @"
    exit: 0
    --- stdout
    MODULE             VERSION  STATUS  YANKED  SIGNER                      PROVENANCE
    aws_prov           1.0.0    ok      no      [KEY] (trusted)  [KEY] (verified)
    provisioning_core  0.1.0    ok      no      [KEY] (trusted)  [KEY] (verified)
    --- stderr
    ");
    context
        .run([
            "pack",
            "yank",
            "aws_prov@1.0.0",
            "--reason",
            "GHSA-2026-0001: leaks credentials",
        ])
        .success();
    assert_snapshot!(context.run(["providers", "audit", "wuji"]), @"
    exit: 1
    --- stdout
    MODULE             VERSION  STATUS  YANKED                                     SIGNER                      PROVENANCE
    aws_prov           1.0.0    FAILED  yanked: GHSA-2026-0001: leaks credentials  [KEY] (trusted)  [KEY] (verified)
    provisioning_core  0.1.0    ok      no                                         [KEY] (trusted)  [KEY] (verified)
    --- stderr
    error: 1 of 2 pins of `wuji` fail the audit: `aws_prov` 1.0.0
    ");
}

#[test]
fn audit_fails_on_pins_whose_key_is_no_longer_trusted() {
    let context = pinned_and_linked();
    // The key that signed both pins (and their provenance) is replaced: none is trusted now.
    context.run(["keys", "generate", "--force"]).success();
    let run = context.run(["providers", "audit", "wuji", "--format", "json"]);
    assert_eq!(run.code, 1, "{run}");
    let report: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(report["failed"], true);
    let statuses: Vec<String> = report["pins"]
        .as_array()
        .expect("pins")
        .iter()
        .map(|pin| {
            format!(
                "{} signer {} provenance {}",
                pin["module"].as_str().expect("module"),
                pin["signer"]["status"].as_str().expect("status"),
                pin["provenance"]["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "aws_prov signer failed provenance failed",
            "provisioning_core signer failed provenance failed"
        ]
    );
}

#[test]
fn audit_warns_of_a_pin_without_provenance_and_fails_on_provenance_of_other_bytes() {
    let context = pinned_and_linked();
    let _filters = context.filters().sha256().bind();
    let packages = context.path("distribution/packages");
    // The core's provenance stands in for aws_prov's: a valid signature about another artifact.
    std::fs::copy(
        packages.join("provisioning_core_0.1.0.intoto.jsonl"),
        packages.join("aws_prov_1.0.0.intoto.jsonl"),
    )
    .expect("copy");
    std::fs::remove_file(packages.join("provisioning_core_0.1.0.intoto.jsonl")).expect("rm");
    assert_snapshot!(context.run(["providers", "audit", "wuji"]), @"
    exit: 1
    --- stdout
    MODULE             VERSION  STATUS   YANKED  SIGNER                      PROVENANCE
    aws_prov           1.0.0    FAILED   no      [KEY] (trusted)  `aws_prov_1.0.0.intoto.jsonl` is about `provisioning_core_0.1.0.tar` with sha256 [SHA256], not about `aws_prov_1.0.0.tar` with sha256 [SHA256]
    provisioning_core  0.1.0    warning  no      [KEY] (trusted)  missing
    --- stderr
    error: 1 of 2 pins of `wuji` fail the audit: `aws_prov` 1.0.0
    ");
    std::fs::remove_file(packages.join("aws_prov_1.0.0.intoto.jsonl")).expect("rm");
    assert_snapshot!(context.run(["providers", "audit", "wuji"]), @"
    exit: 0
    --- stdout
    MODULE             VERSION  STATUS   YANKED  SIGNER                      PROVENANCE
    aws_prov           1.0.0    warning  no      [KEY] (trusted)  missing
    provisioning_core  0.1.0    warning  no      [KEY] (trusted)  missing
    --- stderr
    ");
}
