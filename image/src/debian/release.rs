//! `InRelease`: OpenPGP verification against a trusted keyring, and the
//! fields of the signed body (suite, dates, the `SHA256` index list).
//!
//! Owns the keyring type (the Debian keyring carried in the repo, or a file),
//! the rules for which keys may sign (primary or subkey, bound to its primary,
//! not expired, not revoked), and `Valid-Until`. Pure: the current time is a
//! parameter. Must not do network or file IO beyond `Keyring::from_file`, and
//! must not call `SignedPublicKey::verify_bindings()` (it fails on Debian's
//! keys, which carry third-party certifications).

use std::path::Path;

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag, VerifyingKey};

use super::ArchiveError;

/// The Debian archive keyring carried in the repository.
const DEBIAN_KEYRING: &[u8] = include_bytes!("../../keys/debian-archive-keyring.pgp");

/// OpenPGP keys trusted to sign `InRelease` files.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// The Debian archive keyring embedded in the binary.
    pub fn debian() -> Result<Self, ArchiveError> {
        Self::from_bytes(DEBIAN_KEYRING, "the embedded Debian archive keyring")
    }

    /// Reads a keyring file (binary, like `/usr/share/keyrings/*.gpg`, or
    /// ASCII-armored).
    pub fn from_file(path: &Path) -> Result<Self, ArchiveError> {
        let bytes = std::fs::read(path).map_err(|source| ArchiveError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses keys from binary or armored OpenPGP; `origin` names the source
    /// in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, ArchiveError> {
        let bad = |message: String| ArchiveError::Keyring {
            origin: origin.to_owned(),
            message,
        };
        let (iter, _) = SignedPublicKey::from_reader_many(bytes).map_err(|e| bad(e.to_string()))?;
        let mut keys = Vec::new();
        for key in iter {
            keys.push(key.map_err(|e| bad(e.to_string()))?);
        }
        if keys.is_empty() {
            return Err(bad("holds no public keys".to_owned()));
        }
        Ok(Self { keys })
    }

    /// Fingerprints (upper-case hex) of the primary keys.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.primary_key.fingerprint()))
            .collect()
    }
}

/// Why an `InRelease` was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureProblem {
    /// What went wrong, for a person.
    pub reason: String,
    /// Issuers of the signatures found (fingerprint or key id, hex).
    pub signers: Vec<String>,
}

/// A verified `InRelease`: its body and who signed it.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The signed text with `\n` line ends (the same bytes as `Release`).
    pub body: String,
    /// Fingerprints of the trusted keys whose signatures verified.
    pub signed_by: Vec<String>,
}

/// Verifies a cleartext-signed `InRelease` at time `now` (Unix seconds):
/// accepted when at least one signature by a usable key of `keyring`
/// verifies; signatures by unknown keys are ignored.
pub fn verify_inrelease(
    bytes: &[u8],
    keyring: &Keyring,
    now: u64,
) -> Result<Verified, SignatureProblem> {
    let (msg, _) = CleartextSignedMessage::from_armor(bytes).map_err(|e| SignatureProblem {
        reason: format!("not a cleartext-signed OpenPGP message ({e})"),
        signers: Vec::new(),
    })?;
    let text = msg.signed_text();
    let mut signers = Vec::new();
    let mut signed_by = Vec::new();
    let mut problems = Vec::new();
    for sig in msg.signatures() {
        let issuer = issuer_label(sig);
        signers.push(issuer.clone());
        let Some((key_index, sub)) = find_key(keyring, sig) else {
            continue;
        };
        let Some(primary) = keyring.keys.get(key_index) else {
            continue;
        };
        let result = match sub {
            None => primary_usable(primary, now)
                .and_then(|()| sig_verify(sig, &primary.primary_key, text.as_bytes())),
            Some(i) => match primary.public_subkeys.get(i) {
                Some(subkey) => subkey_usable(primary, i, now)
                    .and_then(|()| sig_verify(sig, &subkey.key, text.as_bytes())),
                None => continue,
            },
        };
        match result {
            Ok(()) => {
                let fp = match sub.and_then(|i| primary.public_subkeys.get(i)) {
                    Some(subkey) => format!("{:X}", subkey.key.fingerprint()),
                    None => format!("{:X}", primary.primary_key.fingerprint()),
                };
                signed_by.push(fp);
            }
            Err(e) => problems.push(format!("{issuer}: {e}")),
        }
    }
    if signed_by.is_empty() {
        let reason = if problems.is_empty() {
            "no signature by a key of the trusted keyring".to_owned()
        } else {
            format!(
                "no valid signature by a trusted key ({})",
                problems.join("; ")
            )
        };
        return Err(SignatureProblem { reason, signers });
    }
    let body = text.replace("\r\n", "\n");
    Ok(Verified { body, signed_by })
}

