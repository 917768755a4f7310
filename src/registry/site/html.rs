//! The registry's web pages, rendered as static HTML: no JavaScript, one small inline style
//! sheet that reads on a phone (a viewport, one column, tables that scroll sideways), links
//! relative to the page (so the site works from `file://` and from any static host). Every text
//! that comes from a module (names, descriptions, `doc` strings, contracts, signers) goes
//! through [`escape`]: a hostile `doc` string is shown, never interpreted.

use std::fmt::Write as _;

use crate::module::ModuleKind;

use super::VersionDocs;
use crate::nickel::doc::{Documentation, DocumentedField};
use crate::registry::{ModuleMetadata, VersionEntry};

/// Fields nested deeper than this are not shown (a page stays finite whatever a module holds).
const MAX_DEPTH: usize = 12;

const STYLE: &str = "body{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;line-height:1.5;max-width:62rem;margin:0 auto;padding:1rem;color:#1b1b1b;background:#fff}\
a{color:#0b57d0}h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:2rem}\
.muted{color:#5f6368}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.95rem}\
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e0e0e0;vertical-align:top}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem}\
td code{word-break:break-all}pre{background:#f5f5f5;padding:.6rem;overflow-x:auto;white-space:pre-wrap}\
.yanked{color:#b3261e;font-weight:600}dl{margin:.3rem 0 .3rem 0}dt{margin-top:.6rem}\
dd{margin-left:1.2rem;border-left:2px solid #e0e0e0;padding-left:.8rem}.doc{white-space:pre-wrap;margin:.2rem 0}\
.contract{color:#3c4043}";

/// `text` with `&`, `<`, `>`, `"` and `'` as entities: safe in element content and in quoted
/// attribute values. Control characters but line breaks and tabs (no HTML may hold them: a yank
/// reason or a description could) are shown escaped, `\u{1b}`, as the terminal shows them.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {
                out.extend(c.escape_default());
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"provisioning\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn signer(entry: &VersionEntry) -> String {
    entry
        .signer
        .as_ref()
        .map_or_else(|| "unsigned".to_owned(), ToString::to_string)
}

/// `index.html`: every module, its newest version, how many versions, who signed the newest.
pub fn index(modules: &[(&ModuleMetadata, Option<VersionDocs>)]) -> String {
    let mut body = String::new();
    let count = modules.len();
    let _ = write!(
        body,
        "<header>\n<h1>Provisioning registry</h1>\n<p class=\"muted\">{count} module{}. Each page lists the module's versions, who signed them, the command to install one and the module's documentation.</p>\n</header>\n<main>\n",
        if count == 1 { "" } else { "s" }
    );
    if modules.is_empty() {
        body.push_str("<p>No modules are packed yet.</p>\n");
    }
    // One section per kind, in the order infras use them.
    for (kind, heading) in [
        (ModuleKind::Provider, "Providers"),
        (ModuleKind::Taskserv, "Taskservs"),
        (ModuleKind::Cluster, "Clusters"),
        (ModuleKind::Core, "Core schemas"),
    ] {
        let of_kind: Vec<_> = modules
            .iter()
            .filter(|(module, _)| module.module_kind() == kind)
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(body, "<h2 id=\"{}\">{heading}</h2>", kind.dir_name());
        body.push_str("<div class=\"scroll\">\n<table>\n<thead><tr><th>Module</th><th>Latest</th><th>Versions</th><th>Signed by</th><th>Description</th></tr></thead>\n<tbody>\n");
        for (module, docs) in of_kind {
            let name = escape(module.name.as_str());
            let latest = module.versions.last();
            let category = module.category.as_deref().map_or_else(String::new, |c| {
                format!(" <span class=\"muted\">(category {})</span>", escape(c))
            });
            let _ = writeln!(
                body,
                "<tr><td><a href=\"modules/{name}.html\">{name}</a>{category}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                latest.map_or_else(String::new, |entry| escape(&entry.version.to_string())),
                module.versions.len(),
                latest.map_or_else(String::new, |entry| escape(&signer(entry))),
                docs.as_ref()
                    .map_or_else(String::new, |docs| escape(&docs.description)),
            );
        }
        body.push_str("</tbody>\n</table>\n</div>\n");
    }
    body.push_str("</main>\n");
    page("Provisioning registry", &body)
}

