//! The plugin ABI, tested against real shared libraries: the C skeleton and variants of
//! it with one fault each (tests/c/variant.c), compiled here with the system `cc`.

use std::path::{Path, PathBuf};
use std::process::Command;

use halbench_hal::{Backend, DType, Dims, Error, KernelSource};
use halbench_plugin::abi::{self, LAYOUT};
use halbench_plugin::PluginBackend;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("halbench-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles `source` into a shared library with `defines`; panics with cc's output.
fn build(source: &str, name: &str, defines: &[&str]) -> PathBuf {
    build_against(source, name, defines, "hal/include")
}

/// As `build`, against the header in `include` (a frozen copy of an older version).
fn build_against(source: &str, name: &str, defines: &[&str], include: &str) -> PathBuf {
    let out = scratch().join(format!("lib{name}.so"));
    let status = Command::new("cc")
        .args([
            "-shared",
            "-fPIC",
            "-O1",
            "-Wall",
            "-Werror",
            "-Wno-unused-function",
        ])
        .arg("-I")
        .arg(root().join(include))
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg(root().join(source))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("a C compiler (cc) is installed");
    assert!(
        status.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

fn variant(name: &str, defines: &[&str]) -> PathBuf {
    build("backends/plugin/tests/c/variant.c", name, defines)
}

fn load_error(path: &Path) -> String {
    match PluginBackend::load(path) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e @ Error::Unavailable { .. }) => e.to_string(),
        Err(e) => panic!("not Unavailable: {e}"),
    }
}

/// Allocates, writes, copies through the builtin stream_copy, reads back.
fn round_trip(backend: &PluginBackend) {
    let mut d = backend.open(0).unwrap();
    let data: Vec<u8> = (0..4096u32)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    let (a, c) = (
        d.alloc(data.len() as u64).unwrap(),
        d.alloc(data.len() as u64).unwrap(),
    );
    d.write(&a, 0, &data).unwrap();
    let k = d
        .compile(&KernelSource::builtin(
            "stream_copy",
            vec![("T".into(), "f32".into())],
        ))
        .unwrap();
    d.launch(
        &k,
        Dims::linear(1, 1),
        &[
            halbench_hal::Arg::Buffer(&a),
            halbench_hal::Arg::Buffer(&c),
            halbench_hal::Arg::U32(4096),
        ],
    )
    .unwrap();
    d.sync().unwrap();
    let mut out = vec![0; data.len()];
    d.read(&c, 0, &mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(d.stats().live_buffers, 2);
    d.free(a).unwrap();
    d.free(c).unwrap();
    assert_eq!(d.stats().live_buffers, 0);
}

#[test]
fn the_c_skeleton_compiles_loads_and_runs_a_kernel() {
    let lib = build("backends/plugin/examples/skeleton.c", "skeleton", &[]);
    let backend = PluginBackend::load(&lib).unwrap();
    assert_eq!(backend.name(), "skeleton");
    assert_eq!(backend.attributes()["vendor"], "halbench example");
    let infos = backend.devices().unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].name, "skeleton host memory");
    assert_eq!(infos[0].extras["plugin.version"], "1.0.0");
    // The 1.2 fields: the dtype set and the per-dimension limits.
    assert_eq!(infos[0].features.dtypes, [DType::F32].into());
    assert_eq!(infos[0].max_group_size, [1024, 1024, 64]);
    assert_eq!(infos[0].max_groups, [0; 3]);
    round_trip(&backend);
}

#[test]
fn a_null_optional_function_is_unsupported() {
    let backend = PluginBackend::load(&build(
        "backends/plugin/examples/skeleton.c",
        "skeleton-timers",
        &[],
    ))
    .unwrap();
    let mut d = backend.open(0).unwrap();
    assert!(!d.info().features.device_timers);
    assert!(matches!(d.record(), Err(Error::Unsupported { .. })));
    // Pinning is absent too: a no-op, not an error.
    d.pin(&[1, 2, 3]).unwrap();
}

