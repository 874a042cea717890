#!/usr/bin/perl

# $admin_gate_user, $admin_gate_verdict, $admin_gate_verify_uri and
# $admin_gate_request, read through add_header and access logs; and the
# verdict surviving an internal redirect (try_files to a named location)
# without asking Synapse again.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use AdminTest;

my $t = AdminTest->new;
my $fs = $t->synapse(tokens => {
    err_tok => { user => '@admin:test', whoami => [500, '{}'] },
});

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format gate '$admin_gate_verdict|$admin_gate_user|$admin_gate_request';
    log_format verify '$admin_gate_verify_uri';

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        access_log %%TESTDIR%%/gate.log gate;

        add_header X-Verdict "[$admin_gate_verdict]" always;
        add_header X-User "[$admin_gate_user]" always;
        add_header X-Verify-Uri "[$admin_gate_verify_uri]" always;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/tf {
            try_files /nonexistent @upstream;
        }

        location @upstream {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            log_subrequest on;
            access_log %%TESTDIR%%/verify.log verify;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

my $p = '/_synapse/admin/v1/users';

my %cases = (
    allow         => [ "$p", 'adm_tok', '@admin:test' ],
    forbidden     => [ "$p", 'usr_tok', '@user:test' ],
    unknown_token => [ "$p", 'nobody_tok', '' ],
    missing_token => [ "$p", undef, '' ],
    error         => [ "$p", 'err_tok', '' ],
);

for my $verdict (sort keys %cases) {
    my ($target, $tok, $user) = @{ $cases{$verdict} };

    for my $n (1 .. 2) {
        my $r = $t->get($target,
            $tok ? (Authorization => "Bearer $tok") : ());
        is($r->{headers}{'x-verdict'}[0], "[$verdict]",
            "\$admin_gate_verdict: $verdict ($n)");
        is($r->{headers}{'x-user'}[0], "[$user]",
            "\$admin_gate_user for $verdict ($n)");
        is($r->{headers}{'x-verify-uri'}[0], '[]',
            "\$admin_gate_verify_uri empty in the main request ($n)");
    }
}

my $r = $t->get('/_matrix/client/v3/sync');
is($r->{headers}{'x-verdict'}[0], '[]', 'not gated: empty verdict');
is($r->{headers}{'x-user'}[0], '[]', 'not gated: empty user');

# an internal redirect keeps the verdict

$fs->clear_log;
$r = $t->get('/_synapse/admin/v1/tf', Authorization => 'Bearer adm_tok');
is($r->{status}, 200, 'try_files to a named location: allowed');
is($fs->whoami_hits, 1, 'internal redirect: Synapse asked once');
is($r->{headers}{'x-user'}[0], '[@admin:test]',
    'internal redirect: $admin_gate_user kept');

$r = $t->get('/_synapse/admin/v1/tf');
is($r->{status}, 401, 'try_files location: no token, no entry');

# $admin_gate_request hides tokens on any request, gated or not

$t->get('/_matrix/client/v3/sync?since=1&access_token=plain_secret;x=2');
$t->get("$p?access_token=adm_tok");

$t->stop;

my $gate = $t->read_file('gate.log');
like($gate, qr{^allow\|\@admin:test\|GET /_synapse/admin/v1/users HTTP/1.1$}m,
    'access log: verdict, user and request of an admin');
like($gate, qr{^forbidden\|\@user:test\|}m, 'access log: forbidden user');
like($gate, qr{^-\|-\|GET /_matrix/client/v3/sync\?since=1&access_token=\*\*\*;x=2 HTTP/1.1$}m,
    '$admin_gate_request hides the token of an ungated request');
like($gate, qr{^allow\|\@admin:test\|GET /_synapse/admin/v1/users\?access_token=\*\*\* HTTP/1.1$}m,
    '$admin_gate_request hides the token of a gated request');
unlike($gate, qr/plain_secret/, 'access log: no token');

my $verify = $t->read_file('verify.log');
like($verify, qr{^/_matrix/client/v3/account/whoami$}m,
    '$admin_gate_verify_uri in the whoami subrequest');
like($verify, qr{^/_synapse/admin/v2/users/%40admin%3Atest$}m,
    '$admin_gate_verify_uri in the admin-check subrequest');

done_testing;
