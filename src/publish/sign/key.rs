//! The keys `floe publish --sign` and `floe verify --key` read: ECDSA P-256
//! in PEM, as openssl and cosign write them.
//!
//! Private keys: SEC1 (`EC PRIVATE KEY`, `openssl ecparam -genkey`; the
//! `EC PARAMETERS` block before it is passed over) and PKCS#8 (`PRIVATE
//! KEY`, `openssl genpkey`). Public keys: SPKI (`PUBLIC KEY`, `openssl ec
//! -pubout`, cosign's `cosign.pub`), and cosign's encrypted private keys
//! (`sealed.rs`). A key's bytes, and its password, are never shown.

use std::path::Path;

use floe_engine::System;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};

use super::sealed::Unsealed;
use crate::cli::Failure;
use crate::system::OsSystem;

/// A private key to sign with.
pub struct PrivateKey {
    key: SigningKey,
}

impl PrivateKey {
    /// The ASN.1 DER ECDSA-P256-SHA256 signature of `message`. The nonce is
    /// derived from the key and the message (RFC 6979), so the same key signs
    /// the same payload with the same bytes: re-signing changes nothing.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.key.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    /// Whether `der` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], der: &[u8]) -> bool {
        verifies(self.key.verifying_key(), message, der)
    }
}

/// A public key to verify with, and the file it came from.
pub struct PublicKey {
    key: VerifyingKey,
    /// The file, as given on the command line: what messages name it by.
    pub name: String,
}

impl PublicKey {
    /// Whether `der` is a signature of `message` by this key's private key.
    pub fn verifies(&self, message: &[u8], der: &[u8]) -> bool {
        verifies(&self.key, message, der)
    }
}

fn verifies(key: &VerifyingKey, message: &[u8], der: &[u8]) -> bool {
    Signature::from_der(der).is_ok_and(|s| key.verify(message, &s).is_ok())
}

/// The private key in the PEM file at `path`.
pub fn load_private_key(path: &Path) -> Result<PrivateKey, Failure> {
    let text = read(path)?;
    let shown = path.display();
    for (label, block) in blocks(&text) {
        let key = match label {
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(block).ok().map(SigningKey::from),
            "PRIVATE KEY" => SigningKey::from_pkcs8_pem(block).ok(),
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
                // floe asks nothing: the password is `$COSIGN_PASSWORD`, as cosign reads it, else empty.
                let password = crate::env::get(&crate::env::COSIGN_PASSWORD);
                return match super::sealed::open(block, password.as_deref().unwrap_or("").as_bytes()) {
                    Ok(key) => Ok(PrivateKey { key }),
                    Err(Unsealed::WrongPassword) if password.is_none() => Err(Failure::Usage(format!(
                        "`{shown}` is encrypted with a password: set COSIGN_PASSWORD to it"
                    ))),
                    Err(Unsealed::WrongPassword) => {
                        Err(Failure::Usage(format!("COSIGN_PASSWORD is not the password of `{shown}`")))
                    }
                    Err(Unsealed::NotP256) => Err(Failure::Usage(format!(
                        "`{shown}` is no ECDSA P-256 key: floe signs with P-256 keys, as `cosign generate-key-pair` makes them"
                    ))),
                    Err(Unsealed::Malformed(why)) => {
                        Err(Failure::Usage(format!("`{shown}` is no cosign key that floe reads: {why}")))
                    }
                };
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Failure::Usage(format!(
                    "`{shown}` is encrypted: floe reads plain PEM keys (`openssl pkey -in {shown} -out key.pem` \
                     writes one; keep it where only the signing job reads it)"
                )));
            }
            "PUBLIC KEY" => {
                return Err(Failure::Usage(format!(
                    "`{shown}` is a public key: `--sign` takes the private key (and `floe verify --key` the public one)"
                )));
            }
            _ => continue,
        };
        return key.map(|key| PrivateKey { key }).ok_or_else(|| {
            Failure::Usage(format!(
                "`{shown}` is no ECDSA P-256 private key (`{label}`): floe signs with P-256 keys, \
                 as `openssl ecparam -name prime256v1 -genkey -noout` writes them"
            ))
        });
    }
    Err(Failure::Usage(format!(
        "`{shown}` holds no PEM private key (`EC PRIVATE KEY` or `PRIVATE KEY`): \
         `openssl ecparam -name prime256v1 -genkey -noout -out key.pem` writes one"
    )))
}

