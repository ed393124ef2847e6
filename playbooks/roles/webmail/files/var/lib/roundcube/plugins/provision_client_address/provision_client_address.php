<?php
// managed by provision: changes here are overwritten by `provision apply`
//
// Tells Dovecot whom the webmail logs in for: the browser's address goes with the IMAP ID
// command (x-originating-ip) before the login. Dovecot takes it from loopback only
// (login_trusted_networks), so its auth penalty and its log name that address, not the
// webmail's 127.0.0.1 that every person shares.
class provision_client_address extends rcube_plugin
{
    public function init()
    {
        $this->add_hook('storage_connect', [$this, 'identify']);
    }

    public function identify($args)
    {
        // preauth_ident goes before the login (ident only after it, too late for the penalty).
        $args['preauth_ident'] = array_merge($args['preauth_ident'] ?? [],
                                             ['x-originating-ip' => $_SERVER['REMOTE_ADDR']]);
        return $args;
    }
}
