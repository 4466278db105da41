#!/bin/sh
# Runs each Check test binary given as an argument, keeps going after a
# failure, writes TAP logs to $BUILD/tests/<name>.tap and ends with one
# summary line: "N passed, N failed". With $JT_WRAP set (make
# check-valgrind), each binary runs under that command too, and a non-zero
# exit status of the wrapper marks the suite failed.
set -u
wrap=${JT_WRAP:-}
passed=0
failed=0
bad=""
for t in "$@"; do
	name=$(basename "$t")
	t0=$(date +%s)
	# JT_WRAP_ID: the wrapper's log name (jt.h); the test's own children get their own
	# shellcheck disable=SC2086 # wrap is a word list
	out=$(JT_WRAP_ID=$name CK_TAP_LOG_FILE_NAME="$BUILD/tests/$name.tap" $wrap "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	[ -n "$wrap" ] && echo "$name: $(($(date +%s) - t0)) s, exit status $rc"
	line=$(printf '%s\n' "$out" | grep -E 'Checks: [0-9]+' | tail -n 1)
	checks=$(printf '%s' "$line" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
	fails=$(printf '%s' "$line" | sed -n 's/.*Failures: \([0-9]*\).*/\1/p')
	errs=$(printf '%s' "$line" | sed -n 's/.*Errors: \([0-9]*\).*/\1/p')
	if [ -z "$checks" ]; then
		failed=$((failed + 1))
		bad="$bad $name(crashed:rc=$rc)"
		continue
	fi
	passed=$((passed + checks - fails - errs))
	failed=$((failed + fails + errs))
	if [ "$rc" -ne 0 ] || [ $((fails + errs)) -ne 0 ]; then
		bad="$bad $name"
	fi
done
[ -n "$bad" ] && echo "failing suites:$bad"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$bad" ]
