#!/bin/bash
# Mount lifecycle through the real binary: daemon mode returns with the mount live, clean
# exits after fusermount3 -u and SIGTERM, dead-mount recovery, refusal of a live mountpoint,
# fsname in /proc/mounts, the log file.
# Usage: lifecycle.sh /path/to/splicefs
BIN=$1
. "$(dirname "$0")/common.sh"

B="$T/back,up"; M=$T/mnt
mkdir -p "$B" "$M"
echo hello > "$B/file"

# 1. Background: exit 0 only once the mount is live.
"$BIN" "$B" "$M" --log-file="$T/log" 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ] || fail "background mount exit $rc: $(cat "$T/err")"
line=$(awk -v m="$M" '$2 == m' /proc/mounts)
[ -n "$line" ] || fail "mount not live when the command returned"
[ "$(echo "$line" | awk '{print $1, $3}')" = "$B fuse.splicefs" ] || fail "fsname/type wrong: $line"
[ "$(cat "$M/file" 2>/dev/null)" = hello ] || fail "cannot read through the mount"
[ ! -s "$T/err" ] || fail "background mount printed: $(cat "$T/err")"
# The backing watch runs in the forked daemon: changes made through the mount are its own
# (not pushed back as outside changes), a change in the backing tree is.
watch_line() { "$BIN" stats "$M" | grep '^Backing watch'; }
mkdir "$M/d" && echo data > "$M/d/f" && mv "$M/d/f" "$M/d/g" && sleep 0.3
case $(watch_line) in *" 0 outside changes"*) ;; *) fail "own changes seen as outside: $(watch_line)" ;; esac
touch "$B/d/outside"
for _ in $(seq 50); do [ -e "$M/d/outside" ] && break; sleep 0.1; done
case $(watch_line) in *" 0 outside changes"*) fail "outside change not pushed: $(watch_line)" ;; esac
rm -r "$M/d"

# 2. A live mountpoint is refused (exit 2, one line).
"$BIN" "$B" "$M" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "second mount on a live mountpoint: exit $rc"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "second mount: stderr $(cat "$T/err")"
fusermount3 -u "$M" || fail "fusermount3 -u failed"
wait_mount "$M" no || fail "still mounted after fusermount3 -u"
# The daemon writes its log as it exits, which may be a moment after the mount is gone.
for _ in $(seq 50); do grep -q "\[$M\]" "$T/log" && break; sleep 0.1; done
grep -q "\[$M\]" "$T/log" || fail "log lines do not name the mountpoint: $(head -3 "$T/log")"

# 3. Foreground: exit 0 after fusermount3 -u.
"$BIN" -f "$B" "$M" 2>"$T/err" &
pid=$!; STARTED_PIDS+=("$pid")
wait_mount "$M" yes || fail "foreground mount never appeared"
fusermount3 -u "$M"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || fail "foreground exit after fusermount3 -u: $rc: $(cat "$T/err")"

# 4. SIGTERM unmounts cleanly, exit 0 (multi-threaded, clone_fd).
"$BIN" -f --threads 2 --clone-fd "$B" "$M" 2>"$T/err" &
pid=$!; STARTED_PIDS+=("$pid")
wait_mount "$M" yes || fail "mount for SIGTERM never appeared"
kill -TERM "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || fail "exit after SIGTERM: $rc"
wait_mount "$M" no || fail "still mounted after SIGTERM"

# 5. A killed daemon leaves a dead mount: refused with --no-recover-stale, recovered without.
"$BIN" -f -s "$B" "$M" 2>"$T/err" &
pid=$!; STARTED_PIDS+=("$pid")
wait_mount "$M" yes || fail "mount for SIGKILL never appeared"
kill -KILL "$pid"; wait "$pid" 2>/dev/null
# With failover the killed process was the supervisor; its worker follows it (PDEATHSIG) a
# moment later, and a stat made meanwhile may end with ECONNABORTED as the connection closes.
for _ in $(seq 50); do
    stat "$M" >/dev/null 2>"$T/stat"
    grep -q "not connected" "$T/stat" && break
    sleep 0.1
done
grep -q "not connected" "$T/stat" || fail "expected a dead mount, stat said: $(cat "$T/stat")"
"$BIN" --no-recover-stale "$B" "$M" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--no-recover-stale on a dead mount: exit $rc"
[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^splicefs: .*dead FUSE mount' "$T/err" ||
    fail "--no-recover-stale message: $(cat "$T/err")"
"$BIN" "$B" "$M" 2>"$T/err"
rc=$?
[ "$rc" -eq 0 ] || fail "recovery of a dead mount: exit $rc: $(cat "$T/err")"
grep -q "dead FUSE mount" "$T/err" || fail "recovery not reported: $(cat "$T/err")"
[ "$(cat "$M/file" 2>/dev/null)" = hello ] || fail "cannot read after recovery"
fusermount3 -u "$M"
wait_mount "$M" no || fail "still mounted at the end"

finish