fn sig_verify(sig: &Signature, key: &impl VerifyingKey, data: &[u8]) -> Result<(), String> {
    sig.verify(key, data)
        .map_err(|e| format!("signature does not verify ({e})"))
}

fn issuer_label(sig: &Signature) -> String {
    if let Some(fp) = sig.issuer_fingerprint().first() {
        return format!("{fp:X}");
    }
    if let Some(id) = sig.issuer_key_id().first() {
        return hex::encode_upper(id.as_ref());
    }
    "(no issuer)".to_owned()
}

/// The key (primary index, subkey index) the signature names as issuer.
fn find_key(keyring: &Keyring, sig: &Signature) -> Option<(usize, Option<usize>)> {
    let fps = sig.issuer_fingerprint();
    let ids = sig.issuer_key_id();
    let matches = |fp: pgp::types::Fingerprint, id: pgp::types::KeyId| {
        fps.iter().any(|f| **f == fp) || ids.iter().any(|i| **i == id)
    };
    for (k, key) in keyring.keys.iter().enumerate() {
        if matches(
            key.primary_key.fingerprint(),
            key.primary_key.legacy_key_id(),
        ) {
            return Some((k, None));
        }
        for (s, sub) in key.public_subkeys.iter().enumerate() {
            if matches(sub.key.fingerprint(), sub.key.legacy_key_id()) {
                return Some((k, Some(s)));
            }
        }
    }
    None
}

fn expiry(created: u32, sig: &Signature) -> Option<u64> {
    match sig.key_expiration_time() {
        Some(d) if d.as_secs() > 0 => Some(u64::from(created) + u64::from(d.as_secs())),
        _ => None,
    }
}

fn sig_created(sig: &Signature) -> u32 {
    sig.created().map(|t| t.as_secs()).unwrap_or(0)
}

/// The primary key is not revoked and, per its newest valid self-signature,
/// not expired at `now`.
fn primary_usable(key: &SignedPublicKey, now: u64) -> Result<(), String> {
    if !key.details.revocation_signatures.is_empty() {
        return Err("the key is revoked".to_owned());
    }
    let primary = &key.primary_key;
    let own_id = primary.legacy_key_id();
    let own_fp = primary.fingerprint();
    let is_own = |sig: &Signature| {
        sig.issuer_fingerprint().iter().any(|f| **f == own_fp)
            || sig.issuer_key_id().iter().any(|i| **i == own_id)
    };
    let mut newest: Option<&Signature> = None;
    for user in &key.details.users {
        for sig in user.signatures.iter().filter(|s| is_own(s)) {
            if sig
                .verify_certification(primary, Tag::UserId, &user.id)
                .is_ok()
                && newest.is_none_or(|n| sig_created(sig) > sig_created(n))
            {
                newest = Some(sig);
            }
        }
    }
    for sig in key.details.direct_signatures.iter().filter(|s| is_own(s)) {
        if sig.verify_key(primary).is_ok()
            && newest.is_none_or(|n| sig_created(sig) > sig_created(n))
        {
            newest = Some(sig);
        }
    }
    let Some(selfsig) = newest else {
        return Err("the key has no valid self-signature".to_owned());
    };
    check_expiry(expiry(primary.created_at().as_secs(), selfsig), now)
}

/// The subkey is bound to its primary, signing-capable, not revoked and not
/// expired at `now`; its primary is not revoked.
fn subkey_usable(key: &SignedPublicKey, index: usize, now: u64) -> Result<(), String> {
    let Some(sub) = key.public_subkeys.get(index) else {
        return Err("no such subkey".to_owned());
    };
    if !key.details.revocation_signatures.is_empty() {
        return Err("its primary key is revoked".to_owned());
    }
    if sub
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
    {
        return Err("the subkey is revoked".to_owned());
    }
    sub.verify_bindings(&key.primary_key)
        .map_err(|e| format!("the subkey's binding to its primary does not verify ({e})"))?;
    let Some(binding) = sub
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
        .max_by_key(|s| sig_created(s))
    else {
        return Err("the subkey has no binding signature".to_owned());
    };
    if !binding.key_flags().sign() {
        return Err("the subkey is not a signing key".to_owned());
    }
    check_expiry(expiry(sub.key.created_at().as_secs(), binding), now)
}

fn check_expiry(expires: Option<u64>, now: u64) -> Result<(), String> {
    match expires {
        Some(at) if at <= now => Err(format!("the key expired on {}", format_date(at))),
        _ => Ok(()),
    }
}

/// One line of the `SHA256:` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Path relative to `dists/<suite>/`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

