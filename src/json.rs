//! JSON files read as checked objects. miniserde's own errors say only that parsing
//! failed; these name the file, the key and the type that was expected.

use crate::error::{Context, Error, Result};
use miniserde::json::{self, Number, Object, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A JSON object read from a file, with typed, optional fields.
pub struct Doc {
    pub path: PathBuf,
    object: Object,
}

/// Reads `path` (at most `max_bytes`) as one JSON object; `what` names the kind of file
/// in messages ("manifest").
pub fn read_object(path: &Path, max_bytes: u64, what: &str) -> Result<Doc> {
    let mut text = String::new();
    crate::sys::open_file(path, nix::fcntl::OFlag::O_RDONLY, 0)
        .and_then(|f| f.take(max_bytes + 1).read_to_string(&mut text))
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
pub fn parse_object(text: &str, path: &Path, what: &str) -> Result<Doc> {
    match json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(Doc {
            path: path.to_path_buf(),
            object,
        }),
        Ok(_) => Err(Error::new(format!(
            "{what} {}: not a JSON object",
            path.display()
        ))),
        Err(_) => Err(Error::new(format!(
            "{what} {}: not valid JSON",
            path.display()
        ))),
    }
}

impl Doc {
    fn wrong_type(&self, key: &str, expected: &str) -> Error {
        Error::new(format!(
            "{}: key {key_q} must be {expected}",
            self.path.display(),
            key_q = crate::error::quoted(key)
        ))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.wrong_type(key, "a string")),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>> {
        let Some(value) = self.object.get(key) else {
            return Ok(None);
        };
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            _ => return Err(self.wrong_type(key, "an array of strings")),
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
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.wrong_type(key, "true or false")),
        }
    }

    /// A string, or a number as it is written ("64m", 67108864, 0.5): for values
    /// that the command line takes as text and parses itself.
    pub fn text(&self, key: &str) -> Result<Option<String>> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(n @ Value::Number(_)) => Ok(Some(json::to_string(n))),
            Some(_) => Err(self.wrong_type(key, "a string or a number")),
        }
    }

    /// Refuses any key not in `known`, naming it and the keys there are.
    pub fn only_keys(&self, known: &[&str]) -> Result<()> {
        match self.object.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(Error::new(format!(
                "{}: unknown key {k_q}",
                self.path.display(),
                k_q = crate::error::quoted(k)
            ))
            .hint(format!("the keys are: {}", known.join(", ")))),
        }
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.object.insert(key.to_string(), value);
    }

    pub fn remove(&mut self, key: &str) {
        self.object.remove(key);
    }

    pub fn to_json(&self) -> String {
        json::to_string(&self.object)
    }
}

/// Builders for the `--json` outputs of listing commands.
pub fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

pub fn number(n: u64) -> Value {
    Value::Number(Number::U64(n))
}

pub fn object(fields: Vec<(&str, Value)>) -> Value {
    let mut o = Object::new();
    for (k, v) in fields {
        o.insert(k.to_string(), v);
    }
    Value::Object(o)
}

pub fn to_string(value: &Value) -> String {
    json::to_string(value)
}
