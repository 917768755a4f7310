//! `module-loader graph <infra>`: the infra's modules by kind, the dependencies between them
//! (solid) and the capabilities one requires and another provides (dashed), with a legend that
//! says so, as Graphviz `dot`
//! (the default), a Mermaid flowchart, or JSON for tools.

use std::fmt::Write as _;

use serde::Serialize;

use crate::Outcome;
use crate::cli::{InfraArgs, OutputFormat};
use crate::context::Context;
use crate::infra::Infra;
use crate::infra::capabilities;
use crate::infra::closure::installed_dependencies;
use crate::infra::lockfile::ProvidersLock;
use crate::module::ModuleKind;
use crate::printer::Printer;

#[derive(Debug, Serialize)]
pub struct Graph {
    pub infra: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Serialize)]
pub struct Node {
    pub module: String,
    pub kind: ModuleKind,
    pub version: String,
    pub mode: String,
    pub provides: Vec<String>,
    pub requires: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `dependency` (a `[dependencies]` entry) or `capability` (a requirement it provides).
    pub kind: &'static str,
    /// The version requirement, or the capability.
    pub label: String,
}

/// The graph of `infra` as its lock and installed manifests have it.
pub fn graph(context: &Context, infra: &Infra) -> anyhow::Result<Graph> {
    let lock = ProvidersLock::read(&infra.lock_path())?;
    let loaded = capabilities::loaded(context, infra, &lock);
    let providers = capabilities::providers(&loaded);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (entry, loaded) in lock
        .providers
        .iter()
        .filter(|entry| entry.layout == crate::module::Layout::Nickel)
        .zip(&loaded)
    {
        for (dependency, requirement) in
            installed_dependencies(context, infra, entry).unwrap_or_default()
        {
            edges.push(Edge {
                from: entry.module.to_string(),
                to: dependency.to_string(),
                kind: "dependency",
                label: requirement.to_string(),
            });
        }
        for capability in &loaded.capabilities.requires {
            for by in providers.get(capability.as_str()).into_iter().flatten() {
                if **by != entry.module {
                    edges.push(Edge {
                        from: entry.module.to_string(),
                        to: by.to_string(),
                        kind: "capability",
                        label: capability.clone(),
                    });
                }
            }
        }
        nodes.push(Node {
            module: entry.module.to_string(),
            kind: entry.kind,
            version: entry.version.to_string(),
            mode: entry.mode().to_string(),
            provides: loaded.capabilities.provides.clone(),
            requires: loaded.capabilities.requires.clone(),
        });
    }
    nodes.sort_by(|a, b| (a.kind, &a.module).cmp(&(b.kind, &b.module)));
    edges.sort_by(|a, b| (&a.from, &a.to, &a.label).cmp(&(&b.from, &b.to, &b.label)));
    Ok(Graph {
        infra: infra.name.clone(),
        nodes,
        edges,
    })
}

pub fn run(args: &InfraArgs, context: &Context, printer: &Printer) -> anyhow::Result<Outcome> {
    let infra = Infra::resolve(context, &args.infra)?;
    let graph = graph(context, &infra)?;
    match printer.format {
        OutputFormat::Json | OutputFormat::Yaml => {
            printer.data(&graph, || crate::printer::Table::new(["MODULE"]))?
        }
        OutputFormat::Mermaid => crate::write_stdout(&mermaid(&graph))?,
        _ => crate::write_stdout(&dot(&graph))?,
    }
    Ok(Outcome::Success)
}

/// The kinds in the order they are drawn, each with its cluster label.
fn kinds(graph: &Graph) -> Vec<(ModuleKind, Vec<&Node>)> {
    let mut kinds: Vec<(ModuleKind, Vec<&Node>)> = Vec::new();
    for node in &graph.nodes {
        match kinds.last_mut() {
            Some((kind, nodes)) if *kind == node.kind => nodes.push(node),
            _ => kinds.push((node.kind, vec![node])),
        }
    }
    kinds
}

/// A `dot` string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn node_label(node: &Node) -> String {
    let mut label = format!("{} {}", node.module, node.version);
    if node.mode == "pack" {
        label.push_str(" (pack)");
    }
    if !node.provides.is_empty() {
        let _ = write!(label, "\\nprovides {}", node.provides.join(", "));
    }
    label
}

pub fn dot(graph: &Graph) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n",
        quoted(&graph.infra)
    );
    for (kind, nodes) in kinds(graph) {
        let plural = kind.dir_name();
        let _ = writeln!(
            out,
            "  subgraph {} {{\n    label={};",
            quoted(&format!("cluster_{plural}")),
            quoted(plural)
        );
        for node in nodes {
            let _ = writeln!(
                out,
                "    {} [label={}];",
                quoted(&node.module),
                quoted(&node_label(node)).replace("\\\\n", "\\n")
            );
        }
        out.push_str("  }\n");
    }
    for edge in &graph.edges {
        let style = if edge.kind == "capability" {
            ", style=dashed"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}{style}];",
            quoted(&edge.from),
            quoted(&edge.to),
            quoted(&edge.label)
        );
    }
    if !graph.edges.is_empty() {
        // What each line style means, as a cluster of its own (unnamed point nodes).
        out.push_str(concat!(
            "  subgraph \"cluster_legend\" {\n    label=\"legend\";\n    node [shape=point];\n",
            "    \" legend dependency from\" -> \" legend dependency to\" [label=\"depends on (requirement)\"];\n",
            "    \" legend capability from\" -> \" legend capability to\" [label=\"requires a capability the other provides\", style=dashed];\n",
            "  }\n",
        ));
    }
    out.push_str("}\n");
    out
}

pub fn mermaid(graph: &Graph) -> String {
    // Mermaid ids are plain words: each node is `n<index>`, labelled with its name.
    let id = |module: &str| {
        graph
            .nodes
            .iter()
            .position(|node| node.module == module)
            .map_or_else(
                || format!("x_{}", module.replace('-', "_")),
                |i| format!("n{i}"),
            )
    };
    let escape = |text: &str| text.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (kind, nodes) in kinds(graph) {
        let plural = kind.dir_name();
        let _ = writeln!(out, "  subgraph {plural}");
        for node in nodes {
            let label = node_label(node).replace("\\n", "<br>");
            let _ = writeln!(out, "    {}[\"{}\"]", id(&node.module), escape(&label));
        }
        out.push_str("  end\n");
    }
    for edge in &graph.edges {
        let arrow = if edge.kind == "capability" {
            "-.->"
        } else {
            "-->"
        };
        let _ = writeln!(
            out,
            "  {} {arrow}|\"{}\"| {}",
            id(&edge.from),
            escape(&edge.label),
            id(&edge.to)
        );
    }
    if !graph.edges.is_empty() {
        // What each line style means (nodes with no name of a module: `legend_*`).
        out.push_str(concat!(
            "  subgraph legend\n",
            "    legend_0[\" \"] -->|\"depends on (requirement)\"| legend_1[\" \"]\n",
            "    legend_2[\" \"] -.->|\"requires a capability the other provides\"| legend_3[\" \"]\n",
            "  end\n",
        ));
    }
    out
}
