//! The pure-Nix unit tests in nix/tests, evaluated without nixpkgs:
//! `nix-instantiate --eval --strict -E 'import ./nix/tests { }'`.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn eval(expr: &str) -> Option<std::process::Output> {
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "-E", expr])
        .current_dir(root())
        .output();
    match out {
        Ok(o) => Some(o),
        Err(_) => {
            orca::ci::skip_or_fail("nix-instantiate is not installed (bash .ci/setup installs nix-bin)");
            None
        }
    }
}

#[test]
fn nix_unit_tests_pass() {
    let Some(out) = eval("import ./nix/tests { }") else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Nix unit tests passed"), "{stdout}");
    let n: usize = stdout
        .trim()
        .trim_matches('"')
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 25, "{stdout}");
}

#[test]
fn a_failing_nix_unit_test_is_reported() {
    // The runner over a deliberately wrong test: it must fail and name the test.
    let expr = r#"let lib = import ./nix/tests/stub-lib.nix; m = import ./nix/lib/matrix.nix { inherit lib; };
      tests = { wrong = { expr = m.versionAttr "6.1"; expected = "6.1"; }; };
      failed = builtins.filter (n: tests.${n}.expr != tests.${n}.expected) (builtins.attrNames tests);
    in if failed == [ ] then "ok" else throw "FAIL ${builtins.head failed}""#;
    let Some(out) = eval(expr) else { return };
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAIL wrong"));
}

#[test]
fn the_clang_command_line_compiles_with_this_hosts_clang() {
    // nix/lib/clang.nix's command with Debian's headers in place of the flake's: the flags the
    // flake passes are flags the pinned clang major accepts, and the object keeps no include path.
    let Some(_) = eval("1") else { return };
    let toolchain: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("nix/generated/toolchain.json")).unwrap()).unwrap();
    let pinned = format!("clang-{}", toolchain["clang_major"]);
    let Ok(clang) = which(&pinned) else {
        orca::ci::skip_or_fail(format!("{pinned} is not installed"));
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ebpf/include")).unwrap();
    std::fs::write(dir.path().join("ebpf/include/probe.h"), "#define ORCA_PROBE 1\n").unwrap();
    std::fs::write(
        dir.path().join("ebpf/probe.c"),
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include \"probe.h\"\n\
         SEC(\"xdp\") int probe(struct xdp_md *ctx) { return XDP_PASS + ORCA_PROBE - 1; }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    )
    .unwrap();
    let tc = std::fs::read_to_string(root().join("nix/generated/toolchain.json")).unwrap();
    let expr = format!(
        r#"let c = import {root}/nix/lib/clang.nix {{ lib = import {root}/nix/tests/stub-lib.nix; }}; in
        c.clangCommand {{
          clang = "{clang}"; extra = [ "-ffile-prefix-map=$PWD=." ];
          toolchain = builtins.fromJSON ''{tc}'';
          program = {{ name = "probe"; source = "ebpf/probe.c"; object = "build/ebpf/probe.o"; cflags = [ ]; }};
          systemIncludes = [ "/usr/include/x86_64-linux-gnu" "/usr/include" ];
          prefixMaps = [ {{ from = "/usr/include"; to = "/include"; }} ];
        }}"#,
        root = root().display(),
        clang = clang.display(),
    );
    let Some(out) = eval(&expr) else { return };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: String = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let run = Command::new("sh")
        .args(["-c", &line])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{line}\n{}", String::from_utf8_lossy(&run.stderr));
    let obj = std::fs::read(dir.path().join("probe.o")).unwrap();
    assert_eq!(&obj[..4], b"\x7fELF");
    let text = String::from_utf8_lossy(&obj);
    assert!(
        !text.contains("/usr/include"),
        "an include path survived the prefix maps"
    );
    assert!(
        !text.contains(&dir.path().display().to_string()),
        "the build directory survived the prefix map"
    );
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.is_file()))
        .ok_or(())
}
