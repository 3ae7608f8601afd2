"""Sign-in does the same work whether or not the account exists (no timing oracle)."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import MD5PasswordHasher

from tests.conftest import ROOT_PASSWORD


@pytest.fixture
def hashes(monkeypatch):
    calls = []
    encode = MD5PasswordHasher.encode

    def counting(self, password, salt):
        calls.append(password)
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    return calls


def test_it_hashes_once_for_a_wrong_password(root, hashes):
    assert authenticate(email=root.email, password="wrong") is None
    assert len(hashes) == 1


def test_it_hashes_once_for_an_unknown_account(db, hashes):
    assert authenticate(email="nobody@example.com", password="wrong") is None
    assert len(hashes) == 1


def test_it_hashes_once_for_a_sam_user_without_password(robot, hashes):
    assert authenticate(operator_id=robot.operator_id, user_name="robot", password="x") is None
    assert len(hashes) == 1


def test_it_authenticates_root_by_email_case_insensitively(root):
    assert authenticate(email="Root@Example.com", password=ROOT_PASSWORD) == root


def test_it_refuses_an_inactive_root(root):
    root.is_active = False
    root.save()
    assert authenticate(email=root.email, password=ROOT_PASSWORD) is None


def test_it_does_not_let_root_into_the_admin_by_handle(root):
    assert authenticate(username=root.handle, password=ROOT_PASSWORD) is None
