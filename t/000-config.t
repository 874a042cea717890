#!/usr/bin/perl

# Configuration: the module loads into Debian's nginx, the gate is off by
# default, and nginx -t refuses what cannot work, saying why.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use AdminTest;

my $t = AdminTest->new;

my $verify = <<'END';
        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:1$admin_gate_verify_uri;
        }
END

refused('admin_gate on in a server without admin_gate_verify',
    "admin_gate on;\n",
    qr/"admin_gate" is on in a server but no "admin_gate_verify" is set for it/);

refused('admin_gate on in a location without admin_gate_verify',
    "location /x { admin_gate on; }\n",
    qr/"admin_gate" is on in location "\/x" but no "admin_gate_verify" is set/);

refused('admin_gate on at http level, verify nowhere', '',
    qr/"admin_gate" is on in a server but no "admin_gate_verify"/,
    "admin_gate on;\n");

refused('admin_gate_verify not a URI',
    "admin_gate on; admin_gate_verify _admin_gate_verify;\n",
    qr/invalid location "_admin_gate_verify": it must start with "\/"/);

refused('admin_gate_prefix not a path',
    "admin_gate_prefix /_synapse/admin _synapse/admin;\n",
    qr/invalid prefix "_synapse\/admin": it must start with "\/"/);

refused('admin_gate_prefix twice', "admin_gate_prefix /a;\n"
    . "admin_gate_prefix /b;\n",
    qr/"admin_gate_prefix" directive is duplicate/);

refused('admin_gate with a bad value', "admin_gate yes;\n",
    qr/invalid value "yes" in "admin_gate" directive/);

refused('admin_gate_verify without an argument', "admin_gate_verify;\n",
    qr/invalid number of arguments in "admin_gate_verify" directive/);

refused('sentinel without master',
    "admin_gate_redis sentinel=127.0.0.1:26379;\n",
    qr/"admin_gate_redis" directive has "sentinel=" without "master="/);

refused('master without sentinel',
    "admin_gate_redis 127.0.0.1:6379 master=gate;\n",
    qr/has "master=" or "sentinel_password=" without "sentinel="/);

refused('sentinel and an address',
    "admin_gate_redis 127.0.0.1:6379 sentinel=127.0.0.1:26379 master=g;\n",
    qr/invalid parameter "sentinel=127.0.0.1:26379"/);

refused('a bad sentinel address',
    "admin_gate_redis sentinel=127.0.0.1:26379,,x:y master=gate;\n",
    qr/invalid sentinel address ""/);

refused('neither an address nor sentinels',
    "admin_gate_redis db=1;\n",
    qr/has neither an address nor "sentinel="/);

accepted('Sentinel', "admin_gate_redis sentinel=127.0.0.1:26379,"
    . "127.0.0.1:26380,localhost master=gate sentinel_password=x "
    . "password=y db=2;\n");

accepted('a complete configuration', "admin_gate on;\n"
    . "admin_gate_verify /_admin_gate_verify;\n"
    . "admin_gate_prefix /_synapse/admin /_matrix/client/v3/admin;\n"
    . $verify);

accepted('verify set at http level, gate on in a location',
    "location /x { admin_gate on; }\n$verify",
    "admin_gate_verify /_admin_gate_verify;\n");

accepted('admin_gate off needs nothing', "admin_gate off;\n");

# loaded, but off by default: a gated path goes straight through

my $fs = $t->synapse;

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        location / {
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }
    }
}
END

for my $n (1 .. 2) {
    my $r = $t->get('/_synapse/admin/v1/users');
    is($r->{status}, 200, "gate off by default: request passes ($n)");
}

is($fs->whoami_hits, 0, 'gate off: Synapse not asked');

$t->stop;

done_testing;

###############################################################################

sub conf {
    my ($server, $http) = @_;

    $http //= '';

    return <<"END";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    $http

    server {
        listen 127.0.0.1:%%PORT_9%%;

        $server
    }
}
END
}

sub refused {
    my ($name, $server, $re, $http) = @_;

    my ($rc, $out) = $t->test_config(conf($server, $http));
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, qr/\[emerg\] .*$re/, "$name: says why");
}

sub accepted {
    my ($name, $server, $http) = @_;

    my ($rc, $out) = $t->test_config(conf($server, $http));
    is($rc, 0, "$name: nginx -t passes") or diag($out);
}
