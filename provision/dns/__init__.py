"""DNS checks for a mail domain: record evaluators and analysers built on dnspython."""
