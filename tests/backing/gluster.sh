# A single-node GlusterFS volume on loopback with two client mounts, standing for two
# machines (sourced by matrix.sh). glusterd, the brick and both clients listen on and talk
# to 127.0.1.1 only (the CLI refuses 127.0.0.1 and "localhost" for bricks; any 127/8 address
# is loopback); glusterd's state lives in the test's own directory.
# shellcheck shell=bash

GLUSTER_ADDR=127.0.1.1
GLUSTER_DIR=
GLUSTER_PID=

gluster_cli() {
    gluster --mode=script --glusterd-sock="$GLUSTER_DIR/glusterd.socket" \
        --log-file="$GLUSTER_DIR/log/cli.log" "$@"
}

# gluster_start DIR: glusterd + volume gv0 (one brick) + clients DIR/c1 and DIR/c2.
gluster_start() {
    GLUSTER_DIR=$1
    mkdir -p "$GLUSTER_DIR"/{wd,brick,log,c1,c2}
    if ss -ltn 2>/dev/null | grep -qE "[:.]24007 "; then
        echo "gluster: port 24007 is taken (is a system glusterd running?)" >&2
        return 1
    fi
    cat >"$GLUSTER_DIR/glusterd.vol" <<VOL
volume management
    type mgmt/glusterd
    option working-directory $GLUSTER_DIR/wd
    option transport-type socket
    option transport.address-family inet
    option transport.socket.bind-address $GLUSTER_ADDR
    option transport.socket.listen-port 24007
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
    option glusterd-sockfile $GLUSTER_DIR/glusterd.socket
end-volume
VOL
    glusterd -f "$GLUSTER_DIR/glusterd.vol" -p "$GLUSTER_DIR/glusterd.pid" -l "$GLUSTER_DIR/log/glusterd.log" ||
        return 1
    GLUSTER_PID=$(<"$GLUSTER_DIR/glusterd.pid")
    local i
    for i in $(seq 50); do
        gluster_cli volume list >/dev/null 2>&1 && break
        sleep 0.2
    done
    gluster_cli volume create gv0 "$GLUSTER_ADDR:$GLUSTER_DIR/brick/b" force >/dev/null &&
        gluster_cli volume set gv0 transport.address-family inet >/dev/null &&
        gluster_cli volume start gv0 >/dev/null || return 1
    mount -t glusterfs -o "log-file=$GLUSTER_DIR/log/c1.log" "$GLUSTER_ADDR:/gv0" "$GLUSTER_DIR/c1" &&
        mount -t glusterfs -o "log-file=$GLUSTER_DIR/log/c2.log" "$GLUSTER_ADDR:/gv0" "$GLUSTER_DIR/c2"
}

# Unmounts the clients, stops and deletes the volume (which ends the brick process) and ends
# glusterd by its pid. Safe to call when gluster_start failed half way.
gluster_stop() {
    [[ -n $GLUSTER_DIR ]] || return 0
    local c
    for c in c1 c2; do
        mountpoint -q "$GLUSTER_DIR/$c" && { umount "$GLUSTER_DIR/$c" || umount -l "$GLUSTER_DIR/$c"; }
    done
    if [[ -n $GLUSTER_PID ]] && kill -0 "$GLUSTER_PID" 2>/dev/null; then
        gluster_cli volume stop gv0 force >/dev/null 2>&1
        gluster_cli volume delete gv0 >/dev/null 2>&1
        kill "$GLUSTER_PID"
        local i
        for i in $(seq 50); do
            kill -0 "$GLUSTER_PID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    # A brick left by a failed start: only ours (its command line names our brick dir).
    local pid
    for pid in $(pgrep -x glusterfsd); do
        grep -qsF "$GLUSTER_DIR/brick" "/proc/$pid/cmdline" && kill "$pid"
    done
    GLUSTER_PID=
    GLUSTER_DIR=
}