/// The fields of a `Release` body the builder uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Release {
    pub suite: Option<String>,
    pub codename: Option<String>,
    /// As written (RFC 2822, UTC).
    pub date: Option<String>,
    /// As written (RFC 2822, UTC).
    pub valid_until: Option<String>,
    pub components: Vec<String>,
    pub architectures: Vec<String>,
    pub acquire_by_hash: bool,
    pub sha256: Vec<IndexEntry>,
}

impl Release {
    /// The `SHA256` entry for `path` (relative to `dists/<suite>/`).
    pub fn entry(&self, path: &str) -> Option<&IndexEntry> {
        self.sha256.iter().find(|e| e.path == path)
    }

    /// `Err(valid_until as written)` when `Valid-Until` is at or before `now`.
    /// An unparsable `Valid-Until` counts as expired.
    pub fn check_valid_until(&self, now: u64) -> Result<(), String> {
        match &self.valid_until {
            None => Ok(()),
            Some(text) => match parse_date(text) {
                Some(t) if t > now => Ok(()),
                _ => Err(text.clone()),
            },
        }
    }
}

/// Parses a `Release` body (unsigned text). Errors name the line.
pub fn parse_release(body: &str) -> Result<Release, String> {
    let mut release = Release::default();
    let mut field = String::new();
    for (i, line) in body.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if field.eq_ignore_ascii_case("SHA256") {
                let mut words = line.split_whitespace();
                let (Some(hash), Some(size), Some(path), None) =
                    (words.next(), words.next(), words.next(), words.next())
                else {
                    return Err(format!("line {n}: expected `sha256 size path`"));
                };
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("line {n}: {hash:?} is not a SHA-256"));
                }
                let size = size
                    .parse()
                    .map_err(|_| format!("line {n}: size {size:?} is not a number"))?;
                release.sha256.push(IndexEntry {
                    path: path.to_owned(),
                    size,
                    sha256: hash.to_ascii_lowercase(),
                });
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {n}: expected `Field: value`, found {line:?}"));
        };
        field = name.trim().to_owned();
        let value = value.trim();
        let words = || value.split_whitespace().map(str::to_owned).collect();
        match field.to_ascii_lowercase().as_str() {
            "suite" => release.suite = Some(value.to_owned()),
            "codename" => release.codename = Some(value.to_owned()),
            "date" => release.date = Some(value.to_owned()),
            "valid-until" => release.valid_until = Some(value.to_owned()),
            "components" => release.components = words(),
            "architectures" => release.architectures = words(),
            "acquire-by-hash" => release.acquire_by_hash = value.eq_ignore_ascii_case("yes"),
            _ => {}
        }
    }
    Ok(release)
}

/// Parses an RFC 2822 date as Debian writes it (`Fri, 04 Dec 2026 02:09:32
/// UTC`; `GMT`, `Z`, `+0000` and numeric offsets accepted) to Unix seconds.
pub fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = match text.split_once(',') {
        Some((_, rest)) => rest.trim(),
        None => text,
    };
    let mut words = text.split_whitespace();
    let day: u32 = words.next()?.parse().ok()?;
    let month = words.next()?;
    let year: i64 = words.next()?.parse().ok()?;
    let time = words.next()?;
    let zone = words.next().unwrap_or("UTC");
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| month.eq_ignore_ascii_case(m))? as u32
        + 1;
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next().unwrap_or("0").parse().ok()?;
    if !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..61).contains(&s)
    {
        return None;
    }
    let offset = match zone {
        "UTC" | "GMT" | "Z" | "UT" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let hh: i64 = z.get(1..3)?.parse().ok()?;
            let mm: i64 = z.get(3..5)?.parse().ok()?;
            let o = hh * 3600 + mm * 60;
            if z.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + s - offset;
    u64::try_from(secs).ok()
}

