// managed by provision: the login of a Basic Authorization header, lowercased. nginx names
// the Apple profile after it; provision-dav-sync writes the profiles in lowercase, and
// Radicale and Dovecot accept a login typed in any case.
function lowercase(r) {
    return (r.variables.remote_user || "").toLowerCase();
}

export default {lowercase};
