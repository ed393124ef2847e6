# managed by provision: changes here are overwritten by `provision apply`
# A message moved or copied into Junk teaches Rspamd spam.
require ["vnd.dovecot.pipe", "copy", "imapsieve"];
pipe :copy "rspamd-learn" ["spam"];
