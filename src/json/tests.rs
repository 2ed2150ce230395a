use super::parse::{parse, Syntax, MAX_DEPTH};
use super::*;

fn ok(text: &str) -> Value {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
}

fn err(text: &[u8]) -> String {
    match parse(text) {
        Ok(v) => panic!("{text:?} parsed as {v:?}"),
        Err(e) => e.describe(text),
    }
}

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn n(text: &str) -> Value {
    Value::Number(text.to_string())
}

#[test]
fn literals_and_whitespace() {
    assert_eq!(ok(" \t\r\n true \n"), Value::Bool(true));
    assert_eq!(ok("false"), Value::Bool(false));
    assert_eq!(ok("null"), Value::Null);
    assert_eq!(ok("[]"), Value::Array(vec![]));
    assert_eq!(ok("{ }"), Value::Object(vec![]));
    assert!(err(b"nul").starts_with("expected a value"));
    assert!(err(b"True").starts_with("expected a value"));
    // Form feed and vertical tab are not JSON whitespace.
    assert!(err(b"\x0c1").starts_with("expected a value"));
}

#[test]
fn empty_input_is_refused() {
    assert_eq!(
        err(b""),
        "the end of the text where a value was expected at line 1, column 1"
    );
    assert!(err(b"  \n ").contains("line 2, column 2"));
}

#[test]
fn trailing_garbage_is_refused() {
    assert_eq!(
        err(b"{} x"),
        "more after the JSON value at line 1, column 4"
    );
    assert!(err(b"{}{}").starts_with("more after"));
    assert!(err(b"1 2").starts_with("more after"));
    assert!(err(b"[1,]").starts_with("expected a value"));
    assert!(err(b"{\"a\":1,}").starts_with("expected a key"));
    assert!(err(b"[1 2]").starts_with("expected ',' or ']'"));
    assert!(err(b"{\"a\" 1}").starts_with("expected ':'"));
    assert!(err(b"{\"a\":1 \"b\":2}").starts_with("expected ',' or '}'"));
    assert!(err(b"{1:2}").starts_with("expected a key"));
    assert!(err(b"[1").starts_with("the end of the text") || err(b"[1").starts_with("expected"));
}

