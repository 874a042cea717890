#!/usr/bin/perl

# Verification with Synapse: whoami, then the admin check (GET
# /_synapse/admin/v2/users/<own id>, judged by its status), both as
# subrequests through admin_gate_verify.  Every outcome: allow, forbidden,
# Synapse's own 401, and 503 for anything the gate cannot use (5xx,
# garbage, oversized, timeout, Synapse down), with its error-log line.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest qw(free_port);

my $big = '{"user_id":"@admin:test","pad":"' . ('x' x 100000) . '"}';
my $soft = '{"errcode":"M_UNKNOWN_TOKEN","error":"Token expired",'
    . '"soft_logout":true}';

my $t = AdminTest->new;
my $fs = $t->synapse(
    users => {
        '@we/ird?:test' => { admin => 1 },
    },
    tokens => {
        weird_tok      => { user => '@we/ird?:test' },
        false_tok      => { user => '@admin:test',
                            admin => [200, '{"admin":false}'] },
        soft_tok       => { user => '@admin:test', whoami => [401, $soft] },
        who500_tok     => { user => '@admin:test',
                            whoami => [500, '{"errcode":"M_UNKNOWN"}'] },
        adm500_tok     => { user => '@admin:test',
                            admin => [500, '{"errcode":"M_UNKNOWN"}'] },
        garbage_tok    => { user => '@admin:test', whoami => [200, 'yes'] },
        array_tok      => { user => '@admin:test', whoami => [200, '[]'] },
        number_tok     => { user => '@admin:test',
                            whoami => [200, '{"user_id":5}'] },
        nouser_tok     => { user => '@admin:test',
                            whoami => [200, '{"user_id":"admin"}'] },
        ctl_tok        => { user => '@admin:test',
                            whoami => [200, '{"user_id":"@a\u0001:test"}'] },
        adm404_tok     => { user => '@admin:test',
                            admin => [404, '{"errcode":"M_UNRECOGNIZED"}'] },
        dup_tok        => { user => '@admin:test',
                            admin => [200, '{"admin":false,"admin":true}'] },
        bigadm_tok     => { user => '@admin:test', admin => [200, $big] },
        big401_tok     => { user => '@admin:test', admin => [401, $big] },
        big_tok        => { user => '@admin:test', whoami => [200, $big] },
        html401_tok    => { user => '@admin:test',
                            whoami => [401, '<html>no</html>'] },
        slow_tok       => { user => '@admin:test',
                            whoami => [200, '{"user_id":"@admin:test"}', 3] },
        gone_admin_tok => { user => '@admin:test',
                            admin => [401, '{"errcode":"M_UNKNOWN_TOKEN",'
                                . '"error":"Invalid access token passed.",'
                                . '"soft_logout":false}'] },
    });

my $closed = free_port();

$t->run(<<"END");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/down {
            admin_gate_verify /_admin_gate_verify_down;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_read_timeout 1s;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%\$admin_gate_verify_uri;
        }

        location = /_admin_gate_verify_down {
            internal;
            proxy_pass http://127.0.0.1:$closed\$admin_gate_verify_uri;
        }
    }
}
END

my $path = '/_synapse/admin/v1/users';
my $r;

# allow

outcome('admin', 'adm_tok', 200, undef, 2, 2);
outcome('admin with an odd user id', 'weird_tok', 200, undef, 2, 2);

my @checks = grep { $_->{target} =~ m{^/_synapse/admin/v2/users/} }
    $fs->requests;
is(scalar @checks, 2, 'two admin checks');
is($checks[0]{target}, '/_synapse/admin/v2/users/%40we%2Fird%3F%3Atest',
    'the user id is percent-encoded in the admin check');

# the admin check's status decides; its body (the users table's view, or
# anything else) is not read

outcome('200 with {"admin":false}: an admin by status', 'false_tok', 200,
    undef, 2, 2);
outcome('200 with a body that is no JSON', 'dup_tok', 200, undef, 2, 2);
outcome('200 with a body too large to read', 'bigadm_tok', 200, undef, 2, 2);

# deny

my $FORBIDDEN = { errcode => 'M_FORBIDDEN',
    error => 'You are not a server admin' };

outcome('non-admin', 'usr_tok', 403, $FORBIDDEN, 2, 2);
outcome('unknown token', 'who_knows', 401, { errcode => 'M_UNKNOWN_TOKEN',
    error => 'Invalid access token passed.',
    soft_logout => JSON::PP::false }, 2, 0);

$r = $t->get($path, Authorization => 'Bearer soft_tok');
is($r->{status}, 401, 'soft logout: 401');
is($r->{body}, $soft, 'soft logout: Synapse\'s body byte for byte');

outcome('token gone between the steps', 'gone_admin_tok', 401,
    { errcode => 'M_UNKNOWN_TOKEN', error => 'Invalid access token passed.',
      soft_logout => JSON::PP::false }, 2, 2);

like($t->new_errors, qr/\[info\] .*admin gate denied token "[0-9a-f]{8}": user "\@user:test" is not a server admin/,
    'denial logged at info with a token hash');

# the gate cannot verify: 503, and an error-log line that says why

my $UNAVAILABLE = { errcode => 'M_UNKNOWN',
    error => 'The access token could not be verified, try again later' };

