//! Path options checked before anything runs: a file where a folder belongs (or the other
//! way round), an input that is not there, or an output whose folder is missing is a
//! usage error naming the option, not a run that passes while ignoring it.

use std::path::Path;

/// What an option's path must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A file that must exist (an input).
    Input,
    /// A file to write: it need not exist, but its folder must, and it must not be a folder.
    Output,
    /// A folder that need not exist yet (it is created when written).
    Folder,
}

/// One path option: `flag` as the user typed it (`--baseline`, `compare BASE`).
#[derive(Debug, Clone, Copy)]
pub struct PathOption<'a> {
    pub flag: &'a str,
    pub path: &'a Path,
    pub kind: Kind,
}

impl<'a> PathOption<'a> {
    pub fn new(flag: &'a str, path: &'a Path, kind: Kind) -> Self {
        PathOption { flag, path, kind }
    }
}

/// The first wrong path, as the message to print.
pub fn check(options: &[PathOption<'_>]) -> Result<(), String> {
    options.iter().try_for_each(check_one)
}

fn check_one(o: &PathOption<'_>) -> Result<(), String> {
    let (flag, shown) = (o.flag, o.path.display());
    // Follows symlinks: a link to a folder is a folder.
    let meta = std::fs::metadata(o.path).ok();
    let is_dir = meta.as_ref().is_some_and(|m| m.is_dir());
    let is_file = meta.as_ref().is_some_and(|m| m.is_file());
    let other = meta.is_some() && !is_dir && !is_file;
    match o.kind {
        Kind::Input if is_dir => Err(format!("{flag} {shown} is a folder; {flag} takes a file")),
        Kind::Input if meta.is_none() => Err(format!("{flag} {shown}: no such file")),
        Kind::Input if other => Err(format!(
            "{flag} {shown} is neither a file nor a folder; {flag} takes a file"
        )),
        Kind::Output if is_dir => Err(format!(
            "{flag} {shown} is a folder; {flag} takes the file to write"
        )),
        Kind::Output => {
            let parent = o
                .path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if parent.is_dir() {
                Ok(())
            } else {
                Err(format!(
                    "{flag} {shown}: the folder {} does not exist",
                    parent.display()
                ))
            }
        }
        Kind::Folder if meta.is_some() && !is_dir => {
            Err(format!("{flag} {shown} is a file; {flag} takes a folder"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("halbench-paths-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn each_kind_refuses_the_other_kind() {
        let d = scratch("kinds");
        let file = d.join("a.json");
        std::fs::write(&file, "{}").unwrap();
        let missing = d.join("missing.json");
        let cases = [
            (Kind::Input, file.as_path(), None),
            (Kind::Input, d.as_path(), Some("is a folder")),
            (Kind::Input, missing.as_path(), Some("no such file")),
            (Kind::Output, missing.as_path(), None),
            (Kind::Output, d.as_path(), Some("is a folder")),
            (
                Kind::Output,
                Path::new("/nonexistent-halbench/x.json"),
                Some("does not exist"),
            ),
            (Kind::Output, Path::new("x.json"), None),
            (Kind::Folder, d.as_path(), None),
            (Kind::Folder, missing.as_path(), None),
            (Kind::Folder, file.as_path(), Some("is a file")),
        ];
        for (kind, path, want) in cases {
            let got = check(&[PathOption::new("--opt", path, kind)]);
            match want {
                None => assert!(got.is_ok(), "{kind:?} {}: {got:?}", path.display()),
                Some(w) => {
                    let e = got.expect_err(&format!("{kind:?} {}", path.display()));
                    assert!(e.contains(w) && e.starts_with("--opt "), "{e}");
                }
            }
        }
    }
}
