# managed by provision: changes here are overwritten by `provision apply`
# A message moved out of Junk teaches Rspamd ham, unless it goes to the Trash.
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];
if environment :is "imap.mailbox" "Trash" {
  stop;
}
pipe :copy "rspamd-learn" ["ham"];
