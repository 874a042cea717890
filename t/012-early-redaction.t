#!/usr/bin/perl

# The query token is hidden from the logs also for requests that end
# before the gate's access phase: limit_req and limit_conn answering 503,
# a server-level "if ... return 302" and a location-level
# "if ... return 403" in the rewrite phases, and plain ungated requests
# (/_matrix/...) of a server where the gate is on.  $request, and the
# "request:" of error-log lines such as limit_req's "limiting requests",
# show access_token=*** (every spelling: "&", ";", first entry, the
# percent-encoded name %61ccess_token) for every request of a server with
# the gate on at server level (A) or only in a location (B).  A server
# without the gate (C) keeps its $request as it came.
#
# A second nginx, with its error log at "notice" (nginx core logs header
# lines, and so the request, at "info" before any module runs), covers
# requests nginx itself refuses while reading the header: an invalid
# header line (400) and a header line too long for
# large_client_header_buffers (494, answered as 400).  Their access-log
# line shows access_token=*** too.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use AdminTest qw(http parse_response);

my $SLOW = $AdminTest::SLOW;

# how long the request that holds limit_conn's one slot waits for whoami
my $HOLD = 2 * $SLOW;

# a token the fake Synapse does not know, so not among the harness's
# secrets: a server without the gate must log it as it came
my $VISIBLE = 'plain_visible_tok';

# requests sent so far, for a marker per request
my $SENT = 0;

# the query spellings: [name, query with %1$s = token, %2$s = marker,
# the same query as it must be logged]
my @FORMS = (
    [ 'first entry', 'access_token=%1$s&t=%2$s', 'access_token=***&t=%2$s' ],
    [ '";" separator', 't=%2$s;access_token=%1$s', 't=%2$s;access_token=***' ],
    [ '"&" separator', 't=%2$s&x=1&access_token=%1$s',
        't=%2$s&x=1&access_token=***' ],
    [ 'encoded name', 't=%2$s&%%61ccess_token=%1$s',
        't=%2$s&%%61ccess_token=***' ],
);

