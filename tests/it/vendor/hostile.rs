//! Hostile archives and digests in pack mode: entries that escape, links, devices, a wrong
//! sha256 or content hash; each refused, leaving nothing behind.

use crate::common::{TestContext, sha256_file};

/// Builds an archive entry by entry, writing names and link targets raw, as an attacker would.
fn hostile_archive(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        if name.len() > 100 {
            // Too long for the header itself: the GNU long-name extension carries it.
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, name, *data)
                .expect("append");
            continue;
        }
        {
            let gnu = header.as_gnu_mut().expect("gnu header");
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
        }
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(315_532_800);
        header.set_cksum();
        builder.append(&header, *data).expect("append");
    }
    builder.into_inner().expect("finish")
}

/// A content hash of the right form that matches no archive.
const WRONG_CONTENT_HASH: &str = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// Puts `bytes` in the registry as `m_prov` 1.0.0, with metadata that matches them.
fn publish_raw(context: &TestContext, bytes: &[u8]) {
    context.write("distribution/packages/m_prov_1.0.0.tar", "");
    std::fs::write(
        context.path("distribution/packages/m_prov_1.0.0.tar"),
        bytes,
    )
    .expect("write");
    let sha256 = sha256_file(&context.path("distribution/packages/m_prov_1.0.0.tar"));
    let metadata = serde_json::json!({
        "name": "m_prov", "version": "1.0.0", "package_file": "m_prov_1.0.0.tar",
        "created": "2025-11-26T00:00:00Z", "maintainer": "", "repository": "", "license": "MIT", "homepage": "",
        "versions": [{
            "version": "1.0.0", "package_file": "m_prov_1.0.0.tar", "sha256": sha256,
            "content_hash": WRONG_CONTENT_HASH, "size": bytes.len(), "created": "2025-11-26T00:00:00Z", "signature": null
        }]
    });
    context.write(
        "distribution/registry/m_prov.json",
        &serde_json::to_string_pretty(&metadata).expect("json"),
    );
}

