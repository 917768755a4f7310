//! The registry's site: `index.json` and the web pages every pack command keeps current, the
//! documentation in them as the real `nickel doc` extracts it, escaping of what a module says
//! about itself, and the pages as a real browser (Debian's `chromium`, headless) renders them.

use std::path::Path;

use crate::common::TestContext;

/// A provider whose documentation says things, some of them hostile.
fn documented(context: &TestContext) {
    context
        .provider("docs")
        .version("1.2.0")
        .file(
            "main.ncl",
            r#"{
  Server | not_exported = {
    hostname
      | String
      | doc "The server's host name, as DNS knows it.",
    cores
      | Number
      | doc "<script>alert('owned')</script> How many cores & threads.",
  },
  make_server | not_exported
    | doc "Builds a server from a spec."
    = fun spec => spec | Server,
  region | String | doc "Where it runs." = "eu-1",
}
"#,
        )
        .create();
    let manifest = context.read("extensions/providers/docs/nickel/manifest.toml");
    context.write(
        "extensions/providers/docs/nickel/manifest.toml",
        &manifest.replace(
            "The docs provider",
            "Docs <img src=x onerror=alert(1)> provider",
        ),
    );
}

#[test]
fn every_pack_command_keeps_the_index_and_the_pages_current() {
    let context = TestContext::examples();
    documented(&context);
    let packed = context.run(["pack", "provider", "docs"]);
    packed.success();
    let index: serde_json::Value =
        serde_json::from_str(&context.read("distribution/index.json")).expect("json");
    assert_eq!(
        index,
        serde_json::json!({"format": 1, "modules": ["docs_prov"]})
    );
    context.run(["pack", "core"]).success();
    assert!(
        context
            .read("distribution/index.json")
            .contains("provisioning_core")
    );
    context.run(["pack", "yank", "docs_prov@1.2.0"]).success();
    assert!(
        context
            .read("distribution/modules/docs_prov.html")
            .contains("class=\"yanked\">yanked")
    );

    let page = context.read("distribution/modules/docs_prov.html");
    for (raw, shown) in [
        (
            "<script>",
            "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;",
        ),
        ("<img", "Docs &lt;img src=x onerror=alert(1)&gt; provider"),
    ] {
        assert!(!page.contains(raw), "`{raw}` reached the page");
        assert!(page.contains(shown), "{page}");
    }
    assert!(
        page.contains("The server&#39;s host name, as DNS knows it."),
        "{page}"
    );
    assert!(!context.read("distribution/index.html").contains("<img"));

    // The documentation recorded at packing time is what the real `nickel doc` extracts.
    let out = context.path("doc.json");
    let real = std::process::Command::new(crate::common::nickel_cli())
        .args(["doc", "--format", "json", "-o"])
        .arg(&out)
        .arg(context.path("extensions/providers/docs/nickel/main.ncl"))
        .output()
        .expect("nickel runs");
    assert!(
        real.status.success(),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
    let real: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    let recorded: serde_json::Value =
        serde_json::from_str(&context.read("distribution/registry/docs/docs_prov_1.2.0.json"))
            .expect("json");
    assert_eq!(recorded["documentation"], real);

    // `pack index` rewrites nothing that is current, and removes the page of a module gone.
    let run = context.run(["pack", "index"]);
    assert!(
        run.stderr.contains("Indexed 2 modules in `distribution`"),
        "{run}"
    );
    assert!(run.stderr.contains("0 files changed"), "{run}");
    std::fs::remove_file(context.path("distribution/registry/docs_prov.json")).expect("rm");
    context.run(["pack", "index"]).success();
    assert!(!context.path("distribution/modules/docs_prov.html").exists());
    context
        .run(["pack", "clean", "--keep-latest", "0", "--force"])
        .success();
    assert_eq!(
        context.read("distribution/index.json"),
        "{\n  \"format\": 1,\n  \"modules\": []\n}\n"
    );
}

/// The text a browser shows for `page`: Debian's `chromium`, headless, with a fresh profile and
/// no network, dumping the DOM it rendered; the tags stripped.
fn rendered_text(page: &Path, profile: &Path) -> String {
    let output = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("the `chromium` browser is needed for this test (apt-get install chromium)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout);
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_browser_renders_the_index_and_a_module_page() {
    let context = TestContext::examples();
    documented(&context);
    context.run(["pack", "core"]).success();
    context.run(["pack", "providers"]).success();
    context.run(["pack", "taskservs"]).success();
    let profile = tempfile::tempdir().expect("temp dir");

    let index = rendered_text(&context.path("distribution/index.html"), profile.path());
    // A taskserv's category is labelled, not a second unexplained name ("kubernetes kubernetes").
    assert!(
        index.contains("kubernetes (category kubernetes)"),
        "{index}"
    );
    for module in [
        "aws_prov",
        "docs_prov",
        "local_prov",
        "provisioning_core",
        "upcloud_prov",
    ] {
        assert!(index.contains(module), "{module} in {index}");
    }
    assert!(index.contains("aws_prov 1.0.0 1 unsigned"), "{index}");

    let page = rendered_text(
        &context.path("distribution/modules/docs_prov.html"),
        profile.path(),
    );
    for text in [
        "docs_prov",
        "1.2.0",
        "provisioning providers install docs <infra> --version 1.2.0",
        "hostname | String",
        "The server's host name, as DNS knows it.",
        // Shown as text, never run: the DOM holds no script element.
        "<script>alert('owned')</script> How many cores & threads.",
        "make_server",
        "Builds a server from a spec.",
    ] {
        assert!(page.contains(text), "`{text}` in {page}");
    }
}
