//! The `cudajail` binary as a user runs it: output, JSON and exit codes.

use std::process::Command;

/// A state file for the simulated host no other test uses.
fn fresh_state() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "cudajail-cli-sim-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&p);
    p
}

/// Runs cudajail on its own fresh simulated host (when `--sim` is given).
fn cj(args: &[&str]) -> (i32, String, String) {
    cj_on(&fresh_state(), args)
}

/// Runs cudajail with the simulated host kept in `state`.
fn cj_on(state: &std::path::Path, args: &[&str]) -> (i32, String, String) {
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

#[test]
fn plan_prints_every_step() {
    let (code, out, _) = cj(&["plan"]);
    assert_eq!(code, 0);
    for s in [
        "[host]",
        "[dataset]",
        "[template]",
        "[devfs]",
        "[mounts]",
        "[jail]",
        "[nvidia]",
        "[uvm]",
        "[verify]",
    ] {
        assert!(out.contains(s), "{s} missing:\n{out}");
    }
}

#[test]
fn plan_json_is_machine_readable() {
    let (code, out, _) = cj(&["plan", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "cuda");
    assert_eq!(v["steps"].as_array().unwrap().len(), 10);
    assert_eq!(v["steps"][2]["id"], "recipe-template");
    assert_eq!(v["steps"][4]["id"], "devfs");
    assert_eq!(v["recipe_template"], serde_json::Value::Null);
}

#[test]
fn exact_plan_lists_the_changing_calls_of_up_on_a_copy() {
    let (code, out, err) = cj(&["plan", "--exact", "--sim", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["would_succeed"], true);
    let calls = v["calls"].as_array().unwrap();
    let verbs: Vec<&str> = calls.iter().map(|c| c["verb"].as_str().unwrap()).collect();
    // The order `up` takes: dataset before devfs rules before mounts before the jail.
    let pos = |verb: &str| verbs.iter().position(|v| *v == verb).unwrap();
    assert!(pos("ZfsClone") < pos("DevfsAddRule"));
    assert!(pos("DevfsAddRule") < pos("Mount"));
    assert!(pos("Mount") < pos("JailCreate"));
    assert!(calls.iter().all(|c| c["changes_host"] == true));
    assert!(!verbs.contains(&"JailList"), "queries are not listed");
    // Human form: repeated calls folded, and the verdict.
    let (code, out, _) = cj(&["plan", "--exact", "--sim"]);
    assert_eq!(code, 0);
    assert!(out.contains("JailCreate       cuda"), "{out}");
    assert!(out.contains("DevfsAddRule     /dev (x"), "{out}");
    assert!(out.trim_end().ends_with("and would succeed."), "{out}");
    // `--sim` without `--exact` is a usage error.
    let (code, _, _) = cj(&["plan", "--sim"]);
    assert_eq!(code, 2);
}

#[cfg(not(target_os = "freebsd"))]
#[test]
fn exact_plan_of_a_real_host_needs_freebsd() {
    let (code, _, err) = cj(&["plan", "--exact"]);
    assert_eq!(code, 1);
    assert!(err.contains("--sim"), "{err}");
}

#[test]
fn up_reports_what_cuda_sees_and_the_check_can_be_run_again() {
    let st = fresh_state();
    let cj = |a: &[&str]| cj_on(&st, a);
    let (code, out, err) = cj(&["up", "--sim"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("verify    applied: CUDA 12.8 (driver 580.95.05) works inside the jail"),
        "{out}"
    );
    let (code, out, err) = cj(&[
        "exec",
        "--sim",
        "cuda",
        "--",
        "/usr/local/lib/cudajail/cuda-probe",
    ]);
    assert_eq!(code, 0, "{err}");
    let r = cudajail::shim::parse_probe(&out).unwrap();
    assert_eq!(r.gpus.len(), 1);
    assert!(r.gpus[0].ctx_ok);
}

#[test]
fn the_example_spec_in_docs_is_valid_with_and_without_the_installer() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/example-spec.toml");
    let (code, out, err) = cj(&["plan", path]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("jail \"llm\""), "{out}");
    assert!(out.contains("models"), "the binds are planned: {out}");
    let text = std::fs::read_to_string(path).unwrap();
    let with_run = text.replace("# nvidia_run", "nvidia_run");
    let dir = std::env::temp_dir().join(format!("cj-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("spec.toml");
    std::fs::write(&p, with_run).unwrap();
    let (code, out, err) = cj(&["plan", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("run /root/NVIDIA-Linux-x86_64-580.95.05.run inside the jail"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_spec_is_a_usage_error_listing_every_problem() {
    let dir = std::env::temp_dir().join(format!("cj-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bad.toml");
    std::fs::write(&p, "name = \"a/b\"\nsuite = \"sid\"\n").unwrap();
    let (code, _, err) = cj(&["plan", p.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 2);
    assert!(
        err.contains("2 problem(s)") && err.contains("name:") && err.contains("suite:"),
        "{err}"
    );
    assert!(err.contains("hint:"));
    let (code, _, _) = cj(&["frobnicate"]);
    assert_eq!(code, 2, "unknown subcommand is a usage error");
    let (code, _, err) = cj(&["plan", "/nonexistent/spec.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read spec"));
}

#[test]
fn doctor_sees_the_simulated_host_up_works_on() {
    // The fresh simulated host is a ready one: doctor passes there, as up does.
    let (code, out, err) = cj(&["doctor", "--sim", "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("on the simulated host"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let linux64 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "module:linux64")
        .unwrap();
    assert_eq!(linux64["status"], "ok");
}

#[test]
fn export_writes_four_files_and_never_overwrites() {
    let dir = std::env::temp_dir().join(format!("cj-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, "gpus = [0]\n").unwrap();
    let out = dir.join("out");
    let (code, text, err) = cj(&[
        "export",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("wrote"));
    assert!(
        text.contains("/etc/jail.conf.d/cuda.conf") && text.contains("service jail start cuda"),
        "export says how to install what it wrote:\n{text}"
    );
    for f in ["jail.conf", "devfs.rules", "fstab", "cdi.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let (code, _, err) = cj(&[
        "export",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not overwriting"));
    // The exported jail.conf is already in canonical form.
    let (code, _, err) = cj(&["fmt", "--check", out.join("jail.conf").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.join("messy.conf"), "a{path=/x;persist;}").unwrap();
    let (code, _, _) = cj(&["fmt", "--check", dir.join("messy.conf").to_str().unwrap()]);
    assert_eq!(code, 1);
    let (code, text, _) = cj(&["fmt", dir.join("messy.conf").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(text, "a {\n\tpath = /x;\n\tpersist;\n}\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn up_list_destroy_on_the_simulated_host() {
    let st = fresh_state();
    let cj = |a: &[&str]| cj_on(&st, a);
    let (code, out, err) = cj(&["up", "--sim", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 10);
    let (code, out, _) = cj(&["list", "--sim", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "cuda");
    assert_eq!(v[0]["mounts"], 5);
    let (code, out, _) = cj(&["destroy", "--sim"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("destroyed zroot/cudajail/cuda")
            && !out.contains("unmounted /zroot/cudajail/cuda\n"),
        "{out}"
    );
    let (code, _, err) = cj(&["up"]);
    if cfg!(not(target_os = "freebsd")) {
        assert_eq!(code, 1);
        assert!(err.contains("--sim"), "{err}");
    }
}

#[test]
fn lifecycle_commands_by_name_on_one_persistent_simulated_host() {
    let st = fresh_state();
    let cj = |a: &[&str]| cj_on(&st, a);
    // A fresh simulated host: no jail yet.
    let (code, _, err) = cj(&["status", "--sim", "cuda"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cuda is neither a spec file nor a jail cudajail made"),
        "{err}"
    );
    let (code, out, _) = cj(&["list", "--sim", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"));
    // up from the example spec (user alice mirrored, her directories bound).
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/example-spec.toml");
    let (code, out, err) = cj(&["up", "--sim", example]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("on the simulated host"), "{err}");
    // Everything else by name, without the spec file.
    let (code, out, err) = cj(&["status", "--sim", "llm"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("running: yes") && out.contains("mounts:  7"),
        "{out}"
    );
    let (code, out, err) = cj(&["exec", "--sim", "-u", "alice", "llm", "--", "id", "-un"]);
    assert_eq!((code, out.as_str()), (0, "alice\n"), "{err}");
    let (code, _, err) = cj(&["exec", "--sim", "-u", "bob", "llm", "--", "id", "-un"]);
    assert_eq!(code, 1);
    assert!(err.contains("user bob does not exist"), "{err}");
    let (code, out, err) = cj(&["console", "--sim", "-u", "alice", "llm"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("would open a login shell in jail llm") && out.contains("runuser -l alice"),
        "{out}"
    );
    let (code, _, err) = cj(&["console", "--sim", "-u", "bob", "llm"]);
    assert_eq!(code, 1);
    assert!(err.contains("users = [\"bob\"]"), "{err}");
    let (code, out, _) = cj(&["stop", "--sim", "llm"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("removed jail llm") && out.contains("unmounted /zroot/cudajail/llm/dev"),
        "{out}"
    );
    let (code, out, _) = cj(&["status", "--sim", "llm"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("running: no") && out.contains("mounts:  0"),
        "{out}"
    );
    let (code, _, err) = cj(&["exec", "--sim", "llm", "--", "true"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not running; start it with `cudajail start llm`"),
        "{err}"
    );
    let (code, out, err) = cj(&["start", "--sim", "llm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("jail      applied"), "{out}");
    let (code, out, _) = cj(&["list", "--sim", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v[0]["name"].as_str(), v[0]["jid"].is_number()),
        (Some("llm"), true)
    );
    let (code, out, err) = cj(&["sync-driver", "--sim", "llm"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("installed /usr/lib/x86_64-linux-gnu/libcuda.so.580.105.08"),
        "{out}"
    );
    let (code, _, err) = cj(&["exec", "--sim", "llm", "--", "nvidia-smi"]);
    assert_eq!(code, 1);
    assert!(err.contains("nvidia-smi exited with 127"), "{err}");
    let (code, out, err) = cj(&["destroy", "--sim", "llm"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("destroyed zroot/cudajail/llm"), "{out}");
    let (code, out, _) = cj(&["list", "--sim", "--json"]);
    assert_eq!((code, out.trim()), (0, "[]"));
    // A path that is not there is a spec problem, not a jail name.
    let (code, _, err) = cj(&["stop", "--sim", "./nope.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read spec ./nope.toml"), "{err}");
}

/// A corrupt state file is a clear error that names the fix; nothing is overwritten.
#[test]
fn a_corrupt_simulated_host_is_refused_with_the_fix() {
    let st = fresh_state();
    std::fs::write(&st, b"{not json").unwrap();
    let (code, _, err) = cj_on(&st, &["list", "--sim"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("delete the file to start from a fresh simulated host"),
        "{err}"
    );
    assert_eq!(std::fs::read(&st).unwrap(), b"{not json");
    let _ = std::fs::remove_file(&st);
}

#[test]
fn completions_and_man_page() {
    let (code, out, _) = cj(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("_cudajail()") && out.contains("sync-driver"));
    let (code, out, _) = cj(&["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH cudajail 1") && out.contains("doctor"));
}

#[test]
fn template_commands_on_the_simulated_host() {
    let st = fresh_state();
    let cj = |a: &[&str]| cj_on(&st, a);
    let (code, _, err) = cj(&["up", "--sim"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cj(&["template", "list", "--sim", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["suite"], "noble");
    assert_eq!(v[0]["clones"][0], "zroot/cudajail/cuda");
    let (code, _, err) = cj(&["template", "rm", "noble", "--sim"]);
    assert_eq!(code, 1, "a template with a jail cloned from it stays");
    assert!(err.contains("cuda"), "{err}");
    let (code, _, err) = cj(&["destroy", "--sim", "cuda"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cj(&["template", "rm", "noble", "--sim"]);
    assert_eq!(code, 0);
    assert!(out.contains("destroyed zroot/cudajail/templates/noble"));
    let (code, _, err) = cj(&["template", "rm", "sid", "--sim"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn run_prepares_the_linuxulator_route_and_changes_nothing_host_wide() {
    let st = fresh_state();
    let cj = |a: &[&str]| cj_on(&st, a);
    let (code, out, err) = cj(&["run", "--sim", "--", "./llama-server", "-m", "model.gguf"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("ld.so.preload"), "{out}");
    assert!(
        out.contains(
            "would run: LD_PRELOAD=/usr/local/lib/cudajail/libcudajail_uvm.so ./llama-server -m model.gguf"
        ),
        "{out}"
    );
    // The host-wide install is explicit, shown by doctor, and reversible.
    let (_, out, _) = cj(&["doctor", "--sim"]);
    assert!(out.contains("not preloaded host-wide"), "{out}");
    let (code, out, err) = cj(&["run", "--sim", "--install-shim"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("every Linux program on this host loads it"),
        "{out}"
    );
    let (_, out, _) = cj(&["doctor", "--sim"]);
    assert!(out.contains("WARN uvm-shim:host-wide"), "{out}");
    let (code, out, _) = cj(&["run", "--sim", "--uninstall-shim"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("removed /compat/linux/etc/ld.so.preload"),
        "{out}"
    );
    let (code, _, _) = cj(&["run", "--sim", "--install-shim", "--", "x"]);
    assert_eq!(code, 2, "--install-shim runs no program");
    let (code, out, _) = cj(&["shim-source"]);
    assert_eq!(code, 0);
    assert!(out.contains("CJ_UVM_INITIALIZE"));
}

/// `plan --exact` fails (exit 1) when `up` would, listing what the preflight found; a fine spec
/// still exits 0.
#[test]
fn plan_exact_exits_1_when_up_would_fail() {
    let dir = std::env::temp_dir().join(format!("cudajail-cli-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "gpus = [7]\n").unwrap();
    let (code, out, err) = cj(&["plan", "--exact", "--sim", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("would fail") && out.contains("gpus: nvidia7 not on this host"),
        "{out}"
    );
    assert!(err.contains("up would fail"), "{err}");
    let (code, out, _) = cj(&["plan", "--exact", "--sim", "--json", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["would_succeed"], false);
    let (code, out, _) = cj(&["plan", "--exact", "--sim"]);
    assert_eq!(code, 0, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A reader that closes the pipe early is not a crash (it was: exit 101, a panic message).
#[test]
fn a_closed_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cudajail"))
        .args(["plan", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before reading anything
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

/// `fmt` on a missing file says so, without the spec hint.
#[test]
fn fmt_of_a_missing_file_gives_no_spec_hint() {
    let (code, _, err) = cj(&["fmt", "/nonexistent/jail.conf"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/jail.conf"), "{err}");
    assert!(!err.contains("spec field"), "{err}");
}

/// The JSON objects have the keys docs/json.md lists, and one schema wherever they appear.
#[test]
fn json_schemas_are_the_documented_ones() {
    use std::collections::BTreeSet;
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json.md"))
        .unwrap();
    let st = fresh_state();
    let cj = |a: &[&str]| cj_on(&st, a);
    assert_eq!(cj(&["up", "--sim"]).0, 0);
    let (_, status, _) = cj(&["status", "--sim", "--json", "cuda"]);
    let (_, list, _) = cj(&["list", "--sim", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(keys(&status), keys(&list[0]), "one schema for a jail");
    for k in keys(&status) {
        assert!(
            doc.contains(&format!("| `{k}` |")),
            "{k} is not in docs/json.md"
        );
    }
    assert!(status["running"].is_boolean() && status["ruleset"].is_number());
    assert!(status["journal"].is_array());
    let bad = st.with_extension("bad.toml");
    std::fs::write(&bad, "name = \"other\"\ngpus = [5]\n").unwrap();
    let (code, out, _) = cj(&["up", "--sim", "--json", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(e["ok"], false);
    assert_eq!(e["failed_step"], "preflight");
    for k in keys(&e) {
        assert!(
            doc.contains(&format!("| `{k}` |")),
            "{k} is not in docs/json.md"
        );
    }
    let _ = std::fs::remove_file(&bad);
}

/// Recipes are listed, planned, and an unknown one is a usage error naming the others.
#[test]
fn recipes_are_listed_and_planned() {
    let (code, out, _) = cj(&["recipes"]);
    assert_eq!(code, 0);
    for r in ["pytorch", "llama-cpp", "comfyui"] {
        assert!(out.contains(r), "{out}");
    }
    let dir = std::env::temp_dir().join(format!("cudajail-cli-recipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("r.toml");
    std::fs::write(&spec, "recipe = \"llama-cpp\"\n").unwrap();
    let (code, out, err) = cj(&["plan", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[recipe] llama-cpp") && out.contains("cmake -B build -DGGML_CUDA=ON"),
        "{out}"
    );
    std::fs::write(&spec, "recipe = \"tensorflow\"\n").unwrap();
    let (code, _, err) = cj(&["plan", spec.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "recipe: no recipe \"tensorflow\"; the recipes are pytorch, llama-cpp, comfyui"
        ),
        "{err}"
    );
    let (code, _, err) = cj(&["up", "--sim", "--recipe", "tensorflow"]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Any `--json` command reports a failure as JSON on standard output too.
#[test]
fn json_commands_fail_in_json() {
    for args in [
        &["status", "--sim", "--json", "nosuch"][..],
        &["list", "--json"][..],
        &["devfs", "check", "--json", "/nonexistent/devfs.rules"][..],
    ] {
        let (code, out, err) = cj(args);
        assert_ne!(code, 0, "{args:?}");
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?} {err}"));
        assert_eq!(v["ok"], false, "{args:?}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{args:?}"
        );
    }
}

#[test]
fn conf_show_resolves_jail_by_jail_with_and_without_includes() {
    let dir = std::env::temp_dir().join(format!("cj-confshow-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("d")).unwrap();
    let main = dir.join("jail.conf");
    std::fs::write(
        &main,
        "path = \"/jails/$name\";\npersist;\na { ip4.addr = 192.0.2.1; }\nb { $v = x; host.hostname = \"$v.$name\"; }\n",
    )
    .unwrap();
    // No include: resolved one jail at a time.
    let (code, out, err) = cj(&["conf", "show", "--sep", ",", main.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim_end(),
        "name=a,path=/jails/a,persist,ip4.addr=192.0.2.1\nname=b,path=/jails/b,persist,host.hostname=x.b"
    );
    let (code, json, _) = cj(&["conf", "show", "--json", main.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v[1]["params"][3],
        serde_json::json!(["host.hostname", ["x.b"]])
    );
    // With an include: the included jail appears after the including file's.
    std::fs::write(dir.join("d/c.conf"), "c { ip4.addr = 192.0.2.3; }\n").unwrap();
    let mut text = std::fs::read_to_string(&main).unwrap();
    text.push_str(".include \"d/*.conf\";\n");
    std::fs::write(&main, text).unwrap();
    let (code, out, err) = cj(&["conf", "show", main.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.lines()
            .nth(2)
            .unwrap()
            .starts_with("name=c path=/jails/c"),
        "{out}"
    );
    // A resolve error names the file, line and column.
    std::fs::write(&main, "a {\n  path = \"$nope\";\n}\n").unwrap();
    let (code, _, err) = cj(&["conf", "show", main.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("jail.conf:2:3: variable \"nope\" not found"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
