//! The protobuf wire format, read side: tags, varints, length-delimited
//! payloads, fixed32/fixed64, and groups (skipped).
//!
//! Owns the byte-level grammar of one message: [`Reader`] yields each field
//! as its number and [`Wire`] payload, borrowing from the input. Must not know
//! any schema, allocate per field, or panic on any input: every way a byte
//! string can be malformed is a [`WireError`].

use std::fmt;

/// The largest field number protobuf allows (2^29 - 1).
pub const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// One field's payload, as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire<'a> {
    /// Wire type 0: int32, int64, uint*, bool, enum (and sint*, zigzagged).
    Varint(u64),
    /// Wire type 1: fixed64, sfixed64, double.
    Fixed64(u64),
    /// Wire type 2: string, bytes, messages, packed repeated scalars.
    Len(&'a [u8]),
    /// Wire type 5: fixed32, sfixed32, float.
    Fixed32(u32),
    /// Wire types 3..4: a (deprecated) group, already skipped.
    Group,
}

impl Wire<'_> {
    /// How error messages name the wire type.
    pub fn name(&self) -> &'static str {
        match self {
            Wire::Varint(_) => "varint",
            Wire::Fixed64(_) => "fixed64",
            Wire::Len(_) => "length-delimited",
            Wire::Fixed32(_) => "fixed32",
            Wire::Group => "group",
        }
    }
}

/// Why a byte string is not a protobuf message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The input ends inside a varint.
    TruncatedVarint,
    /// A varint longer than ten bytes.
    VarintTooLong,
    /// A length or fixed-width payload runs past the end of the message.
    Truncated {
        field: u32,
        needed: u64,
        left: usize,
    },
    /// Field number 0 or above 2^29 - 1.
    BadFieldNumber(u64),
    /// Wire type 6 or 7.
    BadWireType { field: u32, wire_type: u8 },
    /// An end-group tag with no matching start, or the wrong number.
    UnbalancedGroup { field: u32 },
    /// The input ends inside a group.
    UnterminatedGroup { field: u32 },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::TruncatedVarint => f.write_str("the message ends inside a varint"),
            WireError::VarintTooLong => f.write_str("a varint is longer than 10 bytes"),
            WireError::Truncated {
                field,
                needed,
                left,
            } => write!(
                f,
                "field {field} needs {needed} bytes but only {left} are left in its message"
            ),
            WireError::BadFieldNumber(n) => write!(f, "invalid field number {n}"),
            WireError::BadWireType { field, wire_type } => {
                write!(f, "field {field} has invalid wire type {wire_type}")
            }
            WireError::UnbalancedGroup { field } => {
                write!(f, "end-group tag for field {field} without its start")
            }
            WireError::UnterminatedGroup { field } => {
                write!(f, "group of field {field} is not terminated")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// Reads the fields of one message in order.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn left(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// A base-128 varint. Ten bytes at most; bits above 64 are dropped, as
    /// Go's generated decoders do.
    pub fn varint(&mut self) -> Result<u64, WireError> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let Some(&byte) = self.data.get(self.pos) else {
                return Err(WireError::TruncatedVarint);
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f).checked_shl(7 * i).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::VarintTooLong)
    }

    fn take(&mut self, field: u32, n: u64) -> Result<&'a [u8], WireError> {
        let left = self.left();
        let too_long = || WireError::Truncated {
            field,
            needed: n,
            left,
        };
        let n = usize::try_from(n).map_err(|_| too_long())?;
        if n > left {
            return Err(too_long());
        }
        let start = self.pos;
        self.pos += n;
        self.data.get(start..self.pos).ok_or_else(too_long)
    }

    fn fixed<const N: usize>(&mut self, field: u32) -> Result<[u8; N], WireError> {
        let bytes = self.take(field, N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn tag(&mut self) -> Result<(u32, u8), WireError> {
        let tag = self.varint()?;
        let number = tag >> 3;
        let wire_type = (tag & 7) as u8;
        match u32::try_from(number) {
            Ok(n) if (1..=MAX_FIELD_NUMBER).contains(&n) => Ok((n, wire_type)),
            _ => Err(WireError::BadFieldNumber(number)),
        }
    }

    /// Skips the rest of a group whose start tag (field `field`) was read.
    fn skip_group(&mut self, field: u32) -> Result<(), WireError> {
        let mut open = vec![field];
        while let Some(&innermost) = open.last() {
            if self.left() == 0 {
                return Err(WireError::UnterminatedGroup { field: innermost });
            }
            let (number, wire_type) = self.tag()?;
            match wire_type {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(number, 8)?;
                }
                2 => {
                    let len = self.varint()?;
                    self.take(number, len)?;
                }
                3 => open.push(number),
                4 if number == innermost => {
                    open.pop();
                }
                4 => return Err(WireError::UnbalancedGroup { field: number }),
                5 => {
                    self.take(number, 4)?;
                }
                other => {
                    return Err(WireError::BadWireType {
                        field: number,
                        wire_type: other,
                    });
                }
            }
        }
        Ok(())
    }

    /// The next field, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, WireError> {
        if self.left() == 0 {
            return Ok(None);
        }
        let (number, wire_type) = self.tag()?;
        let wire = match wire_type {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(self.fixed::<8>(number)?)),
            2 => {
                let len = self.varint()?;
                Wire::Len(self.take(number, len)?)
            }
            3 => {
                self.skip_group(number)?;
                Wire::Group
            }
            4 => return Err(WireError::UnbalancedGroup { field: number }),
            5 => Wire::Fixed32(u32::from_le_bytes(self.fixed::<4>(number)?)),
            other => {
                return Err(WireError::BadWireType {
                    field: number,
                    wire_type: other,
                });
            }
        };
        Ok(Some((number, wire)))
    }
}

