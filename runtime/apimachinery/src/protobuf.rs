//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded
//! into the JSON object a JSON client would have sent for the same object.
//!
//! Typed client-go clients (kubectl's generators such as `kubectl create
//! configmap`, kubelets, controllers) POST and PUT protobuf: the magic
//! `k8s\0`, then a `runtime.Unknown` envelope (`typeMeta`, `raw`,
//! `contentEncoding`, `contentType`) whose `raw` is the object's own message.
//! [`decode`] turns that into the JSON the rest of the server already reads,
//! following what Go's JSON encoder writes for the same Go value: camelCase
//! names, `omitempty` zero values left out, pointers kept, times as RFC 3339,
//! `bytes` as base64, quantities and int-or-strings in their JSON forms.
//!
//! Owns the envelope, the mapping from wire values to JSON and its errors.
//! The wire grammar is in [`wire`], the field tables in [`schema`]. Must not
//! validate objects (the JSON path does that after decoding), encode
//! protobuf responses, or panic on any input: malformed bodies are 400s,
//! envelopes of another kind or format are 415s, unknown fields are skipped.

pub mod schema;
pub mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Number, Value};

use self::schema::{Field, Kind, Message, Rule};
use self::wire::{Reader, Wire, WireError};
use crate::resources::ResourceType;
use crate::status::{ApiError, Reason};

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Whether a `Content-Type` header names Kubernetes protobuf (parameters
/// and case ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(CONTENT_TYPE)
}

/// Decodes a protobuf request body that must carry an object of `expected`'s
/// kind into that object's JSON form, `apiVersion` and `kind` included.
///
/// Errors: 415 when the body is not a Kubernetes protobuf envelope or
/// carries another kind, version or encoding; 400 when it is malformed.
pub fn decode(body: &[u8], expected: &ResourceType) -> Result<Value, ApiError> {
    let api_version = expected.api_version();
    let Some(rest) = body.strip_prefix(MAGIC.as_slice()) else {
        return Err(unsupported(format!(
            "the body of the request is not a Kubernetes protobuf message (it does not start \
             with the 4-byte prefix \"k8s\\x00\"); send {api_version} {} as \
             {CONTENT_TYPE} or application/json",
            expected.kind
        )));
    };
    let envelope = Envelope::parse(rest)
        .map_err(|e| bad_request(expected, &e.at("(runtime.Unknown envelope)")))?;
    if envelope.api_version != api_version || envelope.kind != expected.kind {
        return Err(unsupported(format!(
            "the protobuf body carries {} but this endpoint expects {api_version} {}",
            describe_type(&envelope.api_version, &envelope.kind),
            expected.kind
        )));
    }
    if !envelope.content_encoding.is_empty() {
        return Err(unsupported(format!(
            "the protobuf body's content encoding {:?} is not supported; send the object \
             unencoded",
            envelope.content_encoding
        )));
    }
    if !envelope.content_type.is_empty() && !is_protobuf(&envelope.content_type) {
        return Err(unsupported(format!(
            "the protobuf envelope declares its content as {:?}; only {CONTENT_TYPE} is \
             accepted inside it",
            envelope.content_type
        )));
    }
    let Some(root) = schema::root(expected.group, expected.kind) else {
        return Err(unsupported(format!(
            "{api_version} {} cannot be sent as protobuf; send it as application/json",
            expected.kind
        )));
    };
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(envelope.api_version));
    object.insert("kind".into(), Value::String(envelope.kind));
    decode_into(root, envelope.raw, &mut object).map_err(|e| bad_request(expected, &e))?;
    Ok(Value::Object(object))
}

fn describe_type(api_version: &str, kind: &str) -> String {
    match (api_version.is_empty(), kind.is_empty()) {
        (true, true) => "no apiVersion and kind".to_owned(),
        (false, true) => format!("{api_version} with no kind"),
        (true, false) => format!("kind {kind} with no apiVersion"),
        (false, false) => format!("{api_version} {kind}"),
    }
}

fn unsupported(message: String) -> ApiError {
    ApiError {
        code: 415,
        reason: Reason::UnsupportedMediaType,
        message,
        details: None,
    }
}

fn bad_request(expected: &ResourceType, err: &Malformed) -> ApiError {
    ApiError::bad_request(format!(
        "the protobuf body is not a valid {} {}: {err}",
        expected.api_version(),
        expected.kind
    ))
}