#[test]
fn older_and_newer_minors_both_load() {
    for (name, define) in [("old-minor", "OLD_MINOR"), ("new-minor", "NEW_MINOR")] {
        let backend = PluginBackend::load(&variant(name, &[define]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        round_trip(&backend);
        backend.open(0).unwrap().pin(&[0; 64]).unwrap();
    }
    // A 1.0 plugin says f16 with a feature bit and knows no limits.
    let old = PluginBackend::load(&variant("old-minor", &["OLD_MINOR"])).unwrap();
    let info = old.devices().unwrap().remove(0);
    assert_eq!(info.features.dtypes, [DType::F32, DType::F16].into());
    assert_eq!((info.max_group_size, info.max_groups), ([0; 3], [0; 3]));
}

/// The ABI matrix, the new-host/old-plugin corner: the skeleton's source compiled against
/// the frozen 1.0 header (no pinning, no 1.2 fields, no describe) loads in today's host,
/// lists its device by opening it, and runs.
#[test]
fn a_plugin_built_against_the_frozen_1_0_header_loads_and_runs() {
    let lib = build_against(
        "backends/plugin/examples/skeleton.c",
        "skeleton-1.0",
        &[],
        "hal/include/frozen/1.0",
    );
    let backend = PluginBackend::load(&lib).unwrap();
    let info = backend.devices().unwrap().remove(0);
    assert_eq!(info.name, "skeleton host memory");
    // 1.0 has no dtype set (f32 only) and no limits.
    assert_eq!(info.features.dtypes, [DType::F32].into());
    assert_eq!((info.max_group_size, info.max_groups), ([0; 3], [0; 3]));
    round_trip(&backend);
    backend.open(0).unwrap().pin(&[0; 64]).unwrap();
}

/// The table straight from a library, as a host of any version would see it.
fn raw_table(lib: &Path) -> (libloading::Library, *const abi::HB_Api) {
    // SAFETY: the test's own plugin; the entry point has the header's type.
    unsafe {
        let library = libloading::Library::new(lib).unwrap();
        let entry = *library.get::<abi::PluginApiFn>(abi::SYMBOL).unwrap();
        let table = entry(1, 0);
        (library, table)
    }
}

/// `device_info` into a struct of `size` bytes followed by a canary; returns the struct's
/// name field and whether the canary survived.
fn info_with_canary(table: &abi::HB_Api, device: *mut abi::HB_Device, size: usize) -> (bool, bool) {
    use abi::Args;
    #[repr(C)]
    struct Guarded {
        info: abi::HB_Device_Info_Args,
        canary: [u64; 4],
    }
    let mut g = Guarded {
        info: abi::HB_Device_Info_Args::new(),
        canary: [0x5a5a_5a5a_5a5a_5a5a; 4],
    };
    // The bytes between `size` and the struct's end are canary too.
    let base = (&raw mut g).cast::<u8>();
    // SAFETY: writing within `g`.
    unsafe {
        std::ptr::write_bytes(
            base.add(size),
            0x5a,
            std::mem::size_of::<Guarded>() - 32 - size,
        )
    };
    g.info.struct_size = size;
    g.info.device = device;
    // SAFETY: a live device of this table's plugin and a struct of `size` bytes.
    let err = unsafe { (table.device_info.unwrap())(&mut g.info) };
    assert!(err.is_null());
    let tail = (size..std::mem::size_of::<Guarded>())
        // SAFETY: reading within `g`.
        .all(|i| unsafe { *base.add(i) } == 0x5a);
    (!g.info.name.is_null(), tail)
}

/// Old host / new plugin: the next minor's plugin (an extra function, an extra field in
/// HB_Device_Info_Args) and today's skeleton, each given a 1.0-sized struct (an old host)
/// and today's (this host): both answer, and neither writes a byte past the struct.
#[test]
fn newer_plugins_answer_older_hosts_within_their_structs() {
    use abi::Args;
    for lib in [
        variant("next-minor", &["NEW_MINOR"]),
        build("backends/plugin/examples/skeleton.c", "skeleton-now", &[]),
    ] {
        let (_library, table) = raw_table(&lib);
        // SAFETY: the library is loaded for this scope.
        let table = unsafe { &*table };
        let mut open = abi::HB_Device_Open_Args::new();
        // SAFETY: the table's own device_open.
        assert!(unsafe { (table.device_open.unwrap())(&mut open) }.is_null());
        for size in [
            abi::DEVICE_INFO_ARGS_SIZE_1_0,
            std::mem::size_of::<abi::HB_Device_Info_Args>(),
        ] {
            let (named, canary) = info_with_canary(table, open.device, size);
            assert!(named && canary, "{}: size {size}", lib.display());
        }
        let mut close = abi::HB_Device_Close_Args::new();
        close.device = open.device;
        // SAFETY: closing the device opened above.
        assert!(unsafe { (table.device_close.unwrap())(&mut close) }.is_null());
    }
}

/// A 1.4 plugin lists without opening: the skeleton's describe answers what device_info
/// does.
#[test]
fn a_1_4_plugin_describes_devices_without_opening_them() {
    let lib = build(
        "backends/plugin/examples/skeleton.c",
        "skeleton-describe",
        &[],
    );
    let (_library, table) = raw_table(&lib);
    // SAFETY: loaded for this scope.
    let table = unsafe { &*table };
    assert!(table.device_describe.is_some() && table.device_peaks.is_some());
    let backend = PluginBackend::load(&lib).unwrap();
    let listed = backend.devices().unwrap().remove(0);
    let opened = backend.open(0).unwrap().info().clone();
    assert_eq!(listed, opened);
    // No vendor figures from this example: none recorded, rather than zeros.
    assert!(listed.peak_gbs.is_none() && listed.peak_tflops.is_empty());
}

#[test]
fn a_wrong_major_is_refused_naming_both_versions() {
    let e = load_error(&variant("major-2", &["MAJOR=2"]));
    let (plugin, host) = (
        format!("ABI 2.{}", abi::ABI_MINOR),
        format!("1.{}", abi::ABI_MINOR),
    );
    assert!(e.contains(&plugin) && e.contains(&host), "{e}");
    assert!(e.contains("major"), "{e}");
}

#[test]
fn a_missing_required_function_is_reported_at_load() {
    let e = load_error(&variant("no-read", &["DROP_READ"]));
    assert!(e.contains("buffer_read"), "{e}");
    // Past the table's end counts as missing too, however the memory after it looks.
    let e = load_error(&variant("truncated", &["TRUNCATE_AT_READ"]));
    assert!(
        e.contains("buffer_read") && e.contains("buffer_copy"),
        "{e}"
    );
    let e = load_error(&variant("decline", &["DECLINE"]));
    assert!(e.contains("no function table"), "{e}");
}

#[test]
fn a_library_that_is_not_a_plugin_is_refused_clearly() {
    let dir = scratch();
    let src = dir.join("plain.c");
    std::fs::write(&src, "int not_a_plugin = 1;\n").unwrap();
    let lib = dir.join("libplain.so");
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC"])
        .arg(&src)
        .arg("-o")
        .arg(&lib)
        .status()
        .unwrap();
    assert!(ok.success());
    let e = load_error(&lib);
    assert!(
        e.contains("is not a halbench plugin") && e.contains("libplain.so"),
        "{e}"
    );

    let text = dir.join("libtext.so");
    std::fs::write(&text, "this is not ELF").unwrap();
    assert!(load_error(&text).contains("cannot be loaded"));
    assert!(load_error(&dir.join("missing.so")).contains("cannot be loaded"));
}

#[test]
fn garbage_from_a_plugin_gives_errors_not_a_crash() {
    let backend = PluginBackend::load(&variant("garbage", &["GARBAGE"])).unwrap();
    // device 1 "opens" to NULL: an error, not a device.
    let e = backend.open(1).err().expect("a NULL device is refused");
    assert!(e.to_string().contains("returned no device"), "{e}");
    // NULL strings and a wild extras array read as empty.
    let mut d = backend.open(0).unwrap();
    assert_eq!(d.info().name, "");
    // The same buffer handle twice is caught by the host.
    let a = d.alloc(64).unwrap();
    let e = d.alloc(64).expect_err("a duplicate handle is refused");
    assert!(e.to_string().contains("already live"), "{e}");
    // A read past the end is refused by the host before the plugin sees it.
    let mut out = [0u8; 128];
    let e = d.read(&a, 0, &mut out).expect_err("out of range");
    assert!(
        e.to_string().contains("outside a buffer of 64 bytes"),
        "{e}"
    );
    // One in range reaches the plugin, which knows no buffer 7: an error without a
    // message still says what failed.
    let e = d
        .read(&a, 0, &mut out[..16])
        .expect_err("a handle the plugin never made");
    assert!(e.to_string().contains("buffer_read"), "{e}");
}

type Counts = unsafe extern "C" fn(*mut i64, *mut i64, *mut i64);

#[test]
fn every_error_object_is_destroyed_exactly_once() {
    let lib = variant("counting", &[]);
    let backend = PluginBackend::load(&lib).unwrap();
    {
        let mut d = backend.open(0).unwrap();
        let b = d.alloc(16).unwrap();
        let mut big = [0u8; 64];
        for _ in 0..10 {
            assert!(d.read(&b, 0, &mut big).is_err()); // out of range
            assert!(d.write(&b, 8, &big).is_err());
            assert!(matches!(
                d.compile(&KernelSource::builtin("gemm_tiled", vec![])),
                Err(Error::Unsupported { .. })
            ));
            assert!(matches!(
                d.compile(&KernelSource::builtin(
                    "stream_copy",
                    vec![("T".into(), "f16".into())]
                )),
                Err(Error::Compile { .. })
            ));
        }
        assert!(backend.open(5).is_err());
    }
    // SAFETY: the variant exports this function with this signature; the library is
    // loaded again here (same file, same instance) only to reach it.
    let (c, d, twice) = unsafe {
        let lib = libloading::Library::new(&lib).unwrap();
        let counts: libloading::Symbol<Counts> = lib.get(b"hb_test_error_counts").unwrap();
        let (mut c, mut d, mut t) = (0, 0, 0);
        counts(&mut c, &mut d, &mut t);
        (c, d, t)
    };
    // Per round the plugin makes two (the unsupported and the failed compile); the host
    // refuses the out-of-range read and write itself. And one for open(5).
    assert_eq!(c, 21, "errors made");
    assert_eq!(d, c, "errors destroyed");
    assert_eq!(twice, 0, "errors destroyed twice");
}

#[test]
fn the_rust_mirrors_match_the_c_header() {
    let exe = scratch().join("layout");
    let out = Command::new("cc")
        .arg("-I")
        .arg(root().join("hal/include"))
        .arg(root().join("backends/plugin/tests/c/layout.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(Command::new(&exe).output().unwrap().stdout).unwrap();
    let c: Vec<(String, usize)> = printed
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect();
    let rust: Vec<(String, usize)> = LAYOUT.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(c, rust);
}
