"""OAuth 2.0 for provider logins: the device authorization grant (RFC 8628) and token refresh."""
