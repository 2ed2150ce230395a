//! qing's JSON: a value, its parser (`parse`) and its writer (`write`), and JSON files
//! read as checked objects whose errors name the file, the key and the type that was
//! expected, or for a syntax error what is wrong and at which line and column.

mod parse;
mod write;

use crate::error::{Context, Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A JSON value. A number is its text as written, checked by the grammar; objects keep
/// their order, and no key appears twice in one (the parser refuses that).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// A JSON object read from a file, with typed, optional fields.
pub struct Doc {
    pub path: PathBuf,
    object: Vec<(String, Value)>,
}

/// Reads `path` (at most `max_bytes`) as one JSON object; `what` names the kind of file
/// in messages ("manifest").
pub fn read_object(path: &Path, max_bytes: u64, what: &str) -> Result<Doc> {
    let mut text = Vec::new();
    crate::sys::open_file(path, nix::fcntl::OFlag::O_RDONLY, 0)
        .and_then(|f| f.take(max_bytes + 1).read_to_end(&mut text))
        .context(|| format!("read {what} {}", path.display()))?;
    if text.len() as u64 > max_bytes {
        return Err(Error::new(format!(
            "{what} {}: larger than {max_bytes} bytes",
            path.display()
        )));
    }
    parse_object(&text, path, what)
}

/// `text` as one JSON object; `path` and `what` are for messages.
pub fn parse_object(text: &[u8], path: &Path, what: &str) -> Result<Doc> {
    match parse::parse(text) {
        Ok(Value::Object(object)) => Ok(Doc {
            path: path.to_path_buf(),
            object,
        }),
        Ok(_) => Err(Error::new(format!(
            "{what} {}: not a JSON object",
            path.display()
        ))),
        Err(e) => Err(Error::new(format!(
            "{what} {}: not valid JSON: {}",
            path.display(),
            e.describe(text)
        ))),
    }
}

impl Doc {
    fn get(&self, key: &str) -> Option<&Value> {
        self.object.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn wrong_type(&self, key: &str, expected: &str) -> Error {
        Error::new(format!(
            "{}: key {key_q} must be {expected}",
            self.path.display(),
            key_q = crate::error::quoted(key)
        ))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong_type(key, "a string")),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>> {
        let items = match self.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(self.wrong_type(key, "an array of strings")),
        };
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(self.wrong_type(key, "an array of strings")),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong_type(key, "true or false")),
        }
    }

    /// A whole number from 0 to 2^64-1: 1.5, 1e3, -1 or a string are the key's error.
    pub fn unsigned(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.parse() {
                Ok(n) => Ok(Some(n)),
                Err(_) => Err(self.wrong_type(key, "a whole number from 0 to 2^64-1")),
            },
            Some(_) => Err(self.wrong_type(key, "a whole number")),
        }
    }

    /// A string, or a number as it is written ("64m", 67108864, 0.5): for values
    /// that the command line takes as text and parses itself.
    pub fn text(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s) | Value::Number(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong_type(key, "a string or a number")),
        }
    }

    /// Refuses any key not in `known`, naming the first and the keys there are.
    pub fn only_keys(&self, known: &[&str]) -> Result<()> {
        match self
            .object
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) => Err(Error::new(format!(
                "{}: unknown key {k_q}",
                self.path.display(),
                k_q = crate::error::quoted(k)
            ))
            .hint(format!("the keys are: {}", known.join(", ")))),
        }
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.remove(key);
        self.object.push((key.to_string(), value));
    }

    pub fn remove(&mut self, key: &str) {
        self.object.retain(|(k, _)| k != key);
    }

    /// The object, its keys sorted (as qing has always written it).
    pub fn into_json(self) -> String {
        to_string(&sorted(self.object))
    }
}

/// `fields` as an object, its keys sorted: qing's objects have always been written so.
fn sorted(mut fields: Vec<(String, Value)>) -> Value {
    for i in 1..fields.len() {
        let mut j = i;
        while j > 0 && fields[j - 1].0 > fields[j].0 {
            fields.swap(j - 1, j);
            j -= 1;
        }
    }
    Value::Object(fields)
}

/// Builders for the `--json` outputs of listing commands.
pub fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

pub fn number(n: u64) -> Value {
    Value::Number(n.to_string())
}

/// An object of `fields`, written with its keys sorted.
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    sorted(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write::write(value, &mut out);
    out
}

#[cfg(test)]
mod tests;
