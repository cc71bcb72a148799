# One matrix cell's report: `orca suite --json` output (or a plain command's exit status) turned
# into JUnit, with the kernel expectations applied the way orca's native backend applies them.
#
# The NixOS test script of every cell (nix/cell-test.nix) starts with this file, then calls
# `write_cell_report`. orca's tests run it directly with python3 on sample suite output, and parse
# what it writes with the same code `orca matrix run --backend nix` uses. Standard library only:
# it runs inside the NixOS test driver.
import fnmatch
import json
import os
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional


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


def suite_results(spec: Dict[str, Any], suite: Dict[str, Any]) -> List[Dict[str, Any]]:
    results = []
    for t in suite.get("tests", []):
        e = expected_failure(t["name"], spec["expectations"])
        verdict = t.get("outcome", "fail")
        results.append(
            {
                "name": t["name"],
                "verdict": verdict,
                "outcome": outcome(verdict, e is not None),
                "duration_ms": int(t.get("duration_ms") or 0),
                "message": t.get("message"),
                "log": t.get("verifier_log"),
                "expectation": describe(e) if e else None,
            }
        )
    return results


def command_results(spec: Dict[str, Any], status: int, output: str) -> List[Dict[str, Any]]:
    verdict = "pass" if status == 0 else "fail"
    return [
        {
            "name": spec["command"],
            "verdict": verdict,
            "outcome": verdict,
            "duration_ms": 0,
            "message": None if status == 0 else "exited with status %d" % status,
            "log": output[-4000:] if status != 0 else None,
            "expectation": None,
        }
    ]


def junit(spec: Dict[str, Any], release: Optional[str], results: List[Dict[str, Any]]) -> bytes:
    failures = sum(1 for r in results if r["outcome"] in ("fail", "unexpected-pass"))
    skipped = sum(1 for r in results if r["outcome"] in ("skip", "expected-fail"))
    seconds = "%.3f" % (sum(r["duration_ms"] for r in results) / 1000.0)
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", dict(name="orca", time=seconds, **counts))
    suite = ET.SubElement(root, "testsuite", dict(name=spec["id"], time=seconds, **counts))
    props = ET.SubElement(suite, "properties")
    for k, v in [
        ("orca.cell", spec["id"]),
        ("orca.kernel", spec["kernel"]),
        ("orca.release", release),
        ("orca.command", spec["command"]),
        ("orca.backend", "nix"),
    ]:
        if v is not None:
            ET.SubElement(props, "property", name=k, value=v)
    for r in results:
        case = ET.SubElement(
            suite, "testcase", name=r["name"], classname=spec["id"], time="%.3f" % (r["duration_ms"] / 1000.0)
        )
        cprops = ET.SubElement(case, "properties")
        ET.SubElement(cprops, "property", name="orca.verdict", value=r["verdict"])
        ET.SubElement(cprops, "property", name="orca.outcome", value=r["outcome"])
        if r["expectation"]:
            ET.SubElement(cprops, "property", name="orca.expectation", value=r["expectation"])
        message = r["message"] or r["expectation"] or r["outcome"]
        if r["outcome"] in ("fail", "unexpected-pass"):
            if r["outcome"] == "unexpected-pass":
                message = "passed, but expected to fail (%s)" % r["expectation"]
            failure = ET.SubElement(case, "failure", message=message, type=r["outcome"])
            failure.text = r["log"] or ""
        elif r["outcome"] in ("skip", "expected-fail"):
            ET.SubElement(case, "skipped", message=message, type=r["outcome"])
        if r["log"]:
            ET.SubElement(case, "system-out").text = r["log"]
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def write_cell_report(spec: Dict[str, Any], status: int, output: str, out_dir: str) -> List[Dict[str, Any]]:
    """Writes junit.xml, verdict (and suite.json for the suite) into out_dir; returns the results.

    A suite whose output is not its JSON report crashed: that is an error of the cell, raised so
    the test derivation fails and is not cached.
    """
    release = None
    if spec["kind"] == "suite":
        try:
            suite = json.loads(output)
        except ValueError:
            raise Exception("orca suite exited with status %d without its JSON report:\n%s" % (status, output[-4000:]))
        release = suite.get("kernel")
        results = suite_results(spec, suite)
        with open(os.path.join(out_dir, "suite.json"), "w") as f:
            json.dump(suite, f, indent=2, sort_keys=True)
    else:
        results = command_results(spec, status, output)
    with open(os.path.join(out_dir, "junit.xml"), "wb") as f:
        f.write(junit(spec, release, results))
    bad = [r for r in results if r["outcome"] in ("fail", "unexpected-pass")]
    with open(os.path.join(out_dir, "verdict"), "w") as f:
        f.write("fail\n" if bad else "pass\n")
        for r in bad:
            f.write("%s: %s\n" % (r["outcome"], r["name"]))
    return results


if __name__ == "__main__":
    # For orca's tests: cell_report.py SPEC.json STATUS OUTPUT_FILE OUT_DIR
    import sys

    with open(sys.argv[1]) as f:
        spec_arg = json.load(f)
    with open(sys.argv[3]) as f:
        output_arg = f.read()
    write_cell_report(spec_arg, int(sys.argv[2]), output_arg, sys.argv[4])
