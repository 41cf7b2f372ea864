//! Label and field selectors: parsing the `labelSelector` and
//! `fieldSelector` query parameters and matching objects against them.
//!
//! Owns the selector grammars (as Kubernetes parses them, with its error
//! wording), the set of selectable fields per kind, and reading those
//! fields out of a JSON object. Must not do IO or know how objects are
//! stored; a selector is a pure predicate over an object.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;

use crate::status::{ApiError, FieldError, go_quote};
use crate::validation::{is_label_key, is_label_value};

/// How a label requirement relates a key to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`: also true when the key is absent.
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`: also true when the key is absent.
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5` (integers)
    GreaterThan,
    /// `key<5` (integers)
    LessThan,
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    /// Sorted, without duplicates.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking the key, the values and their number
    /// the way Kubernetes' `NewRequirement` does.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Self, ApiError> {
        let mut errs: Vec<FieldError> = Vec::new();
        let key_errs = is_label_key(key);
        if !key_errs.is_empty() {
            errs.push(FieldError::invalid("key", key, key_errs.join("; ")));
        }
        let listed = || Value::from(values.clone());
        match op {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(FieldError::invalid(
                        "values",
                        listed(),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        "values",
                        listed(),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(FieldError::invalid(
                        "values",
                        listed(),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        "values",
                        listed(),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(FieldError::invalid(
                            format!("values[{i}]"),
                            v.as_str(),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = is_label_value(v);
            if !value_errs.is_empty() {
                errs.push(FieldError::invalid(
                    format!("values[{i}][{key}]"),
                    v.as_str(),
                    value_errs.join("; "),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::bad_request(aggregate(&errs)));
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Requirement {
            key: key.to_owned(),
            op,
            values,
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.op
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether the labels satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                labels.get(&self.key).is_some_and(|v| has(v))
            }
            Operator::NotIn | Operator::NotEquals => labels.get(&self.key).is_none_or(|v| !has(v)),
            Operator::Exists => labels.contains_key(&self.key),
            Operator::DoesNotExist => !labels.contains_key(&self.key),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = labels.get(&self.key).and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(want) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                if self.op == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.op {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
        }
    }
}

/// Kubernetes' aggregate error text: one error bare, several in brackets.
fn aggregate(errs: &[FieldError]) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for e in errs {
        let m = e.to_string();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    if msgs.len() == 1 {
        msgs.remove(0)
    } else {
        format!("[{}]", msgs.join(", "))
    }
}

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// Sorted by key.
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// Parses `a=b,c!=d,e in (f,g),!h,i`; errors are 400s worded like the
    /// apiserver's (`unable to parse requirement: …`, `found 'x', expected: …`).
    pub fn parse(selector: &str) -> Result<Self, ApiError> {
        let mut parser = Parser::new(selector);
        let mut requirements = parser.parse().map_err(ApiError::bad_request)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// Converts a `metav1.LabelSelector` (matchLabels and matchExpressions),
    /// as Services and workload controllers carry them.
    pub fn from_metav1(selector: &metav1::LabelSelector) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in selector.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            requirements.push(Requirement::new(
                &expr.key,
                op,
                expr.values.clone().unwrap_or_default(),
            )?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// True when the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether every requirement holds for these labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches an object by its `metadata.labels` (non-string values ignored).
    pub fn matches_object(&self, object: &Value) -> bool {
        if self.is_empty() {
            return true;
        }
        let labels: BTreeMap<String, String> = object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        self.matches(&labels)
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn symbol(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits the selector into tokens (all at once, like Kubernetes' scanner).
fn lex(s: &str) -> Vec<(Token, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Token::End, ""));
            return out;
        }
        let start = i;
        if is_special(b[i]) {
            // Longest run of special characters that still forms a symbol.
            let mut best = (Token::End, start);
            let mut j = start;
            while j < b.len() && is_special(b[j]) {
                j += 1;
                match symbol(&s[start..j]) {
                    Some(t) => best = (t, j),
                    None => break,
                }
            }
            // A single special character is always a symbol.
            let (tok, end) = best;
            out.push((tok, &s[start..end]));
            i = end;
        } else {
            while i < b.len() && !is_special(b[i]) && !is_space(b[i]) {
                i += 1;
            }
            let word = &s[start..i];
            let tok = match word {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
            out.push((tok, word));
        }
    }
}

/// Whether `in` and `notin` are keywords (after a key) or plain values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    items: Vec<(Token, &'a str)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            items: lex(s),
            pos: 0,
        }
    }

    fn peek(&self, ctx: Context) -> (Token, &'a str) {
        let (tok, lit) = self
            .items
            .get(self.pos)
            .copied()
            .unwrap_or((Token::End, ""));
        match tok {
            Token::In | Token::NotIn if ctx == Context::Values => (Token::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn next(&mut self, ctx: Context) -> (Token, &'a str) {
        let item = self.peek(ctx);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut out = Vec::new();
        loop {
            let (tok, lit) = self.peek(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    out.push(r);
                    let (t, l) = self.next(Context::Values);
                    match t {
                        Token::End => return Ok(out),
                        Token::Comma => {
                            let (t2, l2) = self.peek(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(out),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.key_and_inferred_operator()?;
        if let Some(op) = op {
            return Requirement::new(key, op, Vec::new()).map_err(|e| e.message);
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(key, op, values).map_err(|e| e.message)
    }

    fn key_and_inferred_operator(&mut self) -> Result<(&'a str, Option<Operator>), String> {
        let (mut tok, mut lit) = self.next(Context::Values);
        let mut op = None;
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.next(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = is_label_key(lit);
        if !errs.is_empty() {
            return Err(FieldError::invalid("<nil>", lit, errs.join("; ")).to_string());
        }
        let (t, _) = self.peek(Context::Values);
        if (t == Token::End || t == Token::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.next(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    /// `(a,b,c)`; empty entries are empty-string values.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.next(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.peek(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let set = self.identifiers()?;
                let (t, _) = self.next(Context::Values);
                if t != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.next(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: &str| {
            if !set.iter().any(|x| x == v) {
                set.push(v.to_owned());
            }
        };
        loop {
            let (tok, lit) = self.next(Context::Values);
            match tok {
                Token::Identifier => {
                    insert(&mut set, lit);
                    let (t2, l2) = self.peek(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        insert(&mut set, "");
                    }
                    let (t2, _) = self.peek(Context::Values);
                    if t2 == Token::ClosedPar {
                        insert(&mut set, "");
                        return Ok(set);
                    }
                    if t2 == Token::Comma {
                        insert(&mut set, "");
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.peek(Context::Values);
        if tok == Token::End || tok == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.next(Context::Values);
        if tok == Token::Identifier {
            Ok(vec![lit.to_owned()])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

/// How a field term compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `field=value` or `field==value`
    Equals,
    /// `field!=value`
    NotEquals,
}

/// One `field op value` term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

/// A parsed field selector for one kind: all terms must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    kind: String,
    terms: Vec<FieldTerm>,
}

/// The fields a kind can be selected by, besides `metadata.name` (and
/// `metadata.namespace` where Kubernetes allows it), as the apiserver
/// registers them.
fn kind_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        "Node" => &["metadata.name", "spec.unschedulable"],
        "Namespace" => &["metadata.name", "status.phase"],
        "Secret" => &["metadata.name", "metadata.namespace", "type"],
        "Service" => &[
            "metadata.name",
            "metadata.namespace",
            "spec.clusterIP",
            "spec.type",
        ],
        "Event" => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        _ => return None,
    })
}

/// The field names `kind` can be selected by.
pub fn supported_fields(kind: &str) -> &'static [&'static str] {
    kind_fields(kind).unwrap_or(&["metadata.name", "metadata.namespace"])
}

/// Checks a field name for a kind, with the apiserver's error wording.
fn convert_field(kind: &str, field: &str) -> Result<String, String> {
    match kind_fields(kind) {
        Some(fields) => {
            if kind == "Pod" && field == "spec.host" {
                // Old clients' name for spec.nodeName.
                return Ok("spec.nodeName".to_owned());
            }
            if fields.contains(&field) {
                Ok(field.to_owned())
            } else {
                Err(format!("field label not supported: {field}"))
            }
        }
        None => match field {
            "metadata.name" | "metadata.namespace" => Ok(field.to_owned()),
            _ => Err(format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(field)
            )),
        },
    }
}

/// Splits on commas not escaped with a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// The first operator in the term splits it; the left side has no escapes.
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        if rest.starts_with("!=") {
            return Some((&term[..i], FieldOp::NotEquals, &term[i + 2..]));
        }
        if rest.starts_with("==") {
            return Some((&term[..i], FieldOp::Equals, &term[i + 2..]));
        }
        if rest.starts_with('=') {
            return Some((&term[..i], FieldOp::Equals, &term[i + 1..]));
        }
    }
    None
}

/// Undoes `\\`, `\,` and `\=` in a value; bare `,` or `=` are errors.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".to_owned());
    }
    Ok(out)
}

impl FieldSelector {
    /// Parses a field selector for objects of `kind` (`Pod`, `Node`, …) and
    /// checks that every field is selectable for that kind. Errors are 400s:
    /// `field label not supported: x`, `invalid selector: …`.
    pub fn parse(kind: &str, selector: &str) -> Result<Self, ApiError> {
        let mut parts = split_terms(selector);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((field, op, raw)) = split_term(part) else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                )));
            };
            let value = unescape(raw).map_err(ApiError::bad_request)?;
            terms.push(FieldTerm {
                field: field.to_owned(),
                op,
                value,
            });
        }
        for term in &mut terms {
            term.field = convert_field(kind, &term.field).map_err(ApiError::bad_request)?;
        }
        Ok(FieldSelector {
            kind: kind.to_owned(),
            terms,
        })
    }

    /// True when the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// The value the selector pins `field` to with `=`, if it does (so a
    /// handler can turn `metadata.name=x` into a single get).
    pub fn exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op == FieldOp::Equals)
            .map(|t| t.value.as_str())
    }

    /// Whether the object satisfies every term. Absent fields read as ``.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| {
            let have = field_value(&self.kind, object, &t.field);
            match t.op {
                FieldOp::Equals => have == t.value,
                FieldOp::NotEquals => have != t.value,
            }
        })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match t.op {
                FieldOp::Equals => "=",
                FieldOp::NotEquals => "!=",
            };
            let value = t
                .value
                .replace('\\', "\\\\")
                .replace(',', "\\,")
                .replace('=', "\\=");
            write!(f, "{}{op}{value}", t.field)?;
        }
        Ok(())
    }
}

fn at<'v>(object: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(object, |v, k| v.get(*k))
}

fn text_at(object: &Value, path: &[&str]) -> String {
    at(object, path)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn bool_at(object: &Value, path: &[&str]) -> String {
    at(object, path)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

/// The value a selectable field has on an object, as the apiserver computes
/// it for matching (`spec.unschedulable` is `true`/`false`, absent text is ``).
pub fn field_value(kind: &str, object: &Value, field: &str) -> String {
    match (kind, field) {
        (_, "metadata.name") => text_at(object, &["metadata", "name"]),
        (_, "metadata.namespace") => text_at(object, &["metadata", "namespace"]),
        ("Pod", "spec.hostNetwork") => bool_at(object, &["spec", "hostNetwork"]),
        ("Pod", "status.podIP") => at(object, &["status", "podIPs"])
            .and_then(|ips| ips.get(0))
            .and_then(|ip| ip.get("ip"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| text_at(object, &["status", "podIP"])),
        // Accepted by the apiserver but never in the selectable set.
        ("Pod", "status.podIPs") => String::new(),
        ("Node", "spec.unschedulable") => bool_at(object, &["spec", "unschedulable"]),
        ("Event", "source") => {
            let component = text_at(object, &["source", "component"]);
            if component.is_empty() {
                text_at(object, &["reportingComponent"])
            } else {
                component
            }
        }
        (_, field) => {
            let path: Vec<&str> = field.split('.').collect();
            text_at(object, &path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(s: &str) -> LabelSelector {
        match LabelSelector::parse(s) {
            Ok(sel) => sel,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn label_selectors_match() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5"), ("empty", "")]);
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (x)", true),
            ("missing in (x)", false),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("app>1", false),
            ("missing<1", false),
            ("empty=", true),
            ("empty in ()", true),
            ("empty in (,x)", true),
            ("app in (,)", false),
            ("  app = web , tier in ( front , back )  ", true),
            ("in=x", false),
            ("app in (in,notin)", false),
            ("example.com/role=a", false),
            ("!example.com/role", true),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s).matches(&l), want, "{s}");
        }
        let l2 = labels(&[("in", "notin")]);
        assert!(parse("in=notin").matches(&l2));
        assert!(parse("in in (notin)").matches(&l2));
    }

    #[test]
    fn label_selectors_print_canonically() {
        let cases = [
            ("b=1,a in (z,y,y)", "a in (y,z),b=1"),
            ("!x, y, z!=1, w==2", "w==2,!x,y,z!=1"),
            ("a notin (), b>3", "a notin (),b>3"),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s).to_string(), want);
        }
    }

    #[test]
    fn label_selector_errors() {
        let name_part = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let cases = [
            ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".to_owned()),
            ("a=b c", "found 'c', expected: ',' or 'end of string'".to_owned()),
            ("a=b,", "found '', expected: identifier after ','".to_owned()),
            (",a", "found ',', expected: !, identifier, or 'end of string'".to_owned()),
            ("a in b", "unable to parse requirement: found 'b' expected: '('".to_owned()),
            ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'".to_owned()),
            ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".to_owned()),
            ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier".to_owned()),
            ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'".to_owned()),
            ("a=(", "unable to parse requirement: found '(', expected: identifier".to_owned()),
            ("!", "unable to parse requirement: found '', expected: identifier".to_owned()),
            ("!a=b", "found '=', expected: ',' or 'end of string'".to_owned()),
            ("-a=b", format!("unable to parse requirement: <nil>: Invalid value: \"-a\": {name_part}")),
            (
                "a=-b",
                "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_owned(),
            ),
            (
                "a>b",
                "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".to_owned(),
            ),
        ];
        for (s, want) in cases {
            let err = LabelSelector::parse(s).err();
            assert_eq!(err.as_ref().map(|e| e.code), Some(400), "{s}");
            assert_eq!(err.map(|e| e.message), Some(want), "{s}");
        }
    }

    #[test]
    fn metav1_selectors() {
        let sel: metav1::LabelSelector = match serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "x", "operator": "DoesNotExist"}]
        })) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let sel = match LabelSelector::from_metav1(&sel) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(sel.to_string(), "app=web,tier in (a,b),!x");
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("x", "")])));
        let bad = metav1::LabelSelector {
            match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_metav1(&bad).err().map(|e| e.message),
            Some("\"Gt\" is not a valid label selector operator".to_owned())
        );
        let empty_in = metav1::LabelSelector {
            match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec![]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_metav1(&empty_in)
                .err()
                .map(|e| e.message),
            Some(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                    .to_owned()
            )
        );
        assert!(
            LabelSelector::from_metav1(&metav1::LabelSelector::default())
                .is_ok_and(|s| s.is_empty())
        );
    }

    #[test]
    fn selects_objects_by_metadata_labels() {
        let obj = json!({"metadata": {"labels": {"app": "web", "odd": 3}}});
        assert!(parse("app=web").matches_object(&obj));
        assert!(!parse("odd").matches_object(&obj));
        assert!(!parse("app").matches_object(&json!({})));
        assert!(parse("").matches_object(&json!(null)));
    }

    fn field(kind: &str, s: &str) -> FieldSelector {
        match FieldSelector::parse(kind, s) {
            Ok(sel) => sel,
            Err(e) => panic!("{kind} {s}: {e}"),
        }
    }

    #[test]
    fn field_selectors_match() {
        let pod = json!({
            "metadata": {"name": "p1", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "default"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "podIP": "10.42.0.5"}
        });
        let cases = [
            ("", true),
            ("metadata.name=p1", true),
            ("metadata.name==p1", true),
            ("metadata.name!=p1", false),
            ("metadata.namespace=default,spec.nodeName=n1", true),
            ("spec.nodeName=", false),
            ("spec.nodeName!=", true),
            ("spec.host=n1", true),
            ("status.phase=Running", true),
            ("status.phase!=Succeeded,status.phase!=Failed", true),
            ("status.podIP=10.42.0.5", true),
            ("status.nominatedNodeName=", true),
            ("spec.hostNetwork=false", true),
            (
                "spec.restartPolicy=Always,spec.schedulerName=default-scheduler,spec.serviceAccountName=default",
                true,
            ),
        ];
        for (s, want) in cases {
            assert_eq!(field("Pod", s).matches(&pod), want, "{s}");
        }

        let node = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        assert!(field("Node", "spec.unschedulable=true").matches(&node));
        assert!(
            field("Node", "spec.unschedulable=false").matches(&json!({"metadata": {"name": "n2"}}))
        );

        let ns = json!({"metadata": {"name": "kube-system"}, "status": {"phase": "Active"}});
        assert!(field("Namespace", "status.phase=Active,metadata.name=kube-system").matches(&ns));

        let secret = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"});
        assert!(field("Secret", "type=kubernetes.io/tls").matches(&secret));

        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "clusterIP": "10.43.0.1"}});
        assert!(field("Service", "spec.type=ClusterIP,spec.clusterIP=10.43.0.1").matches(&svc));

        let event = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p1", "namespace": "default", "uid": "u", "apiVersion": "v1", "resourceVersion": "7", "fieldPath": "spec.containers{c}"},
            "reason": "Started", "type": "Normal", "reportingComponent": "kubelet"
        });
        assert!(field(
            "Event",
            "involvedObject.kind=Pod,involvedObject.name=p1,involvedObject.namespace=default,involvedObject.uid=u,involvedObject.apiVersion=v1,involvedObject.resourceVersion=7,involvedObject.fieldPath=spec.containers{c},reason=Started,type=Normal,reportingComponent=kubelet,source=kubelet"
        )
        .matches(&event));
        let with_source = json!({"source": {"component": "scheduler"}, "reportingComponent": "x"});
        assert!(field("Event", "source=scheduler").matches(&with_source));

        let lease = json!({"metadata": {"name": "l", "namespace": "kube-system"}});
        assert!(field("Lease", "metadata.name=l,metadata.namespace=kube-system").matches(&lease));
    }

    #[test]
    fn field_selector_escapes() {
        let sel = field("ConfigMap", r"metadata.name=a\,b\=c\\d");
        assert_eq!(sel.terms()[0].value, r"a,b=c\d");
        assert!(sel.matches(&json!({"metadata": {"name": r"a,b=c\d"}})));
        assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d");
        assert_eq!(sel.exact_match("metadata.name"), Some(r"a,b=c\d"));
        assert_eq!(
            field("ConfigMap", "metadata.name!=x").exact_match("metadata.name"),
            None
        );
        // Terms are sorted, empty terms skipped.
        assert_eq!(
            field("Pod", "spec.nodeName=b,,metadata.name=a").to_string(),
            "metadata.name=a,spec.nodeName=b"
        );
    }

    #[test]
    fn field_selector_errors() {
        let cases = [
            ("Pod", "spec.foo=x", "field label not supported: spec.foo"),
            (
                "Node",
                "metadata.namespace=x",
                "field label not supported: metadata.namespace",
            ),
            (
                "Namespace",
                "metadata.namespace=x",
                "field label not supported: metadata.namespace",
            ),
            (
                "ConfigMap",
                "data.x=y",
                r#""data.x" is not a known field selector: only "metadata.name", "metadata.namespace""#,
            ),
            (
                "Lease",
                "spec.holderIdentity=y",
                r#""spec.holderIdentity" is not a known field selector: only "metadata.name", "metadata.namespace""#,
            ),
            (
                "Pod",
                "metadata.name",
                "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
            ),
            (
                "Pod",
                "a=b,c",
                "invalid selector: 'a=b,c'; can't understand 'c'",
            ),
            (
                "Pod",
                r"metadata.name=a\b",
                r"invalid field selector: invalid escape sequence: \b",
            ),
            (
                "Pod",
                r"metadata.name=a\",
                r"invalid field selector: invalid escape sequence: \",
            ),
            (
                "Pod",
                "metadata.name=a=b",
                "invalid field selector: unescaped character in value: 61",
            ),
        ];
        for (kind, s, want) in cases {
            let err = FieldSelector::parse(kind, s).err();
            assert_eq!(err.as_ref().map(|e| e.code), Some(400), "{s}");
            assert_eq!(err.map(|e| e.message), Some(want.to_owned()), "{s}");
        }
        assert_eq!(
            supported_fields("Lease"),
            &["metadata.name", "metadata.namespace"]
        );
        assert!(supported_fields("Pod").contains(&"status.phase"));
    }

    /// A small deterministic generator of odd selector strings.
    fn odd_inputs() -> Vec<String> {
        let atoms = [
            "a", "b", "in", "notin", "=", "==", "!=", "!", "(", ")", ",", "<", ">", " ", "\t",
            "\\", "é", "/", "x.io/", "-", "_", ".", "0", "9", "\u{0}", "😀", "==!", "=(", "))",
            ",,", "\\,", "\\=",
        ];
        let mut out = Vec::new();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..4000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 59) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push_str(atoms[(state >> 33) as usize % atoms.len()]);
            }
            out.push(s);
        }
        out
    }

    #[test]
    fn selector_parsers_never_panic() {
        let l = labels(&[("a", "b"), ("in", "1")]);
        let obj = json!({"metadata": {"name": "a", "labels": {"a": "b"}}});
        let mut parsed = 0;
        for s in odd_inputs() {
            if let Ok(sel) = LabelSelector::parse(&s) {
                parsed += 1;
                sel.matches(&l);
                // The canonical form parses to the same selector.
                assert_eq!(
                    LabelSelector::parse(&sel.to_string()).ok().as_ref(),
                    Some(&sel),
                    "{s:?}"
                );
            }
            for kind in ["Pod", "Node", "Event", "ConfigMap"] {
                if let Ok(sel) = FieldSelector::parse(kind, &s) {
                    sel.matches(&obj);
                }
            }
        }
        assert!(parsed > 100, "only {parsed} inputs parsed");
    }
}
