"""Chinese national cryptography (国密) helpers: SM3 hashing, SM4-GCM encryption, SM2 signatures.

SM3 and SM4 come from ``cryptography`` (OpenSSL); SM2 from ``gmssl-pyx``, a maintained
binding of GmSSL. Keys are raw bytes; SM2 public keys are 64 bytes (X || Y), private keys 32.
"""

from __future__ import annotations

import base64
import hmac as _hmac
import os
from dataclasses import dataclass

import gmssl_pyx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SM4_KEY_BYTES = 16
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
SM2_DEFAULT_ID = gmssl_pyx.SM2_DEFAULT_SIGNER_ID  # b"1234567812345678", per GB/T 35276


class CryptoError(ValueError):
    """Raised when data cannot be decrypted or a key is malformed."""


# SM3 -----------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm3_hex(data: bytes | str) -> str:
    return sm3(data.encode() if isinstance(data, str) else data).hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return _hmac.compare_digest(a_b, b_b)


# SM4-GCM -------------------------------------------------------------------


def _check_sm4_key(key: bytes) -> None:
    if len(key) != SM4_KEY_BYTES:
        raise CryptoError(f"SM4 keys are {SM4_KEY_BYTES} bytes, got {len(key)}")


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt; returns nonce || ciphertext || tag."""
    _check_sm4_key(key)
    nonce = os.urandom(GCM_NONCE_BYTES)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if aad:
        enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    return nonce + ct + enc.tag


def sm4_gcm_decrypt(key: bytes, blob: bytes, aad: bytes = b"") -> bytes:
    _check_sm4_key(key)
    if len(blob) < GCM_NONCE_BYTES + GCM_TAG_BYTES:
        raise CryptoError("ciphertext too short")
    nonce, ct, tag = blob[:GCM_NONCE_BYTES], blob[GCM_NONCE_BYTES:-GCM_TAG_BYTES], blob[-GCM_TAG_BYTES:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if aad:
        dec.authenticate_additional_data(aad)
    try:
        return dec.update(ct) + dec.finalize()
    except InvalidTag:
        raise CryptoError("SM4-GCM authentication failed: wrong key or tampered data") from None


def encrypt_text(key: bytes, text: str) -> str:
    """Encrypt a string for storage in a text column (base64 of nonce || ct || tag)."""
    return base64.b64encode(sm4_gcm_encrypt(key, text.encode("utf-8"))).decode("ascii")


def decrypt_text(key: bytes, token: str) -> str:
    try:
        blob = base64.b64decode(token, validate=True)
    except ValueError:
        raise CryptoError("stored value is not SM4-GCM ciphertext") from None
    return sm4_gcm_decrypt(key, blob).decode("utf-8")


# SM2 -----------------------------------------------------------------------


@dataclass(frozen=True)
class SM2KeyPair:
    public_key: bytes  # 64 bytes: X || Y
    private_key: bytes  # 32 bytes

    @property
    def public_hex(self) -> str:
        return self.public_key.hex()


def sm2_generate_keypair() -> SM2KeyPair:
    public_key, private_key = gmssl_pyx.sm2_key_generate()
    return SM2KeyPair(public_key=public_key, private_key=private_key)


def _public_key(key: bytes | str) -> bytes:
    raw = bytes.fromhex(key) if isinstance(key, str) else key
    if len(raw) == 65 and raw[0] == 4:  # uncompressed point 04 || X || Y
        raw = raw[1:]
    if len(raw) != 64:
        raise CryptoError("SM2 public keys are 64 bytes (X || Y) or 65 with the 04 prefix")
    return raw


def sm2_sign(keypair: SM2KeyPair, message: bytes, signer_id: bytes = SM2_DEFAULT_ID) -> bytes:
    """Sign ``message`` (Z-value with ``signer_id`` included, per GB/T 32918); DER signature."""
    signature: bytes = gmssl_pyx.sm2_sign(keypair.private_key, keypair.public_key, message, signer_id=signer_id)
    return signature


def sm2_verify(public_key: bytes | str, message: bytes, signature: bytes, signer_id: bytes = SM2_DEFAULT_ID) -> bool:
    try:
        return bool(gmssl_pyx.sm2_verify(_public_key(public_key), message, signature, signer_id=signer_id))
    except gmssl_pyx.GmsslInnerError:
        return False


def sm2_verify_digest(public_key: bytes | str, digest: bytes, signature: bytes) -> bool:
    """Verify a signature over an already computed SM3 digest e = SM3(Z || M)."""
    try:
        return bool(gmssl_pyx.sm2_verify_sm3_digest(_public_key(public_key), digest, signature))
    except gmssl_pyx.GmsslInnerError:
        return False


def sm2_keypair_hex(keypair: SM2KeyPair) -> str:
    """A key pair as 192 hex digits: the private key (32 bytes), then the public key (64 bytes)."""
    return keypair.private_key.hex() + keypair.public_key.hex()


def sm2_keypair_from_hex(value: str) -> SM2KeyPair:
    """Read ``sm2_keypair_hex`` output; a test signature proves the two halves belong together."""
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raw = b""
    if len(raw) != 96:
        raise CryptoError("an SM2 key pair is 192 hex digits: the private key (64) then the public key (128)")
    keypair = SM2KeyPair(public_key=_public_key(raw[32:]), private_key=raw[:32])
    try:
        matches = sm2_verify(keypair.public_key, b"yiwang", sm2_sign(keypair, b"yiwang"))
    except (gmssl_pyx.GmsslInnerError, gmssl_pyx.InvalidValueError):
        matches = False
    if not matches:
        raise CryptoError("the SM2 private and public keys do not belong together")
    return keypair


# Column encryption key -------------------------------------------------------

_column_key: bytes | None = None


def configure_column_key(key: bytes) -> None:
    """Set the process-wide SM4 key used by encrypted columns (called once at start-up)."""
    global _column_key
    _check_sm4_key(key)
    _column_key = key


def column_key() -> bytes:
    if _column_key is None:
        raise CryptoError("no column encryption key configured (YIWANG_DATA_KEY)")
    return _column_key


def blind_index(value: str) -> str:
    """Deterministic keyed digest of a sensitive value so it can be looked up without decrypting."""
    return hmac_sm3(column_key(), value.encode("utf-8")).hex()
