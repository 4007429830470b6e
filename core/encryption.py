"""Secrets kept in the database (a bucket's credentials), encrypted with Fernet (cryptography).

The key is ``FIELD_ENCRYPTION_KEY`` (a Fernet key: ``python -c "from cryptography.fernet import
Fernet; print(Fernet.generate_key().decode())"``), or, when that is unset, one derived from
``SECRET_KEY`` with HKDF. Set ``FIELD_ENCRYPTION_KEY`` in production, so that a change of
``SECRET_KEY`` does not make the stored credentials unreadable.
"""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from core.errors import ServiceError


class SecretUnreadable(ServiceError):
    status = 409
    code = "conflict"


@cache
def _fernet(key: str, secret_key: str) -> Fernet:
    if key:
        return Fernet(key.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"batchboard stored secrets").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _current() -> Fernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(text: str) -> str:
    return _current().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The stored credentials cannot be read with this server's key (FIELD_ENCRYPTION_KEY or "
            "SECRET_KEY changed since they were saved); connect the bucket again."
        ) from None
