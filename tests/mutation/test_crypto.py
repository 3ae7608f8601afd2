"""Envelope encryption (security/crypto.py): the stored format and the boundaries that
`make mutate` found untested."""

import base64

import pytest

from security import crypto

# A record sealed by this build under a fixed master key (bytes 0..31, ID "kat-1"): every
# later build must open it. The associated data and the wrapping format are part of what
# rows store; changing either would lock every stored credential set out.
KAT_KEY = "kat-1:" + base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
KAT_AAD = ("OP0000000001", "aws-prod", "aws-credentials")
KAT_PLAINTEXT = b'{"secret":"known-answer"}'
KAT = crypto.Sealed(
    ciphertext=bytes.fromhex(
        "222ac12f2f39548d5ed49406b83e269dcc519b7a48acaab15918499e4332d3806cd1a480ead767857a"
        "1ba7f780c334b34aac2b89f0"
    ),
    wrapped_key=bytes.fromhex(
        "770cc76f9fbfaaaa491e98fe1b3ae9ae3b58341c5fce7c2c43125812f05cdf0e4ba8778f3210870c53"
        "76d7ca6c56f948f853994dbf700d5a0e27b861"
    ),
    master_key_id="kat-1",
)


@pytest.fixture
def kat_key(settings):
    settings.LATCHKEY_MASTER_KEYS = KAT_KEY
    return settings


def test_it_opens_a_record_sealed_by_an_earlier_build(kat_key):
    assert crypto.open_sealed(KAT, crypto.record_aad(*KAT_AAD)) == KAT_PLAINTEXT


def test_it_rewraps_a_record_sealed_by_an_earlier_build(kat_key):
    rewrapped = crypto.rewrap(KAT, crypto.record_aad(*KAT_AAD))
    assert rewrapped.ciphertext == KAT.ciphertext
    assert rewrapped.master_key_id == "kat-1"
    assert crypto.open_sealed(rewrapped, crypto.record_aad(*KAT_AAD)) == KAT_PLAINTEXT


def test_it_binds_the_record_identity_in_a_fixed_format():
    assert (
        crypto.record_aad("OP1", "cs-1", "psk") == b'["latchkey-credential",1,"OP1","cs-1","psk"]'
    )


def test_it_opens_an_empty_value_at_the_shortest_ciphertext():
    sealed = crypto.seal(b"", crypto.record_aad(*KAT_AAD))
    assert len(sealed.ciphertext) == crypto.NONCE_BYTES + 16
    assert crypto.open_sealed(sealed, crypto.record_aad(*KAT_AAD)) == b""


def test_it_refuses_a_wrapped_key_of_the_wrong_length_by_name(kat_key):
    short = crypto.Sealed(KAT.ciphertext, KAT.wrapped_key[:-1], KAT.master_key_id)
    with pytest.raises(crypto.DecryptionError) as refused:
        crypto.open_sealed(short, crypto.record_aad(*KAT_AAD))
    assert str(refused.value) == "wrapped data key has the wrong length"


def test_it_refuses_a_ciphertext_shorter_than_nonce_and_tag_by_name(kat_key):
    short = crypto.Sealed(KAT.ciphertext[:27], KAT.wrapped_key, KAT.master_key_id)
    with pytest.raises(crypto.DecryptionError) as refused:
        crypto.open_sealed(short, crypto.record_aad(*KAT_AAD))
    assert str(refused.value) == "ciphertext too short"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (" , ", "LATCHKEY_MASTER_KEYS is empty: set at least one id:key entry."),
        (
            KAT_KEY + ",nokey",
            "LATCHKEY_MASTER_KEYS entry 2 must be 'id:base64url-key' with an id of "
            "1-32 letters, digits, '.', '_' or '-'.",
        ),
        ("k1:***", "LATCHKEY_MASTER_KEYS key 'k1' is not valid base64url."),
        # The ID ends at the first colon: what follows is the key, a second colon included.
        (
            "k1:" + "A" * 20 + ":" + "A" * 22,
            "LATCHKEY_MASTER_KEYS key 'k1' is not valid base64url.",
        ),
        (
            "k1:" + base64.urlsafe_b64encode(b"short").decode(),
            "LATCHKEY_MASTER_KEYS key 'k1' must decode to 32 bytes (got 5).",
        ),
        (
            KAT_KEY + "," + KAT_KEY.replace("kat-1", "kat-2"),
            "LATCHKEY_MASTER_KEYS key 'kat-2' repeats another key.",
        ),
    ],
)
def test_it_says_what_is_wrong_with_the_master_keys(value, message):
    with pytest.raises(crypto.MasterKeyError) as refused:
        crypto.parse_master_keys(value)
    assert str(refused.value) == message


def test_it_names_the_missing_master_key_and_the_way_back(kat_key):
    with pytest.raises(crypto.MasterKeyError) as refused:
        crypto.master_key("gone-1")
    assert str(refused.value) == (
        "Master key 'gone-1' is not configured in LATCHKEY_MASTER_KEYS; a record still "
        "needs it. Put it back (after the newest key) and run manage.py rotate_master_key."
    )


def test_it_names_a_tampered_ciphertext_it_will_not_rewrap(kat_key):
    flipped = bytearray(KAT.ciphertext)
    flipped[-1] ^= 1
    tampered = crypto.Sealed(bytes(flipped), KAT.wrapped_key, KAT.master_key_id)
    with pytest.raises(crypto.DecryptionError) as refused:
        crypto.rewrap(tampered, crypto.record_aad(*KAT_AAD))
    assert str(refused.value) == "the ciphertext did not authenticate"


def test_it_names_a_tampered_ciphertext_it_will_not_open(kat_key):
    flipped = bytearray(KAT.ciphertext)
    flipped[-1] ^= 1
    tampered = crypto.Sealed(bytes(flipped), KAT.wrapped_key, KAT.master_key_id)
    with pytest.raises(crypto.DecryptionError) as refused:
        crypto.open_sealed(tampered, crypto.record_aad(*KAT_AAD))
    assert str(refused.value) == "the ciphertext did not authenticate"


def test_it_names_a_tampered_wrapped_key_it_will_not_open(kat_key):
    flipped = bytearray(KAT.wrapped_key)
    flipped[-1] ^= 1
    tampered = crypto.Sealed(KAT.ciphertext, bytes(flipped), KAT.master_key_id)
    with pytest.raises(crypto.DecryptionError) as refused:
        crypto.open_sealed(tampered, crypto.record_aad(*KAT_AAD))
    assert str(refused.value) == "the wrapped data key did not authenticate"
