# shellcheck shell=sh
# tests/common/probe.sh [--idle] SERVICE [ARGS...]: run inside a container, with busybox
# at /.qt/busybox. Starts the sample service, waits (up to 2 minutes: JVMs under
# qemu-user are slow) until it answers GET /, then prints one line each:
#   get JSON    post JSON    bad CODE    badname CODE    rss KB    exit STATUS
# for a GET, a good POST, a POST that is not JSON, one whose name is not a string, the
# service's resident memory at idle, and its exit status after SIGTERM.
# --idle: SERVICE is a test app of tests/apps, started with APP_IDLE=1 (it does its
# work, prints `ok APP: ...` and stays): waits for that line instead of an answer, and
# prints only the rss and exit lines.
bb=/.qt/busybox
mode=http
if [ "$1" = --idle ]; then
    mode=idle
    shift
    export APP_IDLE=1
fi
ready() {
    if [ $mode = http ]; then
        $bb wget -q -O /tmp/get "http://127.0.0.1:$PORT/" 2>/dev/null
    else
        $bb grep -q '^ok ' /tmp/service.log 2>/dev/null
    fi
}
"$@" >/tmp/service.log 2>&1 &
pid=$!
tries=0
until ready; do
    tries=$((tries + 1))
    if [ $tries -gt 1200 ] || ! kill -0 $pid 2>/dev/null; then
        echo "no answer after $tries tries"; cat /tmp/service.log; exit 1
    fi
    $bb sleep 0.1
done
if [ $mode = http ]; then
    echo "get $(cat /tmp/get)"
    echo "post $($bb wget -q -O - --header 'Content-Type: application/json' \
        --post-data '{"name":"qing","numbers":[1,2,39]}' "http://127.0.0.1:$PORT/")"
    if $bb wget -q -O /dev/null --post-data 'not json' "http://127.0.0.1:$PORT/" 2>/tmp/err; then
        echo "bad accepted"
    else
        echo "bad $(grep -o '40[0-9]' /tmp/err | head -n 1)"
    fi
    if $bb wget -q -O /dev/null --post-data '{"name":5}' "http://127.0.0.1:$PORT/" 2>/tmp/err; then
        echo "badname accepted"
    else
        echo "badname $(grep -o '40[0-9]' /tmp/err | head -n 1)"
    fi
fi
echo "rss $(grep VmRSS /proc/$pid/status | tr -s ' ' | cut -d' ' -f2)"
kill -TERM $pid
wait $pid
echo "exit $?"
