//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse>, v1.0): a payload, its type,
//! and Ed25519 signatures over the PAE encoding of both. The key is the minisign key pair's
//! own Ed25519 key, so the key that signs a pack's `.minisig` signs its provenance, and the
//! envelope's `keyid` is the minisign key id (16 upper-case hex digits, as `minisign` prints it).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::signing::{KeyId, TrustedKey};

/// A DSSE envelope, as one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Standard base64 of the payload.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

/// The pre-authentication encoding DSSE signs:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut encoded = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    encoded.extend_from_slice(payload);
    encoded
}

/// Why an envelope's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No signature at all.
    Unsigned,
    /// Signed only by keys not trusted here.
    Untrusted(Vec<String>),
    /// Signed by a trusted key, but the signature is not over this payload.
    Mismatch(KeyId),
    /// The payload is not base64.
    Payload,
}

/// The raw Ed25519 key pair inside a minisign secret key: minisign stores libsodium's 64-byte
/// secret key (the 32-byte seed, then the 32-byte public key) after its 54-byte header and the
/// 8-byte key number (`SecretKey::to_bytes`).
fn ed25519_pair(secret: &minisign::SecretKey) -> Result<ring::signature::Ed25519KeyPair, String> {
    const HEADER: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8;
    let bytes = secret.to_bytes();
    let key = bytes
        .get(HEADER..HEADER + 64)
        .ok_or("the secret key is shorter than a minisign key")?;
    ring::signature::Ed25519KeyPair::from_seed_and_public_key(&key[..32], &key[32..])
        .map_err(|error| format!("not an Ed25519 key: {error}"))
}

/// The raw 32-byte Ed25519 public key of a minisign public key (after its algorithm and key
/// number, `PublicKey::to_bytes`).
fn ed25519_public(public: &minisign::PublicKey) -> Vec<u8> {
    public.to_bytes().get(10..42).unwrap_or_default().to_vec()
}

/// Signs `payload` of `payload_type` with the minisign key pair's Ed25519 key.
pub fn sign(
    secret: &minisign::SecretKey,
    public: &minisign::PublicKey,
    payload_type: &str,
    payload: &[u8],
) -> Result<Envelope, String> {
    let pair = ed25519_pair(secret)?;
    let signature = pair.sign(&pae(payload_type, payload));
    Ok(Envelope {
        payload: STANDARD.encode(payload),
        payload_type: payload_type.to_owned(),
        signatures: vec![EnvelopeSignature {
            keyid: crate::signing::key_id(public.keynum()).to_string(),
            sig: STANDARD.encode(signature.as_ref()),
        }],
    })
}

impl Envelope {
    /// The payload's bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, SignatureProblem> {
        STANDARD
            .decode(&self.payload)
            .map_err(|_| SignatureProblem::Payload)
    }

    /// The first signature made by a trusted key that verifies over PAE(type, payload).
    pub fn verify<'k>(
        &self,
        trusted: &'k [TrustedKey],
    ) -> Result<&'k TrustedKey, SignatureProblem> {
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        if self.signatures.is_empty() {
            return Err(SignatureProblem::Unsigned);
        }
        let mut mismatch = None;
        for signature in &self.signatures {
            let Some(key) = signature
                .keyid
                .parse::<KeyId>()
                .ok()
                .and_then(|id| trusted.iter().find(|key| key.key_id == id))
            else {
                continue;
            };
            let public = ed25519_public(&key.key);
            let valid = STANDARD.decode(&signature.sig).is_ok_and(|sig| {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
                    .verify(&message, &sig)
                    .is_ok()
            });
            if valid {
                return Ok(key);
            }
            mismatch.get_or_insert(key.key_id);
        }
        Err(match mismatch {
            Some(key_id) => SignatureProblem::Mismatch(key_id),
            None => SignatureProblem::Untrusted(untrusted_key_ids(&self.signatures)),
        })
    }
}

/// How many key ids a message lists.
const SHOWN_KEY_IDS: usize = 8;

/// The key ids of signatures by keys not trusted, for a message: each once, the first
/// [`SHOWN_KEY_IDS`] then how many more, each cut after 32 characters (a hostile envelope can
/// hold thousands of signatures, or a key id of megabytes).
fn untrusted_key_ids(signatures: &[EnvelopeSignature]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let unique: Vec<&str> = signatures
        .iter()
        .map(|signature| signature.keyid.as_str())
        .filter(|key_id| seen.insert(*key_id))
        .collect();
    let mut shown: Vec<String> = unique
        .iter()
        .take(SHOWN_KEY_IDS)
        .map(|key_id| match key_id.char_indices().nth(32) {
            Some((end, _)) => format!("{}…", &key_id[..end]),
            None => (*key_id).to_owned(),
        })
        .collect();
    if unique.len() > SHOWN_KEY_IDS {
        shown.push(format!("and {} more", unique.len() - SHOWN_KEY_IDS));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_example() {
        // The example of the DSSE protocol specification.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn an_envelope_verifies_with_its_key_only_over_its_payload() {
        let pair = minisign::KeyPair::generate_unencrypted_keypair().expect("generates");
        let trusted = [TrustedKey {
            key_id: crate::signing::key_id(pair.pk.keynum()),
            source: crate::signing::KeySource::Own,
            path: "own.pub".into(),
            key: pair.pk.clone(),
            scope: crate::signing::KeyScope::Every,
        }];
        let envelope = sign(&pair.sk, &pair.pk, "t", b"payload").expect("signs");
        assert_eq!(
            envelope.verify(&trusted).map(|key| key.key_id),
            Ok(trusted[0].key_id)
        );
        let mut tampered = envelope.clone();
        tampered.payload = STANDARD.encode(b"payloaD");
        assert_eq!(
            tampered.verify(&trusted).map(|key| key.key_id),
            Err(SignatureProblem::Mismatch(trusted[0].key_id))
        );
        assert!(matches!(
            envelope.verify(&[]),
            Err(SignatureProblem::Untrusted(_))
        ));
    }
}
