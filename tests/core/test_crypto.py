"""National cryptography: standard test vectors and behaviour of the helpers."""

import base64

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import text

from yiwang.core import crypto

# GB/T 32905-2016 (SM3) Appendix A examples
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
# GB/T 32907-2016 (SM4) Appendix A example 1
SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
SM4_CT = bytes.fromhex("681edf34d206965e86b3e94f536e4246")
# SM2 signature on the recommended curve, from OpenSSL's test data (evppkey_sm2.txt, SM2_key1)
SM2_PUB = (
    "393a2ad9e27e43acaaab85a19d3b85591e14406157175addd37bf77ff0caf9ed"
    "37fcf3a8b4f55c038523261fca6636afe6a7afa2a1482a606f5cb3a18b2e2a1e"
)
SM2_DIGEST = bytes.fromhex("D7AD397F6FFA5D4F7F11E7217F241607DC30618C236D2C09C1B9EA8FDADEE2E8")
SM2_SIG = bytes.fromhex(
    "3046022100AB1DB64DE7C40EDBDE6651C9B8EBDB804673DB836E5D5C7FE15DCF9ED2725037"
    "022100EBA714451FF69B0BB930B379E192E7CD5FA6E3C41C7FBD8303B799AB54A54621"
)


def test_sm3_standard_vectors():
    assert crypto.sm3_hex(b"abc") == SM3_ABC
    assert crypto.sm3_hex(b"abcd" * 16) == SM3_ABCD16


def test_sm4_block_matches_standard_vector():
    # The SM4-GCM helper uses this same primitive; check the cipher itself against GB/T 32907.
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    assert enc.update(SM4_KEY) + enc.finalize() == SM4_CT


def test_sm4_gcm_roundtrip_and_tamper_detection():
    key = bytes(range(16))
    blob = crypto.sm4_gcm_encrypt(key, "张三 13812345678".encode(), aad=b"user:1")
    assert crypto.sm4_gcm_decrypt(key, blob, aad=b"user:1").decode() == "张三 13812345678"
    assert crypto.sm4_gcm_encrypt(key, b"x") != crypto.sm4_gcm_encrypt(key, b"x")  # random nonce
    tampered = bytearray(blob)
    tampered[15] ^= 1
    with pytest.raises(crypto.CryptoError):
        crypto.sm4_gcm_decrypt(key, bytes(tampered), aad=b"user:1")
    with pytest.raises(crypto.CryptoError):
        crypto.sm4_gcm_decrypt(bytes(16), blob, aad=b"user:1")
    with pytest.raises(crypto.CryptoError):
        crypto.sm4_gcm_decrypt(key, blob, aad=b"user:2")
    with pytest.raises(crypto.CryptoError):
        crypto.sm4_gcm_encrypt(b"short", b"x")


def test_sm2_verifies_openssl_vector_and_rejects_changes():
    assert crypto.sm2_verify_digest(SM2_PUB, SM2_DIGEST, SM2_SIG)
    assert crypto.sm2_verify_digest("04" + SM2_PUB, SM2_DIGEST, SM2_SIG)
    bad = bytearray(SM2_DIGEST)
    bad[0] ^= 1
    assert not crypto.sm2_verify_digest(SM2_PUB, bytes(bad), SM2_SIG)


def test_sm2_sign_verify_with_signer_id():
    keys = crypto.sm2_generate_keypair()
    assert len(keys.public_key) == 64 and len(keys.private_key) == 32
    sig = crypto.sm2_sign(keys, "电子证照".encode(), signer_id=b"yiwang")
    assert crypto.sm2_verify(keys.public_key, "电子证照".encode(), sig, signer_id=b"yiwang")
    assert not crypto.sm2_verify(keys.public_key, "电子证照".encode(), sig)  # other signer id
    assert not crypto.sm2_verify(keys.public_key, "电子证明".encode(), sig, signer_id=b"yiwang")
    other = crypto.sm2_generate_keypair()
    assert not crypto.sm2_verify(other.public_key, "电子证照".encode(), sig, signer_id=b"yiwang")


def test_hmac_sm3_is_keyed_and_deterministic():
    a = crypto.hmac_sm3(b"k1", b"320583199003150017")
    assert a == crypto.hmac_sm3(b"k1", b"320583199003150017")
    assert a != crypto.hmac_sm3(b"k2", b"320583199003150017")
    assert len(a) == 32


def test_personal_columns_are_encrypted_at_rest(db, settings):
    """The citizen's phone and ID are SM4 ciphertext in the table, plaintext through the model."""
    raw = db.execute(text("SELECT phone, id_number FROM org_users WHERE username = 'citizen'")).one()
    for value in raw:
        assert value.startswith("sm4:")
        assert "13912345678" not in value and "320583199003150017" not in value
        blob = base64.b64decode(value[4:])
        assert crypto.sm4_gcm_decrypt(settings.data_key_bytes, blob).decode() in ("13912345678", "320583199003150017")
