//! cosign's encrypted private keys (`ENCRYPTED SIGSTORE PRIVATE KEY`, as
//! `cosign generate-key-pair` writes them): a JSON document, base64 in the
//! PEM block, holding a PKCS#8 key sealed with NaCl's secretbox
//! (XSalsa20-Poly1305) under a key scrypt derives from the password.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey as _;
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit as _;
use salsa20::XSalsa20;
use salsa20::cipher::{KeyIvInit as _, StreamCipher as _};
use serde::Deserialize;

#[derive(Deserialize)]
struct Sealed {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Why a sealed key did not open.
#[derive(Debug, PartialEq, Eq)]
pub enum Unsealed {
    /// Not cosign's format, or parameters floe does not accept.
    Malformed(&'static str),
    /// The password does not open it.
    WrongPassword,
    /// It opened, but holds no ECDSA P-256 key.
    NotP256,
}

/// scrypt's memory is 128·r·N bytes: a file may not make floe allocate more than this.
const SCRYPT_MEMORY: u64 = 1 << 30;

/// The private key in `block` (one PEM block, with its armour), sealed with `password`.
pub fn open(block: &str, password: &[u8]) -> Result<SigningKey, Unsealed> {
    let body: String = block.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let json = BASE64.decode(body).map_err(|_| Unsealed::Malformed("its body is not base64"))?;
    let sealed: Sealed =
        serde_json::from_slice(&json).map_err(|_| Unsealed::Malformed("its body is not cosign's JSON document"))?;
    if sealed.kdf.name != "scrypt" || sealed.cipher.name != "nacl/secretbox" {
        return Err(Unsealed::Malformed("it is sealed otherwise than with scrypt and nacl/secretbox"));
    }
    let KdfParams { n, r, p } = sealed.kdf.params;
    let memory = 128u64.saturating_mul(u64::from(r)).saturating_mul(n);
    if !n.is_power_of_two() || n < 2 || memory > SCRYPT_MEMORY || p > 16 {
        return Err(Unsealed::Malformed("its scrypt parameters are out of range"));
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p)
        .map_err(|_| Unsealed::Malformed("its scrypt parameters are out of range"))?;
    let decode = |s: &str| BASE64.decode(s).map_err(|_| Unsealed::Malformed("a field is not base64"));
    let (salt, nonce, boxed) = (decode(&sealed.kdf.salt)?, decode(&sealed.cipher.nonce)?, decode(&sealed.ciphertext)?);
    let mut key = [0u8; 32];
    scrypt::scrypt(password, &salt, &params, &mut key).map_err(|_| Unsealed::Malformed("scrypt failed"))?;
    let der = secretbox_open(&key, &nonce, &boxed)?;
    SigningKey::from_pkcs8_der(&der).map_err(|_| Unsealed::NotP256)
}

/// NaCl's `crypto_secretbox_open`: the box is the Poly1305 tag, then the
/// message XORed with the XSalsa20 key stream after its first 32 bytes,
/// which are the Poly1305 key.
fn secretbox_open(key: &[u8; 32], nonce: &[u8], boxed: &[u8]) -> Result<Vec<u8>, Unsealed> {
    if nonce.len() != 24 || boxed.len() < 16 {
        return Err(Unsealed::Malformed("its nonce or ciphertext is too short"));
    }
    let (tag, ciphertext) = boxed.split_at(16);
    let mut stream = XSalsa20::new_from_slices(key, nonce).map_err(|_| Unsealed::Malformed("bad nonce"))?;
    let mut mac_key = [0u8; 32];
    stream.apply_keystream(&mut mac_key);
    let expected =
        Poly1305::new_from_slice(&mac_key).map_err(|_| Unsealed::WrongPassword)?.compute_unpadded(ciphertext);
    // Every byte compared, whatever the first difference.
    if expected.iter().zip(tag).fold(0u8, |d, (a, b)| d | (a ^ b)) != 0 {
        return Err(Unsealed::WrongPassword);
    }
    let mut message = ciphertext.to_vec();
    stream.apply_keystream(&mut message);
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePublicKey as _;

    /// Sealed by libsodium (PyNaCl) under scrypt N=32768, r=8, p=1, as cosign does.
    const SEALED: &str = include_str!("../../../tests/keys/cosign.key");
    const PUBLIC: &str = include_str!("../../../tests/keys/cosign.pub");
    const PASSWORD: &[u8] = b"floe-test-password";

    #[test]
    fn a_sealed_key_opens_with_its_password_only() {
        let key = open(SEALED, PASSWORD).unwrap();
        let public = p256::ecdsa::VerifyingKey::from_public_key_pem(PUBLIC).unwrap();
        assert_eq!(*key.verifying_key(), public);
        assert_eq!(open(SEALED, b"another password").err(), Some(Unsealed::WrongPassword));
        assert!(matches!(open("-----BEGIN X-----\nnot base64!\n-----END X-----", b""), Err(Unsealed::Malformed(_))));
    }

    #[test]
    fn hostile_scrypt_parameters_are_refused_before_any_work() {
        let json = r#"{"kdf":{"name":"scrypt","params":{"N":4294967296,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}"#;
        let block = format!("-----BEGIN K-----\n{}\n-----END K-----\n", BASE64.encode(json));
        assert_eq!(open(&block, b"").err(), Some(Unsealed::Malformed("its scrypt parameters are out of range")));
    }
}