/// Reads a packed run of varints (a packed repeated int32/int64/bool).
pub fn packed_varints(data: &[u8]) -> Result<Vec<u64>, WireError> {
    let mut reader = Reader::new(data);
    let mut out = Vec::new();
    while reader.left() > 0 {
        out.push(reader.varint()?);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod encode {
    //! A minimal writer for tests: enough to build any message the decoder
    //! reads, including the malformed ones.

    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    pub fn tag(out: &mut Vec<u8>, field: u32, wire_type: u8) {
        varint(out, (u64::from(field) << 3) | u64::from(wire_type));
    }

    pub fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
        tag(out, field, 0);
        varint(out, v);
    }

    /// An int32/int64 field: negative values are ten-byte varints.
    pub fn int(out: &mut Vec<u8>, field: u32, v: i64) {
        uint(out, field, v as u64);
    }

    pub fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
        tag(out, field, 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }

    pub fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        bytes(out, field, s.as_bytes());
    }

    /// A `map<string, string>` entry.
    pub fn entry(out: &mut Vec<u8>, field: u32, key: &str, value: &str) {
        let mut e = Vec::new();
        string(&mut e, 1, key);
        string(&mut e, 2, value);
        bytes(out, field, &e);
    }
}

#[cfg(test)]
mod tests {
    use super::encode::*;
    use super::*;

    fn fields(data: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, WireError> {
        let mut reader = Reader::new(data);
        let mut out = Vec::new();
        while let Some(f) = reader.next_field()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(Reader::new(&buf).varint(), Ok(v), "{v}");
        }
        assert_eq!(Reader::new(&[0xac, 0x02]).varint(), Ok(300));
        // Non-minimal encodings are accepted, as every protobuf reader does.
        assert_eq!(Reader::new(&[0x81, 0x80, 0x80, 0x00]).varint(), Ok(1));
    }

    #[test]
    fn negative_int32_is_a_ten_byte_varint() {
        let mut buf = Vec::new();
        int(&mut buf, 1, -1);
        assert_eq!(buf.len(), 11);
        let got = fields(&buf).expect("decode");
        assert_eq!(got, vec![(1, Wire::Varint(u64::MAX))]);
        assert_eq!(u64::MAX as i32, -1);
    }

    #[test]
    fn varint_errors() {
        assert_eq!(Reader::new(&[]).varint(), Err(WireError::TruncatedVarint));
        assert_eq!(
            Reader::new(&[0x80, 0x80]).varint(),
            Err(WireError::TruncatedVarint)
        );
        assert_eq!(
            Reader::new(&[0xff; 11]).varint(),
            Err(WireError::VarintTooLong)
        );
    }

    #[test]
    fn length_delimited_fields() {
        let mut buf = Vec::new();
        string(&mut buf, 1, "name");
        bytes(&mut buf, 2, &[]);
        string(&mut buf, 16_000, "far");
        let got = fields(&buf).expect("decode");
        assert_eq!(
            got,
            vec![
                (1, Wire::Len(b"name")),
                (2, Wire::Len(b"")),
                (16_000, Wire::Len(b"far"))
            ]
        );
    }

