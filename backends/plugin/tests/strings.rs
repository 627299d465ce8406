//! Strings from a plugin never panic the host: a table defined here hands back generated
//! attribute names and values, device strings and error messages (any bytes, invalid
//! UTF-8, empty, NULL, a size over the host's limit, unknown error codes), and the host
//! loads, lists and reports errors from all of them. What a plugin cannot be defended
//! against (a pointer to fewer bytes than it says) is not generated: workers contain it.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use halbench_hal::{Backend, Error};
use halbench_plugin::abi::*;
use halbench_plugin::PluginBackend;
use proptest::prelude::*;

/// What the table below answers with in the current case.
#[derive(Debug, Clone, Default)]
struct Script {
    attributes: Vec<(Vec<u8>, Vec<u8>)>,
    /// NULL attributes with this count (the host must not read them).
    null_attributes: Option<usize>,
    device_strings: [Vec<u8>; 4],
    /// `device_count` fails with this code and message (None: NULL message)...
    count_error: Option<(i32, Option<Vec<u8>>, bool)>,
}

thread_local! {
    static SCRIPT: RefCell<Script> = RefCell::new(Script::default());
    /// Strings the answers point into, alive until the next case.
    static KEEP: RefCell<Vec<CString>> = const { RefCell::new(Vec::new()) };
    static NAMED: RefCell<Vec<HB_NamedValue>> = const { RefCell::new(Vec::new()) };
}