#[test]
fn hostile_archives_are_refused_and_leave_nothing_behind() {
    use tar::EntryType::{Block, Char, Directory, Fifo, Link, Regular, Symlink};
    let main: &[u8] = b"{ a = 1 }";
    let big = vec![b' '; 2048];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "absolute path",
            hostile_archive(&[("/tmp/evil.ncl", Regular, main, None)]),
            "the archive holds an absolute path `/tmp/evil.ncl`",
        ),
        (
            "parent dir",
            hostile_archive(&[("m_prov/../../evil.ncl", Regular, main, None)]),
            "the archive holds a path with `..`: `m_prov/../../evil.ncl`",
        ),
        (
            "symlink",
            hostile_archive(&[("m_prov/link.ncl", Symlink, b"", Some("/etc/passwd"))]),
            "the archive holds a symlink `m_prov/link.ncl`",
        ),
        (
            "hardlink",
            hostile_archive(&[
                ("m_prov/main.ncl", Regular, main, None),
                ("m_prov/hard.ncl", Link, b"", Some("m_prov/main.ncl")),
            ]),
            "the archive holds a hardlink `m_prov/hard.ncl`",
        ),
        (
            "char device",
            hostile_archive(&[("m_prov/tty", Char, b"", None)]),
            "the archive holds a character device `m_prov/tty`",
        ),
        (
            "block device",
            hostile_archive(&[("m_prov/disk", Block, b"", None)]),
            "the archive holds a block device `m_prov/disk`",
        ),
        (
            "fifo",
            hostile_archive(&[("m_prov/pipe", Fifo, b"", None)]),
            "the archive holds a FIFO `m_prov/pipe`",
        ),
        (
            "outside the module",
            hostile_archive(&[
                ("m_prov/main.ncl", Regular, main, None),
                ("other_prov/main.ncl", Regular, main, None),
            ]),
            "the archive holds `other_prov/main.ncl`, outside `m_prov/`",
        ),
        (
            "terminal escapes in a name (regression: printed raw, they could rewrite the terminal)",
            hostile_archive(&[("evil\u{1b}]0;pwned\u{7}/x", Regular, main, None)]),
            "the archive holds `evil\\u{1b}]0;pwned\\u{7}/x`, outside `m_prov/`",
        ),
        (
            "duplicate",
            hostile_archive(&[
                ("m_prov/main.ncl", Regular, main, None),
                ("m_prov/main.ncl", Regular, b"{ a = 2 }", None),
            ]),
            "the archive holds `m_prov/main.ncl` twice",
        ),
        (
            "file and directory",
            hostile_archive(&[
                ("m_prov/x", Regular, main, None),
                ("m_prov/x/", Directory, b"", None),
            ]),
            "the archive holds `m_prov/x` both as a file and as a directory",
        ),
        (
            "file under a file (regression: passed `pack verify`, then install failed with an OS error)",
            hostile_archive(&[
                ("m_prov/x", Regular, main, None),
                ("m_prov/x/y", Regular, main, None),
            ]),
            "the archive holds `m_prov/x/y` both as a file and as a directory",
        ),
        (
            "over-long name (regression: passed `pack verify`, then install failed with an OS error)",
            hostile_archive(&[(&format!("m_prov/{}", "n".repeat(300)), Regular, main, None)]),
            "whose name is too long (at most 255 bytes a component",
        ),
        (
            "too many entries",
            hostile_archive(&[
                ("m_prov/a", Regular, main, None),
                ("m_prov/b", Regular, main, None),
                ("m_prov/c", Regular, main, None),
                ("m_prov/d", Regular, main, None),
            ]),
            "the archive holds more than 3 entries",
        ),
        (
            "too large",
            hostile_archive(&[("m_prov/big", Regular, &big, None)]),
            "the archive unpacks to more than 1024 bytes",
        ),
        (
            "truncated",
            hostile_archive(&[("m_prov/main.ncl", Regular, &big[..900], None)])[..1024].to_vec(),
            "the archive is truncated or corrupt",
        ),
    ];
    for (what, bytes, expected) in cases {
        let context = TestContext::new();
        context.infra("wuji");
        publish_raw(&context, &bytes);
        let before = context.tree("workspace");
        let outside_before: Vec<_> = std::fs::read_dir(context.base.parent().expect("root"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        let run = context
            .command()
            .env("PROVISIONING_DISTRIBUTION_UNPACK_MAX_ENTRIES", "3")
            .env("PROVISIONING_DISTRIBUTION_UNPACK_MAX_BYTES", "1024")
            .args([
                "providers",
                "install",
                "m",
                "wuji",
                "--version",
                "1.0.0",
                "--allow-unsigned",
            ])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{what}: {stderr:?} lacks {expected:?}"
        );
        assert_eq!(
            context.tree("workspace"),
            before,
            "{what}: the infra is unchanged"
        );
        let outside_after: Vec<_> = std::fs::read_dir(context.base.parent().expect("root"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            outside_after, outside_before,
            "{what}: nothing written outside the base"
        );
        assert!(!std::path::Path::new("/tmp/evil.ncl").exists(), "{what}");
        // `pack verify` refuses whatever install refuses: they read archives the same way.
        let verify = context
            .command()
            .env("PROVISIONING_DISTRIBUTION_UNPACK_MAX_ENTRIES", "3")
            .env("PROVISIONING_DISTRIBUTION_UNPACK_MAX_BYTES", "1024")
            .args(["pack", "verify", "m_prov@1.0.0"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&verify.stderr);
        assert_eq!(verify.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(expected), "{what}: verify: {stderr:?}");
    }
}

#[test]
fn a_wrong_sha256_or_content_hash_is_refused() {
    let context = TestContext::new();
    context.infra("wuji");
    let bytes = hostile_archive(&[(
        "m_prov/main.ncl",
        tar::EntryType::Regular,
        b"{ a = 1 }",
        None,
    )]);
    publish_raw(&context, &bytes);
    let before = context.tree("workspace");
    let run = context.run([
        "providers",
        "install",
        "m",
        "wuji",
        "--version",
        "1.0.0",
        "--allow-unsigned",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "failed verification: content hash: expected {WRONG_CONTENT_HASH}, found h1:"
        )),
        "{run}"
    );
    let metadata = context.read("distribution/registry/m_prov.json");
    let sha256 = sha256_file(&context.path("distribution/packages/m_prov_1.0.0.tar"));
    context.write(
        "distribution/registry/m_prov.json",
        &metadata.replace(&sha256, &"0".repeat(64)),
    );
    let run = context.run([
        "providers",
        "install",
        "m",
        "wuji",
        "--version",
        "1.0.0",
        "--allow-unsigned",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "failed verification: sha256: expected {}, found {sha256}",
            "0".repeat(64)
        )),
        "{run}"
    );
    assert_eq!(context.tree("workspace"), before);
}
