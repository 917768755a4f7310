//! `module-loader graph`: modules, their dependencies and capabilities, as text, dot and
//! mermaid, rendered by the real tools.

use insta::assert_snapshot;

use crate::common::TestContext;

#[test]
fn graph_draws_modules_dependencies_and_capabilities() {
    let context = TestContext::examples_as_committed();
    let dot = context.run(["module-loader", "graph", "wuji"]);
    assert_snapshot!(dot, @r#"
    exit: 0
    --- stdout
    digraph "wuji" {
      rankdir=LR;
      node [shape=box];
      subgraph "cluster_providers" {
        label="providers";
        "aws_prov" [label="aws_prov 1.0.0"];
        "upcloud_prov" [label="upcloud_prov 0.0.1"];
      }
      subgraph "cluster_core" {
        label="core";
        "provisioning_core" [label="provisioning_core 0.1.0"];
      }
      subgraph "cluster_taskservs" {
        label="taskservs";
        "containerd" [label="containerd 0.1.0\nprovides container-runtime"];
        "kubernetes" [label="kubernetes 1.30.0"];
      }
      subgraph "cluster_clusters" {
        label="clusters";
        "web" [label="web 0.1.0"];
      }
      "aws_prov" -> "provisioning_core" [label="^0.1"];
      "kubernetes" -> "containerd" [label="container-runtime", style=dashed];
      "upcloud_prov" -> "provisioning_core" [label="^0.1"];
      "web" -> "kubernetes" [label="kubernetes", style=dashed];
      subgraph "cluster_legend" {
        label="legend";
        node [shape=point];
        " legend dependency from" -> " legend dependency to" [label="depends on (requirement)"];
        " legend capability from" -> " legend capability to" [label="requires a capability the other provides", style=dashed];
      }
    }
    --- stderr
    "#);
    assert_snapshot!(context.run(["module-loader", "graph", "wuji", "--format", "mermaid"]).stdout, @r#"
    flowchart LR
      subgraph providers
        n0["aws_prov 1.0.0"]
        n1["upcloud_prov 0.0.1"]
      end
      subgraph core
        n2["provisioning_core 0.1.0"]
      end
      subgraph taskservs
        n3["containerd 0.1.0<br>provides container-runtime"]
        n4["kubernetes 1.30.0"]
      end
      subgraph clusters
        n5["web 0.1.0"]
      end
      n0 -->|"^0.1"| n2
      n4 -.->|"container-runtime"| n3
      n1 -->|"^0.1"| n2
      n5 -.->|"kubernetes"| n4
      subgraph legend
        legend_0[" "] -->|"depends on (requirement)"| legend_1[" "]
        legend_2[" "] -.->|"requires a capability the other provides"| legend_3[" "]
      end
    "#);
    assert_snapshot!(context.run(["module-loader", "graph", "wuji", "--format", "json"]).stdout, @r#"
    {
      "infra": "wuji",
      "nodes": [
        {
          "module": "aws_prov",
          "kind": "provider",
          "version": "1.0.0",
          "mode": "link",
          "provides": [],
          "requires": []
        },
        {
          "module": "upcloud_prov",
          "kind": "provider",
          "version": "0.0.1",
          "mode": "link",
          "provides": [],
          "requires": []
        },
        {
          "module": "provisioning_core",
          "kind": "core",
          "version": "0.1.0",
          "mode": "link",
          "provides": [],
          "requires": []
        },
        {
          "module": "containerd",
          "kind": "taskserv",
          "version": "0.1.0",
          "mode": "link",
          "provides": [
            "container-runtime"
          ],
          "requires": []
        },
        {
          "module": "kubernetes",
          "kind": "taskserv",
          "version": "1.30.0",
          "mode": "link",
          "provides": [],
          "requires": [
            "container-runtime"
          ]
        },
        {
          "module": "web",
          "kind": "cluster",
          "version": "0.1.0",
          "mode": "link",
          "provides": [],
          "requires": [
            "kubernetes"
          ]
        }
      ],
      "edges": [
        {
          "from": "aws_prov",
          "to": "provisioning_core",
          "kind": "dependency",
          "label": "^0.1"
        },
        {
          "from": "kubernetes",
          "to": "containerd",
          "kind": "capability",
          "label": "container-runtime"
        },
        {
          "from": "upcloud_prov",
          "to": "provisioning_core",
          "kind": "dependency",
          "label": "^0.1"
        },
        {
          "from": "web",
          "to": "kubernetes",
          "kind": "capability",
          "label": "kubernetes"
        }
      ]
    }
    "#);
    assert_snapshot!(context.run(["providers", "list", "--format", "dot"]), @"
    exit: 2
    --- stdout
    --- stderr
    error: `--format dot` is for `module-loader graph` only
    hint: other commands print `table`, `json` or `yaml`
    ");
    // Graphviz renders it, when installed (`scripts/test` installs it).
    if std::process::Command::new("dot").arg("-V").output().is_ok() {
        let mut render = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dot");
        use std::io::Write as _;
        render
            .stdin
            .take()
            .expect("stdin")
            .write_all(dot.stdout.as_bytes())
            .expect("write");
        let output = render.wait_with_output().expect("dot");
        crate::common::assert_success(&output);
        let svg = String::from_utf8_lossy(&output.stdout);
        assert!(svg.contains("<svg") && svg.contains("kubernetes"), "{svg}");
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
