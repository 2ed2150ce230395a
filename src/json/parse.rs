//! The JSON parser (RFC 8259), recursive with a hard nesting limit. Numbers are kept
//! as their text, checked against the grammar: qing's files hold no fractions, and
//! reading one as a whole number is the caller's error, naming its key.

use super::Value;

/// Arrays and objects nested deeper than this are refused: the parser recurses.
pub const MAX_DEPTH: usize = 64;

/// Why `text` is not JSON, and where (a byte offset into it).
#[derive(Debug, PartialEq)]
pub struct Syntax {
    pub at: usize,
    pub what: String,
}

impl Syntax {
    /// "expected ':' after a key at line 3, column 9": the column counts characters.
    pub fn describe(&self, text: &[u8]) -> String {
        let before = text.get(..self.at).unwrap_or(text);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = before.get(start..).unwrap_or_default();
        let column = column.iter().filter(|&&b| b & 0xc0 != 0x80).count() + 1;
        format!("{} at line {line}, column {column}", self.what)
    }
}

/// `text` as one JSON value, with nothing but whitespace after it.
pub fn parse(text: &[u8]) -> Result<Value, Syntax> {
    let text = std::str::from_utf8(text).map_err(|e| Syntax {
        at: e.valid_up_to(),
        what: "not UTF-8".into(),
    })?;
    if text.starts_with('\u{feff}') {
        return Err(Syntax {
            at: 0,
            what: "a byte order mark (save the file as UTF-8 without one)".into(),
        });
    }
    let mut p = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let value = p.value()?;
    p.ws();
    match p.peek() {
        None => Ok(value),
        Some(_) => p.fail("more after the JSON value"),
    }
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn fail<T>(&self, what: &str) -> Result<T, Syntax> {
        Err(Syntax {
            at: self.pos,
            what: what.to_string(),
        })
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let here = self.peek() == Some(b);
        if here {
            self.pos += 1;
        }
        here
    }

    fn value(&mut self) -> Result<Value, Syntax> {
        self.ws();
        match self.peek() {
            None => self.fail("the end of the text where a value was expected"),
            Some(b'{') => self.nested(Parser::object),
            Some(b'[') => self.nested(Parser::array),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self
                        .s
                        .get(self.pos..)
                        .is_some_and(|r| r.starts_with(word.as_bytes()))
                    {
                        self.pos += word.len();
                        return Ok(value);
                    }
                }
                self.fail("expected a value")
            }
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Value, Syntax>) -> Result<Value, Syntax> {
        if self.depth >= MAX_DEPTH {
            return self.fail("arrays and objects nested more than 64 deep");
        }
        self.depth += 1;
        self.pos += 1;
        let value = f(self);
        self.depth -= 1;
        value
    }

    fn array(&mut self) -> Result<Value, Syntax> {
        let mut items = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(b',') {
                return self.fail("expected ',' or ']'");
            }
        }
    }

    /// A key twice is refused: which one counts would be a guess (other parsers take
    /// the last, some the first), and a config is where such a guess must not matter.
    fn object(&mut self) -> Result<Value, Syntax> {
        let mut fields: Vec<(String, Value)> = Vec::new();
        self.ws();
        if self.eat(b'}') {
            return Ok(Value::Object(fields));
        }
        loop {
            self.ws();
            let at = self.pos;
            if self.peek() != Some(b'"') {
                return self.fail("expected a key (a string)");
            }
            let key = self.string()?;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(Syntax {
                    at,
                    what: format!("key {} given twice", crate::error::quoted(&key)),
                });
            }
            self.ws();
            if !self.eat(b':') {
                return self.fail("expected ':' after the key");
            }
            let value = self.value()?;
            fields.push((key, value));
            self.ws();
            if self.eat(b'}') {
                return Ok(Value::Object(fields));
            }
            if !self.eat(b',') {
                return self.fail("expected ',' or '}'");
            }
        }
    }

    fn string(&mut self) -> Result<String, Syntax> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // Only ever split at ASCII bytes: always a boundary of the valid text.
            out.push_str(self.text.get(start..self.pos).unwrap_or_default());
            match self.peek() {
                None => return self.fail("the end of the text inside a string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return self.fail("a control character in a string (write \\u00XX)"),
            }
        }
    }

    fn escape(&mut self) -> Result<char, Syntax> {
        let c = self.peek();
        self.pos += 1;
        Ok(match c {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let high = self.hex4()?;
                let code = match high {
                    0xd800..=0xdbff => {
                        if !self
                            .s
                            .get(self.pos..)
                            .is_some_and(|r| r.starts_with(b"\\u"))
                        {
                            return self
                                .fail("a lone surrogate (\\ud800-\\udbff without its pair)");
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return self
                                .fail("a lone surrogate (\\ud800-\\udbff without its pair)");
                        }
                        0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..=0xdfff => return self.fail("a lone surrogate (\\udc00-\\udfff)"),
                    _ => high,
                };
                match char::from_u32(code) {
                    Some(c) => c,
                    None => return self.fail("not a character"),
                }
            }
            _ => {
                self.pos -= 1;
                return self.fail("an unknown escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, Syntax> {
        let mut n = 0;
        for _ in 0..4 {
            let Some(d) = self.peek().and_then(|b| char::from(b).to_digit(16)) else {
                return self.fail("expected 4 hexadecimal digits after \\u");
            };
            n = n * 16 + d;
            self.pos += 1;
        }
        Ok(n)
    }

    /// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    fn number(&mut self) -> Result<Value, Syntax> {
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') && !self.digits() {
            return self.fail("expected a digit");
        }
        if self.eat(b'.') && !self.digits() {
            return self.fail("expected a digit after '.'");
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if !self.digits() {
                return self.fail("expected a digit in the exponent");
            }
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        Ok(Value::Number(text.to_string()))
    }

    fn digits(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos > start
    }
}
