//! Without CANN the plugin loads, and its backend says it is unavailable and why.

use halbench_hal::{Backend, Error};
use halbench_plugin::PluginBackend;

#[test]
fn without_cann_the_plugin_reports_unavailable_with_the_reason() {
    // SAFETY: before anything in this process reads the environment.
    unsafe {
        std::env::remove_var("ASCEND_HOME_PATH");
        std::env::remove_var("ASCEND_TOOLKIT_HOME");
    }
    let lib = halbench_plugin::built_cdylib("halbench_ascend");
    let plugin = PluginBackend::load(&lib).expect("the plugin itself loads without CANN");
    assert_eq!(plugin.attributes()["name"], "ascend");
    match plugin.devices() {
        Err(Error::Unavailable { reason, .. }) => {
            assert!(reason.contains("libascendcl.so not found"), "{reason}")
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}
