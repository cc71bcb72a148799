# One matrix cell in its guest: the test block's script run there (one shell, line
# after line, stopping at the first line that fails, as orca's native backend runs it), the JUnit
# files its `results` globs name collected from the guest, and the cell's report written as
# `junit.xml` and `verdict`, with the kernel expectations applied the way orca applies them.
#
# The NixOS test script of every host-image cell (nix/cell-test.nix) starts with this file, then
# calls `run_cell(machine, spec, out)`. Everything the guest does goes through `machine.execute`,
# so the same code runs with a `LocalMachine` (a shell where this runs):
# `python3 cell_report.py SPEC.json OUT_DIR`. A cell on a distro image (nix/image-cell-test.nix)
# runs it that way inside the image's VM, after the provision; orca's tests run it on the host, in
# a temporary directory, on real scripts and real JUnit files. Standard library only: it runs
# inside the NixOS test driver and on any guest with nixpkgs' python3 in its store.
import fnmatch
import json
import os
import shlex
import subprocess
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Tuple

# How many lines of the script's output a failure message quotes (orca's native backend: 20).
TAIL_LINES = 20
# `timeout` (coreutils), which the NixOS test driver wraps each command in, exits 124 on expiry.
TIMED_OUT = 124


def expected_failure(name: str, expectations: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The first expectation that marks `name` as expected to fail on this cell's kernel.

    The list holds only expectations whose min_kernel is above the cell's kernel: the Nix side
    (nix/lib/matrix.nix, `expectationsFor`) picks those, so only the glob is matched here.
    """
    for e in expectations:
        if fnmatch.fnmatchcase(name, e["test"]):
            return e
    return None


def describe(e: Dict[str, Any]) -> str:
    reason = e.get("reason")
    if reason:
        return "needs kernel >= %s: %s" % (e["min_kernel"], reason)
    return "needs kernel >= %s" % e["min_kernel"]


def outcome(verdict: str, expected_to_fail: bool) -> str:
    if verdict == "skip":
        return "skip"
    if verdict == "pass":
        return "unexpected-pass" if expected_to_fail else "pass"
    return "expected-fail" if expected_to_fail else "fail"


def is_failure(o: str) -> bool:
    return o in ("fail", "unexpected-pass")


def of_tests(outcomes: List[str]) -> str:
    """A cell's outcome from its tests' (orca's `Outcome::of_tests`)."""
    rank = {"skip": 0, "pass": 1, "unavailable": 2, "error": 3, "unexpected-pass": 4, "fail": 5}
    worst = "skip"
    for o in outcomes:
        o = "pass" if o == "expected-fail" else o
        if rank[o] > rank[worst]:
            worst = o
    return worst


def step_file(spec: Dict[str, Any]) -> str:
    """Where the guest keeps the index and status of the line that failed: beside the project."""
    return spec["project_dir"].rstrip("/") + ".failed-line"


def script_text(commands: List[str], step: str) -> str:
    """The script as orca runs it: each line `eval`ed in one shell, the shell's state carried from
    line to line, stopping at the first line that fails. The failing line's index and status go to
    `step`; a line that ends the shell itself (`exit 3`) leaves no such record."""
    lines = ["rm -f %s" % shlex.quote(step)]
    for i, c in enumerate(commands):
        lines.append("eval %s" % shlex.quote(c))
        lines.append(
            "__orca_rc=$?; if [ $__orca_rc -ne 0 ]; then echo %d $__orca_rc > %s; exit $__orca_rc; fi"
            % (i, shlex.quote(step))
        )
    return "\n".join(lines) + "\n"


def list_program(globs: List[str]) -> str:
    """For each glob, `F <path>` per file it matches in the working directory, else `N <glob>`
    (orca's `run::results::list_program`)."""
    s = ""
    for g in globs:
        pattern = "".join(c if (c.isascii() and c.isalnum()) or c in "*?[]/._-" else "\\" + c for c in g)
        s += (
            "n=0; for f in %s; do if [ -f \"$f\" ]; then printf 'F %%s\\n' \"$f\"; n=1; fi; done; "
            "[ $n = 1 ] || printf 'N %%s\\n' %s\n" % (pattern, shlex.quote(g))
        )
    return s


def tail(output: str) -> str:
    lines = output.rstrip("\n").split("\n")
    return "\n".join(lines[-TAIL_LINES:])


def script_result(spec: Dict[str, Any], status: int, step: str, output: str) -> Tuple[str, Optional[str]]:
    """The script's outcome alone (pass, fail or error) and, when it did not pass, why."""
    if status == 0:
        return "pass", None
    if status == TIMED_OUT:
        return "error", "the script did not finish within its timeout of %d s" % spec["timeout_secs"]
    commands = spec["commands"]
    parts = step.split()
    if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) < len(commands):
        i = int(parts[0])
        msg = "line %d of %d `%s` exited with status %s" % (i + 1, len(commands), commands[i], parts[1])
    else:
        msg = "the script exited with status %d" % status
    if output.strip():
        msg += "; its output ended with:\n" + tail(output)
    return "fail", msg


def parse_junit(path: str, text: str) -> List[Dict[str, Any]]:
    """The test cases of a JUnit document (`<testsuites>` or a lone `<testsuite>`)."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        raise ValueError("the result file %s is not JUnit XML: %s" % (path, e))
    if root.tag not in ("testsuites", "testsuite"):
        raise ValueError("the result file %s is not JUnit XML: its root is <%s>" % (path, root.tag))
    cases = []
    for case in root.iter("testcase"):
        verdict, message, log = "pass", None, None
        for child in case:
            if child.tag in ("failure", "error"):
                verdict, message, log = "fail", child.get("message"), (child.text or None)
            elif child.tag == "skipped" and verdict == "pass":
                verdict, message = "skip", child.get("message")
        try:
            ms = int(round(float(case.get("time") or 0) * 1000))
        except ValueError:
            ms = 0
        cases.append({"name": case.get("name", ""), "verdict": verdict, "message": message or None,
                      "log": log, "duration_ms": ms})
    return cases


def tests_of(spec: Dict[str, Any], files: List[Tuple[str, str]]) -> List[Dict[str, Any]]:
    results = []
    for path, text in files:
        for t in parse_junit(path, text):
            e = expected_failure(t["name"], spec["expectations"])
            o = outcome(t["verdict"], e is not None)
            message = t["message"]
            if o == "unexpected-pass":
                message = "passed although expected to fail: the expectation is out of date"
            elif o == "pass":
                message = None
            results.append(dict(t, outcome=o, message=message, expectation=describe(e) if e else None))
    return results


def judge(spec: Dict[str, Any], script: Tuple[str, Optional[str]], collected: Any) -> Dict[str, Any]:
    """The cell: its tests, outcome and message, from the script's result and what was collected
    (a list of (path, text), or the reason nothing could be). The rules of orca's native backend
    (`run::classify::script`): a failing test fails the cell; a failing line fails it too unless
    every failure it reported was an expected one; missing or broken result files are an error."""
    s_outcome, s_message = script
    if isinstance(collected, str):
        return {
            "outcome": s_outcome if is_failure(s_outcome) else "error",
            "message": "%s; and %s" % (s_message, collected) if s_message else collected,
            "tests": [],
            "results_error": collected,
        }
    try:
        tests = tests_of(spec, collected)
    except ValueError as e:
        return judge(spec, script, str(e))
    message = s_message
    o = of_tests([t["outcome"] for t in tests])
    failed = s_outcome != "pass"
    foreseen = (
        failed
        and any(t["outcome"] == "expected-fail" for t in tests)
        and all(not is_failure(t["outcome"]) and t["outcome"] != "error" for t in tests)
    )
    if failed and not foreseen and not is_failure(o):
        o = s_outcome
    elif foreseen:
        message = None
    if not tests:
        o = s_outcome
        if s_outcome == "pass" and spec["results"]:
            message = "the result files hold no test cases"
    return {"outcome": o, "message": message, "tests": tests, "results_error": None}


def junit(spec: Dict[str, Any], release: Optional[str], script: Tuple[str, Optional[str]], cell: Dict[str, Any]) -> bytes:
    tests = cell["tests"]
    cases = list(tests)
    if not cases:
        # No test cases to show: the script is the one case, so a JUnit reader sees the cell.
        cases = [{"name": spec["command"], "verdict": script[0], "outcome": cell["outcome"], "duration_ms": 0,
                  "message": cell["message"], "log": None, "expectation": None, "script": True}]
    failures = sum(1 for r in cases if is_failure(r["outcome"]))
    errors = sum(1 for r in cases if r["outcome"] == "error")
    skipped = sum(1 for r in cases if r["outcome"] in ("skip", "expected-fail"))
    seconds = "%.3f" % (sum(r["duration_ms"] for r in cases) / 1000.0)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors), "skipped": str(skipped)}
    root = ET.Element("testsuites", dict(name="orca", time=seconds, **counts))
    suite = ET.SubElement(root, "testsuite", dict(name=spec["id"], time=seconds, **counts))
    props = ET.SubElement(suite, "properties")
    for k, v in [
        ("orca.cell", spec["id"]),
        ("orca.kernel", spec["kernel"]),
        ("orca.release", release),
        ("orca.command", spec["command"]),
        ("orca.backend", "nix"),
        ("orca.script", script[0]),
        ("orca.outcome", cell["outcome"]),
        ("orca.message", cell["message"]),
        ("orca.results-error", cell["results_error"]),
    ]:
        if v is not None:
            ET.SubElement(props, "property", name=k, value=v)
    for r in cases:
        case = ET.SubElement(
            suite, "testcase", name=r["name"], classname=spec["id"], time="%.3f" % (r["duration_ms"] / 1000.0)
        )
        cprops = ET.SubElement(case, "properties")
        if r.get("script"):
            ET.SubElement(cprops, "property", name="orca.kind", value="script")
        ET.SubElement(cprops, "property", name="orca.verdict", value=r["verdict"])
        ET.SubElement(cprops, "property", name="orca.outcome", value=r["outcome"])
        if r["expectation"]:
            ET.SubElement(cprops, "property", name="orca.expectation", value=r["expectation"])
        message = r["message"] or r["expectation"] or r["outcome"]
        if is_failure(r["outcome"]) or r["outcome"] == "error":
            kind = "error" if r["outcome"] == "error" else "failure"
            failure = ET.SubElement(case, kind, message=message.split("\n")[0], type=r["outcome"])
            failure.text = r["log"] or (message if "\n" in message else "")
        elif r["outcome"] in ("skip", "expected-fail"):
            ET.SubElement(case, "skipped", message=message.split("\n")[0], type=r["outcome"])
        if r["log"]:
            ET.SubElement(case, "system-out").text = r["log"]
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write_cell_report(spec: Dict[str, Any], release: Optional[str], script: Tuple[str, Optional[str]],
                      collected: Any, out_dir: str) -> Dict[str, Any]:
    """Writes junit.xml and verdict into out_dir; returns the judged cell."""
    cell = judge(spec, script, collected)
    with open(os.path.join(out_dir, "junit.xml"), "wb") as f:
        f.write(junit(spec, release, script, cell))
    bad = [t for t in cell["tests"] if is_failure(t["outcome"])]
    with open(os.path.join(out_dir, "verdict"), "w") as f:
        f.write("pass\n" if cell["outcome"] in ("pass", "skip") else "fail\n")
        if cell["message"]:
            f.write(cell["message"] + "\n")
        for t in bad:
            f.write("%s: %s\n" % (t["outcome"], t["name"]))
    return cell


def collect(machine: Any, spec: Dict[str, Any], out_dir: str) -> Any:
    """The result files the globs match where the script ran, read from the guest and kept in
    out_dir/results/; or why they could not be had."""
    if not spec["results"]:
        return []
    cd = "cd %s && " % shlex.quote(spec["workdir"])
    status, listing = machine.execute(cd + list_program(spec["results"]), timeout=120)
    if status != 0:
        return "listing the result files failed with status %d: %s" % (status, listing.strip())
    files, unmatched = [], []
    for line in listing.splitlines():
        if line.startswith("F ") and line[2:] not in files:
            files.append(line[2:])
        elif line.startswith("N "):
            unmatched.append(line[2:])
    if unmatched:
        return ("the result file glob \"%s\" matched no file where the script ran "
                "(did it write its JUnit there?)" % unmatched[0])
    kept = os.path.join(out_dir, "results")
    os.makedirs(kept, exist_ok=True)
    read = []
    for n, path in enumerate(files):
        status, text = machine.execute(cd + "cat " + shlex.quote(path), timeout=120)
        if status != 0:
            return "cannot read the result file %s" % path
        with open(os.path.join(kept, "%d-%s" % (n, os.path.basename(path))), "w") as f:
            f.write(text)
        read.append((path, text))
    return read


def run_cell(machine: Any, spec: Dict[str, Any], out_dir: str) -> Dict[str, Any]:
    """After boot: a writable copy of the project (spec `source`, with the flake's objects and
    guest files in place) at `project_dir`, the script in `workdir` with CI=true, the results
    collected, the report written. A guest that cannot copy the project raises: the test fails
    and is not cached."""
    q = shlex.quote
    project = spec["project_dir"]
    status, output = machine.execute(
        "rm -rf {p} && mkdir -p {p} && cp -R {s}/. {p}/ && chmod -R u+w {p} 2>&1".format(p=q(project), s=q(spec["source"])),
        timeout=120,
    )
    if status != 0:
        raise Exception("copying the project into %s failed with status %d:\n%s" % (project, status, output))
    run = "cd %s && CI=true sh -c %s 2>&1" % (q(spec["workdir"]), q(script_text(spec["commands"], step_file(spec))))
    status, output = machine.execute(run, timeout=spec["timeout_secs"])
    _, step = machine.execute("cat %s 2>/dev/null || true" % q(step_file(spec)), timeout=60)
    _, release = machine.execute("uname -r", timeout=60)
    with open(os.path.join(out_dir, "output.txt"), "w") as f:
        f.write(output)
    script = script_result(spec, status, step, output)
    return write_cell_report(spec, release.strip() or None, script, collect(machine, spec, out_dir), out_dir)


class LocalMachine:
    """`machine.execute` of the NixOS test driver (`bash -c 'set -euo pipefail; …'` under
    `timeout`, stdout only), on the machine this runs on: a distro image's VM (its own bash and
    timeout) for image cells, the host for orca's tests of this file."""

    def execute(self, command: str, timeout: int = 900) -> Tuple[int, str]:
        p = subprocess.run(["timeout", str(timeout), "bash", "-c", "set -euo pipefail; " + command],
                           stdout=subprocess.PIPE)
        return p.returncode, p.stdout.decode("utf-8", "replace")


if __name__ == "__main__":
    # cell_report.py SPEC.json OUT_DIR: the cell run where this runs (an image cell's guest, or the
    # host in orca's tests).
    import sys

    with open(sys.argv[1]) as f:
        spec_arg = json.load(f)
    run_cell(LocalMachine(), spec_arg, sys.argv[2])