/// A malformed body: what is wrong and where (JSON path of the field).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Malformed {
    /// Path segments, innermost first: `["[0]", "ports", "spec"]`.
    path: Vec<String>,
    what: String,
}

impl Malformed {
    fn new(what: impl Into<String>) -> Self {
        Malformed {
            path: Vec::new(),
            what: what.into(),
        }
    }

    fn at(mut self, segment: impl Into<String>) -> Self {
        self.path.push(segment.into());
        self
    }
}

impl From<WireError> for Malformed {
    fn from(err: WireError) -> Self {
        Malformed::new(err.to_string())
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut path = String::new();
        for segment in self.path.iter().rev().filter(|s| !s.is_empty()) {
            if !path.is_empty() && !segment.starts_with('[') {
                path.push('.');
            }
            path.push_str(segment);
        }
        if path.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{path}: {}", self.what)
        }
    }
}

/// `runtime.Unknown`, the envelope around the object's bytes.
#[derive(Debug, Default)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn parse(data: &'a [u8]) -> Result<Self, Malformed> {
        let mut envelope = Envelope::default();
        let mut reader = Reader::new(data);
        while let Some((number, wire)) = reader.next_field()? {
            match (number, wire) {
                (1, Wire::Len(type_meta)) => {
                    let mut inner = Reader::new(type_meta);
                    while let Some((number, wire)) = inner.next_field()? {
                        match (number, wire) {
                            (1, Wire::Len(s)) => {
                                envelope.api_version = utf8(s).map_err(|e| e.at("apiVersion"))?;
                            }
                            (2, Wire::Len(s)) => {
                                envelope.kind = utf8(s).map_err(|e| e.at("kind"))?;
                            }
                            (1 | 2, other) => {
                                return Err(wrong_wire(Kind::Str, other).at(if number == 1 {
                                    "apiVersion"
                                } else {
                                    "kind"
                                }));
                            }
                            _ => {}
                        }
                    }
                }
                (2, Wire::Len(raw)) => envelope.raw = raw,
                (3, Wire::Len(s)) => {
                    envelope.content_encoding = utf8(s).map_err(|e| e.at("contentEncoding"))?;
                }
                (4, Wire::Len(s)) => {
                    envelope.content_type = utf8(s).map_err(|e| e.at("contentType"))?;
                }
                (1..=4, other) => {
                    return Err(Malformed::new(format!(
                        "field {number} is {} but must be length-delimited",
                        other.name()
                    )));
                }
                _ => {}
            }
        }
        Ok(envelope)
    }
}

