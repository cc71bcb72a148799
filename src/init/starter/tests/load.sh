#!/bin/sh
# Loads an XDP object into the running kernel and attaches it to the loopback device (generic
# mode, so any kernel and no NIC will do), then detaches it. Run as root, e.g. in a guest:
#   orca run configs/ebpf-test.hcl --kernel 6.1 -- make test
# Writes the result as JUnit to build/test-results/<name>.xml and exits 1 when it failed.
set -u
obj=${1:-build/ebpf/hello.o}
name=$(basename "$obj" .o)
out=build/test-results/$name.xml
mkdir -p build/test-results

escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }

start=$(date +%s)
if log=$(ip link set dev lo xdpgeneric obj "$obj" sec xdp 2>&1) && log="$log$(ip link show dev lo 2>&1)" &&
	ip link set dev lo xdpgeneric off; then
	result='<testcase name="'"$name"'/attach_lo" classname="load.sh"/>'
	failures=0
	echo "pass $name/attach_lo"
else
	result='<testcase name="'"$name"'/attach_lo" classname="load.sh"><failure message="ip link could not attach the program">'"$(printf '%s\n' "$log" | escape)"'</failure></testcase>'
	failures=1
	echo "FAIL $name/attach_lo" >&2
	printf '%s\n' "$log" >&2
fi
took=$(($(date +%s) - start))
cat >"$out" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="load.sh" tests="1" failures="$failures">
  <testsuite name="load.sh" tests="1" failures="$failures" errors="0" skipped="0" time="$took">
    <properties><property name="kernel" value="$(uname -r)"/></properties>
    $result
  </testsuite>
</testsuites>
XML
exit "$failures"
