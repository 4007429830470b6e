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
