# managed by provision: changes here are overwritten by `provision apply`
# Runs after the user's own scripts: mail Rspamd marked as spam goes into Junk (the \Junk folder).
require ["fileinto", "mailbox"];
if header :is "X-Spam" "Yes" {
  fileinto :create "Junk";
}
