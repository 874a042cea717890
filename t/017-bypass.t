#!/usr/bin/perl

# Bypass attempts and bad input: hundreds of crafted requests, each sent
# twice and checked against what the fake upstream received.  The
# invariant, for every request: nothing reaches the upstream under an
# admin path (in any reading of its target: raw, decoded, dot segments
# resolved, any letter case) unless it carries an admin token the gate
# has just verified with Synapse, and then it carries exactly one
# "Authorization: Bearer <that token>" and no access_token in its query.
# Each request's status is asserted too: the gate's 401/403, nginx's own
# 400/414/501 (nothing reached the upstream then), or 200.
#
# Groups:
#   - spellings of the prefix: each byte of "/_synapse/admin"
#     percent-encoded (upper and lower hex), several at once, letter
#     case, dot segments, encoded and repeated slashes, backslashes and
#     ";" (no separators on Linux nor in Synapse: such targets are
#     outside the prefix and pass untouched), fragments, absolute-form
#     targets, HTTP/1.0 without Host, HTTP/0.9;
#   - locations: regex and nested ones, named locations, try_files and
#     error_page sending an ungated request (also from "admin_gate off"
#     locations) into the admin API, "satisfy any" with "allow all", and
#     targets that nginx resolves into the "admin_gate off" location of
#     the docs while the raw target it forwards is another admin path;
#   - tokens: raw CR, LF, NUL, control and high bytes (where a request
#     can carry them at all), the same percent-encoded in the query,
#     8 KiB tokens within and past large_client_header_buffers, 5000
#     query parameters, 300 and 1000 headers;
#   - Content-Length/Transfer-Encoding conflicts and smuggled requests
#     hidden in bodies, pipelining on one connection;
#   - HTTP/2 (h2c through curl): spellings and token forms;
#   - "satisfy any" with Debian's auth_pam module and a PAM service that
#     permits everyone, loaded before and after this module (two more
#     nginx instances): the gate still decides.
#
# The error log is kept at "notice": nginx core logs raw header lines at
# "info" (a NUL in "Authorization: Bearer <token>", see docs/security.md).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest qw(http);

# Debian's modules, or those built for the nginx under test
my $PAM_MODULE = ($ENV{TEST_NGINX_MODULES} || '/usr/lib/nginx/modules')
    . '/ngx_http_auth_pam_module.so';
my $PAM_SERVICE = 'admin-gate-test-permit';
my $PAM_FILE = "/etc/pam.d/$PAM_SERVICE";
my $PAM_MADE;

END { unlink $PAM_FILE if $PAM_MADE }

# the endpoint that the configuration (as in docs/directives.md) opens
my $OPEN = '/_synapse/admin/v1/server_version';

my $ADM = 'Authorization: Bearer adm_tok';
my $USR = 'Authorization: Bearer usr_tok';
my $BASIC = 'Authorization: Basic YWxpY2U6c2VjcmV0';    # alice:secret

my $BIG = 'B' x 8192;          # an admin's 8 KiB token
my $BIG_UNKNOWN = 'U' x 8192;  # a token Synapse does not know

my $p = '/_synapse/admin/v1/users';

my $sent = 0;

