//! Whether an evaluation stayed inside its module: a pack carries only the module's own files,
//! so an import that leaves the module's directory (an absolute path, `..` past its root, or
//! another module reached through the import path) makes it not packable. The check reads the
//! list of files the evaluation read ([`super::Export::files`]); the import that reached an outside
//! file is found by reading the importers' `import "..."` expressions, for the message.
//!
//! `allowed` roots are where imports may also go: the way a later module-dependency feature
//! lets a module use a declared dependency.

use std::fmt;
use std::path::{Path, PathBuf};

/// An import that leaves the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escape {
    /// The file holding the import, when it was found.
    pub importer: Option<PathBuf>,
    /// Its line, 1-based.
    pub line: usize,
    /// The import as written: `"/etc/hostname"`.
    pub import: String,
    /// The file outside the module that it read.
    pub target: PathBuf,
}

impl fmt::Display for Escape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.importer {
            Some(importer) => write!(
                f,
                "`{}`:{}: `import \"{}\"` leaves the module (it reads `{}`)",
                importer.display(),
                self.line,
                self.import,
                self.target.display()
            ),
            None => write!(
                f,
                "the evaluation read `{}`, outside the module",
                self.target.display()
            ),
        }
    }
}

/// Checks that every file an evaluation read (`read`, as [`super::Export::files`] lists them) lies
/// under `root` or one of `allowed`.
pub fn check_confined(root: &Path, allowed: &[PathBuf], read: &[PathBuf]) -> Result<(), Escape> {
    let canonical = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let root = canonical(root);
    let allowed: Vec<PathBuf> = allowed.iter().map(|dir| canonical(dir)).collect();
    let inside =
        |path: &Path| path.starts_with(&root) || allowed.iter().any(|a| path.starts_with(a));
    let files: Vec<(PathBuf, PathBuf)> = read
        .iter()
        .map(|file| (file.clone(), canonical(file)))
        .collect();
    let Some((_, target)) = files.iter().find(|(_, real)| !inside(real)) else {
        return Ok(());
    };
    let importers = files.iter().filter(|(_, real)| inside(real));
    for (importer, real) in importers {
        let Ok(text) = crate::fs::read_to_string(importer, crate::fs::FileKind::Nickel) else {
            continue;
        };
        for (line, import) in imports(&text) {
            let resolved = if Path::new(&import).is_absolute() {
                PathBuf::from(&import)
            } else {
                real.parent().unwrap_or(&root).join(&import)
            };
            // Beside the importer (or absolute), or else through the import path.
            let reaches = if resolved.exists() {
                canonical(&resolved) == *target
            } else {
                target.ends_with(Path::new(&import))
            };
            if reaches {
                return Err(Escape {
                    importer: Some(importer.clone()),
                    line,
                    import,
                    target: target.clone(),
                });
            }
        }
    }
    Err(Escape {
        importer: None,
        line: 0,
        import: String::new(),
        target: target.clone(),
    })
}

/// Every `import "..."` in `text`, with its line. Nickel strings in imports are plain string
/// literals; escapes other than `\"` and `\\` do not occur in paths.
pub fn imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("import") {
            let after = rest[at + "import".len()..].trim_start();
            let preceded = rest[..at]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_');
            rest = &rest[at + "import".len()..];
            let Some(literal) = after.strip_prefix('"').filter(|_| preceded) else {
                continue;
            };
            let mut path = String::new();
            let mut chars = literal.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        found.push((index + 1, path.clone()));
                        break;
                    }
                    '\\' => path.extend(chars.next()),
                    other => path.push(other),
                }
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // test fixtures are written directly
mod tests {
    use super::*;

    #[test]
    fn imports_are_found_with_their_lines() {
        let text = "let a = import \"a.ncl\" in\n# reimport \"no\"\n{ t = import \"/etc/hostname\" as 'Text, b = import \"x\\\"y\" }";
        assert_eq!(
            imports(text),
            [
                (1, "a.ncl".to_owned()),
                (3, "/etc/hostname".to_owned()),
                (3, "x\"y".to_owned())
            ]
        );
    }

    #[test]
    fn an_import_outside_the_module_is_named_with_its_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let module = dir.path().join("module");
        std::fs::create_dir_all(&module).expect("mkdir");
        std::fs::write(dir.path().join("outside.ncl"), "1").expect("write");
        std::fs::write(module.join("lib.ncl"), "2").expect("write");
        std::fs::write(
            module.join("main.ncl"),
            "{\n  a = import \"lib.ncl\",\n  b = import \"../outside.ncl\",\n}",
        )
        .expect("write");
        let read = vec![
            module.join("main.ncl"),
            module.join("lib.ncl"),
            dir.path().join("outside.ncl"),
        ];
        let escape = check_confined(&module, &[], &read).expect_err("leaves");
        assert_eq!(escape.importer, Some(module.join("main.ncl")));
        assert_eq!((escape.line, escape.import.as_str()), (3, "../outside.ncl"));
        assert!(check_confined(&module, &[dir.path().to_owned()], &read).is_ok());
        let inside = vec![module.join("main.ncl"), module.join("lib.ncl")];
        assert!(check_confined(&module, &[], &inside).is_ok());
    }
}
