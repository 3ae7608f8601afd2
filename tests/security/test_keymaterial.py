"""Key material: bounded types and sizes, read before any costly check, parsed once per request.

Parses are counted with a spy on the library's own loaders (not timed): a refused key must
never reach RSA validation, and a request must parse each PEM value once.
"""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from security import credentials
from security.models import CredentialSet
from tests.api.harness import call, error_of
from tests.security.credential_samples import (
    cert_pem,
    ec_key_pem,
    key_pem,
    make_cert,
    oversized_rsa_key_pem,
    rsa_key,
)

HX = {"HTTP_HX_REQUEST": "true"}


class Parses:
    """What the PEM loaders were asked to do during a test."""

    def __init__(self) -> None:
        self.keys: list[bool] = []  # one entry per private-key load: was validation skipped?
        self.certificate_texts: list[bytes] = []


@pytest.fixture
def parses(monkeypatch) -> Parses:
    seen = Parses()
    load_key = serialization.load_pem_private_key
    load_certs = x509.load_pem_x509_certificates

    def spy_key(data, password, *args, **kwargs):
        seen.keys.append(bool(kwargs.get("unsafe_skip_rsa_key_validation", False)))
        return load_key(data, password, *args, **kwargs)

    def spy_certs(data, *args, **kwargs):
        seen.certificate_texts.append(bytes(data))
        return load_certs(data, *args, **kwargs)

    monkeypatch.setattr(serialization, "load_pem_private_key", spy_key)
    monkeypatch.setattr(x509, "load_pem_x509_certificates", spy_certs)
    return seen


def create(actor, kind, fields, cid="km-1"):
    return credentials.create_credential_set(None, actor, cid, kind, "", fields)


def errors_of(actor, kind, fields, cid="km-bad"):
    with pytest.raises(credentials.CredentialsInvalid) as info:
        create(actor, kind, fields, cid)
    assert not CredentialSet.objects.filter(credentials_id=cid).exists()
    return info.value.errors


def rsa_x509(bits: int = 2048) -> dict[str, str]:
    key = rsa_key(bits)
    cert, _ = make_cert("rsa-device.example", key=key)
    return {"cert": cert, "key": key_pem(key)}


# --- bounds -----------------------------------------------------------------------------


def test_it_refuses_an_oversized_rsa_key_without_validating_it(root, parses):
    errors = errors_of(root, "private-key-pem", {"privateKey": oversized_rsa_key_pem(16384)})
    assert errors == {"credentials.privateKey": "is an RSA key longer than 4096 bits."}
    assert parses.keys == [True]  # one structural read, validation skipped, nothing else


def test_it_refuses_an_oversized_rsa_key_in_an_x509_set_without_validating_it(root, parses):
    cert, _ = make_cert()
    errors = errors_of(root, "x509", {"cert": cert, "key": oversized_rsa_key_pem(8192)})
    assert errors == {"credentials.key": "is an RSA key longer than 4096 bits."}
    assert parses.keys == [True]


def test_it_refuses_an_oversized_rsa_key_through_the_api(root_api, root, parses):
    body = {"type": "private-key-pem", "credentials": {"privateKey": oversized_rsa_key_pem()}}
    response = call("POST", "/v1/credentials/big", root_api, body)
    assert response.status_code == 400
    assert "longer than 4096 bits" in error_of(response)["message"]
    assert parses.keys == [True]
    assert not CredentialSet.objects.exists()


def test_it_refuses_an_oversized_rsa_key_in_the_console(root_client, root, parses):
    data = {"credentials_id": "big", "description": "", "type": "private-key-pem"}
    data["c__privateKey"] = oversized_rsa_key_pem()
    response = root_client.post("/security/credentials/new", data, **HX)
    assert response.status_code == 400
    assert "longer than 4096 bits" in response.content.decode()
    assert parses.keys == [True]
    assert not CredentialSet.objects.exists()


def test_it_still_validates_an_rsa_key_within_the_bounds(root):
    errors = errors_of(root, "private-key-pem", {"privateKey": oversized_rsa_key_pem(2048)})
    assert errors == {"credentials.privateKey": "is not a valid RSA private key."}


@pytest.mark.parametrize("bits", [2048, 4096])
def test_it_accepts_rsa_keys_of_2048_to_4096_bits(root, bits):
    cs = create(root, "x509", rsa_x509(bits))
    assert cs.cert_subject == "CN=rsa-device.example"


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_it_accepts_ec_keys_on_the_nist_curves(root, curve):
    create(root, "private-key-pem", {"privateKey": ec_key_pem(curve)})
    assert CredentialSet.objects.filter(credentials_id="km-1").exists()