fn utf8(bytes: &[u8]) -> Result<String, Malformed> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(Malformed::new(format!(
            "string is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))),
    }
}

fn wrong_wire(kind: Kind, wire: Wire<'_>) -> Malformed {
    let expected = match kind {
        Kind::Bool | Kind::Int32 | Kind::Int64 => "varint",
        _ => "length-delimited",
    };
    Malformed::new(format!("expected a {expected} value, got {}", wire.name()))
}

/// Decodes `data` as `message`, merging into `out` (protobuf merge rules:
/// a repeated occurrence of a singular message field merges into it, of a
/// scalar replaces it).
fn decode_into(
    message: &'static Message,
    data: &[u8],
    out: &mut Map<String, Value>,
) -> Result<(), Malformed> {
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.next_field()? {
        let Some(field) = message.field(number) else {
            continue;
        };
        decode_field(field, wire, out).map_err(|e| e.at(field.name))?;
    }
    Ok(())
}

fn decode_field(
    field: &Field,
    wire: Wire<'_>,
    out: &mut Map<String, Value>,
) -> Result<(), Malformed> {
    let name = field.name;
    match (field.rule, field.kind) {
        (Rule::Inline, Kind::Msg(inner)) => {
            let Wire::Len(data) = wire else {
                return Err(wrong_wire(field.kind, wire));
            };
            decode_into(inner, data, out)
        }
        (Rule::Map, kind) => {
            let Wire::Len(data) = wire else {
                return Err(wrong_wire(field.kind, wire));
            };
            let mut entries = match out.remove(name) {
                Some(Value::Object(map)) => map,
                _ => Map::new(),
            };
            let (key, value) = map_entry(kind, data)?;
            entries.insert(key, value);
            out.insert(name.to_owned(), Value::Object(entries));
            Ok(())
        }
        (Rule::List, kind) => {
            let mut items = match out.remove(name) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            match (kind, wire) {
                // A packed run of varints.
                (Kind::Bool | Kind::Int32 | Kind::Int64, Wire::Len(run)) => {
                    for v in wire::packed_varints(run)? {
                        items.push(varint_value(kind, v));
                    }
                }
                (Kind::Msg(inner), Wire::Len(data)) => {
                    let mut item = Map::new();
                    let index = items.len();
                    decode_into(inner, data, &mut item).map_err(|e| e.at(format!("[{index}]")))?;
                    items.push(Value::Object(item));
                }
                _ => {
                    let index = items.len();
                    let value = scalar(kind, wire).map_err(|e| e.at(format!("[{index}]")))?;
                    items.push(value);
                }
            }
            if !items.is_empty() {
                out.insert(name.to_owned(), Value::Array(items));
            }
            Ok(())
        }
        (_, Kind::Msg(inner)) => {
            let Wire::Len(data) = wire else {
                return Err(wrong_wire(field.kind, wire));
            };
            let mut object = match out.remove(name) {
                Some(Value::Object(map)) => map,
                _ => Map::new(),
            };
            decode_into(inner, data, &mut object)?;
            out.insert(name.to_owned(), Value::Object(object));
            Ok(())
        }
        (rule, kind) => {
            let value = scalar(kind, wire)?;
            if value.is_null() || (rule == Rule::Omit && is_zero(&value)) {
                out.remove(name);
            } else {
                out.insert(name.to_owned(), value);
            }
            Ok(())
        }
    }
}

/// Go's zero values of the scalar kinds `omitempty` drops.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

fn varint_value(kind: Kind, v: u64) -> Value {
    match kind {
        Kind::Bool => Value::Bool(v != 0),
        // Go keeps the low 32 bits of an int32's (sign-extended) varint.
        Kind::Int32 => Value::Number(Number::from(v as u32 as i32)),
        _ => Value::Number(Number::from(v as i64)),
    }
}

/// A non-message value. `Null` stands for a zero time (Go writes `null`),
/// which the caller leaves out.
fn scalar(kind: Kind, wire: Wire<'_>) -> Result<Value, Malformed> {
    match (kind, wire) {
        (Kind::Bool | Kind::Int32 | Kind::Int64, Wire::Varint(v)) => Ok(varint_value(kind, v)),
        (Kind::Str, Wire::Len(data)) => utf8(data).map(Value::String),
        (Kind::Bytes, Wire::Len(data)) => Ok(Value::String(B64.encode(data))),
        (Kind::Time, Wire::Len(data)) => timestamp(data, false),
        (Kind::MicroTime, Wire::Len(data)) => timestamp(data, true),
        (Kind::IntOrString, Wire::Len(data)) => int_or_string(data),
        (Kind::Quantity, Wire::Len(data)) => quantity(data),
        (Kind::FieldsV1, Wire::Len(data)) => fields_v1(data),
        (kind, wire) => Err(wrong_wire(kind, wire)),
    }
}

/// One `map<string, kind>` entry: key = 1, value = 2; missing parts are
/// their zero values.
fn map_entry(kind: Kind, data: &[u8]) -> Result<(String, Value), Malformed> {
    let mut key = String::new();
    let mut value: Option<Wire<'_>> = None;
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, Wire::Len(k)) => key = utf8(k).map_err(|e| e.at("(map key)"))?,
            (1, other) => return Err(wrong_wire(Kind::Str, other).at("(map key)")),
            (2, wire) => value = Some(wire),
            _ => {}
        }
    }
    let value = match (value, kind) {
        (Some(wire), Kind::Msg(inner)) => {
            let Wire::Len(data) = wire else {
                return Err(wrong_wire(kind, wire).at(format!("[{key}]")));
            };
            let mut object = Map::new();
            decode_into(inner, data, &mut object).map_err(|e| e.at(format!("[{key}]")))?;
            Value::Object(object)
        }
        (Some(wire), kind) => scalar(kind, wire).map_err(|e| e.at(format!("[{key}]")))?,
        (None, Kind::Quantity) => Value::String("0".into()),
        (None, Kind::Msg(_)) => Value::Object(Map::new()),
        (None, Kind::Bool) => Value::Bool(false),
        (None, Kind::Int32 | Kind::Int64) => Value::Number(Number::from(0)),
        (None, _) => Value::String(String::new()),
    };
    Ok((key, value))
}

/// Seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z), which Go writes
/// as `null`.
const GO_ZERO_TIME: i64 = -62_135_596_800;
/// The last second protobuf's Timestamp allows (9999-12-31T23:59:59Z).
const MAX_TIME: i64 = 253_402_300_799;

/// `metav1.Time` / `metav1.MicroTime` (`seconds` = 1, `nanos` = 2). An empty
/// message is the zero time (Go marshals the zero time as no bytes).
fn timestamp(data: &[u8], micro: bool) -> Result<Value, Malformed> {
    let mut seconds: i64 = 0;
    let mut nanos: i32 = 0;
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, Wire::Varint(v)) => seconds = v as i64,
            (2, Wire::Varint(v)) => nanos = v as u32 as i32,
            (1 | 2, other) => return Err(wrong_wire(Kind::Int64, other)),
            _ => {}
        }
    }
    if data.is_empty() || (seconds == GO_ZERO_TIME && nanos == 0) {
        return Ok(Value::Null);
    }
    if !(GO_ZERO_TIME..=MAX_TIME).contains(&seconds) {
        return Err(Malformed::new(format!(
            "timestamp {seconds} s is outside 0001-01-01..9999-12-31"
        )));
    }
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(Malformed::new(format!(
            "timestamp nanos {nanos} is outside 0..999999999"
        )));
    }
    Ok(Value::String(rfc3339(seconds, nanos, micro)))
}

/// Formats a UTC time as Go's `time.RFC3339` (whole seconds) or
/// `RFC3339Micro` (six fractional digits, truncated), for years 1..=9999.
fn rfc3339(seconds: i64, nanos: i32, micro: bool) -> String {
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    if micro {
        let us = nanos / 1000;
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{us:06}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (the
/// well-known era-based conversion: 400-year eras of 146097 days).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `intstr.IntOrString`: `type` = 1 (0 int, 1 string), `intVal` = 2,
/// `strVal` = 3.
fn int_or_string(data: &[u8]) -> Result<Value, Malformed> {
    let mut kind: i64 = 0;
    let mut int_val: i32 = 0;
    let mut str_val = String::new();
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, Wire::Varint(v)) => kind = v as i64,
            (2, Wire::Varint(v)) => int_val = v as u32 as i32,
            (3, Wire::Len(s)) => str_val = utf8(s)?,
            (1 | 2, other) => return Err(wrong_wire(Kind::Int64, other)),
            (3, other) => return Err(wrong_wire(Kind::Str, other)),
            _ => {}
        }
    }
    match kind {
        0 => Ok(Value::Number(Number::from(int_val))),
        1 => Ok(Value::String(str_val)),
        other => Err(Malformed::new(format!(
            "IntOrString type {other} is neither 0 (int) nor 1 (string)"
        ))),
    }
}

/// `resource.Quantity`: its string form in field 1 ("0" when absent). The
/// string is passed on as sent, as a JSON client's would be.
fn quantity(data: &[u8]) -> Result<Value, Malformed> {
    let mut text = "0".to_owned();
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, Wire::Len(s)) => text = utf8(s)?,
            (1, other) => return Err(wrong_wire(Kind::Str, other)),
            _ => {}
        }
    }
    if text.is_empty() {
        return Err(Malformed::new("quantity is empty"));
    }
    Ok(Value::String(text))
}

/// `metav1.FieldsV1`: raw JSON in field 1, embedded as JSON.
fn fields_v1(data: &[u8]) -> Result<Value, Malformed> {
    let mut raw: &[u8] = &[];
    let mut reader = Reader::new(data);
    while let Some((number, wire)) = reader.next_field()? {
        match (number, wire) {
            (1, Wire::Len(r)) => raw = r,
            (1, other) => return Err(wrong_wire(Kind::Bytes, other)),
            _ => {}
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| Malformed::new(format!("fieldsV1 is not JSON: {e}")))
}

#[cfg(test)]
mod tests;
