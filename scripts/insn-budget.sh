#!/bin/sh
# Instructions the broker executes per routed message, counted by callgrind
# (independent of the machine's load), against a committed budget.
#
# insn-budget.sh JBUSD INSN_CLIENT BUDGET_FILE [update]
#
# For each workload (W1: 1 publisher -> 1 subscriber, W2: -> 8 subscribers,
# 100-byte payloads) jbusd runs twice under callgrind with bench/insn_client,
# for N1 and N2 messages; the difference of the two totals divided by
# N2 - N1 is the cost of one message, start-up and shutdown cancelled out.
# BUDGET_FILE holds lines "W1 <instructions>"; a workload over its budget
# fails. With "update", the budget file is rewritten to the measured figures
# plus 5% (for a change that makes routing cheaper, or knowingly dearer).
set -eu
jbusd=$1
client=$2
budget=$3
mode=${4:-check}
n1=${INSN_N1:-20000}
n2=${INSN_N2:-60000}
vg=${VALGRIND:-valgrind}

dir=$(mktemp -d "${TMPDIR:-/tmp}/jbus-insn.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

# total instructions of one broker run routing n messages to k subscribers
run() {
	n=$1
	k=$2
	out=$dir/cg.$n.$k
	rm -f "$dir/ready" "$dir/s.sock"
	mkfifo "$dir/ready"
	"$vg" --tool=callgrind --callgrind-out-file="$out" --log-file="$dir/vg.log" \
		"$jbusd" -s "$dir/s.sock" --ready-fd 3 3>"$dir/ready" 2>"$dir/jbusd.log" &
	pid=$!
	read -r line <"$dir/ready"
	if [ "$line" != ready ]; then
		echo "insn-budget: jbusd did not start (see $dir/vg.log)" >&2
		exit 1
	fi
	if ! "$client" "$dir/s.sock" "$n" "$k" 100; then
		kill "$pid" 2>/dev/null
		exit 1
	fi
	kill -TERM "$pid"
	wait "$pid"
	sed -n 's/^summary: *//p; s/^totals: *//p' "$out" | head -n 1
}

status=0
new=""
for w in "W1 1" "W2 8"; do
	set -- $w
	name=$1
	k=$2
	i1=$(run "$n1" "$k")
	i2=$(run "$n2" "$k")
	per=$(( (i2 - i1) / (n2 - n1) ))
	limit=$(sed -n "s/^$name  *//p" "$budget" 2>/dev/null | head -n 1)
	if [ -z "$limit" ]; then
		echo "$name: $per instructions per published message (1 -> $k); no budget" 
		[ "$mode" = update ] || status=1
	elif [ "$per" -gt "$limit" ]; then
		echo "$name: $per instructions per published message (1 -> $k): OVER the budget of $limit"
		status=1
	else
		echo "$name: $per instructions per published message (1 -> $k), budget $limit"
	fi
	new="$new$name $(( per + per / 20 ))
"
done
if [ "$mode" = update ]; then
	printf '%s' "$new" >"$budget"
	echo "insn-budget: $budget updated"
	exit 0
fi
exit $status
