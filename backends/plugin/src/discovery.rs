//! Where plugins are found, in order: `--plugin PATH` (files or folders), then each entry
//! of `HALBENCH_PLUGIN_PATH` (`:`-separated), then `plugins/` beside the executable. A
//! folder contributes every shared library in it. The same file is loaded once.

use std::path::{Path, PathBuf};

use halbench_hal::Error;

use crate::PluginBackend;

/// One candidate: loaded, or the reason it could not be.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub plugin: Result<PluginBackend, Error>,
}

fn is_library(p: &Path) -> bool {
    p.is_file()
        && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            n.ends_with(".so") || n.contains(".so.") || n.ends_with(".dylib") || n.ends_with(".dll")
        })
}

fn expand(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut libs: Vec<PathBuf> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_library(p))
            .collect();
        libs.sort();
        out.extend(libs);
    } else if explicit || is_library(path) {
        // An explicit path is tried even when it does not look like a library, so the
        // user hears why it is not one.
        out.push(path.to_path_buf());
    }
}

/// Every plugin candidate, loaded.
pub fn discover(explicit: &[PathBuf]) -> Vec<Found> {
    let mut paths = Vec::new();
    for p in explicit {
        expand(p, true, &mut paths);
    }
    if let Some(list) = std::env::var_os("HALBENCH_PLUGIN_PATH") {
        for p in std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()) {
            expand(&p, true, &mut paths);
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("plugins")))
    {
        expand(&dir, false, &mut paths);
    }
    let mut seen = Vec::new();
    let mut found = Vec::new();
    for path in paths {
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let plugin = PluginBackend::load(&path);
        found.push(Found { path, plugin });
    }
    found
}

/// The shared library cargo built for plugin crate `lib_name` (`halbench_cpu_plugin`), as
/// seen from that crate's own tests: `target/<profile>/deps/` under `cargo test`,
/// `target/<profile>/` after `cargo build`.
pub fn built_cdylib(lib_name: &str) -> PathBuf {
    let file = format!(
        "{}{lib_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().unwrap_or_default();
    let deps = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        deps.join(&file),
        deps.parent().map(|p| p.join(&file)).unwrap_or_default(),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}
