#!/bin/sh
# bench-measure REPORT COMMAND [ARG...]
#
# Runs COMMAND under GNU time and writes, as KEY=VALUE lines, to REPORT:
#   exit         COMMAND's exit status
#   wall_ns      wall time from just before the start to the exit, in ns
#   user_s sys_s CPU time of COMMAND and every process it waited for
#   tree_rss_kb  peak RSS of the largest process in that tree (GNU time's
#                "Maximum resident set size": the kernel's ru_maxrss, which
#                for a parent that waits for children is the largest of them)
#   own_rss_kb   COMMAND's own peak RSS (VmHWM), sampled every 100 ms: for the
#                agent this excludes its pg_dump child. It is a high-water
#                mark, so sampling misses only growth in the last 100 ms.
#   own_cpu_s    COMMAND's own CPU time, user+sys of all its threads but not
#                of its children (utime+stime, fields 14 and 15 of
#                /proc/PID/stat), sampled in the same loop: for the agent
#                this is the pipeline's cost without pg_dump's. A finished
#                COMMAND stays readable as a zombie until GNU time reaps it,
#                so the last sample usually holds the final figure; at worst
#                it misses the last 100 ms.
# COMMAND's output passes through. The exit status is COMMAND's.
set -u

if [ "$#" -lt 2 ]; then
	echo "usage: bench-measure REPORT COMMAND [ARG...]" >&2
	exit 2
fi
report=$1
shift
timed=$(mktemp)
hz=$(getconf CLK_TCK)

# own_ticks sets ticks to utime+stime from the stat line $1. The command's
# name, field 2, is in parentheses and may hold spaces: the fields are
# counted from after its closing parenthesis, where field 3 is the first.
own_ticks() {
	set -- ${1##*) }
	[ "$#" -ge 13 ] && ticks=$((${12} + ${13}))
}

start=$(date +%s%N)
/usr/bin/time -v -o "$timed" "$@" &
tpid=$!
child=
hwm=0
ticks=0
cpu=0
# Poll until GNU time has exited (a zombie until we wait for it).
while :; do
	state=Z
	read -r _ _ state _ 2>/dev/null <"/proc/$tpid/stat" || state=Z
	[ "$state" = Z ] && break
	if [ -z "$child" ]; then
		read -r child _ 2>/dev/null <"/proc/$tpid/task/$tpid/children" || true
	fi
	if [ -n "$child" ] && [ -r "/proc/$child/status" ]; then
		while read -r key value _; do
			if [ "$key" = VmHWM: ] && [ "$value" -gt "$hwm" ]; then
				hwm=$value
			fi
		done 2>/dev/null <"/proc/$child/status"
	fi
	if [ -n "$child" ] && read -r line 2>/dev/null <"/proc/$child/stat"; then
		own_ticks "$line"
		[ "$ticks" -gt "$cpu" ] && cpu=$ticks
	fi
	sleep 0.1
done
wait "$tpid"
rc=$?
end=$(date +%s%N)

field() { sed -n "s/^[[:space:]]*$1: //p" "$timed"; }
ms=$((cpu * 1000 / hz))
{
	echo "exit=$rc"
	echo "wall_ns=$((end - start))"
	echo "user_s=$(field 'User time (seconds)')"
	echo "sys_s=$(field 'System time (seconds)')"
	echo "tree_rss_kb=$(field 'Maximum resident set size (kbytes)')"
	echo "own_rss_kb=$hwm"
	printf 'own_cpu_s=%d.%03d\n' $((ms / 1000)) $((ms % 1000))
} >"$report"
rm -f "$timed"
exit "$rc"
