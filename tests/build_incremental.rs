//! Incremental builds with the real clang: what a rebuild compiles after each kind of change.

mod build_support;

use build_support::{Project, compiled, outcomes};

fn outcome_list(s: &serde_json::Value) -> Vec<(String, String)> {
    outcomes(s).into_iter().collect()
}

#[test]
fn a_no_op_rebuild_runs_clang_zero_times() {
    let p = Project::new("ebpf-basic", "proj");
    let first = p.build(&[]);
    assert_eq!(compiled(&first), 3);
    let objects = p.objects();
    assert_eq!(objects.len(), 3);

    let again = p.build(&[]);
    assert_eq!(compiled(&again), 0, "{again:#}");
    assert_eq!(again["up_to_date"], 3);
    assert_eq!(p.objects(), objects);
    // The summary still describes what each object holds.
    let xdp = &again["programs"][0];
    assert_eq!(xdp["info"]["programs"][0]["section"], "xdp");
    assert_eq!(xdp["info"]["maps"][0]["name"], "counters");
}

#[test]
fn a_shared_header_change_rebuilds_exactly_the_programs_that_include_it() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let before = p.objects();

    // One line: the counter array grows from 4 to 8 slots.
    let h = p
        .read("ebpf/include/counters.h")
        .replace("#define COUNTER_SLOTS 4", "#define COUNTER_SLOTS 8");
    p.write("ebpf/include/counters.h", &h);
    let s = p.build(&[]);
    assert_eq!(
        outcome_list(&s),
        [
            ("cg_events".to_string(), "up-to-date".to_string()),
            ("tc_mark".to_string(), "built".to_string()),
            ("xdp_count".to_string(), "built".to_string()),
        ]
    );
    assert_eq!(compiled(&s), 2);
    assert_eq!(
        s["programs"][0]["info"]["maps"][0]["max_entries"], 8,
        "the new header was compiled in"
    );
    let after = p.objects();
    assert_ne!(after["xdp_count.o"], before["xdp_count.o"]);
    assert_eq!(after["cg_events.o"], before["cg_events.o"]);

    // And then nothing.
    assert_eq!(compiled(&p.build(&[])), 0);

    // Back to 4 slots: both objects come from the cache, bytes as at first.
    let h = h.replace("#define COUNTER_SLOTS 8", "#define COUNTER_SLOTS 4");
    p.write("ebpf/include/counters.h", &h);
    let s = p.build(&[]);
    assert_eq!(compiled(&s), 0);
    assert_eq!(s["cached"], 2);
    assert_eq!(p.objects(), before);
}

#[test]
fn a_source_change_rebuilds_only_that_program() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let src = p.read("ebpf/tc_mark.c").replace("skb->mark = 42;", "skb->mark = 43;");
    p.write("ebpf/tc_mark.c", &src);
    let s = p.build(&[]);
    assert_eq!(compiled(&s), 1);
    assert_eq!(outcomes(&s)["tc_mark"], "built");
}

#[test]
fn a_flag_change_rebuilds_everything() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let cfg = p.read("configs/build.hcl").replace("\"-mcpu=v3\"", "\"-mcpu=v2\"");
    p.write("configs/build.hcl", &cfg);
    assert_eq!(compiled(&p.build(&[])), 3);
}

#[test]
fn a_deleted_or_edited_object_is_restored_without_clang() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    let before = p.objects();
    std::fs::remove_file(p.root.join("build/ebpf/xdp_count.o")).unwrap();
    std::fs::write(p.root.join("build/ebpf/tc_mark.o"), b"scribbled over").unwrap();
    let s = p.build(&[]);
    assert_eq!(compiled(&s), 0);
    assert_eq!(outcomes(&s)["xdp_count"], "cached");
    assert_eq!(outcomes(&s)["tc_mark"], "cached");
    assert_eq!(p.objects(), before);
}

#[test]
fn a_new_header_that_shadows_an_included_one_is_picked_up() {
    let p = Project::new("ebpf-basic", "proj");
    p.build(&[]);
    // ebpf/include comes before the system directories, so this now wins `<linux/pkt_cls.h>`.
    p.write(
        "ebpf/include/linux/pkt_cls.h",
        "#pragma once\n#include_next <linux/pkt_cls.h>\n#define SHADOWED 1\n",
    );
    let s = p.build(&[]);
    assert_eq!(outcomes(&s)["tc_mark"], "built");
    let record = p.read("build/ebpf/.orca/tc_mark.json");
    assert!(record.contains("ebpf/include/linux/pkt_cls.h"), "{record}");
}

#[test]
fn only_the_named_programs_are_built() {
    let p = Project::new("ebpf-basic", "proj");
    let s = p.build(&["--program", "cg_events", "-j", "1"]);
    assert_eq!(compiled(&s), 1);
    assert_eq!(p.objects().keys().collect::<Vec<_>>(), ["cg_events.o"]);

    let out = p.orca(&["build", "--program", "cg_event"]);
    assert_eq!(out.status.code(), Some(2));
    let err = build_support::text(&out.stderr);
    assert!(
        err.contains("no program named `cg_event`") && err.contains("did you mean `cg_events`"),
        "{err}"
    );
}