/// The public key in the PEM file at `path` (SPKI, `-----BEGIN PUBLIC KEY-----`).
pub fn load_public_key(path: &Path) -> Result<PublicKey, Failure> {
    let text = read(path)?;
    let shown = path.display();
    for (label, block) in blocks(&text) {
        match label {
            "PUBLIC KEY" => {
                return VerifyingKey::from_public_key_pem(block)
                    .map(|key| PublicKey { key, name: shown.to_string() })
                    .map_err(|_| {
                        Failure::Usage(format!(
                            "`{shown}` is no ECDSA P-256 public key: floe verifies P-256 signatures, as cosign makes them"
                        ))
                    });
            }
            l if l.contains("PRIVATE KEY") => {
                return Err(Failure::Usage(format!(
                    "`{shown}` is a private key: verify with its public key \
                     (`openssl ec -in {shown} -pubout -out key.pub` writes it)"
                )));
            }
            _ => {}
        }
    }
    Err(Failure::Usage(format!(
        "`{shown}` holds no PEM public key (`-----BEGIN PUBLIC KEY-----`, as `openssl ec -pubout` and cosign write it)"
    )))
}

fn read(path: &Path) -> Result<String, Failure> {
    let unreadable = |why: &str| Failure::Usage(format!("cannot read the key `{}`: {why}", path.display()));
    let bytes = OsSystem.read(path).map_err(|e| unreadable(&e.message))?.ok_or_else(|| unreadable("no such file"))?;
    String::from_utf8(bytes).map_err(|_| unreadable("it is not PEM text"))
}

/// The PEM blocks of `text`: each one's label and its text from `-----BEGIN`
/// to its `-----END` line.
fn blocks(text: &str) -> Vec<(&str, &str)> {
    const BEGIN: &str = "-----BEGIN ";
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = text[at..].find(BEGIN).map(|i| at + i) {
        let Some(label_len) = text[start + BEGIN.len()..].find("-----") else { break };
        let label = &text[start + BEGIN.len()..start + BEGIN.len() + label_len];
        let end = format!("-----END {label}-----");
        let Some(stop) = text[start..].find(&end).map(|i| start + i + end.len()) else { break };
        out.push((label, &text[start..stop]));
        at = stop;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_with_their_labels() {
        let text = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n\
                    -----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let found: Vec<&str> = blocks(text).into_iter().map(|(label, _)| label).collect();
        assert_eq!(found, ["EC PARAMETERS", "EC PRIVATE KEY"]);
        assert!(blocks(text)[1].1.ends_with("-----END EC PRIVATE KEY-----"));
        assert!(blocks("-----BEGIN X-----\nno end\n").is_empty());
    }

    #[test]
    fn signatures_are_deterministic_and_verify_with_the_public_key() {
        let key = PrivateKey { key: SigningKey::from_slice(&[7; 32]).unwrap() };
        let public = PublicKey { key: *key.key.verifying_key(), name: "k".into() };
        let (a, b) = (key.sign(b"payload"), key.sign(b"payload"));
        assert_eq!(a, b, "RFC 6979: the same key and payload, the same signature");
        assert!(public.verifies(b"payload", &a) && key.verifies(b"payload", &a));
        assert!(!public.verifies(b"payloaD", &a));
        let other = PublicKey { key: *SigningKey::from_slice(&[8; 32]).unwrap().verifying_key(), name: "o".into() };
        assert!(!other.verifies(b"payload", &a));
        assert!(!public.verifies(b"payload", b"not DER"));
    }
}
