"""Domain errors, each with the HTTP status it maps to in one place.

Services raise these; views, the API and the admin translate them with
``error.status`` and show ``error.message``, which is written for a person.
"""


class ServiceError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotAllowed(ServiceError):
    status = 403
    code = "forbidden"


class WrongState(ServiceError):
    status = 409
    code = "conflict"


class ConcurrentChange(ServiceError):
    status = 409
    code = "conflict"


class InvalidInput(ServiceError):
    status = 400
    code = "invalid"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class StorageRefused(ServiceError):
    """The server's file storage would not take a write (full, read-only, not permitted).

    507 Insufficient Storage: the request was fine and may succeed later; the
    server could not keep what it was sent, and kept nothing of it.
    """

    status = 507
    code = "storage"