@pytest.mark.parametrize("curve", [ec.SECP256K1(), ec.BrainpoolP512R1(), ec.SECP224R1()])
def test_it_refuses_ec_keys_on_other_curves(root, curve):
    errors = errors_of(root, "private-key-pem", {"privateKey": ec_key_pem(curve)})
    assert errors == {
        "credentials.privateKey": "is an EC key on another curve than P-256, P-384 or P-521."
    }


def test_it_accepts_an_ed25519_key(root):
    create(root, "private-key-pem", {"privateKey": key_pem(ed25519.Ed25519PrivateKey.generate())})
    assert CredentialSet.objects.filter(credentials_id="km-1").exists()


def test_it_refuses_more_certificates_than_a_chain_may_hold_before_parsing_them(root, parses):
    fields = {**rsa_x509(), "ca": "".join(make_cert(f"ca-{i}.example")[0] for i in range(11))}
    errors = errors_of(root, "x509", fields)
    assert errors == {"credentials.ca": "holds more than 10 certificates."}
    assert fields["ca"].encode() not in parses.certificate_texts


def test_it_accepts_a_chain_of_ten_certificates(root):
    fields = {**rsa_x509(), "ca": "".join(make_cert(f"ca-{i}.example")[0] for i in range(10))}
    create(root, "x509", fields)
    assert credentials.use_credential_set(root.operator, "km-1")["ca"] == fields["ca"]


def test_it_refuses_a_certificate_whose_key_is_out_of_bounds(root):
    key = ec.generate_private_key(ec.SECP256K1())
    cert, _ = make_cert(key=key)
    errors = errors_of(root, "x509", {"cert": cert, "key": ec_key_pem(ec.SECP256R1())})
    assert errors == {
        "credentials.cert": "is an EC key on another curve than P-256, P-384 or P-521."
    }


# --- one parse per request ----------------------------------------------------------------


def test_it_parses_each_pem_value_once_per_create(root, parses):
    fields = {**rsa_x509(), "ca": make_cert("ca.example")[0]}
    create(root, "x509", fields)
    assert parses.keys == [True]
    assert sorted(parses.certificate_texts) == sorted(
        [fields["cert"].encode(), fields["ca"].encode()]
    )


def test_it_parses_the_key_once_per_api_create(root_api, root, parses):
    body = {"type": "x509", "credentials": rsa_x509()}
    assert call("POST", "/v1/credentials/x", root_api, body).status_code == 201
    assert parses.keys == [True]
    assert len(parses.certificate_texts) == 1


def test_it_parses_the_key_once_per_console_create(root_client, root, parses):
    data = {"credentials_id": "x", "description": "", "type": "x509"}
    data |= {f"c__{name}": value for name, value in rsa_x509().items()}
    assert root_client.post("/security/credentials/new", data, **HX).status_code == 204
    assert parses.keys == [True]
    assert len(parses.certificate_texts) == 1


def test_it_parses_the_new_key_once_per_console_update(root_client, root, parses):
    create(root, "x509", rsa_x509(), cid="x")
    key = ec.generate_private_key(ec.SECP384R1())
    cert, key_text = make_cert("renewed.example", key=key)
    parses.keys.clear()
    parses.certificate_texts.clear()
    data = {"description": "", "c__cert": cert, "c__key": key_text}
    assert root_client.post("/security/credentials/x/update", data, **HX).status_code == 204
    assert parses.keys == [True]
    assert parses.certificate_texts == [cert.encode()]
    assert CredentialSet.objects.get(credentials_id="x").cert_subject == "CN=renewed.example"


def test_it_parses_no_stored_key_when_only_the_chain_changes(root, parses):
    cs = create(root, "x509", rsa_x509(), cid="x")
    parses.keys.clear()
    chain = make_cert("new-ca.example")[0]
    credentials.update_credential_set(None, root, cs, fields={"ca": chain})
    assert parses.keys == []
    assert credentials.use_credential_set(root.operator, "x")["ca"] == chain


def test_it_matches_a_new_certificate_against_the_stored_key(root):
    fields = rsa_x509()
    cs = create(root, "x509", fields, cid="x")
    other, _ = make_cert("other.example")
    with pytest.raises(credentials.CredentialsInvalid) as info:
        credentials.update_credential_set(None, root, cs, fields={"cert": other})
    assert info.value.errors == {"credentials.key": "does not match the certificate's public key."}
    renewed = x509.load_pem_x509_certificate(fields["cert"].encode())
    credentials.update_credential_set(None, root, cs, fields={"cert": cert_pem(renewed)})
