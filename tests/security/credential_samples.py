"""Throwaway certificates and keys for credential-set tests (generated, never checked in)."""

import datetime as dt
import secrets
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_cert(common_name: str = "device-1.example", days: int = 365, key=None):
    """Return (certificate PEM, private key PEM) of a self-signed EC certificate."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert_pem(cert), key_pem(key)


def weak_rsa_key_pem() -> str:
    return key_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))


@lru_cache(maxsize=4)
def rsa_key(bits: int = 2048):
    """Return a real RSA private key (cached: generating one costs real time)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def oversized_rsa_key_pem(bits: int = 16384) -> str:
    """Return a well-formed PEM RSA key of `bits` bits without generating primes.

    The factors are random odd numbers, so the key is not valid; it is what an attacker
    sends to make validation run (which costs seconds for a real key of this size). Its
    size is all the bounds need to read, and no validation must ever run on it.
    """

    def odd(n: int) -> int:
        return secrets.randbits(n) | (3 << (n - 2)) | 1  # top two bits: p*q has 2n bits

    p, q = odd(bits // 2), odd(bits // 2)
    d = odd(bits - 16)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), 1, rsa.RSAPublicNumbers(65537, p * q)
    )
    return key_pem(numbers.private_key(unsafe_skip_rsa_key_validation=True))


def ec_key_pem(curve) -> str:
    return key_pem(ec.generate_private_key(curve))


def sample_fields(kind: str, secret: str = "s3cret-VALUE-0001") -> dict[str, str]:
    """Return valid credentials for `kind` whose secret fields all hold `secret`."""
    cert, key = make_cert()
    _, other_key = make_cert()
    samples = {
        "api-token-credentials": {"token": secret},
        "aws-credentials": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": secret},
        "aws-iam-role-credentials": {
            "roleArn": "arn:aws:iam::123456789012:role/soracom",
            "externalId": secret,
        },
        "azure-credentials": {"key": secret, "policyName": "device"},
        "azureIoT-credentials": {"sharedAccessKey": secret, "sharedAccessKeyName": "device"},
        "esrij-credentials": {"refererUrl": "https://example.com/map"},
        "google-service-account-json": {
            "credentials": '{"type": "service_account", "private_key": "' + secret + '"}'
        },
        "googleIoT-credentials": {
            "algorithm": "ES256",
            "deviceId": "dev-1",
            "privateKey": other_key,
            "projectId": "proj",
            "region": "asia-east1",
            "registryId": "reg",
        },
        "infoteria-platio-credentials": {"secretToken": secret, "tokenId": "tok-1"},
        "kii-thingif-credentials": {
            "app_id": "app",
            "app_key": secret,
            "client_id": "cid",
            "client_secret": secret,
        },
        "landlog-credentials": {"client_id": "cid", "client_secret": secret},
        "mmcloud-credentials": {
            "commandcode": secret,
            "customerid": "c1",
            "machineid": "m1",
            "machineidtype": "t1",
        },
        "motionboard-credentials": {"authkey": secret, "template": "t", "tenant": "x"},
        "optim-cloud-IoT-OS-credentials": {"client_id": "cid", "client_secret": secret},
        "private-key-pem": {"privateKey": other_key},
        "psk": {"key": secret},
        "pubnub-credentials": {"pubKey": "pub-1", "subKey": secret},
        "sensorcorpus-credentials": {"session_code": secret},
        "username-password-credentials": {"username": "device", "password": secret},
        "x509": {"cert": cert, "key": key},
    }
    return samples[kind]