fn keep(bytes: &[u8]) -> *const c_char {
    let c = CString::new(
        bytes
            .iter()
            .copied()
            .filter(|&b| b != 0)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let p = c.as_ptr();
    KEEP.with(|k| k.borrow_mut().push(c));
    p
}

/// An error object: the code, the message bytes (not NUL-terminated), the size to claim.
struct TestError {
    code: i32,
    message: Option<Vec<u8>>,
    oversized: bool,
}

unsafe extern "C" fn error_destroy(a: *mut HB_Error_Destroy_Args) {
    // SAFETY: the host passes an error this table made with Box::into_raw.
    drop(unsafe { Box::from_raw((*a).error.cast::<TestError>()) });
}

unsafe extern "C" fn error_get(a: *mut HB_Error_Get_Args) {
    // SAFETY: the host's args and a live error of ours.
    unsafe {
        let e = &*(*a).error.cast::<TestError>();
        (*a).code = e.code;
        match &e.message {
            Some(m) => {
                (*a).message = m.as_ptr().cast();
                // A size past the host's 1 MiB limit is refused unread.
                (*a).message_size = if e.oversized { usize::MAX } else { m.len() };
            }
            None => (*a).message = std::ptr::null(),
        }
    }
}

unsafe extern "C" fn plugin_attributes(a: *mut HB_Plugin_Attributes_Args) -> *mut HB_Error {
    let s = SCRIPT.with(|s| s.borrow().clone());
    let named: Vec<HB_NamedValue> = s
        .attributes
        .iter()
        .map(|(k, v)| {
            let mut n = HB_NamedValue::new();
            n.name = keep(k);
            n.value = keep(v);
            n
        })
        .collect();
    NAMED.with(|n| *n.borrow_mut() = named);
    // SAFETY: the host's args struct.
    unsafe {
        match s.null_attributes {
            Some(count) => {
                (*a).attributes = std::ptr::null();
                (*a).num_attributes = count;
            }
            None => NAMED.with(|n| {
                (*a).attributes = n.borrow().as_ptr();
                (*a).num_attributes = n.borrow().len();
            }),
        }
    }
    std::ptr::null_mut()
}

unsafe extern "C" fn device_count(a: *mut HB_Device_Count_Args) -> *mut HB_Error {
    match SCRIPT.with(|s| s.borrow().count_error.clone()) {
        Some((code, message, oversized)) => Box::into_raw(Box::new(TestError {
            code,
            message,
            oversized,
        }))
        .cast(),
        None => {
            // SAFETY: the host's args struct.
            unsafe { (*a).num_devices = 1 };
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn device_describe(a: *mut HB_Device_Describe_Args) -> *mut HB_Error {
    let strings = SCRIPT.with(|s| s.borrow().device_strings.clone());
    // SAFETY: the host's args and its info struct.
    unsafe {
        let info = &mut *(*a).info;
        info.name = keep(&strings[0]);
        info.vendor = keep(&strings[1]);
        info.driver_version = keep(&strings[2]);
        info.device_type = keep(&strings[3]);
    }
    std::ptr::null_mut()
}

/// Stands in for every required function this test never reaches.
unsafe extern "C" fn unused<A>(_: *mut A) -> *mut HB_Error {
    std::ptr::null_mut()
}

fn table() -> HB_Api {
    HB_Api {
        struct_size: std::mem::size_of::<HB_Api>(),
        abi_major: ABI_MAJOR,
        abi_minor: ABI_MINOR,
        error_destroy: Some(error_destroy),
        error_get: Some(error_get),
        plugin_attributes: Some(plugin_attributes),
        device_count: Some(device_count),
        device_open: Some(unused),
        device_close: Some(unused),
        device_info: Some(unused),
        device_stats: Some(unused),
        buffer_alloc: Some(unused),
        buffer_free: Some(unused),
        buffer_write: Some(unused),
        buffer_read: Some(unused),
        buffer_copy: Some(unused),
        kernel_compile: Some(unused),
        kernel_launch: Some(unused),
        device_sync: Some(unused),
        event_record: None,
        event_elapsed: None,
        host_pin: None,
        host_unpin: None,
        device_describe: Some(device_describe),
        device_peaks: None,
    }
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        "[a-z_-]{1,12}".prop_map(String::into_bytes),
        Just(b"name".to_vec()),
        Just(vec![0xff, 0xfe, b'x']),
    ]
}

fn script() -> impl Strategy<Value = Script> {
    let attributes = proptest::collection::vec(
        (prop_oneof![Just(b"name".to_vec()), bytes()], bytes()),
        0..5,
    );
    let error = proptest::option::of((
        any::<i32>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        any::<bool>(),
    ));
    (
        attributes,
        proptest::option::of(prop_oneof![Just(0usize), Just(5), Just(usize::MAX)]),
        [bytes(), bytes(), bytes(), bytes()],
        error,
    )
        .prop_map(
            |(attributes, null_attributes, device_strings, count_error)| Script {
                attributes,
                null_attributes,
                device_strings,
                count_error,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_strings_from_a_plugin_load_list_or_fail_cleanly(script in script()) {
        SCRIPT.with(|s| *s.borrow_mut() = script.clone());
        KEEP.with(|k| k.borrow_mut().clear());
        let table = Box::leak(Box::new(table()));
        // SAFETY: the table is this test's and lives for the process.
        let backend = unsafe { PluginBackend::from_table(table, "generated".into(), None) };
        let backend = match backend {
            Ok(b) => b,
            Err(e) => panic!("a table with every function loads: {e}"),
        };
        // A name is a plain word or the fallback, whatever the bytes were.
        let name = backend.name().to_string();
        prop_assert!(!name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)), "{name}");
        match (backend.devices(), &script.count_error) {
            (Ok(devices), None) => {
                prop_assert_eq!(devices.len(), 1);
                // What `keep` passed: the bytes without NULs, read as lossy UTF-8.
                let sent: Vec<u8> = script.device_strings[0].iter().copied().filter(|&b| b != 0).collect();
                let lossy = String::from_utf8_lossy(&sent).into_owned();
                prop_assert_eq!(&devices[0].name, &lossy);
            }
            (Err(e), Some((code, message, oversized))) => {
                let text = e.to_string();
                match (message, oversized) {
                    (Some(m), false) => {
                        let lossy = String::from_utf8_lossy(m);
                        prop_assert!(text.contains(lossy.as_ref()), "{text}");
                    }
                    _ => prop_assert!(text.contains("gave no message"), "{text}"),
                }
                if *code == ERROR_UNAVAILABLE {
                    let unavailable = matches!(e, Error::Unavailable { .. });
                    prop_assert!(unavailable, "{}", text);
                }
            }
            (other, expected) => panic!("{other:?} for {expected:?}"),
        }
    }
}
