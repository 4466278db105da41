#!/bin/sh
# Run one libFuzzer target of make fuzz: run.sh TARGET SECONDS [OPTION]...
# It starts from the seeds in fuzz/corpus/TARGET (never written to) and
# the corpus of earlier runs in $FUZZ_DIR/corpus/TARGET (where new inputs
# go), with fuzz/TARGET.dict as its dictionary if there is one, and fails
# on a crash, a leak, a timeout or running out of memory: libFuzzer then
# exits non-zero and saves the input as $FUZZ_DIR/TARGET-crash-* (or
# -leak-, -timeout-, -oom-). On success it prints one line: executions,
# their rate, coverage (cov: edges, ft: features), corpus size and what
# this run added.
set -u
t=$1
secs=$2
shift 2
dir=${FUZZ_DIR:-build/fuzz}
log=$dir/$t.log

mkdir -p "$dir/corpus/$t"
echo "  FUZZ    $t for $secs s"
# a dictionary of the target's tokens, if it has one
dict=
[ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
# shellcheck disable=SC2086 # dict is one word or none
"$dir/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 $dict "$@" \
	-artifact_prefix="$dir/$t-" "$dir/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$log"
	echo "fuzz: $t FAILED (libFuzzer exit $rc); the input:" "$dir/$t"-*
	exit 1
fi
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
cov=$(printf '%s' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s' "$done_line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
# the target's own summary, if it prints one (fuzz_scan: the json-c differential)
grep -E "^fuzz_$t: +[0-9]" "$log"
echo "  $t: $(stat number_of_executed_units) execs in $secs s" \
	"($(stat average_exec_per_sec)/s), cov $cov ft $ft, corpus $corp" \
	"(+$(stat new_units_added)), peak rss $(stat peak_rss_mb) MB"