my $t = AdminTest->new(error_log_level => 'notice');
my $fs = $t->synapse(tokens => { $BIG => { user => '@admin:test' } });

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;
        listen 127.0.0.1:%%PORT_1%% http2;

        large_client_header_buffers 4 32k;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location ~* ^/_synapse/admin/v1/rx/ {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/ {
            location /_synapse/admin/v1/nested/ {
                proxy_pass http://127.0.0.1:%%SYNAPSE%%;
            }

            location ~ /deep$ {
                proxy_pass http://127.0.0.1:%%SYNAPSE%%;
            }

            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_synapse/admin/v1/server_version {
            admin_gate off;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/anyone {
            satisfy any;
            allow all;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        # ungated locations that send requests into the admin API

        location /tf/ {
            root %%TESTDIR%%/empty;
            try_files $uri /_synapse/admin/v1/users?$args;
        }

        location /tf-plain/ {
            root %%TESTDIR%%/empty;
            try_files $uri /_synapse/admin/v1/users;
        }

        location /ep/ {
            error_page 404 = /_synapse/admin/v1/users;
            return 404;
        }

        location /named/ {
            error_page 404 = @admin;
            return 404;
        }

        location @admin {
            rewrite ^ /_synapse/admin/v1/users break;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /open/ {
            admin_gate off;
            root %%TESTDIR%%/empty;
            try_files $uri /_synapse/admin/v1/users?$args;
        }

        location /open-ep/ {
            admin_gate off;
            error_page 404 = /_synapse/admin/v1/users;
            return 404;
        }

        location /open-named/ {
            admin_gate off;
            error_page 404 = @admin;
            return 404;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    # large_client_header_buffers left at its default, 4 8k

    server {
        listen 127.0.0.1:%%PORT_2%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

my $main = { t => $t, fs => $fs, port => $t->port(0) };

###############################################################################

# spellings of the prefix: [what, target, expectation]; "gated" is tried
# without a token, with a user's and with an admin's, "refused" (nginx's
# own 400) without a token and with an admin's, "open" (outside the
# prefix in every reading) without a token

my @spellings;

my $prefix = '/_synapse/admin';

for my $i (0 .. length($prefix) - 1) {
    my $c = substr($prefix, $i, 1);
    my %seen;

    for my $hex (sprintf('%%%02X', ord $c), sprintf('%%%02x', ord $c)) {
        next if $seen{$hex}++;

        my $s = substr($prefix, 0, $i) . $hex . substr($prefix, $i + 1);

        # a target must begin with "/"
        push @spellings, ["byte $i ('$c') as $hex", "$s/v1/users",
            $i == 0 ? 'refused' : 'gated'];
    }
}

my $all = join '', map { sprintf '%%%02X', ord } split //, '_synapse/admin';
my $odd = join '', map { $_ % 2 ? sprintf('%%%02x', ord substr $prefix, $_, 1)
        : substr $prefix, $_, 1 } 1 .. length($prefix) - 1;

push @spellings, (
    ['all bytes encoded, upper hex', "/$all/v1/users", 'gated'],
    ['all bytes encoded, lower hex', '/' . lc($all) . '/v1/users', 'gated'],
    ['every other byte encoded', "/$odd/v1/users", 'gated'],
    ['"_synapse" encoded', '/%5F%73%79%6E%61%70%73%65/admin/v1/users',
        'gated'],
    ['"admin" encoded', '/_synapse/%61%64%6d%69%6e/v1/users', 'gated'],
    ['the whole path encoded', "/$all%2Fv1%2Fusers", 'gated'],
    ['encoding and letter case', '/%5fSYNAPSE/%41DMIN/v1/users', 'gated'],
    ['double encoding', '/%255Fsynapse/admin/v1/users', 'open'],
    ['overlong UTF-8 "/"', '/_synapse%C0%AFadmin/v1/users', 'open'],
    ['IIS %u escape', '/%u005Fsynapse/admin/v1/users', 'refused'],
    ['a truncated escape', '/_synapse/admin%/v1/users', 'refused'],
    ['an encoded NUL in "_synapse"', '/_synapse%00/admin/v1/users',
        'refused'],
    ['an encoded NUL after "admin"', '/_synapse/admin%00/v1/users',
        'refused'],

    ['upper case', '/_SYNAPSE/ADMIN/v1/users', 'gated'],
    ['capitalized', '/_Synapse/Admin/v1/users', 'gated'],
    ['mixed case', '/_sYnApSe/AdMiN/v1/users', 'gated'],
    ['upper case "admin"', '/_synapse/ADMIN/V1/USERS', 'gated'],

    ['"." segment', '/_synapse/./admin/v1/users', 'gated'],
    ['".." segment', '/_synapse/x/../admin/v1/users', 'gated'],
    ['leading "." segment', '/./_synapse/admin/v1/users', 'gated'],
    ['climbing in from outside', '/x/../_synapse/admin/v1/users', 'gated'],
    ['encoded "." segment', '/_synapse/%2e/admin/v1/users', 'gated'],
    ['encoded ".." segment', '/_synapse/x/%2E%2E/admin/v1/users', 'gated'],
    ['half-encoded ".." segment', '/_synapse/x/.%2e/admin/v1/users',
        'gated'],
    ['trailing "." segment', "$p/.", 'gated'],
    ['trailing ".." segment', "$p/x/..", 'gated'],
    ['encoded slash and ".." from outside',
        '/_matrix/..%2F_synapse/admin/v1/users', 'gated'],
    ['".." above the root', '/../_synapse/admin/v1/users', 'refused'],
    ['".." above the root, later', '/_synapse/../../_synapse/admin/v1/users',
        'refused'],
    ['encoded ".." above the root', '/%2e%2e/_synapse/admin/v1/users',
        'refused'],

    ['two leading slashes', '//_synapse/admin/v1/users', 'gated'],
    ['three leading slashes', '///_synapse/admin/v1/users', 'gated'],
    ['repeated inner slash', '/_synapse//admin/v1/users', 'gated'],
    ['many repeated slashes', '/_synapse///admin//v1/users', 'gated'],
    ['encoded leading slash', '/%2F_synapse/admin/v1/users', 'gated'],
    ['encoded inner slash, lower hex', '/_synapse%2fadmin/v1/users', 'gated'],
    ['encoded extra slash', '/_synapse/%2Fadmin/v1/users', 'gated'],
    ['encoded slashes everywhere', '/%2F%2F_synapse%2F%2Fadmin/v1/users',
        'gated'],

    ['a backslash for the inner slash', '/_synapse\\admin/v1/users', 'open'],
    ['a backslash after the first slash', '/\\_synapse/admin/v1/users',
        'open'],
    ['an encoded backslash', '/_synapse%5Cadmin/v1/users', 'open'],
    ['an encoded backslash, lower hex', '/_synapse%5cadmin/v1/users', 'open'],
    ['backslash ".." segments', '/x\\..\\_synapse/admin/v1/users', 'open'],
    ['a backslash for the leading slash', '\\_synapse/admin/v1/users',
        'refused'],
    ['backslashes after the prefix', '/_synapse/admin\\v1\\users', 'gated'],
    ['an encoded backslash after the prefix', '/_synapse/admin%5Cv1/users',
        'gated'],

    ['a ";" parameter in "_synapse"', '/_synapse;x/admin/v1/users', 'open'],
    ['an empty ";" parameter', '/_synapse;/admin/v1/users', 'open'],
    ['a ";" segment first', '/;/_synapse/admin/v1/users', 'open'],
    ['an encoded ";"', '/_synapse%3Bx/admin/v1/users', 'open'],
    ['a ";" parameter in "admin"', '/_synapse/admin;x/v1/users', 'gated'],
    ['a ";" parameter at the end', "$p;x=1", 'gated'],
    ['a ";" segment climbed out of', '/_synapse/;x/../admin/v1/users',
        'gated'],

    ['a fragment before ".."', '/x#/../_synapse/admin/v1/users', 'gated'],
    ['a fragment at the end', "$p#x", 'gated'],
);

for my $s (@spellings) {
    check($main, $_) for spelled(@$s);
}

# a "#" ends nginx's URI: "/_synapse" is a directory of the /_synapse/
# location, and nginx redirects to it itself

check($main, {
    name => 'a fragment inside "/_synapse#/admin": nginx redirects',
    raw => get('/_synapse#/admin/v1/users'),
    status => 301,
});

# absolute-form targets, HTTP/1.0 without Host, HTTP/0.9

my @absolute = (
    ['absolute-form target is gated (no token)',
        "GET http://localhost$p HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n\r\n", 401, 'M_MISSING_TOKEN'],
    ['absolute-form target, upper-case scheme and host, a port, %61',
        "GET HTTP://LOCALHOST:80/_SYNAPSE/%61dmin/v1/users HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n\r\n", 401,
        'M_MISSING_TOKEN'],
    ['absolute-form target with "//" is gated',
        "GET http://localhost//_synapse/admin/v1/users HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n\r\n", 401,
        'M_MISSING_TOKEN'],
    ['absolute-form target naming another host is gated',
        "GET http://evil.example$p HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n\r\n", 401, 'M_MISSING_TOKEN'],
    ['absolute-form target: a user is refused',
        "GET http://localhost/%5Fsynapse/admin/v1/users HTTP/1.1\r\n"
        . "Host: localhost\r\n$USR\r\nConnection: close\r\n\r\n", 403,
        'M_FORBIDDEN'],
    ['HTTP/1.0 without Host is gated',
        "GET $p HTTP/1.0\r\n\r\n", 401, 'M_MISSING_TOKEN'],
    ['HTTP/1.0 without Host, %5F and upper case',
        "GET /%5Fsynapse/ADMIN/v1/users HTTP/1.0\r\n\r\n", 401,
        'M_MISSING_TOKEN'],
    ['HTTP/1.0 without Host, absolute-form target',
        "GET http://localhost$p HTTP/1.0\r\n\r\n", 401, 'M_MISSING_TOKEN'],
    ['HTTP/1.0 without Host: a user is refused',
        "GET $p HTTP/1.0\r\n$USR\r\n\r\n", 403, 'M_FORBIDDEN'],
    ['HTTP/0.9 is refused (no status line, the gate\'s body)',
        "GET $p\r\n", 0, 'M_UNRECOGNIZED'],
    ['HTTP/0.9 with a user\'s query token is refused',
        "GET $p?access_token=usr_tok\r\n", 0, 'M_UNRECOGNIZED'],
    ['HTTP/0.9 with an admin\'s query token is refused: no headers to '
        . 'forward it in', "GET $p?access_token=adm_tok\r\n", 0,
        'M_UNRECOGNIZED'],
);

for my $r (@absolute) {
    check($main, { name => $r->[0], raw => $r->[1], status => $r->[2],
        err => $r->[3] });
}

check($main, {
    name => 'absolute-form target with an admin\'s query token passes',
    raw => "GET http://localhost$p?access_token=adm_tok&x=1 HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n\r\n",
    status => 200, token => 'adm_tok', up => ["$p?x=1"],
});

check($main, {
    name => 'HTTP/1.0 without Host with an admin\'s query token passes',
    raw => "GET $p?access_token=adm_tok HTTP/1.0\r\n\r\n",
    status => 200, token => 'adm_tok', up => [$p],
});


###############################################################################

# locations: regex, nested, named; try_files and error_page into the
# admin API, from gated and from "admin_gate off" locations

for my $l (
    ['a case-insensitive regex location', '/_synapse/admin/v1/rx/x'],
    ['a regex location in upper case', '/_SYNAPSE/ADMIN/v1/RX/x'],
    ['a regex location through %5F', '/%5Fsynapse/admin/v1/rx/x'],
    ['a nested prefix location', '/_synapse/admin/v1/nested/x'],
    ['a nested regex location', '/_synapse/admin/v1/deep'],
    ['a nested location reached through %2e%2e',
        '/_synapse/admin/v1/nested/%2e%2e/deep'],
    ['"satisfy any" with "allow all"', '/_synapse/admin/v1/anyone'],
    ['"satisfy any" with "allow all", %2F', '/_synapse%2Fadmin/v1/anyone'],
)
{
    check($main, $_) for spelled($l->[0], $l->[1], 'gated');
}

# [what, target]: the client's target is outside the prefix; the
# configuration sends it to /_synapse/admin/v1/users

for my $r (
    ['try_files into the admin API', '/tf/x'],
    ['try_files into the admin API without $args', '/tf-plain/x?y=1'],
    ['error_page into the admin API', '/ep/x'],
    ['error_page to a named location that rewrites into the admin API',
        '/named/x'],
    ['try_files from an "admin_gate off" location', '/open/x'],
    ['error_page from an "admin_gate off" location', '/open-ep/x'],
    ['error_page to a named location from an "admin_gate off" location',
        '/open-named/x'],
)
{
    my ($what, $target) = @$r;

    check($main, { name => "$what is gated (no token)", raw => get($target),
        status => 401, err => 'M_MISSING_TOKEN' });
    check($main, { name => "$what is gated (non-admin)",
        raw => get($target, $USR), status => 403, err => 'M_FORBIDDEN' });
    check($main, { name => "$what passes a verified admin",
        raw => get($target, $ADM), status => 200, token => 'adm_tok',
        up => [$p] });
}

check($main, {
    name => 'try_files into the admin API: an admin\'s query token is '
        . 'verified and removed',
    raw => get('/tf/x?access_token=adm_tok&b=2'),
    status => 200, token => 'adm_tok', up => ["$p?b=2"],
});

check($main, {
    name => 'try_files into the admin API: a user\'s query token is refused',
    raw => get('/open/x?b=2&access_token=usr_tok'),
    status => 403, err => 'M_FORBIDDEN',
});

check($main, {
    name => 'named location: an admin\'s query token is verified and removed',
    raw => get('/named/x?access_token=adm_tok'),
    status => 200, token => 'adm_tok', up => [$p],
});

# error_page drops the query string: the token goes with it

check($main, {
    name => 'error_page into the admin API drops the query token: refused',
    raw => get('/ep/x?access_token=adm_tok'),
    status => 401, err => 'M_MISSING_TOKEN',
});

check($main, {
    name => 'try_files without $args drops the query token: refused',
    raw => get('/tf-plain/x?access_token=adm_tok'),
    status => 401, err => 'M_MISSING_TOKEN',
});

# the open endpoint itself

check($main, {
    name => 'the "admin_gate off" location is open',
    raw => get($OPEN), status => 200, up => [$OPEN],
});

# targets that nginx resolves to the "admin_gate off" location, while the
# raw target, which proxy_pass forwards and Synapse routes on, is another
# admin path (the last one Synapse's v2 user API, for the user id
# "x/../../../v1/server_version"): the gate must still decide

for my $e (
    "$p/../server_version",
    "$p/%2e%2e/server_version",
    "$p%2F..%2Fserver_version",
    '/_synapse/admin/v1/rooms/!r:test/../../server_version',
    '/_synapse/admin/v2/users/x%2F..%2F..%2F..%2Fv1%2Fserver_version',
)
{
    for my $c (spelled("an escape into the open location ($e)", $e,
        'gated'))
    {
        # Synapse's v2 user API answers for the user id it was given
        $c->{status} = 404 if $c->{token} && $e =~ m{/v2/users/};
        check($main, $c);
    }
}

check($main, {
    name => 'an escape into the open location: an admin\'s query token is '
        . 'verified and removed',
    raw => get("$p/../server_version?access_token=adm_tok"),
    status => 200, token => 'adm_tok', up => ["$p/../server_version"],
});

###############################################################################

# tokens

my $UNKNOWN = 'M_UNKNOWN_TOKEN';

# [what, raw header value or query, status, errcode, Synapse asked]

my @header_tokens = (
    ['a raw CR inside the header token', "Bearer adm\rtok", 400, 'nginx'],
    ['a raw NUL inside the header token', "Bearer adm\0tok", 400, 'nginx'],
    ['a raw NUL after the header token', "Bearer adm_tok\0", 400, 'nginx'],
    ['a raw byte 0xff in the header token', "Bearer adm\xfftok", 401,
        $UNKNOWN, 0],
    ['raw UTF-8 after the header token', "Bearer adm_tok\xc3\xa9", 401,
        $UNKNOWN, 0],
    ['a raw byte 0xff before the header token', "Bearer \xffadm_tok", 401,
        $UNKNOWN, 0],
    ['a raw control byte in the header token', "Bearer adm\x01tok", 401,
        $UNKNOWN, 0],
    ['a raw DEL after the header token', "Bearer adm_tok\x7f", 401,
        $UNKNOWN, 0],
    ['a raw vertical tab after the header token', "Bearer adm_tok\x0b",
        401, $UNKNOWN, 0],
    ['an encoded CRLF in the header token (never decoded)',
        'Bearer adm_tok%0D%0A', 401, $UNKNOWN, 1],
    ['an encoded "_" in the header token (never decoded)',
        'Bearer adm%5Ftok', 401, $UNKNOWN, 1],
    ['an 8 KiB token Synapse does not know', "Bearer $BIG_UNKNOWN", 401,
        $UNKNOWN, 1],
);

for my $h (@header_tokens) {
    my ($what, $value, $status, $err, $asked) = @$h;

    check($main, { name => "$what: refused", raw => get($p,
        "Authorization: $value"), status => $status, err => $err,
        asked => $asked });
}

# a raw LF ends the header line: the token is what comes before it

check($main, {
    name => 'a raw LF inside the header token cuts it: refused by Synapse',
    raw => get($p, "Authorization: Bearer adm\ntok"),
    status => 401, err => $UNKNOWN, asked => 1,
});

check($main, {
    name => 'a raw LF after the header token ends the header: an admin passes',
    raw => get($p, "Authorization: Bearer adm_tok\nX-Injected: 1"),
    status => 200, token => 'adm_tok', up => [$p],
});

check($main, {
    name => 'a raw NUL in the header name: refused by nginx',
    raw => get($p, "Authorization\0: Bearer adm_tok"),
    status => 400, err => 'nginx',
});

check($main, {
    name => 'a blank before the header colon: refused by nginx',
    raw => get($p, "Authorization : Bearer adm_tok"),
    status => 400, err => 'nginx',
});

check($main, {
    name => 'an obs-fold continuation of the header: refused by nginx',
    raw => get($p, "Authorization: Bearer adm_tok", " continued"),
    status => 400, err => 'nginx',
});

check($main, {
    name => 'a header name with "_" is not Authorization: no token',
    raw => get($p, "Authori_zation: Bearer adm_tok"),
    status => 401, err => 'M_MISSING_TOKEN',
});

check($main, {
    name => 'X-Authorization is not Authorization: no token',
    raw => get($p, "X-Authorization: Bearer adm_tok"),
    status => 401, err => 'M_MISSING_TOKEN',
});

check($main, {
    name => 'an upper-case header name with an admin token passes',
    raw => get($p, "AUTHORIZATION: Bearer adm_tok"),
    status => 200, token => 'adm_tok', up => [$p],
});

# raw bytes in the query: nginx refuses what the request line cannot hold

for my $q (
    ['a raw CR in the query token', "adm\rtok", 400, 'nginx'],
    ['a raw NUL in the query token', "adm\0tok", 400, 'nginx'],
    ['a raw space in the query token', 'adm tok', 400, 'nginx'],
    ['a raw tab in the query token', "adm_tok\tx", 400, 'nginx'],
    ['a raw control byte in the query token', "adm\x01tok", 400, 'nginx'],
    ['a raw DEL in the query token', "adm\x7ftok", 400, 'nginx'],
    ['a raw byte 0xff in the query token', "adm\xfftok", 401, $UNKNOWN, 0],
    ['raw UTF-8 after the query token', "adm_tok\xc3\xa9", 401, $UNKNOWN, 0],
    ['a second HTTP version after the query token', 'adm_tok HTTP/1.1', 400,
        'nginx'],

    ['an encoded CRLF in the query token', 'adm_tok%0D%0A', 401, $UNKNOWN,
        0],
    ['an encoded CRLF and a header in the query token',
        'adm_tok%0D%0AX-Injected:%201', 401, $UNKNOWN, 0],
    ['an encoded CR in the query token', 'adm%0dtok', 401, $UNKNOWN, 0],
    ['an encoded LF in the query token', 'adm%0Atok', 401, $UNKNOWN, 0],
    ['an encoded NUL in the query token', 'adm%00tok', 401, $UNKNOWN, 0],
    ['an encoded NUL after the query token', 'adm_tok%00', 401, $UNKNOWN,
        0],
    ['an encoded 0xff as the query token', '%FF', 401, $UNKNOWN, 0],
    ['an encoded 0xff in the query token', 'adm%fftok', 401, $UNKNOWN, 0],
    ['encoded UTF-8 after the query token', 'adm_tok%C3%A9', 401, $UNKNOWN,
        0],
    ['encoded UTF-8, lower hex', 'adm_tok%c3%a9', 401, $UNKNOWN, 0],
    ['an encoded space in the query token', 'adm%20tok', 401, $UNKNOWN, 0],
    ['an encoded tab after the query token', 'adm_tok%09', 401, $UNKNOWN, 0],
    ['an encoded DEL after the query token', 'adm_tok%7F', 401, $UNKNOWN, 0],
    ['a "+" (a space) in the query token', 'adm+tok', 401, $UNKNOWN, 0],
)
{
    my ($what, $value, $status, $err, $asked) = @$q;

    check($main, { name => "$what: refused",
        raw => get("$p?access_token=$value"), status => $status,
        err => $err, asked => $asked });
}

# query tokens that are the admin's, however spelled

for my $q (
    ['an encoded "_" in the query token', 'access_token=adm%5ftok', ''],
    ['an encoded parameter name', '%61ccess%5Ftoken=adm_tok&x=1', '?x=1'],
    ['";" separators around the token', 'x=1;access_token=adm_tok;y=2',
        '?x=1;y=2'],
    ['a fragment after the token', 'access_token=adm_tok#frag', ''],
    ['the first of two tokens is the admin\'s',
        'access_token=adm_tok&access_token=usr_tok', ''],
)
{
    my ($what, $query, $rest) = @$q;

    check($main, { name => "$what: verified and removed",
        raw => get("$p?$query"), status => 200, token => 'adm_tok',
        up => ["$p$rest"] });
}

check($main, {
    name => 'the first of two tokens is a user\'s: refused',
    raw => get("$p?access_token=usr_tok&access_token=adm_tok"),
    status => 403, err => 'M_FORBIDDEN',
});

check($main, {
    name => 'a fragment hides the query token: refused',
    raw => get("$p#?access_token=adm_tok"),
    status => 401, err => 'M_MISSING_TOKEN',
});

check($main, {
    name => 'Basic credentials and an admin\'s query token: refused',
    raw => get("$p?access_token=adm_tok", $BASIC),
    status => 401, err => 'M_MISSING_TOKEN',
});

# 8 KiB tokens; past large_client_header_buffers nginx refuses them

check($main, {
    name => 'an admin\'s 8 KiB header token passes',
    raw => get($p, "Authorization: Bearer $BIG"),
    status => 200, token => $BIG, up => [$p],
});

check($main, {
    name => 'an admin\'s 8 KiB query token passes and is removed',
    raw => get("$p?x=1&access_token=$BIG"),
    status => 200, token => $BIG, up => ["$p?x=1"],
});

check({ %$main, port => $t->port(2) }, {
    name => 'an 8 KiB header token past 4 8k buffers: refused by nginx',
    raw => get($p, "Authorization: Bearer $BIG"),
    status => 400, err => 'nginx', token => $BIG,
});

check({ %$main, port => $t->port(2) }, {
    name => 'an 8 KiB query token past 4 8k buffers: URI too long',
    raw => get("$p?access_token=$BIG"),
    status => 414, err => 'nginx', token => $BIG,
});

check($main, {
    name => 'a 40 KiB header token past 4 32k buffers: refused by nginx',
    raw => get($p, 'Authorization: Bearer ' . ('B' x 40000)),
    status => 400, err => 'nginx',
});

check($main, {
    name => 'a 40 KiB query token past 4 32k buffers: URI too long',
    raw => get("$p?access_token=" . ('B' x 40000)),
    status => 414, err => 'nginx',
});

# thousands of query parameters

my $many = join '&', ('a=1') x 5000;

check($main, {
    name => '5000 parameters, then an admin\'s token: verified and removed',
    raw => get("$p?$many&access_token=adm_tok"),
    status => 200, token => 'adm_tok', up => ["$p?$many"],
});

check($main, {
    name => 'an admin\'s token, then 5000 parameters: verified and removed',
    raw => get("$p?access_token=adm_tok&$many"),
    status => 200, token => 'adm_tok', up => ["$p?$many"],
});

check($main, {
    name => '5000 parameters without a token: refused',
    raw => get("$p?$many"),
    status => 401, err => 'M_MISSING_TOKEN',
});

check($main, {
    name => '5000 parameters, then a user\'s token: refused',
    raw => get("$p?$many;access_token=usr_tok"),
    status => 403, err => 'M_FORBIDDEN',
});

check($main, {
    name => '2000 "access_token" entries without "=", then an admin\'s token: '
        . 'all removed',
    raw => get("$p?" . join('&', ('access_token') x 2000)
        . '&access_token=adm_tok'),
    status => 200, token => 'adm_tok', up => [$p],
});

check($main, {
    name => '10000 parameters past 4 32k buffers: URI too long',
    raw => get("$p?$many&$many&access_token=adm_tok"),
    status => 414, err => 'nginx',
});

# hundreds of headers

my @pads = map { "X-Pad: $_" } 1 .. 300;

for my $at (0, 150, 300) {
    check($main, {
        name => "300 headers, the admin's token after $at of them: passes",
        raw => get($p, @pads[0 .. $at - 1], $ADM, @pads[$at .. $#pads]),
        status => 200, token => 'adm_tok', up => [$p],
        extra => sub {
            my ($up) = @_;
            return is(scalar(grep { lc $_->[0] eq 'x-pad' }
                @{ $up->[0]{headers} }), 300, 'all 300 headers forwarded');
        },
    });
}

check($main, {
    name => '300 headers without a token: refused',
    raw => get($p, @pads), status => 401, err => 'M_MISSING_TOKEN',
});

check($main, {
    name => '300 headers and a user\'s token: refused',
    raw => get($p, @pads, $USR), status => 403, err => 'M_FORBIDDEN',
});

check($main, {
    name => 'two Authorization headers 300 headers apart: refused by nginx',
    raw => get($p, $USR, @pads, $ADM), status => 400, err => 'nginx',
    token => 'adm_tok',
});

check({ %$main, port => $t->port(2) }, {
    name => '300 headers within 4 8k buffers: an admin passes',
    raw => get($p, @pads, $ADM), status => 200, token => 'adm_tok',
    up => [$p],
});

# Debian's nginx has max_headers (1000 by default), a patch of its own;
# upstream nginx has no such limit, and the token after them is found

if (has_max_headers()) {
    check($main, {
        name => '1000 headers, past Debian\'s max_headers 1000: refused '
            . 'by nginx',
        raw => get($p, (map { "X-Pad: $_" } 1 .. 1000), $ADM),
        status => 400, err => 'nginx', token => 'adm_tok',
    });

} else {
    check($main, {
        name => '1000 headers, nginx without max_headers: an admin passes',
        raw => get($p, (map { "X-Pad: $_" } 1 .. 1000), $ADM),
        status => 200, token => 'adm_tok', up => [$p],
    });
}

###############################################################################

# Content-Length and Transfer-Encoding; requests hidden in bodies

my $hidden = "GET $p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
my $hidden_ka = "GET $p HTTP/1.1\r\nHost: localhost\r\nX: y\r\n\r\n";
my $next = "GET /_matrix/client/v3/y HTTP/1.1\r\nHost: localhost\r\n"
    . "Connection: close\r\n\r\n";

my @smuggling = (
    ['Content-Length: 0 and chunked, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
        . "0\r\n\r\n$hidden", [400]],
    ['chunked and Content-Length, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding: chunked\r\nContent-Length: "
        . length($hidden) . "\r\n\r\n0\r\n\r\n$hidden", [400]],
    ['two Content-Lengths, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: 5\r\nContent-Length: 0\r\n\r\n$hidden", [400]],
    ['Content-Length and chunked on a POST to an admin path',
        "POST $p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
        . "Transfer-Encoding: chunked\r\n$ADM\r\nConnection: close\r\n\r\n"
        . "0\r\n\r\n", [400]],
    ['two equal Content-Lengths on a POST to an admin path',
        "POST $p HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
        . "Content-Length: 5\r\n$ADM\r\nConnection: close\r\n\r\nhello",
        [400]],
    ['an unknown Transfer-Encoding, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n$hidden", [501]],
    ['"chunked, identity", an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n$hidden",
        [501]],
    ['a blank before the colon of Transfer-Encoding',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n"
        . "0\r\n\r\n$hidden", [400]],
    ['a tab before "chunked" and Content-Length: 0',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding:\tchunked\r\nContent-Length: 0\r\n\r\n"
        . "0\r\n\r\n$hidden", [501]],
    ['chunked in HTTP/1.0, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.0\r\nHost: localhost\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n$hidden", [400]],
    ['a negative Content-Length, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: -1\r\n\r\n$hidden", [400]],
    ['a Content-Length list, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: 1, 0\r\n\r\n$hidden", [400]],
    ['an overflowing chunk size, an admin request hidden after',
        "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n$hidden",
        [400]],
);

for my $s (@smuggling) {
    check($main, { name => "$s->[0]: refused by nginx", raw => $s->[1],
        status => $s->[2] });
}

# what follows a body is a request of its own, and gated as one

check($main, {
    name => 'chunked body, then a pipelined admin request: gated',
    raw => "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n$hidden",
    status => [200, 401], err => [undef, 'M_MISSING_TOKEN'],
    up => ['/_matrix/client/v3/x'],
});

check($main, {
    name => 'Content-Length: 0, then a pipelined admin request: gated',
    raw => "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: 0\r\n\r\n$hidden",
    status => [200, 401], err => [undef, 'M_MISSING_TOKEN'],
    up => ['/_matrix/client/v3/x'],
});

check($main, {
    name => 'an admin request inside an ungated body stays body',
    raw => "POST /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Length: " . length($hidden_ka) . "\r\n\r\n$hidden_ka$next",
    status => [200, 200],
    up => ['/_matrix/client/v3/x', '/_matrix/client/v3/y'],
    extra => sub {
        my ($up) = @_;
        return is($up->[0]{body}, $hidden_ka,
            'the upstream got the hidden request as the body');
    },
});

check($main, {
    name => 'an admin request inside a denied body is discarded',
    raw => "POST $p HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
        . length($hidden_ka) . "\r\n\r\n$hidden_ka$next",
    status => [401, 200], err => ['M_MISSING_TOKEN'],
    up => ['/_matrix/client/v3/y'],
});

check($main, {
    name => 'an admin request inside a denied chunked body is discarded',
    raw => "POST $p HTTP/1.1\r\nHost: localhost\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n"
        . sprintf('%x', length $hidden_ka) . "\r\n$hidden_ka\r\n0\r\n\r\n"
        . $next,
    status => [401, 200], err => ['M_MISSING_TOKEN'],
    up => ['/_matrix/client/v3/y'],
});

check($main, {
    name => 'an admin request inside a denied GET\'s body is discarded',
    raw => "GET $p HTTP/1.1\r\nHost: localhost\r\n$USR\r\nContent-Length: "
        . length($hidden_ka) . "\r\n\r\n$hidden_ka$next",
    status => [403, 200], err => ['M_FORBIDDEN'],
    up => ['/_matrix/client/v3/y'],
});

# pipelining: a verdict never carries over to the next request

check($main, {
    name => 'pipelined: ungated, then no token, then an admin\'s',
    raw => "GET /_matrix/client/v3/x HTTP/1.1\r\nHost: localhost\r\n\r\n"
        . "GET $p HTTP/1.1\r\nHost: localhost\r\n\r\n"
        . "GET $p?access_token=adm_tok HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n\r\n",
    status => [200, 401, 200], err => [undef, 'M_MISSING_TOKEN'],
    token => 'adm_tok', up => ['/_matrix/client/v3/x', $p],
});

check($main, {
    name => 'pipelined: an admin\'s header token, then no token',
    raw => "GET $p HTTP/1.1\r\nHost: localhost\r\n$ADM\r\n\r\n"
        . "GET $p HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    status => [200, 401], err => [undef, 'M_MISSING_TOKEN'],
    token => 'adm_tok', up => [$p],
});

check($main, {
    name => 'pipelined: an admin\'s query token, then no token, then a user\'s',
    raw => "GET $p?access_token=adm_tok HTTP/1.1\r\nHost: localhost\r\n\r\n"
        . "GET /%5Fsynapse/admin/v1/users HTTP/1.1\r\nHost: localhost\r\n\r\n"
        . "GET $p HTTP/1.1\r\nHost: localhost\r\n$USR\r\n"
        . "Connection: close\r\n\r\n",
    status => [200, 401, 403],
    err => [undef, 'M_MISSING_TOKEN', 'M_FORBIDDEN'],
    token => 'adm_tok', up => [$p],
});

###############################################################################

# HTTP/2: spellings and token forms

SKIP: {
    skip 'curl without HTTP/2', 1
        unless `curl --version 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;

    my $h2 = { %$main, port => $t->port(1) };

    for my $s (
        ['%5F', '/%5Fsynapse/admin/v1/users'],
        ['letter case', '/_SYNAPSE/Admin/v1/users'],
        ['a leading "//"', '//_synapse/admin/v1/users'],
        ['a "." segment', '/_synapse/./admin/v1/users'],
        ['a ".." segment', '/_synapse/x/../admin/v1/users'],
        ['%2F', '/_synapse%2Fadmin/v1/users'],
        ['%2e%2e from outside', '/_matrix/%2e%2e/_synapse/admin/v1/users'],
    )
    {
        my ($what, $target) = @$s;

        check($h2, { name => "HTTP/2: $what is gated (no token)",
            h2 => [$target], status => 401, err => 'M_MISSING_TOKEN' });
        check($h2, { name => "HTTP/2: $what is gated (non-admin)",
            h2 => [$target, '-H', $USR], status => 403,
            err => 'M_FORBIDDEN' });
        check($h2, { name => "HTTP/2: $what passes a verified admin",
            h2 => [$target, '-H', $ADM], status => 200, token => 'adm_tok',
            up => [$target] });
    }

    for my $s (
        ['a ";" parameter', '/_synapse;x/admin/v1/users'],
        ['a backslash', '/_synapse\\admin/v1/users'],
    )
    {
        check($h2, { name => "HTTP/2: $s->[0] is outside the prefix",
            h2 => [$s->[1]], status => 200, up => [$s->[1]] });
    }

    for my $q (
        ['an encoded NUL', 'adm%00tok'],
        ['encoded UTF-8', 'adm_tok%C3%A9'],
        ['an encoded CRLF', 'adm_tok%0D%0A'],
        ['an encoded 0xff', 'adm%FFtok'],
    )
    {
        check($h2, { name => "HTTP/2: $q->[0] in the query token: refused",
            h2 => ["$p?access_token=$q->[1]"], status => 401,
            err => $UNKNOWN, asked => 0 });
    }

    check($h2, {
        name => 'HTTP/2: a raw byte 0xff in the header token: refused',
        h2 => [$p, '-H', "Authorization: Bearer adm\xfftok"],
        status => 401, err => $UNKNOWN, asked => 0,
    });

    check($h2, {
        name => 'HTTP/2: an admin\'s query token is verified and removed',
        h2 => ["$p?access_token=adm_tok&x=1"],
        status => 200, token => 'adm_tok', up => ["$p?x=1"],
    });

    check($h2, {
        name => 'HTTP/2: an admin\'s 8 KiB header token passes',
        h2 => [$p, '-H', "Authorization: Bearer $BIG"],
        status => 200, token => $BIG, up => [$p],
    });

    check($h2, {
        name => 'HTTP/2: 5000 parameters and an admin\'s token',
        h2 => ["$p?$many&access_token=adm_tok"],
        status => 200, token => 'adm_tok', up => ["$p?$many"],
    });

    check($h2, {
        name => 'HTTP/2: an absolute :path is refused by nginx',
        h2 => [$p, '--request-target', "http://localhost$p"],
        status => 400,
    });

    check($h2, {
        name => 'HTTP/2: an escape into the open location is gated',
        h2 => ["$p/../server_version"], status => 401,
        err => 'M_MISSING_TOKEN',
    });
}

$t->stop;

###############################################################################

# "satisfy any" with an access module that says yes: auth_pam with a PAM
# service that permits everyone, loaded before this module and after it.
# Debian's auth_pam declares ngx_module_order (itself, then
# ngx_http_access_module): nginx puts it before the access module in
# either load order, so its ACCESS handler runs after the gate's in both.

SKIP: {
    skip "no $PAM_MODULE", 1 unless -f $PAM_MODULE;
    skip 'not root: cannot write /etc/pam.d', 1 if $> != 0;

    open my $fh, '>', $PAM_FILE or die "$PAM_FILE: $!";
    print $fh "auth required pam_permit.so\naccount required pam_permit.so\n";
    close $fh;
    $PAM_MADE = 1;

    for my $order ('before', 'after') {
        my $pt = AdminTest->new(error_log_level => 'notice');
        my $pfs = $pt->synapse;

        my $pam = "load_module $PAM_MODULE;";
        my $ours = 'load_module %%MODULE%%;';

        $pt->run(pam_conf($order eq 'before' ? "$pam\n$ours" : "$ours\n$pam"));

        my $inst = { t => $pt, fs => $pfs, port => $pt->port(0) };
        my $on = "PAM loaded $order the gate";

        # the PAM service says yes to anyone with Basic credentials

        check($inst, { name => "$on: PAM alone refuses no credentials",
            raw => get('/_matrix/client/v3/pam'), status => 401,
            extra => sub {
                my (undef, $res) = @_;
                return like($res->[0]{headers}{'www-authenticate'}[0] // '',
                    qr/^Basic/, 'PAM asks for Basic credentials');
            } });

        check($inst, { name => "$on: PAM alone permits Basic credentials",
            raw => get('/_matrix/client/v3/pam', $BASIC), status => 200,
            up => ['/_matrix/client/v3/pam'] });

        for my $l (['satisfy any, auth_pam', $p],
            ['satisfy any, allow all, auth_pam', '/_synapse/admin/v1/allowed'])
        {
            my ($what, $target) = @{$l};

            check($inst, { name => "$on, $what: no token: 401",
                raw => get($target), status => 401,
                err => 'M_MISSING_TOKEN' });
            check($inst, { name => "$on, $what: PAM's yes is no token: 401",
                raw => get($target, $BASIC), status => 401,
                err => 'M_MISSING_TOKEN' });
            check($inst, { name => "$on, $what: PAM's yes and an admin's "
                    . "query token: 401",
                raw => get("$target?access_token=adm_tok", $BASIC),
                status => 401, err => 'M_MISSING_TOKEN' });
            check($inst, { name => "$on, $what: PAM's yes and a user's "
                    . "query token: 401",
                raw => get("$target?access_token=usr_tok", $BASIC),
                status => 401, err => 'M_MISSING_TOKEN' });
            check($inst, { name => "$on, $what: PAM's yes, %5F spelling: 401",
                raw => get('/%5F' . substr($target, 2), $BASIC),
                status => 401, err => 'M_MISSING_TOKEN' });
            check($inst, { name => "$on, $what: non-admin: 403",
                raw => get($target, $USR), status => 403,
                err => 'M_FORBIDDEN' });
            check($inst, { name => "$on, $what: admin: 200",
                raw => get($target, $ADM), status => 200,
                token => 'adm_tok', up => [$target] });
            check($inst, { name => "$on, $what: admin's query token: 200",
                raw => get("$target?access_token=adm_tok"), status => 200,
                token => 'adm_tok', up => [$target] });
        }

        $pt->stop;
    }

    unlink $PAM_FILE;
    $PAM_MADE = 0;
}

cmp_ok($sent, '>=', 150, "at least 150 crafted requests sent ($sent)");

done_testing;

###############################################################################

# a GET with a Host, the headers given, and "Connection: close"

sub get {
    my ($target, @headers) = @_;

    return "GET $target HTTP/1.1\r\nHost: localhost\r\n"
        . join('', map { "$_\r\n" } @headers) . "Connection: close\r\n\r\n";
}

# the cases of one spelling of an admin target: [what, target, expectation]

sub spelled {
    my ($what, $target, $expect) = @_;

    if ($expect eq 'gated') {
        return (
            { name => "$what: $target is gated (no token)",
              raw => get($target), status => 401, err => 'M_MISSING_TOKEN' },
            { name => "$what: $target is gated (non-admin)",
              raw => get($target, $USR), status => 403,
              err => 'M_FORBIDDEN' },
            { name => "$what: $target passes a verified admin",
              raw => get($target, $ADM), status => 200, token => 'adm_tok',
              up => [$target] },
        );
    }

    if ($expect eq 'refused') {
        return (
            { name => "$what: $target is refused by nginx (no token)",
              raw => get($target), status => 400, err => 'nginx' },
            { name => "$what: $target is refused by nginx (admin)",
              raw => get($target, $ADM), status => 400, err => 'nginx',
              token => 'adm_tok' },
        );
    }

    # outside the prefix in every reading: passes untouched
    return (
        { name => "$what: $target is outside the prefix (no token)",
          raw => get($target), status => 200, up => [$target] },
    );
}

# sends a case twice to an instance ({ t, fs, port }) and asserts:
#   status      the status of each response (0: HTTP/0.9, no status line)
#   err         errcode of each response's JSON body, or "nginx" for
#               nginx's own HTML page (undef: not checked)
#   up          the targets the upstream received, in order (default: none)
#   token       the admin token the client sent, if any
#   asked       how many whoami requests the gate made (default: any)
#   extra       more assertions: sub (upstream requests, responses)
# and the invariant: whatever reached the upstream under an admin path
# carries the client's admin token, verified just now by the gate, in
# exactly one "Authorization: Bearer" header, and no access_token in its
# query

sub check {
    my ($inst, $c) = @_;

    my $fs = $inst->{fs};
    my @status = ref $c->{status} ? @{ $c->{status} } : ($c->{status});
    my @err = ref $c->{err} ? @{ $c->{err} } : ($c->{err});

    for my $i (1 .. 2) {
        $fs->clear_log;

        my @res = $c->{h2} ? h2($inst->{port}, @{ $c->{h2} })
            : parse_all(http($inst->{port}, $c->{raw}, timeout => 15));
        $sent++;

        my $name = "$c->{name} ($i)";

        is_deeply([ map { $_->{status} } @res ], \@status, "$name: status")
            or diag(substr($res[0]{body} // '', 0, 200));

        for my $n (0 .. $#err) {
            next unless defined $err[$n] && $res[$n];
            is(errcode($res[$n]), $err[$n], "$name: $err[$n]");
        }

        my @all = $fs->requests;
        my @up = grep { !own($_) } @all;

        is_deeply([ map { $_->{target} } @up ], $c->{up} || [],
            "$name: what the upstream received");

        my @whoami = grep { $_->{target} =~ m{/account/whoami$} } @all;
        is(scalar @whoami, $c->{asked}, "$name: Synapse asked $c->{asked}")
            if defined $c->{asked};

        my @bad;

        for my $u (grep { admin_path($_->{target}) } @up) {
            my $tok = $c->{token};

            my @auth = map { $_->[1] }
                grep { lc $_->[0] eq 'authorization' } @{ $u->{headers} };

            my $verified = defined $tok
                && (grep { own($_) && bearer($_) eq $tok
                    && $_->{target} =~ m{/account/whoami$} } @all)
                && (grep { own($_) && bearer($_) eq $tok
                    && $_->{target} !~ m{/account/whoami$} } @all);

            push @bad, "$u->{target}: no admin token sent" unless defined $tok;
            push @bad, "$u->{target}: not verified by the gate"
                if defined $tok && !$verified;
            push @bad, "$u->{target}: Authorization is ("
                . join(', ', @auth) . ')'
                if defined $tok && !(@auth == 1 && $auth[0] eq "Bearer $tok");
            push @bad, "$u->{target}: access_token in the query"
                if query_token($u->{target});
        }

        is_deeply(\@bad, [],
            "$name: nothing unverified reaches an admin path");

        $c->{extra}->(\@up, \@res) if $c->{extra};
    }
}

# the gate's own subrequests: whoami and the admin check of a known user
# (stricter than FakeSynapse's upstream_requests, which would also take
# a forwarded "/_synapse/admin/v2/users/x%2F..%2Fy" for an admin check)

sub own {
    my ($r) = @_;
    return $r->{target} =~ m{^/_matrix/client/(?:r0|v3)/account/whoami$}
        || $r->{target} =~ m{^/_synapse/admin/v2/users/%40[a-z]+%3Atest$};
}

sub bearer {
    my ($r) = @_;
    my ($auth) = map { $_->[1] }
        grep { lc $_->[0] eq 'authorization' } @{ $r->{headers} };
    return ($auth // '') =~ /^Bearer (.*)$/s ? $1 : '';
}

# whether any reading of the target's path is under /_synapse/admin,
# other than the open endpoint itself (with unreserved characters decoded)

sub admin_path {
    my ($target) = @_;

    my ($raw) = split /\?/, $target, 2;
    my $decoded = unescape($raw);

    for my $path ($raw, canonical($raw), $decoded, canonical($decoded)) {
        next unless $path =~ m{^/_synapse/admin}i;
        return 1 if unreserved($path) ne $OPEN;
    }

    return 0;
}

# dot segments resolved (".." stops at the root), empty segments dropped

sub canonical {
    my ($path) = @_;

    my @out;

    for my $seg (split m{/}, $path) {
        next if $seg eq '' || $seg eq '.';

        if ($seg eq '..') {
            pop @out;
            next;
        }

        push @out, $seg;
    }

    return '/' . join('/', @out);
}

sub unescape {
    my ($s) = @_;
    $s =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;
    return $s;
}

sub unreserved {
    my ($s) = @_;
    $s =~ s/%([0-9a-fA-F]{2})/
        my $c = chr hex $1; $c =~ m{^[A-Za-z0-9._~-]$} ? $c : "%$1"/ge;
    return $s;
}

# whether a query holds an access_token entry, as Twisted parses it

sub query_token {
    my ($target) = @_;

    my (undef, $query) = split /\?/, $target, 2;

    for my $kv (split /[&;]/, $query // '') {
        my ($k) = split /=/, $kv, 2;
        return 1 if unescape(($k // '') =~ tr/+/ /r) eq 'access_token';
    }

    return 0;
}

sub errcode {
    my ($r) = @_;

    return 'nginx' if $r->{body} =~ m{<hr><center>nginx[^<]*</center>};
    return eval { decode_json($r->{body})->{errcode} } // '';
}

# the responses in a raw answer, in order; an answer without a status
# line is HTTP/0.9 (status 0)

sub parse_all {
    my ($raw) = @_;

    my @res;

    while (length $raw) {
        unless ($raw =~ s{^HTTP/\d\.\d (\d{3})[^\r\n]*\r\n}{}) {
            push @res, { status => 0, headers => {}, body => $raw };
            last;
        }

        my %r = (status => $1, headers => {}, body => '');

        my $head = '';

        if ($raw =~ s{^(.*?)\r\n\r\n}{}s) {
            $head = $1;

        } else {
            ($head, $raw) = ($raw, '');
        }

        for my $line (split /\r\n/, $head) {
            push @{ $r{headers}{lc $1} }, $2 if $line =~ /^([^:\s]+):\s*(.*)$/;
        }

        my $cl = $r{headers}{'content-length'}[0];

        if (($r{headers}{'transfer-encoding'}[0] // '') eq 'chunked') {
            while ($raw =~ s/^([0-9a-fA-F]+)\r\n//) {
                my $n = hex $1;
                $r{body} .= substr($raw, 0, $n, '');
                $raw =~ s/^\r\n//;
                last if $n == 0;
            }

        } elsif (defined $cl) {
            $r{body} = substr($raw, 0, $cl, '');

        } else {
            $r{body} = $raw;
            $raw = '';
        }

        push @res, \%r;
    }

    return @res;
}

# one HTTP/2 request (h2c, prior knowledge) through curl

sub h2 {
    my ($port, $target, @args) = @_;

    open my $fh, '-|', 'curl', '-s', '-i', '--http2-prior-knowledge',
        '--path-as-is', '--max-time', '20', @args,
        "http://127.0.0.1:$port$target"
        or die "curl: $!";
    my $out = do { local $/; <$fh> };
    close $fh;

    my ($head, $body) = split /\r\n\r\n/, $out // '', 2;
    return () unless defined $head && $head =~ m{^HTTP/2 (\d+)};

    my %r = (status => $1, headers => {}, body => $body // '');

    for my $line (split /\r\n/, $head) {
        push @{ $r{headers}{lc $1} }, $2 if $line =~ /^([^:\s]+):\s*(.*)$/;
    }

    return \%r;
}

# the configuration of an nginx with auth_pam; $modules are the
# load_module lines, in the order wanted

sub pam_conf {
    my ($modules) = @_;

    return <<"END" =~ s/%%PAM_SERVICE%%/$PAM_SERVICE/gr;
$modules
pid %%TESTDIR%%/nginx.pid;
error_log %%TESTDIR%%/error.log notice;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            satisfy any;
            auth_pam "admin gate test";
            auth_pam_service_name %%PAM_SERVICE%%;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/allowed {
            satisfy any;
            allow all;
            auth_pam "admin gate test";
            auth_pam_service_name %%PAM_SERVICE%%;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_matrix/client/v3/pam {
            auth_pam "admin gate test";
            auth_pam_service_name %%PAM_SERVICE%%;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }
    }
}
END
}

# whether the nginx under test has Debian's max_headers directive

sub has_max_headers {
    my ($rc, $out) = AdminTest->new->test_config(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    max_headers 1000;
}
END

    return 1 if $rc == 0;
    return 0 if $out =~ /unknown directive "max_headers"/;
    die "nginx -t with max_headers: $out";
}