my $t = AdminTest->new;
my $fs = $t->synapse(tokens => {
    slow_tok => { user => '@admin:test',
                  whoami => [200, '{"user_id":"@admin:test"}', $HOLD] },
});

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format req '$server_port $status "$request"';

    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
    limit_conn_zone $server_name zone=conn:1m;

    # A: the gate on at server level

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name a;

        access_log %%TESTDIR%%/access.log req;

        admin_gate on;
        admin_gate_verify /_admin_gate_verify;

        if ($arg_go = away) {
            return 302 https://example.org/;
        }

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/limited {
            limit_req zone=one;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_matrix/client/v3/limited {
            limit_req zone=one;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/held {
            limit_conn conn 1;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_matrix/client/v3/held {
            limit_conn conn 1;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin/v1/deny {
            if ($arg_deny) {
                return 403;
            }
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_matrix/client/v3/deny {
            if ($arg_deny) {
                return 403;
            }
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    # B: the gate only in location /_synapse/admin

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name b;

        access_log %%TESTDIR%%/access.log req;

        if ($arg_go = away) {
            return 302 https://example.org/;
        }

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin {
            admin_gate on;
            admin_gate_verify /_admin_gate_verify;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;

            location /_synapse/admin/v1/limited {
                limit_req zone=one;
                proxy_pass http://127.0.0.1:%%SYNAPSE%%;
            }

            location /_synapse/admin/v1/held {
                limit_conn conn 1;
                proxy_pass http://127.0.0.1:%%SYNAPSE%%;
            }

            location /_synapse/admin/v1/deny {
                if ($arg_deny) {
                    return 403;
                }
                proxy_pass http://127.0.0.1:%%SYNAPSE%%;
            }
        }

        location /_matrix/client/v3/limited {
            limit_req zone=one;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_matrix/client/v3/held {
            limit_conn conn 1;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_matrix/client/v3/deny {
            if ($arg_deny) {
                return 403;
            }
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    # C: no gate at all

    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name c;

        access_log %%TESTDIR%%/access.log req;

        if ($arg_go = away) {
            return 302 https://example.org/;
        }

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }
    }
}
END

my %SERVER = (A => 0, B => 1, C => 2);
my $adm = '/_synapse/admin/v1';
my $mx = '/_matrix/client/v3';

# limit_req: the zone's one request a minute goes to an ungated request
# without a token; every request after it, within the minute, is a 503.
# These run first, well inside that minute.

my $r = parse_response(http($t->port(0), get_raw("$mx/limited?t=primer")));
is($r->{status}, 200, 'limit_req: the first request of the minute passes');

for my $s (qw(A B)) {
    for my $path ("$adm/limited", "$mx/limited") {
        each_form(sub {
            my ($f, $round) = @_;
            early($t, server => $s, path => $path, form => $f,
                round => $round, status => 503, what => 'limit_req',
                error => qr/\[error\].* limiting requests, /);
        });
    }
}

# limit_conn: one slow gated request holds the server's one slot, every
# other request to a limit_conn location of that server is a 503

for my $s (qw(A B)) {
    for my $round (1 .. 2) {
        my $held = hold($t, $fs, $SERVER{$s}, "$adm/held?t=held");

        for my $path ("$adm/held", "$mx/held") {
            for my $f (@FORMS) {
                early($t, server => $s, path => $path, form => $f,
                    round => $round, status => 503, what => 'limit_conn',
                    error => qr/\[error\].* limiting connections by zone /);
            }
        }

        my $res = parse_response(read_all($held));
        is($res->{status}, 200,
            "server $s: the request holding limit_conn's slot passed "
            . "($round)");
    }
}

# the rewrite phases: a server-level return, a location-level if/return

for my $s (qw(A B)) {
    for my $path ("$adm/users", "$mx/sync") {
        each_form(sub {
            my ($f, $round) = @_;
            early($t, server => $s, path => $path, form => $f,
                round => $round, extra => '&go=away', status => 302,
                what => 'server-level return');
        });
    }

    for my $path ("$adm/deny", "$mx/deny") {
        each_form(sub {
            my ($f, $round) = @_;
            early($t, server => $s, path => $path, form => $f,
                round => $round, extra => '&deny=1', status => 403,
                what => 'location-level if/return');
        });
    }
}

# ungated paths of a server with the gate: no early end, still hidden

for my $s (qw(A B)) {
    each_form(sub {
        my ($f, $round) = @_;
        early($t, server => $s, path => "$mx/sync", form => $f,
            round => $round, status => 200, what => 'ungated path, proxied');
    });
}

# C, no gate: $request as it came, ended early or not

for my $case (['', 200, 'proxied'], ['&go=away', 302, 'server-level return'])
{
    my ($extra, $status, $what) = @$case;

    for my $path ("$adm/users", "$mx/sync") {
        each_form(sub {
            my ($f, $round) = @_;
            visible($t, server => 'C', path => $path, form => $f,
                round => $round, extra => $extra, status => $status,
                what => $what);
        });
    }
}

$t->stop;

# nginx refusing the request header: a second nginx, error log at notice

my $t2 = AdminTest->new(error_log_level => 'notice');
$t2->synapse;

$t2->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format req '$server_port $status "$request"';

    large_client_header_buffers 2 1k;

    # A: the gate on at server level

    server {
        listen 127.0.0.1:%%PORT_0%%;
        server_name a;

        access_log %%TESTDIR%%/access.log req;

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

    # B: the gate only in location /_synapse/admin

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name b;

        access_log %%TESTDIR%%/access.log req;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /_synapse/admin {
            admin_gate on;
            admin_gate_verify /_admin_gate_verify;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }

    # C: no gate at all

    server {
        listen 127.0.0.1:%%PORT_2%%;
        server_name c;

        access_log %%TESTDIR%%/access.log req;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }
    }
}
END

# a space in a header name is a 400 whatever ignore_invalid_headers says;
# a 1.5k header line does not fit a 1k large_client_header_buffers buffer

my %BAD = (
    'invalid header line' => "Bad Header: 1\r\n",
    'too long header line' => 'X-Long: ' . ('a' x 1500) . "\r\n",
);

for my $bad (sort keys %BAD) {
    for my $s (qw(A B)) {
        for my $path ("$adm/users", "$mx/sync") {
            each_form(sub {
                my ($f, $round) = @_;
                early($t2, server => $s, path => $path, form => $f,
                    round => $round, status => 400, what => $bad,
                    headers => $BAD{$bad});
            });
        }
    }

    each_form(sub {
        my ($f, $round) = @_;
        visible($t2, server => 'C', path => "$mx/sync", form => $f,
            round => $round, status => 400, what => $bad,
            headers => $BAD{$bad});
    });
}

$t2->stop;

done_testing;

###############################################################################

# runs $code for every query spelling, twice over
sub each_form {
    my ($code) = @_;

    for my $round (1 .. 2) {
        $code->($_, $round) for @FORMS;
    }
}

# a request of a gated server that carries adm_tok in its query: its
# status, its access-log line with access_token=***, no adm_tok in either
# log, and the error-log line it must cause (if any) showing the redacted
# request
sub early {
    my ($t, %c) = @_;

    my ($form, $query, $logged, $m) = target($t, %c, token => 'adm_tok');
    my $name = "server $c{server}, $c{what}, $c{path} ($form, $c{round})";

    $t->new_errors;

    my $res = parse_response(http($t->port($SERVER{$c{server}}),
        get_raw("$c{path}?$query", $c{headers})));
    is($res->{status}, $c{status}, "$name: status $c{status}");

    my $line = access_line($t, $m);
    like($line, qr/ "GET \Q$c{path}?$logged\E HTTP\/1\.1"$/,
        "$name: access log shows access_token=***");

    my $errors = $t->new_errors;

    if ($c{error}) {
        my ($e) = grep { $_ =~ $c{error} } split /\n/, $errors;
        like($e // '', qr/, request: "GET \Q$c{path}?$logged\E HTTP\/1\.1"/,
            "$name: the $c{what} error-log line shows access_token=***");
    }

    ok(index($line, 'adm_tok') < 0 && index($errors, 'adm_tok') < 0,
        "$name: the token is in neither log")
        or diag("access: $line\nerror: $errors");
}

# a request of the server without the gate: its $request as it came
sub visible {
    my ($t, %c) = @_;

    my ($form, $query, $logged, $m) = target($t, %c, token => $VISIBLE);
    my $name = "server $c{server} (no gate), $c{what}, $c{path} "
        . "($form, $c{round})";

    my $res = parse_response(http($t->port($SERVER{$c{server}}),
        get_raw("$c{path}?$query", $c{headers})));
    is($res->{status}, $c{status}, "$name: status $c{status}");

    like(access_line($t, $m), qr/ "GET \Q$c{path}?$query\E HTTP\/1\.1"$/,
        "$name: access log shows the query token as it came");
}

# (form name, query sent, query as it must be logged, marker)
sub target {
    my ($t, %c) = @_;

    my ($name, $sent, $logged) = @{ $c{form} };
    my $extra = $c{extra} // '';

    # a marker per request, to find its line in the access log
    my $m = join '.', lc $c{server}, ++$SENT;

    return ($name, sprintf($sent, $c{token}, $m) . $extra,
        sprintf($logged, $c{token}, $m) . $extra, $m);
}

sub get_raw {
    my ($target, $headers) = @_;

    return "GET $target HTTP/1.1\r\nHost: localhost\r\n"
        . ($headers // '') . "Connection: close\r\n\r\n";
}

# the access-log line of the request with marker $m.  nginx may write it
# after the client saw the answer (a lingering close after a 400), so
# wait for it, boundedly
sub access_line {
    my ($t, $m) = @_;

    my $deadline = time + 5 * $SLOW;

    while (1) {
        my ($line) = grep { /[?&;]t=\Q$m\E(?:[&; ]|$)/ }
            split /\n/, $t->read_file('access.log');
        return $line if defined $line;
        last if time > $deadline;
        sleep 0.05;
    }

    return "(no access-log line for t=$m)";
}

# sends a gated request whose whoami takes $HOLD seconds and returns its
# socket once it waits at Synapse: past limit_conn, holding its slot
sub hold {
    my ($t, $fs, $n, $target) = @_;

    my $before = $fs->whoami_hits;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port($n),
        Proto => 'tcp', Timeout => 10) or die "connect: $!";
    $s->syswrite(get_raw($target, "Authorization: Bearer slow_tok\r\n"));

    my $deadline = time + 10 * $SLOW;
    while ($fs->whoami_hits <= $before) {
        if (time > $deadline) {
            fail('the slow request reached Synapse');
            last;
        }
        sleep 0.05;
    }

    return $s;
}

sub read_all {
    my ($s) = @_;

    my $answer = '';
    my $deadline = time + $HOLD + 20 * $SLOW;

    while (time < $deadline) {
        last unless IO::Select->new($s)->can_read($deadline - time);
        last unless $s->sysread(my $buf, 65536);
        $answer .= $buf;
    }

    close $s;

    return $answer;
}
