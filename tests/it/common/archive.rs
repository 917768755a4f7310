//! Reading artifacts the tool wrote: tar listings, single entries, digests.

use std::fmt::Write as _;
use std::path::Path;

/// Lists a tar archive: one line per entry with its type, mode, owner, names, mtime, size and
/// path, to check that artifacts are normalised.
pub fn inspect_archive(bytes: &[u8]) -> String {
    let mut archive = tar::Archive::new(bytes);
    let mut out = String::new();
    for entry in archive.entries().expect("a tar archive") {
        let entry = entry.expect("an entry");
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular => "file",
            tar::EntryType::Directory => "dir",
            other => panic!("unexpected entry type {other:?}"),
        };
        let _ = writeln!(
            out,
            "{kind:4} {:o} {}:{} '{}':'{}' {} {:>5} {}",
            header.mode().expect("mode"),
            header.uid().expect("uid"),
            header.gid().expect("gid"),
            header.username().expect("user name").unwrap_or("?"),
            header.groupname().expect("group name").unwrap_or("?"),
            header.mtime().expect("mtime"),
            header.size().expect("size"),
            entry.path().expect("path").display(),
        );
    }
    out
}

/// The hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    let bytes = std::fs::read(path).expect("read");
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One file of a tar archive.
pub fn archive_file(bytes: &[u8], path: &str) -> String {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        if entry.path().expect("path").to_str() == Some(path) {
            let mut contents = String::new();
            entry.read_to_string(&mut contents).expect("utf-8");
            return contents;
        }
    }
    panic!("{path} is not in the archive")
}

/// The text of one entry of an artifact (`module/manifest.toml`).
pub fn artifact_file(artifact: &Path, entry: &str) -> String {
    let file = std::fs::File::open(artifact).expect("open the artifact");
    let mut archive = tar::Archive::new(file);
    for found in archive.entries().expect("entries") {
        let mut found = found.expect("entry");
        if found.path().expect("path").to_string_lossy() == entry {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut found, &mut text).expect("read");
            return text;
        }
    }
    panic!("`{entry}` is not in `{}`", artifact.display());
}