#[test]
fn objects_keep_their_order() {
    let v = ok(r#"{"b": 1, "a": [true, null], "c": {"d": "e"}}"#);
    assert_eq!(
        v,
        Value::Object(vec![
            ("b".into(), n("1")),
            (
                "a".into(),
                Value::Array(vec![Value::Bool(true), Value::Null])
            ),
            ("c".into(), Value::Object(vec![("d".into(), s("e"))])),
        ])
    );
}

#[test]
fn duplicate_keys_are_refused() {
    assert_eq!(
        err(br#"{"a": 1, "a": 2}"#),
        "key \"a\" given twice at line 1, column 10"
    );
    // The same name in different objects is no duplicate; escapes are compared decoded.
    ok(r#"{"a": {"a": 1}, "b": {"a": 2}}"#);
    assert!(err(br#"{"a": 1, "\u0061": 2}"#).contains("given twice"));
}

#[test]
fn escapes_decode() {
    assert_eq!(
        ok(r#""\" \\ \/ \b \f \n \r \t""#),
        s("\" \\ / \u{8} \u{c} \n \r \t")
    );
    assert_eq!(ok(r#""\u0041\u00e9\u4E2D""#), s("A\u{e9}\u{4e2d}"));
    assert_eq!(ok(r#""\u0000""#), s("\0"));
    assert_eq!(
        ok("\"plain ascii and \u{8f7b}\""),
        s("plain ascii and \u{8f7b}")
    );
    assert!(err(br#""\x""#).starts_with("an unknown escape"));
    assert!(err(br#""\u12""#).starts_with("expected 4 hexadecimal digits"));
    assert!(err(br#""\u12g4""#).starts_with("expected 4 hexadecimal digits"));
    assert!(err(b"\"\\").starts_with("an unknown escape"));
}

#[test]
fn surrogate_pairs_decode_and_lone_surrogates_are_refused() {
    assert_eq!(ok(r#""\ud83d\ude00""#), s("\u{1f600}"));
    assert_eq!(ok(r#""\uD800\uDC00""#), s("\u{10000}"));
    assert_eq!(ok(r#""\udbff\udfff""#), s("\u{10ffff}"));
    for lone in [
        r#""\ud800""#,
        r#""\ud800x""#,
        r#""\ud800\n""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\udc00""#,
        r#""\udfff\ud800""#,
    ] {
        assert!(err(lone.as_bytes()).contains("lone surrogate"), "{lone}");
    }
}

#[test]
fn control_characters_in_strings_are_refused() {
    for c in [0u8, 0x1f, b'\n', b'\t'] {
        let text = [b'"', b'a', c, b'"'];
        assert!(
            err(&text).starts_with("a control character in a string"),
            "{c:#x}"
        );
    }
    // DEL is no control character to JSON.
    assert_eq!(ok("\"\x7f\""), s("\x7f"));
    assert!(err(b"\"abc").starts_with("the end of the text inside a string"));
}

#[test]
fn numbers_follow_the_grammar_and_keep_their_text() {
    for good in [
        "0", "-0", "7", "-12", "1.5", "0.25", "1e3", "1E+3", "2e-07", "-0.0e0",
    ] {
        assert_eq!(ok(good), n(good));
    }
    for bad in [
        "-", "+1", ".5", "1.", "1e", "1e+", "-a", "0x10", "NaN", "Infinity",
    ] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad}");
    }
    // A leading zero ends the number: what follows is more text.
    assert!(err(b"01").starts_with("more after"));
    assert!(err(b"[-01]").starts_with("expected ',' or ']'"));
}

#[test]
fn big_numbers_are_kept_as_written() {
    let big = "123456789012345678901234567890";
    assert_eq!(ok(big), n(big));
    assert_eq!(ok("1e999999"), n("1e999999"));
    let long = "9".repeat(5000);
    assert_eq!(ok(&long), n(&long));
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    ok(&deep(MAX_DEPTH));
    assert_eq!(
        err(deep(MAX_DEPTH + 1).as_bytes()),
        format!(
            "arrays and objects nested more than 64 deep at line 1, column {}",
            MAX_DEPTH + 1
        )
    );
    let objects = format!(
        "{}1{}",
        "{\"a\":".repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    assert!(err(objects.as_bytes()).starts_with("arrays and objects nested"));
    // A million opening brackets: refused at the limit, no stack overflow.
    assert!(err("[".repeat(1_000_000).as_bytes()).starts_with("arrays and objects nested"));
    assert!(err("{\"a\":".repeat(1_000_000).as_bytes()).starts_with("arrays and objects nested"));
}

#[test]
fn a_byte_order_mark_is_refused() {
    assert_eq!(
        err(b"\xef\xbb\xbf{}"),
        "a byte order mark (save the file as UTF-8 without one) at line 1, column 1"
    );
}

#[test]
fn non_utf8_is_refused_with_its_offset() {
    assert_eq!(err(b"{\"a\":\n \"\xff\"}"), "not UTF-8 at line 2, column 3");
    assert!(err(b"\"\xc3\"").starts_with("not UTF-8"));
    // An encoded surrogate (CESU-8) is not UTF-8 either.
    assert!(err(b"\"\xed\xa0\x80\"").starts_with("not UTF-8"));
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(
        err("\"\u{8f7b}\" x".as_bytes()),
        "more after the JSON value at line 1, column 5"
    );
}

#[test]
fn syntax_errors_past_the_end_do_not_panic() {
    let e = Syntax {
        at: 99,
        what: "x".into(),
    };
    assert_eq!(e.describe(b"ab\nc"), "x at line 2, column 2");
}

#[test]
fn writer_escapes_as_qing_always_has() {
    let v = s("q\" b\\ \u{8}\u{c}\n\r\t \0\u{1}\u{1f}\u{7f} / \u{e9}\u{1f600}");
    let want = "\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0000\\u0001\\u001f\u{7f} / \u{e9}\u{1f600}\"";
    assert_eq!(to_string(&v), want);
    // Byte for byte what miniserde (qing's JSON before src/json) writes.
    let every: String = (0..=0x80u8)
        .map(char::from)
        .chain("\u{e9}\u{4e2d}\u{1f600}".chars())
        .collect();
    for one in every.chars().map(String::from).chain([every.clone()]) {
        assert_eq!(
            to_string(&s(&one)),
            miniserde::json::to_string(&one),
            "{one:?}"
        );
    }
}

#[test]
fn writer_round_trips_what_the_parser_reads() {
    let text = r#"{"z":[1,-2.5e3,true,false,null,"a\"\\\n\u0001"],"a":{},"m":[[]]}"#;
    assert_eq!(to_string(&ok(text)), text);
}

#[test]
fn built_objects_are_written_with_sorted_keys() {
    let v = object(vec![
        ("state", string("running")),
        ("supervisor", number(12)),
        ("pid", number(u64::MAX)),
        ("exit", string("")),
        ("restarts", number(0)),
        ("started", number(1)),
    ]);
    assert_eq!(
        to_string(&v),
        r#"{"exit":"","pid":18446744073709551615,"restarts":0,"started":1,"state":"running","supervisor":12}"#
    );
    assert_eq!(
        to_string(&Value::Array(vec![v.clone(), v]))
            .matches("exit")
            .count(),
        2
    );
}

fn doc(text: &str) -> Doc {
    parse_object(text.as_bytes(), Path::new("/etc/qing/x.json"), "config").unwrap()
}

#[test]
fn doc_reads_typed_fields_and_names_the_key_when_wrong() {
    let d = doc(
        r#"{"s": "a", "n": 42, "f": 1.5, "e": 1e3, "neg": -1, "b": true, "l": ["x"], "z": null}"#,
    );
    assert_eq!(d.string("s").unwrap().as_deref(), Some("a"));
    assert_eq!(d.string("z").unwrap(), None);
    assert_eq!(d.string("missing").unwrap(), None);
    assert_eq!(d.unsigned("n").unwrap(), Some(42));
    assert_eq!(d.boolean("b").unwrap(), Some(true));
    assert_eq!(d.strings("l").unwrap(), Some(vec!["x".to_string()]));
    assert_eq!(d.text("f").unwrap().as_deref(), Some("1.5"));
    assert_eq!(d.text("n").unwrap().as_deref(), Some("42"));
    for key in ["f", "e", "neg"] {
        assert_eq!(
            d.unsigned(key).unwrap_err().what(),
            format!("/etc/qing/x.json: key \"{key}\" must be a whole number from 0 to 2^64-1")
        );
    }
    assert_eq!(
        d.unsigned("s").unwrap_err().what(),
        "/etc/qing/x.json: key \"s\" must be a whole number"
    );
    assert_eq!(
        d.string("n").unwrap_err().what(),
        "/etc/qing/x.json: key \"n\" must be a string"
    );
    assert!(d.strings("s").is_err());
    assert!(d.boolean("s").is_err());
    assert!(d.text("b").is_err());
}

#[test]
fn doc_errors_name_the_file_and_the_place() {
    let e = |text: &[u8]| {
        parse_object(text, Path::new("/etc/qing/web.json"), "config")
            .err()
            .map(|e| e.what().to_string())
    };
    assert_eq!(
        e(b"{\n  \"rootfs\": \"a\"\n  \"x\": 1\n}").as_deref(),
        Some("config /etc/qing/web.json: not valid JSON: expected ',' or '}' at line 3, column 3")
    );
    assert_eq!(
        e(b"[1]").as_deref(),
        Some("config /etc/qing/web.json: not a JSON object")
    );
}

#[test]
fn doc_set_replaces_and_into_json_sorts() {
    let mut d = doc(r#"{"name": "t", "directory": "t", "squashfs": "old", "arch": "x"}"#);
    d.set("squashfs", string("t.squashfs"));
    d.remove("directory");
    assert_eq!(
        d.into_json(),
        r#"{"arch":"x","name":"t","squashfs":"t.squashfs"}"#
    );
}
