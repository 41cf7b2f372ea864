//! A certificate subject with several organizations, which rcgen cannot write.
//!
//! rcgen 0.14 keeps one value per attribute type in a distinguished name
//! (rustls/rcgen#81, to be fixed in a later major version), while Kubernetes
//! reads every O of a client certificate as a group. For a certificate with
//! several groups, the CA issues it through rcgen with a one-group subject,
//! then [`replace_subject`] swaps in the full subject and signs the changed
//! TBSCertificate again with the CA key.
//!
//! Owns: that splice, and the few DER primitives it needs (TLV headers,
//! lengths). Must not: change anything in a certificate but its subject and
//! signature; accept input it did not produce (it is only called on rcgen's
//! fresh output, and fails closed on anything unexpected).

use rcgen::{KeyPair, SigningKey};

use crate::PkiError;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const BIT_STRING: u8 = 0x03;
const VERSION_TAG: u8 = 0xa0;
/// 2.5.4.10, organizationName.
const OID_O: [u8; 3] = [0x55, 0x04, 0x0a];
/// 2.5.4.3, commonName.
const OID_CN: [u8; 3] = [0x55, 0x04, 0x03];

fn malformed(reason: &str) -> PkiError {
    PkiError::Issue {
        what: "client certificate with several groups".into(),
        reason: format!("unexpected DER from rcgen: {reason}; please report this"),
    }
}

/// One DER element: its tag, the whole encoding, and the content.
struct Tlv<'a> {
    tag: u8,
    whole: &'a [u8],
    content: &'a [u8],
}

/// Reads the element at the start of `input`; returns it and what follows.
fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), PkiError> {
    let (&tag, rest) = input.split_first().ok_or_else(|| malformed("truncated"))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| malformed("truncated"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(malformed("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(malformed("length beyond the data"));
    }
    let header = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            whole: &input[..header + len],
            content: &rest[..len],
        },
        &rest[len..],
    ))
}

/// Encodes one element.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn attribute(oid: &[u8], value: &str) -> Vec<u8> {
    let mut pair = tlv(OID, oid);
    pair.extend(tlv(UTF8_STRING, value.as_bytes()));
    tlv(SET, &tlv(SEQUENCE, &pair))
}

/// The DER Name `O=<org>, ..., CN=<common_name>`, one RDN per attribute, in
/// the order Go's `pkix.Name` writes them (O before CN).
pub(crate) fn subject(common_name: &str, organizations: &[&str]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for org in organizations {
        rdns.extend(attribute(&OID_O, org));
    }
    rdns.extend(attribute(&OID_CN, common_name));
    tlv(SEQUENCE, &rdns)
}

/// A PEM block of `der` with `label` (64-character lines).
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `cert_der` with its subject replaced by `subject_der`, signed again by `ca_key`.
pub(crate) fn replace_subject(
    cert_der: &[u8],
    subject_der: &[u8],
    ca_key: &KeyPair,
) -> Result<Vec<u8>, PkiError> {
    let (cert, rest) = read_tlv(cert_der)?;
    if cert.tag != SEQUENCE || !rest.is_empty() {
        return Err(malformed("the certificate is not one SEQUENCE"));
    }
    let (tbs, after_tbs) = read_tlv(cert.content)?;
    let (signature_algorithm, _) = read_tlv(after_tbs)?;
    if tbs.tag != SEQUENCE || signature_algorithm.tag != SEQUENCE {
        return Err(malformed("the certificate's parts are not SEQUENCEs"));
    }

    // TBSCertificate: [0] version (optional), serial, signature, issuer,
    // validity, subject, ...: skip to the subject.
    let (first, mut cursor) = read_tlv(tbs.content)?;
    let mut before_subject = first.whole.len();
    let still_to_skip = if first.tag == VERSION_TAG { 4 } else { 3 };
    for _ in 0..still_to_skip {
        let (field, next) = read_tlv(cursor)?;
        before_subject += field.whole.len();
        cursor = next;
    }
    let (old_subject, after_subject) = read_tlv(cursor)?;
    if old_subject.tag != SEQUENCE {
        return Err(malformed("the subject is not a SEQUENCE"));
    }

    let mut tbs_content = Vec::with_capacity(tbs.content.len() + subject_der.len());
    tbs_content.extend_from_slice(&tbs.content[..before_subject]);
    tbs_content.extend_from_slice(subject_der);
    tbs_content.extend_from_slice(after_subject);
    let new_tbs = tlv(SEQUENCE, &tbs_content);

    let signature = ca_key.sign(&new_tbs).map_err(|e| PkiError::Issue {
        what: "client certificate with several groups".into(),
        reason: format!("signing failed: {e}"),
    })?;
    let mut bits = vec![0u8]; // no unused bits
    bits.extend(signature);

    let mut body = new_tbs;
    body.extend_from_slice(signature_algorithm.whole);
    body.extend(tlv(BIT_STRING, &bits));
    Ok(tlv(SEQUENCE, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; len];
            let encoded = tlv(SEQUENCE, &content);
            let (parsed, rest) = read_tlv(&encoded).unwrap();
            assert!(rest.is_empty());
            assert_eq!(parsed.tag, SEQUENCE);
            assert_eq!(parsed.content.len(), len);
            assert_eq!(parsed.whole.len(), encoded.len());
        }
    }

    #[test]
    fn truncated_input_fails_closed() {
        assert!(read_tlv(&[]).is_err());
        assert!(read_tlv(&[0x30]).is_err());
        assert!(read_tlv(&[0x30, 0x05, 0x00]).is_err());
        assert!(read_tlv(&[0x30, 0x80]).is_err());
        let key = KeyPair::generate().unwrap();
        assert!(replace_subject(&[0x30, 0x00], &subject("u", &[]), &key).is_err());
    }

    #[test]
    fn subject_parses_with_every_organization() {
        let der = subject("alice", &["a", "b", "c"]);
        let (_, name) =
            <x509_parser::x509::X509Name as x509_parser::prelude::FromDer<_>>::from_der(&der)
                .unwrap();
        let orgs: Vec<&str> = name
            .iter_organization()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(orgs, ["a", "b", "c"]);
        assert_eq!(name.to_string(), "O=a, O=b, O=c, CN=alice");
    }
}
