#!/bin/sh
# /app/www/cgi-bin/index.cgi: the greeter, run by busybox httpd for every request to /
# (/app/www has no index.html). CGI: the request is in the environment, a POST body is
# CONTENT_LENGTH bytes on stdin, and the answer goes to stdout, headers first; httpd
# turns "Status:" into the status line. A line on stderr lands in httpd's log.
export LC_ALL=C  # bytes, not characters, for awk and tr
MAX=16384        # refuse bodies over 16 KiB: greet.awk needs ~250 bytes per byte of body

# httpd has refused a Content-Length that is not a number; without one the body is empty.
len=${CONTENT_LENGTH:-0}

answer() {  # answer STATUS JSON, before reading the body
    # Read the body all the same (for up to 30 s): httpd exiting with data left unread
    # makes the kernel reset the connection, which can destroy the answer before the
    # client reads it. The subshell keeps a "Terminated" from timeout out of the log.
    [ "$len" = 0 ] || (timeout 30 head -c "$len" >/dev/null; :) 2>/dev/null
    printf 'Status: %s\r\nContent-Type: application/json\r\n\r\n' "$1"
    [ "$REQUEST_METHOD" = HEAD ] || printf '%s\n' "$2"
    echo "$REMOTE_ADDR:$REMOTE_PORT: $REQUEST_METHOD / $1" >&2
    exit 0
}

case $REQUEST_METHOD in
    GET|HEAD) answer '200 OK' '{"runtime":"busybox","status":"ok"}' ;;
    POST) ;;
    *) answer '405 Method Not Allowed' '{"error":"use GET or POST"}' ;;
esac
# The length of the text first: a huge number would overflow the shell's arithmetic.
if [ ${#len} -gt 6 ] || [ "$len" -gt $MAX ]; then
    answer '413 Payload Too Large' "{\"error\":\"the body is over $MAX bytes\"}"
fi
# timeout: httpd's own timeout covers the headers only, and a client that stalls in the
# body would hold this connection's processes for as long as it stays. tr: awk strings
# end at a NUL byte, and greet.awk takes \001 as the record separator so as to read the
# body as one record, so both become \002, which JSON rejects all the same. The subshell
# is there to drop its stderr (a "Terminated" when timeout ends head) from the log; awk
# logs on the real one (fd 3).
(timeout 30 head -c "$len" | tr '\000\001' '\002\002' | awk -f /app/greet.awk 2>&3) 3>&2 2>/dev/null