    #[test]
    fn truncated_length_is_an_error() {
        let mut buf = Vec::new();
        string(&mut buf, 3, "hello");
        buf.truncate(buf.len() - 1);
        assert_eq!(
            fields(&buf),
            Err(WireError::Truncated {
                field: 3,
                needed: 5,
                left: 4
            })
        );
        // A length that does not fit in memory at all.
        let mut huge = Vec::new();
        tag(&mut huge, 1, 2);
        varint(&mut huge, u64::MAX);
        assert!(matches!(
            fields(&huge),
            Err(WireError::Truncated { field: 1, .. })
        ));
    }

    #[test]
    fn packed_repeated_varints() {
        let mut packed = Vec::new();
        for v in [3u64, 270, 86_942] {
            varint(&mut packed, v);
        }
        let mut buf = Vec::new();
        bytes(&mut buf, 4, &packed);
        // The example from the protobuf encoding guide.
        assert_eq!(buf, [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
        let got = fields(&buf).expect("decode");
        let [(4, Wire::Len(run))] = got.as_slice() else {
            panic!("{got:?}");
        };
        assert_eq!(packed_varints(run), Ok(vec![3, 270, 86_942]));
        assert_eq!(packed_varints(&[0x80]), Err(WireError::TruncatedVarint));
        assert_eq!(packed_varints(&[]), Ok(vec![]));
    }

    #[test]
    fn map_entries_are_repeated_messages() {
        let mut buf = Vec::new();
        entry(&mut buf, 11, "app", "web");
        entry(&mut buf, 11, "tier", "front");
        let got = fields(&buf).expect("decode");
        assert_eq!(got.len(), 2);
        let Wire::Len(first) = got[0].1 else {
            panic!("{got:?}");
        };
        assert_eq!(
            fields(first).expect("entry"),
            vec![(1, Wire::Len(b"app")), (2, Wire::Len(b"web"))]
        );
    }

    #[test]
    fn fixed_width_fields_are_read_and_skippable() {
        let mut buf = Vec::new();
        tag(&mut buf, 7, 1);
        buf.extend_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
        tag(&mut buf, 8, 5);
        buf.extend_from_slice(&0xdead_beefu32.to_le_bytes());
        uint(&mut buf, 9, 1);
        let got = fields(&buf).expect("decode");
        assert_eq!(
            got,
            vec![
                (7, Wire::Fixed64(0x0102_0304_0506_0708)),
                (8, Wire::Fixed32(0xdead_beef)),
                (9, Wire::Varint(1))
            ]
        );
        let mut short = Vec::new();
        tag(&mut short, 7, 1);
        short.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            fields(&short),
            Err(WireError::Truncated {
                field: 7,
                needed: 8,
                left: 3
            })
        );
    }

    #[test]
    fn groups_are_skipped_whole() {
        let mut buf = Vec::new();
        tag(&mut buf, 5, 3);
        uint(&mut buf, 1, 42);
        tag(&mut buf, 6, 3); // nested group
        string(&mut buf, 2, "x");
        tag(&mut buf, 6, 4);
        tag(&mut buf, 5, 4);
        uint(&mut buf, 2, 7);
        assert_eq!(
            fields(&buf).expect("decode"),
            vec![(5, Wire::Group), (2, Wire::Varint(7))]
        );

        let mut open = Vec::new();
        tag(&mut open, 5, 3);
        uint(&mut open, 1, 42);
        assert_eq!(
            fields(&open),
            Err(WireError::UnterminatedGroup { field: 5 })
        );

        let mut stray = Vec::new();
        tag(&mut stray, 5, 4);
        assert_eq!(fields(&stray), Err(WireError::UnbalancedGroup { field: 5 }));

        let mut mismatched = Vec::new();
        tag(&mut mismatched, 5, 3);
        tag(&mut mismatched, 6, 4);
        assert_eq!(
            fields(&mismatched),
            Err(WireError::UnbalancedGroup { field: 6 })
        );
    }

    #[test]
    fn bad_tags() {
        assert_eq!(fields(&[0x00]), Err(WireError::BadFieldNumber(0)));
        assert_eq!(
            fields(&[0x0e]),
            Err(WireError::BadWireType {
                field: 1,
                wire_type: 6
            })
        );
        assert_eq!(
            fields(&[0x0f]),
            Err(WireError::BadWireType {
                field: 1,
                wire_type: 7
            })
        );
        let mut big = Vec::new();
        varint(&mut big, (u64::from(MAX_FIELD_NUMBER) + 1) << 3);
        assert!(matches!(fields(&big), Err(WireError::BadFieldNumber(_))));
        let mut max = Vec::new();
        uint(&mut max, MAX_FIELD_NUMBER, 1);
        assert_eq!(fields(&max), Ok(vec![(MAX_FIELD_NUMBER, Wire::Varint(1))]));
    }
}