/// `modules/<module>.html`.
pub fn module(
    module: &ModuleMetadata,
    docs: Option<&VersionDocs>,
    install_url: Option<&str>,
) -> String {
    let name = escape(module.name.as_str());
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<nav><a href=\"../index.html\">← All modules</a></nav>\n<header>\n<h1>{name}</h1>"
    );
    let kind = module.module_kind();
    let _ = writeln!(
        body,
        "<p class=\"muted\">A {}{}</p>",
        kind.as_str(),
        module
            .category
            .as_deref()
            .map_or_else(String::new, |c| format!(" in the category {}", escape(c)))
    );
    if let Some(docs) = docs.filter(|docs| !docs.description.is_empty()) {
        let _ = writeln!(body, "<p>{}</p>", escape(&docs.description));
    }
    let fields = [
        ("Maintainer", &module.maintainer),
        ("License", &module.license),
        ("Repository", &module.repository),
        ("Homepage", &module.homepage),
    ];
    for (label, value) in fields.iter().filter(|(_, value)| !value.is_empty()) {
        let _ = writeln!(body, "<p class=\"muted\">{label}: {}</p>", escape(value));
    }
    body.push_str("</header>\n<main>\n");
    install(&mut body, module, install_url);
    versions(&mut body, module);
    body.push_str("<h2 id=\"documentation\">Documentation</h2>\n");
    match docs {
        Some(VersionDocs {
            documentation: Some(documentation),
            ..
        }) if !documentation.fields.is_empty() => {
            let latest = module.versions.last().map(|e| e.version.to_string());
            let _ = writeln!(
                body,
                "<p class=\"muted\">The fields of version {}, with their contracts and documentation.</p>",
                escape(latest.as_deref().unwrap_or_default())
            );
            fields_list(&mut body, documentation, "", 0);
        }
        Some(VersionDocs {
            problem: Some(problem),
            ..
        }) => {
            let _ = writeln!(
                body,
                "<p>The documentation could not be extracted:</p>\n<pre>{}</pre>",
                escape(problem)
            );
        }
        Some(_) => body.push_str("<p>The module has no fields to document.</p>\n"),
        None => body.push_str(
            "<p>No documentation is recorded for this version: pack it again to record it.</p>\n",
        ),
    }
    body.push_str("</main>\n");
    page(&format!("{} — provisioning registry", module.name), &body)
}

fn name_of(module: &ModuleMetadata) -> String {
    escape(module.name.as_str())
}

fn install(body: &mut String, module: &ModuleMetadata, install_url: Option<&str>) {
    let Some(latest) = module.versions.iter().rev().find(|e| !e.yanked) else {
        return;
    };
    body.push_str("<h2 id=\"install\">Install</h2>\n");
    let registry = install_url.map_or_else(String::new, |url| format!("--registry {url} "));
    match module.name.provider() {
        Some(provider) => {
            let _ = writeln!(
                body,
                "<pre><code>provisioning {}providers install {} &lt;infra&gt; --version {}</code></pre>\n<p class=\"muted\">Or from the artifact itself: <code>provisioning providers install {} &lt;infra&gt; --from &lt;URL of {}&gt;</code></p>",
                escape(&registry),
                escape(&provider.to_string()),
                escape(&latest.version.to_string()),
                escape(&provider.to_string()),
                escape(&latest.package_file.to_string()),
            );
        }
        None if matches!(
            module.module_kind(),
            ModuleKind::Taskserv | ModuleKind::Cluster
        ) =>
        {
            let _ = writeln!(
                body,
                "<pre><code>provisioning {}module-loader load {} &lt;infra&gt; {} --version {}</code></pre>",
                escape(&registry),
                module.module_kind().dir_name(),
                name_of(module),
                escape(&latest.version.to_string()),
            );
        }
        None => {
            body.push_str(
                "<p>Installed with the modules that depend on it, at the version they require.</p>\n",
            );
        }
    }
    if !latest.dependencies.is_empty() {
        body.push_str("<p>Requires: ");
        let each: Vec<String> = latest
            .dependencies
            .iter()
            .map(|(dependency, requirement)| {
                format!(
                    "<a href=\"{0}.html\"><code>{0}</code></a> <code>{1}</code>",
                    escape(dependency.as_str()),
                    escape(&requirement.to_string())
                )
            })
            .collect();
        body.push_str(&each.join(", "));
        body.push_str("</p>\n");
    }
}

