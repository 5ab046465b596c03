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
# COMMAND's output passes through. The exit status is COMMAND's.
set -u

if [ "$#" -lt 2 ]; then
	echo "usage: bench-measure REPORT COMMAND [ARG...]" >&2
	exit 2
fi
report=$1
shift
timed=$(mktemp)

start=$(date +%s%N)
/usr/bin/time -v -o "$timed" "$@" &
tpid=$!
child=
hwm=0
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
	sleep 0.1
done
wait "$tpid"
rc=$?
end=$(date +%s%N)

field() { sed -n "s/^[[:space:]]*$1: //p" "$timed"; }
{
	echo "exit=$rc"
	echo "wall_ns=$((end - start))"
	echo "user_s=$(field 'User time (seconds)')"
	echo "sys_s=$(field 'System time (seconds)')"
	echo "tree_rss_kb=$(field 'Maximum resident set size (kbytes)')"
	echo "own_rss_kb=$hwm"
} >"$report"
rm -f "$timed"
exit "$rc"