/// `2026-12-04 02:09:32 UTC`.
pub fn format_date(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPDATES: &[u8] = include_bytes!("testdata/bookworm-updates.InRelease");

    fn fixture_date() -> u64 {
        let text = String::from_utf8_lossy(UPDATES);
        let line = text
            .lines()
            .find(|l| l.starts_with("Date:"))
            .expect("fixture has Date");
        parse_date(&line["Date:".len()..]).expect("fixture Date parses")
    }

    #[test]
    fn real_inrelease_verifies_with_the_carried_keyring() {
        let keyring = Keyring::debian().expect("embedded keyring parses");
        assert!(keyring.fingerprints().len() >= 5);
        let verified = verify_inrelease(UPDATES, &keyring, fixture_date()).expect("verifies");
        assert!(!verified.signed_by.is_empty());
        let release = parse_release(&verified.body).expect("parses");
        assert_eq!(release.codename.as_deref(), Some("bookworm-updates"));
        assert!(release.acquire_by_hash);
        assert!(release.components.iter().any(|c| c == "main"));
        let entry = release
            .entry("main/binary-amd64/Packages.xz")
            .expect("lists the amd64 index");
        assert_eq!(entry.sha256.len(), 64);
        assert!(entry.size > 0);
    }

    #[test]
    fn tampered_inrelease_is_rejected() {
        let keyring = Keyring::debian().expect("keyring");
        let text = String::from_utf8_lossy(UPDATES).into_owned();
        let entry_line = text
            .lines()
            .find(|l| l.ends_with(" main/binary-amd64/Packages.xz"))
            .expect("has the line")
            .to_owned();
        let first = entry_line.trim_start().chars().next().expect("hash");
        let swapped = if first == '0' { '1' } else { '0' };
        let tampered_line = entry_line.replacen(first, &swapped.to_string(), 1);
        let tampered = text.replacen(&entry_line, &tampered_line, 1);
        assert_ne!(tampered, text);
        let err = verify_inrelease(tampered.as_bytes(), &keyring, fixture_date())
            .expect_err("tampered body must not verify");
        assert!(!err.signers.is_empty());
        assert!(err.reason.contains("no valid signature"), "{}", err.reason);
    }

    #[test]
    fn signatures_by_unknown_keys_only_are_rejected() {
        // A keyring that holds none of the signing keys: the first Debian
        // key alone is an old (expired or unrelated) release key.
        let full = Keyring::debian().expect("keyring");
        let verified = verify_inrelease(UPDATES, &full, fixture_date()).expect("verifies");
        let unrelated: Vec<_> = full
            .keys
            .iter()
            .filter(|k| {
                let fps: Vec<String> =
                    std::iter::once(format!("{:X}", k.primary_key.fingerprint()))
                        .chain(
                            k.public_subkeys
                                .iter()
                                .map(|s| format!("{:X}", s.key.fingerprint())),
                        )
                        .collect();
                !fps.iter().any(|f| verified.signed_by.contains(f))
            })
            .cloned()
            .collect();
        assert!(!unrelated.is_empty());
        let keyring = Keyring { keys: unrelated };
        let err = verify_inrelease(UPDATES, &keyring, fixture_date()).expect_err("unknown keys");
        assert!(
            err.reason.contains("no signature by a key"),
            "{}",
            err.reason
        );
        assert!(err.signers.len() >= 2, "{:?}", err.signers);
    }

    #[test]
    fn not_signed_is_rejected() {
        let keyring = Keyring::debian().expect("keyring");
        let err = verify_inrelease(b"Suite: x\n", &keyring, 0).expect_err("unsigned");
        assert!(
            err.reason.contains("not a cleartext-signed"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn release_fields_and_valid_until() {
        let body = "\
Origin: Debian
Suite: oldstable-security
Codename: bookworm-security
Date: Fri, 04 Dec 2026 03:54:28 UTC
Valid-Until: Fri, 11 Dec 2026 03:54:28 UTC
Acquire-By-Hash: yes
Components: updates/main updates/contrib
MD5Sum:
 d41d8cd98f00b204e9800998ecf8427e        0 main/Contents-all
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-amd64/Packages
 F61F27BD17DE546264AA58F40F3AAFAAC7021E0EF69C17F6B1B4CD7664A037EC       20 main/binary-amd64/Packages.xz
";
        let r = parse_release(body).expect("parses");
        assert_eq!(r.suite.as_deref(), Some("oldstable-security"));
        assert_eq!(r.codename.as_deref(), Some("bookworm-security"));
        assert_eq!(r.components, ["updates/main", "updates/contrib"]);
        assert!(r.acquire_by_hash);
        assert_eq!(r.sha256.len(), 2);
        let xz = r.entry("main/binary-amd64/Packages.xz").expect("entry");
        assert_eq!(xz.size, 20);
        assert!(xz.sha256.starts_with("f61f27"));
        let until = parse_date("Fri, 11 Dec 2026 03:54:28 UTC").expect("date");
        assert_eq!(format_date(until), "2026-12-11 03:54:28 UTC");
        assert!(r.check_valid_until(until - 1).is_ok());
        assert_eq!(
            r.check_valid_until(until).expect_err("expired"),
            "Fri, 11 Dec 2026 03:54:28 UTC"
        );
        assert!(parse_release("Suite: a\nSHA256:\n nothex 1 p\n").is_err());
        assert!(parse_release("no colon here\n").is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(
            parse_date("Sat, 10 Jun 2023 08:55:33 UTC"),
            Some(1_686_387_333)
        );
        assert_eq!(
            parse_date("10 Jun 2023 10:55:33 +0200"),
            Some(1_686_387_333)
        );
        assert_eq!(parse_date("Sat, 10 Foo 2023 08:55:33 UTC"), None);
        assert_eq!(format_date(1_686_387_333), "2023-06-10 08:55:33 UTC");
    }
}
