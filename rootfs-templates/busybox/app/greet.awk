# /app/greet.awk: the answer to a POST body (on stdin, with NUL and \001 bytes turned
# into \002 by index.cgi), as a CGI response on stdout. A recursive-descent JSON validator
# (RFC 8259, UTF-8 included) over the body split into bytes: awk has no JSON, and a
# service that echoes its input must not answer with invalid JSON.

BEGIN {
    for (i = 1; i < 256; i++) ord[sprintf("%c", i)] = i  # a byte's value
    ord[""] = 0
    space[" "]; space["\t"]; space["\n"]; space["\r"]
    MAXDEPTH = 64  # deeper JSON is refused, not recursed into: awk's stack is C's
    RS = "\001"    # which the input lacks: the body is one record, byte for byte
}
{ body = $0 }

function reply(status, json) {
    printf "Status: %s\r\nContent-Type: application/json\r\n\r\n%s\n", status, json
    print ENVIRON["REMOTE_ADDR"] ":" ENVIRON["REMOTE_PORT"] ": POST / " status >"/dev/stderr"
    exit
}
function fail(what) { err = err == "" ? what " at byte " p : err; return 0 }
function ws() { while (c[p] in space) p++ }

function value(depth,   ch) {
    ws(); ch = c[p]
    if (ch == "{") return object(depth + 1)
    if (ch == "[") return array(depth + 1)
    if (ch == "\"") return string()
    if (ch == "-" || ch ~ /[0-9]/) return number()
    if (ch == "t") return word("true")
    if (ch == "f") return word("false")
    if (ch == "n") return word("null")
    return fail(p > n ? "unexpected end" : "unexpected character")
}
# Members of the top-level object (depth 1) named "name" or "numbers" are kept as text.
function object(depth,   key, start) {
    if (depth > MAXDEPTH) return fail("nested too deeply")
    p++; ws()
    if (c[p] == "}") { p++; return 1 }
    for (;;) {
        ws(); start = p
        if (c[p] != "\"") return fail("expected a string key")
        if (!string()) return 0
        key = keyname(substr(body, start + 1, p - start - 2))
        ws()
        if (c[p++] != ":") return fail("expected ':'")
        ws(); start = p
        if (!value(depth)) return 0
        if (depth == 1 && (key == "name" || key == "numbers")) top[key] = substr(body, start, p - start)
        ws()
        if (c[p] == ",") { p++; continue }
        if (c[p++] == "}") return 1
        return fail("expected ',' or '}'")
    }
}
function array(depth) {
    if (depth > MAXDEPTH) return fail("nested too deeply")
    p++; ws()
    if (c[p] == "]") { p++; return 1 }
    for (;;) {
        if (!value(depth)) return 0
        ws()
        if (c[p] == ",") { p++; continue }
        if (c[p++] == "]") return 1
        return fail("expected ',' or ']'")
    }
}
function string(   ch, v) {
    for (p++; p <= n; p++) {
        ch = c[p]; v = ord[ch]
        if (ch == "\"") { p++; return 1 }
        if (ch == "\\") {
            ch = c[++p]
            if (ch == "u") {
                if (c[p + 1] c[p + 2] c[p + 3] c[p + 4] !~ /^[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]$/)
                    return fail("bad unicode escape")
                p += 4
            } else if (ch == "" || index("\"\\/bfnrt", ch) == 0) return fail("bad escape")
        } else if (v < 32) return fail("control character in a string")
        else if (v >= 128 && !utf8()) return fail("invalid UTF-8")
    }
    return fail("unterminated string")
}
# One UTF-8 sequence from c[p] (no overlong forms, surrogates or code points over
# U+10FFFF); leaves p on its last byte.
function utf8(   v, k, lo, hi) {
    v = ord[c[p]]
    if (v >= 194 && v <= 223) k = 1
    else if (v >= 224 && v <= 239) k = 2
    else if (v >= 240 && v <= 244) k = 3
    else return 0
    lo = v == 224 ? 160 : v == 240 ? 144 : 128
    hi = v == 237 ? 159 : v == 244 ? 143 : 191
    for (; k > 0; k--) {
        v = ord[c[++p]]
        if (v < lo || v > hi) return 0
        lo = 128; hi = 191
    }
    return 1
}
function number() {
    if (c[p] == "-") p++
    if (c[p] == "0") p++
    else if (!digits()) return fail("bad number")
    if (c[p] == ".") { p++; if (!digits()) return fail("bad fraction") }
    if (c[p] == "e" || c[p] == "E") {
        p++
        if (c[p] == "+" || c[p] == "-") p++
        if (!digits()) return fail("bad exponent")
    }
    return 1
}
function digits(   start) { start = p; while (c[p] ~ /[0-9]/) p++; return p > start }
function word(w,   i) {
    for (i = 1; i <= length(w); i++) if (c[p++] != substr(w, i, 1)) return fail("bad literal")
    return 1
}
# A key's text for comparing it with "name" and "numbers": escaped ASCII (n\u0061me)
# is decoded; any other escape leaves a backslash, which neither of them has.
function keyname(k,   v) {
    while (match(k, /\\u00[0-7][0-9a-fA-F]/)) {
        v = 16 * substr(k, RSTART + 4, 1) + index("0123456789abcdef", tolower(substr(k, RSTART + 5, 1))) - 1
        k = substr(k, 1, RSTART - 1) sprintf("%c", v ? v : 1) substr(k, RSTART + 6)
    }
    return k
}

END {
    n = split(body, c, "")
    p = 1; ws()
    if (c[p] != "{") reply("400 Bad Request", "{\"error\":\"the body is not a JSON object\"}")
    start = p
    if (value(0)) { end = p; ws(); if (p <= n) fail("data after the object") }
    if (err != "") reply("400 Bad Request", "{\"error\":\"the body is not valid JSON: " err "\"}")

    # greeting: the name's JSON text is already a valid string, so it is spliced in as is.
    name = "name" in top ? top["name"] : "\"world\""
    if (name !~ /^"/) reply("400 Bad Request", "{\"error\":\"name must be a string\"}")
    # numbers: an array of integers has only digits, '-' and ',' once its whitespace and
    # brackets are gone; any other element leaves a piece that is no integer. awk adds
    # doubles, exact only below 2^53.
    list = "numbers" in top ? top["numbers"] : "[]"
    gsub(/[ \t\n\r]/, "", list)
    if (list !~ /^\[.*\]$/) reply("400 Bad Request", "{\"error\":\"numbers must be an array of integers\"}")
    k = split(substr(list, 2, length(list) - 2), nums, ",")
    sum = 0; big = 9007199254740992  # 2^53 (this awk has no ^ operator)
    for (i = 1; i <= k; i++) {
        if (nums[i] !~ /^-?(0|[1-9][0-9]*)$/)
            reply("400 Bad Request", "{\"error\":\"numbers must be an array of integers\"}")
        v = nums[i] + 0; sum += v
        if (v >= big || -v >= big || sum >= big || -sum >= big)
            reply("400 Bad Request", "{\"error\":\"numbers and their sum must be below 2^53 in magnitude\"}")
    }
    reply("200 OK", sprintf("{\"runtime\":\"busybox\",\"greeting\":\"hello, %s,\"sum\":%.0f,\"echo\":%s}",
        substr(name, 2), sum, substr(body, start, end - start)))
}
