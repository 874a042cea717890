#!/usr/bin/perl

# "satisfy any" cannot open the gate, whatever the load order.  An access
# module that nginx runs before the gate ends the ACCESS phase with its
# yes before the gate has run: t/modules/yes (built by make test), loaded
# after this module and declaring no module order.  The gate then decides
# at the start of the PRECONTENT phase.  Loaded before this module, the
# gate runs first.  Debian's Lua module (access_by_lua), which declares a
# module order, in both load orders too.  A control location without the
# gate shows that each really lets requests through.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use JSON::PP;

use AdminTest;
use Cwd ();

# Debian's modules, or those built for the nginx under test
my $MODULES = $ENV{TEST_NGINX_MODULES} || '/usr/lib/nginx/modules';
my $YES = $ENV{TEST_YES_MODULE}
    || 'build/yes/objs/ngx_http_admin_test_yes_module.so';

plan(skip_all => "no ngx_http_lua_module.so in $MODULES (make deps installs "
    . 'libnginx-mod-http-lua)') unless -f "$MODULES/ngx_http_lua_module.so";
plan(skip_all => "no test module at $YES (make test builds it)")
    unless -f $YES;

$YES = Cwd::abs_path($YES);

my %LOAD = (
    yes => "load_module $YES;\n",
    lua => "load_module $MODULES/ndk_http_module.so;\n"
        . "load_module $MODULES/ngx_http_lua_module.so;\n",
);

# the yes module's handler says yes or nothing; Lua's, yes or 403
my %SAYS = (
    yes => '',
    lua => <<'END',
            access_by_lua_block {
                if ngx.var.http_x_let_me_in then
                    return ngx.exit(ngx.OK)
                end
                return ngx.exit(ngx.HTTP_FORBIDDEN)
            }
END
);

for my $case (['yes', 'after'], ['yes', 'before'], ['lua', 'after'],
    ['lua', 'before'])
{
    my ($mod, $order) = @$case;
    my $name = "$mod $order";

    my $t = AdminTest->new;
    my $fs = $t->synapse;

    my $conf = <<'END';
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
            satisfy any;
            deny all;
%%SAYS%%
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location /control/ {
            admin_gate off;
            satisfy any;
            deny all;
%%SAYS%%
            proxy_pass http://127.0.0.1:%%SYNAPSE%%;
        }

        location = /_admin_gate_verify {
            internal;
            proxy_pass http://127.0.0.1:%%SYNAPSE%%$admin_gate_verify_uri;
        }
    }
}
END

    # %%TEST_GLOBALS%% loads this module: the other goes before or after

    $conf = $t->expand($conf) =~ s/%%SAYS%%\n/$SAYS{$mod}/gr;

    if ($order eq 'after') {
        $conf =~ s/^(load_module [^\n]*;\n)/$1$LOAD{$mod}/m;

    } else {
        $conf =~ s/^(load_module [^\n]*;\n)/$LOAD{$mod}$1/m;
    }

    $t->run($conf);

    my $r = $t->get('/control/x', 'X-Let-Me-In' => 1);
    is($r->{status}, 200, "$name: the control location lets it in");
    $r = $t->get('/control/x');
    is($r->{status}, 403, "$name: the control location refuses");

    my $p = '/_synapse/admin/v1/users';

    for my $n (1 .. 2) {
        $fs->clear_log;

        $r = $t->get($p, 'X-Let-Me-In' => 1);
        is($r->{status}, 401, "$name, a yes, no token: 401 ($n)");
        is(eval { decode_json($r->{body})->{errcode} }, 'M_MISSING_TOKEN',
            "$name, no token: the gate's answer ($n)");

        $r = $t->get($p, 'X-Let-Me-In' => 1, Authorization => 'Bearer usr_tok');
        is($r->{status}, 403, "$name, a yes, a user: 403 ($n)");

        is(scalar $fs->upstream_requests, 0,
            "$name: nothing reached the upstream ($n)");

        $r = $t->get($p, 'X-Let-Me-In' => 1, Authorization => 'Bearer adm_tok');
        is($r->{status}, 200, "$name, an admin: 200 ($n)");
        is($fs->whoami_hits, 2, "$name: each verified once ($n)");

        $r = $t->get($p, Authorization => 'Bearer adm_tok');
        is($r->{status}, 200,
            "$name, no yes, an admin: 200 (satisfy any) ($n)");
    }

    $t->stop;
}

done_testing;
