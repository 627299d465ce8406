//! The fold, and the host sensors against a made-up sysfs tree (a stand-in: this VM has no
//! cpufreq, hwmon or RAPL of its own).

use super::*;

fn at(ms: u64, r: Reading) -> (Duration, Reading) {
    (Duration::from_millis(ms), r)
}

#[test]
fn a_clock_that_falls_below_the_rating_is_throttled() {
    let r = |mhz: f64, e: f64| Reading {
        clock_mhz: Some(mhz),
        temperature_c: Some(60.0 + mhz / 1000.0),
        energy_j: Some(e),
        ..Reading::default()
    };
    let t = summarize(
        &[
            at(0, r(3000.0, 10.0)),
            at(500, r(2600.0, 60.0)),
            at(1000, r(2950.0, 110.0)),
        ],
        Some(3000.0),
        BTreeMap::new(),
    );
    assert_eq!(
        (t.clock_mhz_min, t.clock_mhz_max),
        (Some(2600.0), Some(3000.0))
    );
    assert_eq!(t.throttled, Some(true), "2600 < 0.9 × 3000");
    assert_eq!(t.energy_j, Some(100.0));
    assert_eq!(t.power_w_avg, Some(100.0));
    assert_eq!(t.temperature_c_max, Some(63.0));
    // Within 10% of the rating: not throttled.
    let t = summarize(
        &[at(0, r(2800.0, 0.0)), at(10, r(2750.0, 1.0))],
        Some(3000.0),
        BTreeMap::new(),
    );
    assert_eq!(t.throttled, Some(false));
}

#[test]
fn power_alone_is_integrated_and_nothing_is_never_a_zero() {
    let p = |w: f64| Reading {
        power_w: Some(w),
        ..Reading::default()
    };
    let t = summarize(
        &[at(0, p(100.0)), at(1000, p(300.0)), at(2000, p(300.0))],
        None,
        BTreeMap::new(),
    );
    assert_eq!(t.energy_j, Some(500.0));
    assert_eq!(t.power_w_avg, Some(250.0));
    let none = NoSensors("OpenCL reports no live clocks".into());
    let t = summarize(
        &[at(0, Reading::default()), at(5, Reading::default())],
        None,
        none.not_available(),
    );
    assert_eq!(
        (t.energy_j, t.power_w_avg, t.clock_mhz_min, t.throttled),
        (None, None, None, None)
    );
    assert_eq!(t.not_available.len(), 4);
    assert_eq!(t.not_available["power"], "OpenCL reports no live clocks");
}

fn write(root: &Path, path: &str, value: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, value).unwrap();
}

#[test]
fn host_sensors_read_cpufreq_hwmon_and_rapl_with_its_wrap() {
    let root = std::env::temp_dir().join(format!("halbench-sysfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for cpu in ["cpu0", "cpu1"] {
        write(
            &root,
            &format!("sys/devices/system/cpu/{cpu}/cpufreq/base_frequency"),
            "3000000\n",
        );
    }
    write(
        &root,
        "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq",
        "2000000\n",
    );
    write(
        &root,
        "sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq",
        "3000000\n",
    );
    write(&root, "sys/devices/system/cpu/cpufreq/policy0", ""); // not a cpuN
    write(&root, "sys/class/hwmon/hwmon0/temp1_input", "45000\n");
    write(&root, "sys/class/hwmon/hwmon1/temp3_input", "71500\n");
    write(
        &root,
        "sys/class/powercap/intel-rapl:0/energy_uj",
        "999000000\n",
    );
    write(
        &root,
        "sys/class/powercap/intel-rapl:0/max_energy_range_uj",
        "1000000000\n",
    );
    // A sub-domain inside the package: not counted again.
    write(&root, "sys/class/powercap/intel-rapl:0:0/energy_uj", "5\n");
    let mut s = HostSensors::new(&root);
    assert!(s.not_available().is_empty(), "{:?}", s.not_available());
    assert_eq!(s.rated_clock_mhz(), Some(3000.0));
    let first = s.read();
    assert_eq!(first.clock_mhz, Some(2500.0));
    assert_eq!(first.temperature_c, Some(71.5));
    assert_eq!(first.energy_j, Some(0.0));
    // The counter wraps at 1000 J: 999 J → 4 J is 5 J spent.
    write(
        &root,
        "sys/class/powercap/intel-rapl:0/energy_uj",
        "4000000\n",
    );
    assert_eq!(s.read().energy_j, Some(5.0));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_host_without_sensors_says_why_for_each_quantity() {
    let root = std::env::temp_dir().join(format!("halbench-nosysfs-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let mut s = HostSensors::new(&root);
    assert_eq!(s.read(), Reading::default());
    let missing = s.not_available();
    assert_eq!(
        missing.keys().collect::<Vec<_>>(),
        ["clock", "energy", "power", "temperature"]
    );
    assert!(missing["clock"].contains("no cpufreq"), "{missing:?}");
    assert!(missing["energy"].contains("RAPL"), "{missing:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_monitor_reads_while_the_case_runs() {
    struct Ramp(f64);
    impl Sensors for Ramp {
        fn read(&mut self) -> Reading {
            self.0 += 1.0;
            Reading {
                clock_mhz: Some(1000.0 + self.0),
                energy_j: Some(self.0),
                ..Reading::default()
            }
        }
        fn not_available(&self) -> BTreeMap<String, String> {
            BTreeMap::new()
        }
    }
    // A source with nothing to read gets no thread, and says why for each quantity.
    let idle = Monitor::start(Box::new(NoSensors("none here".into()))).finish();
    assert_eq!((idle.window_s, idle.not_available.len()), (0.0, 4));
    let m = Monitor::start(Box::new(Ramp(0.0)));
    std::thread::sleep(PERIOD * 4);
    let t = m.finish();
    assert!(t.window_s > 0.0);
    assert!(t.clock_mhz_max > t.clock_mhz_min, "{t:?}");
    assert!(t.energy_j.unwrap() >= 2.0, "{t:?}");
}
