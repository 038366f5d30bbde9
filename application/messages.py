"""The `detail` strings of Open WebUI 0.12.4's error responses (``{"detail": "<string>"}``).

Provenance, per constant:
  * no comment: given verbatim in shared/reference/openwebui-behaviour.md;
  * ``# upstream``: not in the shared reference docs; copied from the 0.12.x upstream
    ``open_webui/constants.py`` ``ERROR_MESSAGES`` or the router that raises the literal;
  * ``# not in reference``: Chronicle's own wording, used where the reference has no string.

422 validation errors keep FastAPI's own list form and never use these strings.
"""

from __future__ import annotations

import errno as _errno

_ERRNO_MESSAGES = {  # upstream (_error_message helper)
    _errno.ENAMETOOLONG: "File name is too long.",
    _errno.ENOSPC: "The server is out of storage space.",
    _errno.EDQUOT: "Server storage quota exceeded.",
    _errno.EACCES: "Server storage is not writable.",
    _errno.EPERM: "Server storage is not writable.",
    _errno.EROFS: "Server storage is not writable.",
}


class Detail:
    """Namespace of error `detail` strings (ERROR_MESSAGES of the reference)."""

    # --- auth / session -------------------------------------------------------------
    NOT_AUTHENTICATED = "Not authenticated"  # no credential at all (401)
    UNAUTHORIZED = "401 Unauthorized"  # undecodable / bad-signature JWT (401)
    INVALID_TOKEN_SHORT = "Invalid token"  # revoked JWT or stale session_stamp (401)
    INVALID_TOKEN = "Your session has expired or the token is invalid. Please sign in again."
    INVALID_CRED = (
        "The email or password provided is incorrect. "
        "Please check for typos and try logging in again."
    )
    ACCESS_PROHIBITED = (
        "You do not have permission to access this resource. "
        "Please contact your administrator for assistance."
    )
    SHARE_FORBIDDEN = "You do not have permission to share with the requested audience"
    ACTION_PROHIBITED = "The requested action has been restricted as a security measure."
    HUMAN_SESSION_REQUIRED = "A human session is required."
    RATE_LIMIT_EXCEEDED = "API rate limit exceeded"
    AUTH_CHANGED = "Authentication changed. Please sign in again."  # upstream (409)
    USER_MISMATCH = "User mismatch. Please sign in again."  # upstream (trusted-header mode)
    INVALID_TRUSTED_HEADER = (  # upstream
        "Your provider has not provided a trusted header. "
        "Please contact your administrator for assistance."
    )
    EXISTING_USERS = (  # upstream
        "You can't turn off authentication because there are existing users. If you want to "
        "disable WEBUI_AUTH, make sure your web interface doesn't have any existing users and "
        "is a fresh installation."
    )

    # --- accounts -------------------------------------------------------------------
    EMAIL_TAKEN = (
        "Uh-oh! This email is already registered. "
        "Sign in with your existing account or choose another email to start anew."
    )
    INVALID_EMAIL_FORMAT = (
        "The email format you entered is invalid. Please double-check and make sure you're "
        "using a valid email address (e.g., yourname@example.com)."
    )
    EMAIL_MISMATCH = (  # upstream
        "Uh-oh! This email does not match the email your provider is registered with. "
        "Please check your email and try again."
    )
    USERNAME_TAKEN = (  # upstream
        "Uh-oh! This username is already registered. Please choose another username."
    )
    PASSWORD_TOO_LONG = (  # upstream
        "Uh-oh! The password you entered is too long. "
        "Please make sure your password is less than 72 bytes long."
    )
    INCORRECT_PASSWORD = (  # upstream (POST /auths/update/password, wrong current password)
        "The password provided is incorrect. Please check for typos and try again."
    )
    CREATE_USER_ERROR = (  # upstream
        "Oops! Something went wrong while creating your account. Please try again later. "
        "If the issue persists, contact support for assistance."
    )
    DELETE_USER_ERROR = (  # upstream
        "Oops! Something went wrong. We encountered an issue while trying to delete the user. "
        "Please give it another shot."
    )
    SIGNUP_ERROR = "An internal error occurred during signup."  # upstream (500)
    PRIMARY_ADMIN_CHECK_FAILED = "Could not verify primary admin status."  # upstream (500)
    # The reference has no dedicated strings for these two rules; it answers both with
    # 403 ACTION_PROHIBITED. Aliases only, so call sites read well:
    CANNOT_DELETE_SELF = ACTION_PROHIBITED
    PRIMARY_ADMIN_PROTECTED = ACTION_PROHIBITED
    LAST_ADMIN = ACTION_PROHIBITED  # not in reference: the last admin is never removed

    NOT_FOUND = "We could not find what you're looking for :/"
    USAGE_ADMINS_ONLY = "Access denied. Only administrators can view usage statistics."  # upstream
    USER_NOT_FOUND = "We could not find what you're looking for :/"
    CHAT_NOT_IN_TRASH = "This chat is not in the trash."  # not in reference (trash is ours)

    # --- API keys -------------------------------------------------------------------
    API_KEY_NOT_ALLOWED = "Use of API key is not enabled in the environment."
    API_KEY_CREATION_NOT_ALLOWED = (  # upstream
        "API key creation is not allowed in the environment."
    )
    API_KEY_NOT_FOUND = (  # upstream (GET /auths/api_key with no key, 404)
        "Oops! It looks like there's a hiccup. The API key is missing. "
        "Please make sure to provide a valid API key to access this feature."
    )
    CREATE_API_KEY_ERROR = (  # upstream
        "Oops! Something went wrong while creating your API key. Please try again later. "
        "If the issue persists, contact support for assistance."
    )

    # --- LDAP (literals in routers/auths.py) ----------------------------------------
    LDAP_NOT_ENABLED = "LDAP authentication is not enabled"  # upstream (400)
    LDAP_FAILED = "LDAP authentication failed."  # upstream (400, catch-all)

    # --- health / readiness (literals in main.py) -----------------------------------
    STARTUP_NOT_COMPLETE = "Startup not complete"  # upstream (/ready 503)
    DATABASE_NOT_READY = "Database not ready"  # upstream (/ready 503)
    REDIS_NOT_READY = "Redis not ready"  # upstream (/ready 503)
    PROJECTION_FAILED = "A projection stopped on an event"  # ours (/ready 503, which ones)

    # --- rest of the product --------------------------------------------------------
    ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."  # upstream
    MODEL_ID_TAKEN = (  # upstream
        "Uh-oh! This model id is already registered. Please choose another model id string."
    )
    MODEL_ID_TOO_LONG = (  # upstream
        "The model id is too long. Please make sure your model id is less than 256 characters long."
    )
    NAME_TAG_TAKEN = (  # upstream
        "Uh-oh! This name tag is already registered. Please choose another name tag string."
    )
    COMMAND_TAKEN = (  # upstream
        "Uh-oh! This command is already registered. Please choose another command string."
    )
    FILE_EXISTS = "Uh-oh! This file is already registered. Please choose another file."  # upstream
    FILE_NOT_SENT = "FILE_NOT_SENT"  # upstream
    FILE_NOT_SUPPORTED = (  # upstream
        "Oops! It seems like the file format you're trying to upload is not supported. "
        "Please upload a file with a supported format and try again."
    )
    FILE_NOT_PROCESSED = (  # upstream
        "Extracted content is not available for this file. "
        "Please ensure that the file is processed before proceeding."
    )
    DUPLICATE_CONTENT = (  # upstream
        "Duplicate content detected. Please provide unique content to proceed."
    )
    EMPTY_CONTENT = (  # upstream
        "The content provided is empty. "
        "Please ensure that there is text or data present before proceeding."
    )
    MALICIOUS = "Unusual activities detected, please try again in a few minutes."  # upstream
    PANDOC_NOT_INSTALLED = (  # upstream
        "Pandoc is not installed on the server. Please contact your administrator for assistance."
    )
    OLLAMA_NOT_FOUND = "WebUI could not connect to Ollama"  # upstream
    OLLAMA_API_DISABLED = (  # upstream
        "The Ollama API is disabled. Please enable it to use this feature."
    )
    DB_NOT_SQLITE = "This feature is only available with SQLite databases."  # upstream
    INVALID_URL = "The URL you provided is invalid. Please double-check and try again."  # upstream
    WEB_SEARCH_ERROR = "Something went wrong while searching the web."  # upstream

    # --- parameterised --------------------------------------------------------------
    @staticmethod
    def DEFAULT(err: object = "", fallback: str = "") -> str:  # noqa: N802
        """``Something went wrong :/`` or ``[ERROR: …]`` (reference ``ERROR_MESSAGES.DEFAULT``).

        An exception object never leaks its text: OS errors map to a fixed phrase,
        any other exception to ``fallback`` (or the generic phrase).
        """
        if not err:
            return "Something went wrong :/"
        if isinstance(err, OSError) and err.errno in _ERRNO_MESSAGES:
            return f"[ERROR: {_ERRNO_MESSAGES[err.errno]}]"
        if isinstance(err, Exception):
            return f"[ERROR: {fallback}]" if fallback else "Something went wrong :/"
        return f"[ERROR: {err}]"

    @staticmethod
    def MODEL_NOT_FOUND(name: str = "") -> str:  # noqa: N802
        return f"Model '{name}' was not found"

    @staticmethod
    def FILE_TOO_LARGE(size: object = "") -> str:  # noqa: N802  # upstream
        return (
            "Oops! The file you're trying to upload is too large. "
            f"Please upload a file that is less than {size}."
        )

    @staticmethod
    def INVALID_PASSWORD(err: str = "") -> str:  # noqa: N802  # upstream
        return err if err else "The password does not meet the required validation criteria."

    @staticmethod
    def INCORRECT_FORMAT(err: str = "") -> str:  # noqa: N802  # upstream
        return f"Invalid format. Please use the correct format{err}"

    @staticmethod
    def OPENAI_NOT_FOUND(name: str = "") -> str:  # noqa: N802  # upstream (ignores name)
        return "OpenAI API was not found"

    @staticmethod
    def FEATURE_DISABLED(name: str = "") -> str:  # noqa: N802  # upstream
        return f"{name} is disabled"

    @staticmethod
    def INPUT_TOO_LONG(size: object = "") -> str:  # noqa: N802  # upstream
        return f"Input prompt exceeds maximum length of {size}"

    @staticmethod
    def REQUIRED_FIELD_EMPTY(name: str = "") -> str:  # noqa: N802  # upstream
        return f"Required field {name} is empty"

    @staticmethod
    def OAUTH_NOT_CONFIGURED(name: str = "") -> str:  # noqa: N802  # upstream
        return f"Provider '{name}' is not configured"
