#!/usr/bin/perl

# The safety nets catch what they are for: a real nginx [alert] and a
# token in a log fail the log check, a leaking program fails the valgrind
# check, and a style violation fails util/style-check.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use AdminTest qw(http log_problems valgrind_command valgrind_problems);

my $t = AdminTest->new;

# a real token in a real log: the default access log keeps $request

$t->run(<<'END');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        location / {
            return 204;
        }
    }
}
END

$t->get('/_matrix/client/v3/sync?access_token=never_logged_token');
$t->shutdown;

is_deeply([ log_problems($t->read_file('access.log'),
        ['never_logged_token']) ],
    ['secret "never_logged_token" in the logs'],
    'the log check catches a token in a log');

# a real [alert]: too few worker connections for a proxied request

my $t2 = AdminTest->new;

$t2->run(<<'END');
%%TEST_GLOBALS%%

events {
    worker_connections 2;
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_0%%;

        location / {
            proxy_pass http://127.0.0.1:%%PORT_1%%;
        }
    }
}
END

http($t2->port(0), "GET / HTTP/1.0\r\n\r\n", timeout => 5);
$t2->shutdown;

ok(scalar(grep { /\[alert\] .*worker_connections are not enough/ }
        log_problems($t2->error_log, [])),
    'the log check catches a real [alert]');

is_deeply([ log_problems("[info] fine\n[error] also fine\n", ['tok']) ], [],
    'the log check passes a clean log');

# a leak under the suite's own valgrind flags

SKIP: {
    skip 'valgrind or cc is not installed', 2
        unless `which valgrind cc` =~ /valgrind.*\n.*cc/s;

    my $dir = $t->testdir;
    $t->write_file('leak.c', "#include <stdlib.h>\n"
        . "int main(void) { void *p = malloc(64); p = 0; return p != 0; }\n");
    system('cc', '-g', '-O0', '-o', "$dir/leak", "$dir/leak.c") == 0
        or die "cc failed";

    system(valgrind_command($dir), "$dir/leak");
    my @v = valgrind_problems($dir);
    ok(scalar(grep { /definitely lost/ } @v),
        'the valgrind check catches a leak');

    unlink glob("$dir/valgrind.*.log");
    $t->write_file('clean.c', "int main(void) { return 0; }\n");
    system('cc', '-o', "$dir/clean", "$dir/clean.c") == 0 or die "cc failed";
    system(valgrind_command($dir), "$dir/clean");
    is_deeply([ valgrind_problems($dir) ], [],
        'the valgrind check passes a clean program');
}

# util/style-check

my $bad = $t->write_file('ngx_http_admin_bad.c', <<'END');


static int ngx_http_admin_ok(void);


int
ngx_http_admin_ok(void)
{
	return 0; // tab and a C++ comment
}
static int
undeclared(void)
{
    return 1;
}
END

my $out = `util/style-check $bad`;
isnt($?, 0, 'style-check fails on a bad file');
like($out, qr/:9: tab/, 'style-check: tab');
like($out, qr/:9: "\/\/" comment/, 'style-check: // comment');
like($out, qr/"undeclared" lacks the ngx_http_admin_ prefix/,
    'style-check: prefix');
like($out, qr/static function "undeclared" has no prototype/,
    'style-check: prototype');
like($out, qr/0 blank lines before "undeclared", not 2/,
    'style-check: blank lines between functions');

$out = `util/style-check`;
is($?, 0, 'style-check passes the module sources') or diag($out);

done_testing;
