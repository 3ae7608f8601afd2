"""PEM key material from tenants: types and sizes bounded before any costly check, parsed once.

The threat is CPU, not secrecy. Validating an RSA private key (OpenSSL's RSA_check_key:
primality of p and q, the CRT values) costs about the cube of its size: ~25 ms at 2048
bits, ~190 ms at 4096, many seconds at 16384, on every parse. So a private key is first
decoded with that validation skipped (`unsafe_skip_rsa_key_validation=True`: a structural
parse that reads the type and size for the price of a base64 decode), its type and size
are checked against the bounds below, and only an RSA key within them is then validated,
by rebuilding it from its numbers with validation on (the same check the library would
have run while loading). Certificates are counted before they are parsed. Callers parse
each PEM value once per request and pass the parsed object along (credential_schemas.py).

Accepted: RSA 2048-4096 bits, EC on P-256, P-384 and P-521, Ed25519 and Ed448. Anything
else is refused with a message that names the rule, never the value.
"""

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096
EC_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
MAX_CERTIFICATES = 10  # in one chain field (`ca`); `cert` holds exactly one
_PEM_BEGIN = "-----BEGIN "

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


class KeyMaterialError(ValueError):
    """Refused key material; the message completes "<field> …" and never holds the value."""


def _bound(key: PrivateKeyTypes | PublicKeyTypes) -> None:
    """Refuse a key whose type or size is outside the bounds (reads only public facts)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyMaterialError(f"is an RSA key shorter than {MIN_RSA_BITS} bits.")
        if key.key_size > MAX_RSA_BITS:
            raise KeyMaterialError(f"is an RSA key longer than {MAX_RSA_BITS} bits.")
    elif isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in EC_CURVES:
            raise KeyMaterialError("is an EC key on another curve than P-256, P-384 or P-521.")
    elif not isinstance(
        key,
        ed25519.Ed25519PrivateKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PrivateKey
        | ed448.Ed448PublicKey,
    ):
        raise KeyMaterialError("is not an RSA, EC or EdDSA key.")


def _validated_rsa(key: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
    """Return the key rebuilt with the library's validation on (the expensive step)."""
    try:
        return key.private_numbers().private_key()
    except ValueError:
        raise KeyMaterialError("is not a valid RSA private key.") from None


def load_private_key(value: str) -> PrivateKey:
    """Return the unencrypted PEM private key in value, within bounds and validated."""
    try:
        key = serialization.load_pem_private_key(
            value.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        raise KeyMaterialError("is an encrypted private key; give it unencrypted.") from None
    except UnsupportedAlgorithm:
        raise KeyMaterialError("is not a supported PEM private key.") from None
    except ValueError:
        raise KeyMaterialError("is not a PEM private key.") from None
    _bound(key)
    if isinstance(key, rsa.RSAPrivateKey):
        key = _validated_rsa(key)
    return key  # type: ignore[return-value]


def load_certificates(value: str, *, at_most: int = MAX_CERTIFICATES) -> list[x509.Certificate]:
    """Return the PEM certificates in value: at least one, at most `at_most`."""
    if value.count(_PEM_BEGIN) > at_most:  # counted before anything is parsed
        if at_most == 1:
            raise KeyMaterialError("must hold exactly one certificate.")
        raise KeyMaterialError(f"holds more than {at_most} certificates.")
    try:
        certificates = x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        raise KeyMaterialError("is not a PEM certificate.") from None
    if len(certificates) > at_most:
        raise KeyMaterialError(f"holds more than {at_most} certificates.")
    return certificates


def public_key_der(public_key: PublicKeyTypes) -> bytes:
    """Return the SubjectPublicKeyInfo (DER) of a public key, for comparing two keys."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_public_key(certificate: x509.Certificate) -> PublicKeyTypes:
    """Return the certificate's public key, refused when it is outside the bounds."""
    try:
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise KeyMaterialError("holds a public key of an unsupported type.") from None
    _bound(key)
    return key
