"""The cutover run-book: a resumable state machine that moves a company's mail and its DNS from one
server to another (a provider to our own server, or back) without losing a message."""