fn versions(body: &mut String, module: &ModuleMetadata) {
    body.push_str("<h2 id=\"versions\">Versions</h2>\n<div class=\"scroll\">\n<table>\n<thead><tr><th>Version</th><th>Size</th><th>Created</th><th>Signed by</th><th>State</th><th>Doc tests</th><th>sha256</th><th>Files</th></tr></thead>\n<tbody>\n");
    for entry in module.versions.iter().rev() {
        let file = escape(&entry.package_file.to_string());
        let signature = entry.signature.as_ref().map_or_else(String::new, |s| {
            format!(" · <a href=\"../packages/{0}\">signature</a>", escape(s))
        });
        let provenance = entry.provenance.as_ref().map_or_else(String::new, |p| {
            format!(" · <a href=\"../packages/{0}\">provenance</a>", escape(p))
        });
        let state = match (entry.yanked, entry.library) {
            (true, _) => entry.yank_reason.as_ref().map_or_else(
                || "<span class=\"yanked\">yanked</span>".to_owned(),
                |reason| format!("<span class=\"yanked\">yanked: {}</span>", escape(reason)),
            ),
            (false, true) => "available (a library: no export)".to_owned(),
            (false, false) => "available".to_owned(),
        };
        let tests = entry
            .tests
            .map_or_else(|| "none".to_owned(), |tests| tests.to_string());
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{state}</td><td>{}</td><td><code>{}</code></td><td><a href=\"../packages/{file}\">{file}</a>{signature}{provenance}</td></tr>",
            escape(&entry.version.to_string()),
            indicatif::HumanBytes(entry.size),
            escape(&entry.created),
            escape(&signer(entry)),
            escape(&tests),
            entry.sha256,
        );
    }
    body.push_str("</tbody>\n</table>\n</div>\n");
}

/// The fields of `documentation`, nested as definition lists; `path` is the dotted path of the
/// record they are in (for anchors).
fn fields_list(body: &mut String, documentation: &Documentation, path: &str, depth: usize) {
    if depth >= MAX_DEPTH {
        body.push_str("<p class=\"muted\">(nested deeper than shown)</p>\n");
        return;
    }
    body.push_str("<dl>\n");
    for (name, field) in &documentation.fields {
        let path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        field_entry(body, name, field, &path, depth);
    }
    body.push_str("</dl>\n");
}

fn field_entry(body: &mut String, name: &str, field: &DocumentedField, path: &str, depth: usize) {
    let mut annotations = String::new();
    if let Some(typ) = &field.typ {
        let _ = write!(
            annotations,
            " <span class=\"contract\">: <code>{}</code></span>",
            escape(typ)
        );
    }
    for contract in &field.contracts {
        let _ = write!(
            annotations,
            " <span class=\"contract\">| <code>{}</code></span>",
            escape(contract)
        );
    }
    let _ = writeln!(
        body,
        "<dt id=\"field-{}\"><code><strong>{}</strong></code>{annotations}</dt>\n<dd>",
        escape(path),
        escape(name)
    );
    if let Some(documentation) = &field.documentation {
        let _ = writeln!(
            body,
            "<p class=\"doc\">{}</p>",
            escape(documentation.trim())
        );
    }
    if let Some(fields) = field.fields.as_ref().filter(|f| !f.fields.is_empty()) {
        fields_list(body, fields, path, depth + 1);
    }
    body.push_str("</dd>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("plain"), "plain");
        // A yank reason with a terminal's escape sequences: none reaches the page.
        assert_eq!(
            escape("CVE\u{1b}[2J\u{7}\u{9b}\nnext\tline"),
            "CVE\\u{1b}[2J\\u{7}\\u{9b}\nnext\tline"
        );
    }
}
