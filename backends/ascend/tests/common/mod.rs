//! Builds the stand-in CANN runtime (a test double, backed by host memory: no Ascend
//! hardware is reachable here) and points the plugin at it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use halbench_plugin::PluginBackend;

/// `$ASCEND_HOME_PATH/lib64` with the stand-in's libascendcl.so and libopapi.so.
pub fn install() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let home =
            std::env::temp_dir().join(format!("halbench-standin-cann-{}", std::process::id()));
        let lib64 = home.join("lib64");
        std::fs::create_dir_all(&lib64).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin");
        for (file, lib) in [("ascendcl.c", "libascendcl.so"), ("opapi.c", "libopapi.so")] {
            let out = Command::new("cc")
                .args([
                    "-shared",
                    "-fPIC",
                    "-O2",
                    "-Wall",
                    "-Werror",
                    "-Wno-unused-function",
                ])
                .arg(src.join(file))
                .arg("-o")
                .arg(lib64.join(lib))
                .arg("-lm")
                .output()
                .expect("a C compiler (cc) is installed");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // SAFETY: set once, before any thread of this test process loads CANN.
        unsafe { std::env::set_var("ASCEND_HOME_PATH", &home) };
        home
    })
    .clone()
}

/// `target/<profile>/libhalbench_ascend.so`, the plugin as shipped.
pub fn plugin_path() -> PathBuf {
    halbench_plugin::built_cdylib("halbench_ascend")
}

pub fn plugin() -> PluginBackend {
    install();
    PluginBackend::load(&plugin_path()).expect("the Ascend plugin loads")
}

/// A function of a stand-in library, reached through the instance the plugin loaded.
#[allow(dead_code)] // used by some of the test binaries that include this module
pub fn call<T: Copy>(lib: &str, name: &str) -> (libloading::Library, T) {
    let path = install().join("lib64").join(lib);
    // SAFETY: the same file the plugin loaded: dlopen returns that instance.
    let l = unsafe { libloading::Library::new(path) }.unwrap();
    // SAFETY: the caller names the symbol's C type.
    let f = unsafe { *l.get::<T>(name.as_bytes()).unwrap() };
    (l, f)
}