my %why = (
    who500_tok   => [qr/whoami .* failed: unexpected status \(status 500\)/,
                     2, 0],
    adm500_tok   => [qr/admin check .* failed: unexpected status \(status 500\)/,
                     2, 2],
    garbage_tok  => [qr/whoami .* failed: reply is not valid JSON/, 2, 0],
    array_tok    => [qr/whoami .* failed: reply is not a JSON object/, 2, 0],
    number_tok   => [qr/whoami .* failed: reply has no "user_id" string/, 2, 0],
    nouser_tok   => [qr/whoami .* failed: reply has a malformed "user_id"/,
                     2, 0],
    ctl_tok      => [qr/whoami .* failed: reply has a malformed "user_id"/,
                     2, 0],
    adm404_tok   => [qr/admin check .* failed: unexpected status \(status 404\)/,
                     2, 2],
    big401_tok   => [qr/admin check .* failed: reply is larger than subrequest_output_buffer_size/,
                     2, 2],
    big_tok      => [qr/whoami .* failed: reply is larger than subrequest_output_buffer_size/,
                     2, 0],
    html401_tok  => [qr/whoami .* failed: reply is not a Matrix error/, 2, 0],
    slow_tok     => [qr/whoami .* failed: no reply/, 2, 0,
                     qr/upstream timed out .* subrequest: "\/_admin_gate_verify"/],
);

for my $tok (sort keys %why) {
    my ($re, $whoami, $admin, $nginx) = @{ $why{$tok} };

    $t->new_errors;
    outcome("$tok: 503", $tok, 503, $UNAVAILABLE, $whoami, $admin);
    my $log = $t->new_errors;
    like($log, qr/\[error\] .*admin gate cannot verify token "[0-9a-f]{8}": $re.* while verifying the access token/,
        "$tok: error log says why");
    like($log, $nginx, "$tok: nginx logged the cause") if $nginx;
}

$t->new_errors;
$r = $t->get('/_synapse/admin/v1/down', Authorization => 'Bearer adm_tok');
is($r->{status}, 503, 'Synapse down: 503');
my $log = $t->new_errors;
like($log, qr/connect\(\) failed .* subrequest: "\/_admin_gate_verify_down"/,
    'Synapse down: nginx logged the cause');
like($log, qr/admin gate cannot verify token "[0-9a-f]{8}": whoami .* failed: no reply/,
    'Synapse down: the gate logged its 503');

# appservice: user_id is passed on to both steps

$fs->clear_log;
$r = $t->get("$path?user_id=%40admin%3Atest", Authorization => 'Bearer as_tok');
is($r->{status}, 200, 'appservice acting as an admin: allowed');
is_deeply([ map { $_->{target} }
        grep { $_->{target} =~ m{whoami|/v2/users/} } $fs->requests ],
    [ '/_matrix/client/v3/account/whoami?user_id=%40admin%3Atest',
      '/_synapse/admin/v2/users/%40admin%3Atest?user_id=%40admin%3Atest' ],
    'appservice: user_id passed on to whoami and the admin check');
my ($up) = $fs->upstream_requests;
is($up->{target}, "$path?user_id=%40admin%3Atest",
    'appservice: user_id stays in the upstream query');

$r = $t->get($path, Authorization => 'Bearer as_tok');
is($r->{status}, 403, 'appservice sender, not an admin: forbidden');

$r = $t->get("$path?user_id=%40user%3Atest", Authorization => 'Bearer as_tok');
is($r->{status}, 403, 'appservice acting as a non-admin: forbidden');

$r = $t->get("$path?user_id=%40nobody%3Atest",
    Authorization => 'Bearer as_tok');
is($r->{status}, 403, 'appservice outside its users: Synapse\'s 403');
like($r->{body}, qr/cannot masquerade/, 'appservice: Synapse\'s own body');

# the subrequests carry the token and nothing else of the client's request

$fs->clear_log;
$r = $t->request('POST', "$path?a=1&access_token=adm_tok",
    'Content-Type' => 'application/x-www-form-urlencoded',
    Cookie => 'session=s3cr3t',
    'X-Custom' => 'c',
    body => 'access_token=other&x=1');
is($r->{status}, 200, 'POST by an admin: allowed');

my @sub = grep { $_->{target} =~ m{whoami|/v2/users/} } $fs->requests;
is(scalar @sub, 2, 'two subrequests');

for my $s (@sub) {
    is($s->{method}, 'GET', "$s->{target}: GET");
    is($s->{body}, '', "$s->{target}: no body");
    is_deeply([ sort map { lc $_->[0] } @{ $s->{headers} } ],
        [ 'authorization', 'connection', 'host' ],
        "$s->{target}: only Authorization besides proxy's own");
    my ($auth) = map { $_->[1] } grep { lc $_->[0] eq 'authorization' }
        @{ $s->{headers} };
    is($auth, 'Bearer adm_tok', "$s->{target}: the token as a Bearer header");
}

$t->stop;

done_testing;

###############################################################################

# each case twice; $whoami and $admin are the expected Synapse calls

sub outcome {
    my ($name, $tok, $status, $body, $whoami, $admin) = @_;

    $fs->clear_log;

    for my $n (1 .. 2) {
        my $r = $t->get($path, Authorization => "Bearer $tok");
        is($r->{status}, $status, "$name: $status ($n)");
        is_deeply(decode_json($r->{body}), $body, "$name: body ($n)")
            if $body;
    }

    is($fs->whoami_hits, $whoami, "$name: whoami calls");
    is($fs->admin_hits, $admin, "$name: admin check calls");
    is(scalar $fs->upstream_requests, $status == 200 ? 2 : 0,
        "$name: upstream reached only when allowed");
}
