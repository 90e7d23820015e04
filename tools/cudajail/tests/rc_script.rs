//! The rc.d script (`tools/cudajail/rc.d/cudajail`) run by a real shell against the simulated
//! host: `cudajail enable` writes rc.conf there, the script reads it through a minimal stand-in
//! for rc.subr (load_rc_config, checkyesno, run_rc_command, warn: their documented behaviour,
//! rc.subr(8)), and its start and stop run `cudajail start|stop --sim NAME` in order.

use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("../rc.d/cudajail");

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cudajail-rcd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cj(state: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_cudajail"))
        .args(args)
        .env("CUDAJAIL_SIM_STATE", state)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The simulated host's /etc/rc.conf, read from its state file.
fn sim_rc_conf(state: &Path) -> String {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(state).unwrap()).unwrap();
    let bytes: Vec<u8> = v["files"]["/etc/rc.conf"]["File"]
        .as_array()
        .map(|a| a.iter().map(|b| b.as_u64().unwrap() as u8).collect())
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap()
}

const STUB_RC_SUBR: &str = r#"
load_rc_config() { . "$STUB_RC_CONF"; }
warn() { echo "$0: WARNING: $*" >&2; }
checkyesno() {
	eval _v=\$$1
	case $_v in
	[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	esac
	return 1
}
run_rc_command() {
	checkyesno "$rcvar" || { echo "$name is not enabled"; return 0; }
	case "$1" in
	start) $start_cmd ;;
	stop) $stop_cmd ;;
	status) $status_cmd ;;
	esac
}
"#;

fn run_script(dir: &Path, state: &Path, arg: &str) -> (i32, String, String) {
    let o = Command::new("/bin/sh")
        .arg(dir.join("cudajail"))
        .arg(arg)
        .env("CUDAJAIL_SIM_STATE", state)
        .env("STUB_RC_CONF", dir.join("rc.conf"))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn enable_then_the_rc_script_starts_and_stops_the_jails_in_order() {
    let dir = tmp("order");
    let state = dir.join("sim.json");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/example-spec.toml");
    assert_eq!(cj(&state, &["up", "--sim", example]).0, 0);
    assert_eq!(cj(&state, &["up", "--sim"]).0, 0);
    let (code, out, err) = cj(&state, &["enable", "--sim", "llm"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("installed /usr/local/etc/rc.d/cudajail"),
        "{out}"
    );
    assert_eq!(cj(&state, &["enable", "--sim", "cuda"]).0, 0);
    let (_, out, _) = cj(&state, &["enable", "--sim", "cuda"]);
    assert!(out.contains("already started at boot"), "{out}");
    let (code, _, err) = cj(&state, &["enable", "--sim", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("nosuch is not a jail cudajail made"), "{err}");
    let rc = sim_rc_conf(&state);
    assert!(
        rc.contains("cudajail_enable=\"YES\"") && rc.contains("cudajail_list=\"llm cuda\""),
        "{rc}"
    );
    // The script as installed, with the stand-in rc.subr and the test's binary.
    let script = SCRIPT.replace(
        ". /etc/rc.subr",
        &format!(". {}", dir.join("rc.subr").display()),
    );
    std::fs::write(dir.join("cudajail"), script).unwrap();
    std::fs::write(dir.join("rc.subr"), STUB_RC_SUBR).unwrap();
    std::fs::write(
        dir.join("rc.conf"),
        format!(
            "{rc}cudajail_program=\"{}\"\ncudajail_flags=\"--sim\"\n",
            env!("CARGO_BIN_EXE_cudajail")
        ),
    )
    .unwrap();
    let (code, out, err) = run_script(&dir, &state, "stop");
    assert_eq!(code, 0, "{out}\n{err}");
    let a = out.find("Stopping CUDA jail cuda.").expect(&out);
    let b = out.find("Stopping CUDA jail llm.").expect(&out);
    assert!(a < b, "stopped in reverse order:\n{out}");
    for j in ["llm", "cuda"] {
        let (_, s, _) = cj(&state, &["status", "--sim", j]);
        assert!(s.contains("running: no"), "{j}: {s}");
    }
    let (code, out, err) = run_script(&dir, &state, "start");
    assert_eq!(code, 0, "{out}\n{err}");
    let a = out.find("Starting CUDA jail llm.").expect(&out);
    let b = out.find("Starting CUDA jail cuda.").expect(&out);
    assert!(a < b, "started in list order:\n{out}");
    for j in ["llm", "cuda"] {
        let (_, s, _) = cj(&state, &["status", "--sim", j]);
        assert!(s.contains("running: yes"), "{j}: {s}");
    }
    // disable: out of the list; the last one out turns the service off.
    assert_eq!(cj(&state, &["disable", "--sim", "llm"]).0, 0);
    let (_, out, _) = cj(&state, &["disable", "--sim", "cuda"]);
    assert!(out.contains("cudajail_enable=\"NO\""), "{out}");
    let rc = sim_rc_conf(&state);
    assert!(
        rc.contains("cudajail_list=\"\"") && rc.contains("cudajail_enable=\"NO\""),
        "{rc}"
    );
    std::fs::write(dir.join("rc.conf"), &rc).unwrap();
    let (code, out, _) = run_script(&dir, &state, "start");
    assert_eq!(code, 0);
    assert!(out.contains("cudajail is not enabled"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cudajail rc-script` prints what `enable` installs; it is valid sh.
#[test]
fn the_rc_script_is_valid_sh() {
    let (code, out, _) = cj(Path::new("/nonexistent"), &["rc-script"]);
    assert_eq!(code, 0);
    assert_eq!(out, SCRIPT);
    let dir = tmp("syntax");
    std::fs::write(dir.join("cudajail"), SCRIPT).unwrap();
    let st = Command::new("/bin/sh")
        .arg("-n")
        .arg(dir.join("cudajail"))
        .status()
        .unwrap();
    assert!(st.success());
    let _ = std::fs::remove_dir_all(&dir);
}
