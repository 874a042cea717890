#!/usr/bin/perl

# The documentation cannot rot:
#
# - every ```nginx block of README.md and docs/ is a file of docs/examples/
#   or a contiguous piece of one (indentation aside), every ```acl block a
#   piece of a docs/examples/*.acl, and every example is linked from a page;
# - nginx -t accepts every docs/examples/*.conf with the module loaded and
#   says nothing but that (no warning), each in a sandbox: the paths of the
#   file moved under the test dir, listen ports made free loopback ports,
#   a throwaway certificate and secret file where the file names them;
# - Redis loads every docs/examples/*.acl, each gate user may run what the
#   module sends (AUTH, PING, GET, SET ... PXAT ... NX) on its own key
#   prefix and nothing else, and the nginx example of the same name uses
#   exactly those users, passwords and prefixes;
# - every message the module writes to the error log (ngx_log_error,
#   ngx_conf_log_error, ngx_log_debug, the reasons it passes to them, the
#   errors of its directive handlers) has its entry in
#   docs/troubleshooting.md.
#
# docs/examples/README.md describes the convention.

use strict;
use warnings;

use lib 't/lib';
use Test::More;

use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use Time::HiRes qw(time);

use AdminTest qw(free_port);
use RedisServer;

my $t = AdminTest->new;

my $dir = $t->testdir;
my $module = Cwd::abs_path($t->{module});
my $nginx = $t->{binary};

my @pages = ('README.md', sort(glob('docs/*.md')), sort(glob('docs/*/*.md')));
my @confs = sort glob('docs/examples/*.conf');
my @acls = sort glob('docs/examples/*.acl');

ok(@confs >= 10, 'docs/examples has the configurations of the guides');

# ```nginx blocks are pieces of *.conf, ```acl blocks of *.acl
my %examples = (nginx => \@confs, acl => \@acls);

my %text = map { $_ => slurp($_) } @pages, @confs, @acls;

###############################################################################

# every block shown is a piece of an example

my $skipped = 0;

for my $page (@pages) {
    for my $block (fenced_blocks($text{$page})) {
        my $files = $examples{ $block->{lang} } or next;

        if ($block->{skip}) {
            $skipped++;
            next;
        }

        my ($file) = grep { excerpt_of($block->{lines}, $text{$_}) } @$files;

        ok($file, "$page:$block->{line}: the $block->{lang} block is "
            . ($file ? "in $file" : 'a piece of a docs/examples file'))
            or diag(join("\n", @{ $block->{lines} }));
    }
}

note("$skipped blocks marked as not an example");

# every example is linked from a page (docs/examples/README.md aside)

for my $file (@confs, @acls) {
    my $name = basename($file);

    ok((grep { $_ ne 'docs/examples/README.md'
            && $text{$_} =~ /\bexamples\/\Q$name\E\b/ } @pages),
        "$file is linked from a page");
}

###############################################################################

# nginx -t accepts every example

my ($cert, $key) = throwaway_certificate();

for my $file (@confs) {
    like($text{$file}, qr/^load_module modules\/ngx_http_admin_module\.so;$/m,
        "$file loads the module as a packaged nginx does");
    like($text{$file}, qr/^events \{$/m, "$file is a whole nginx.conf");

    SKIP: {
        skip("$file: no openssl to make a throwaway certificate", 2)
            if !defined $cert && $text{$file} =~ /^\s*ssl_certificate\s/m;

        nginx_t($file);
    }
}

###############################################################################

# the Redis ACL files: the users can do what the module does, on their own
# keys, and nothing more

SKIP: {
    skip('redis-server and redis-cli are not installed', 1)
        unless `which redis-server redis-cli 2>/dev/null`
            =~ /redis-server.*\n.*redis-cli/s;

    for my $file (@acls) {
        check_acl($file);
    }
}

###############################################################################

# every message of the module's error log is in docs/troubleshooting.md

my $troubleshooting = slurp('docs/troubleshooting.md');
my @lines = split /\n/, $troubleshooting;

my @messages = module_messages(sort glob('ngx_admin_module/*.c'));

ok(@messages > 50, 'the module\'s messages are found in its sources');

for my $m (@messages) {
    ok((grep { $_ =~ $m->{re} } @lines),
        "docs/troubleshooting.md has $m->{where}: \"$m->{text}\"");
}

done_testing;

###############################################################################

sub slurp {
    my ($file) = @_;

    open my $fh, '<', $file or die "$file: $!";
    local $/;
    my $text = <$fh>;
    close $fh;

    return $text;
}

# the output of a command, stdout and stderr; $? is its status
sub run_command {
    my (@cmd) = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "exec $cmd[0]: $!";
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;

    return $out;
}

# nginx -t on the example in its sandbox: accepted, and no warning
sub nginx_t {
    my ($file) = @_;

    my $sandbox = "$dir/" . basename($file, '.conf');

    make_path($sandbox);

    my $conf = sandbox($text{$file}, $sandbox);

    write_text("$sandbox/nginx.conf", $conf);

    my @cmd = ($nginx, '-t', '-p', "$sandbox/", '-c', "$sandbox/nginx.conf",
        '-e', "$sandbox/error.log");

    push @cmd, '-g', "pid $sandbox/nginx.pid;" if $conf !~ /^\s*pid\s/m;

    my $out = run_command(@cmd);

    ok($? == 0 && $out =~ /test is successful/, "$file: nginx -t accepts it")
        or diag("$out\n$conf");

    unlike($out, qr/\[(?:warn|alert|crit|emerg)\]/,
        "$file: nginx -t has no warning") or diag($out);
}

# The fenced blocks of a Markdown text: { lang, line, lines, skip }.  A
# block right after a line "<!-- not an example: why -->" is marked skip.
sub fenced_blocks {
    my ($text) = @_;

    my @lines = split /\n/, $text, -1;
    my @blocks;

    for (my $i = 0; $i < @lines; $i++) {
        next unless $lines[$i] =~ /^(\s*)(```+|~~~+)\s*([\w-]*)/;

        my ($indent, $fence, $lang) = ($1, $2, $3);
        my $start = $i;
        my @body;

        for ($i++; $i < @lines; $i++) {
            last if $lines[$i] =~ /^\s*\Q$fence\E\s*$/;
            (my $l = $lines[$i]) =~ s/^\Q$indent\E//;
            push @body, $l;
        }

        push @blocks, {
            lang => $lang,
            line => $start + 1,
            lines => \@body,
            skip => ($start > 0
                && $lines[$start - 1] =~ /^<!-- not an example: .+ -->$/)
                ? 1 : 0,
        };
    }

    return @blocks;
}

# The lines without trailing blanks, and without the indentation they all
# share.
sub dedent {
    my (@lines) = @_;

    s/\s+$// for @lines;

    my ($min) = sort { $a <=> $b }
        map { /^( *)/; length $1 } grep { length } @lines;

    $min //= 0;

    return map { length($_) ? substr($_, $min) : $_ } @lines;
}

# true when the block's lines are contiguous lines of the file, with
# indentation removed from both
sub excerpt_of {
    my ($block, $file) = @_;

    my @b = dedent(@$block);
    my @f = split /\n/, $file;

    pop @b while @b && $b[-1] eq '';
    shift @b while @b && $b[0] eq '';

    return 0 unless @b;

    for my $i (0 .. @f - @b) {
        my @w = dedent(@f[$i .. $i + @b - 1]);
        return 1 if join("\n", @w) eq join("\n", @b);
    }

    return 0;
}

# A self-signed certificate for every ssl_certificate of the examples.
sub throwaway_certificate {
    my ($c, $k) = ("$dir/throwaway.crt", "$dir/throwaway.key");

    return () unless `which openssl 2>/dev/null`;

    my $out = run_command('openssl', 'req', '-x509', '-newkey', 'rsa:2048',
        '-nodes', '-subj', '/CN=example.org', '-days', '1',
        '-keyout', $k, '-out', $c);

    die "openssl: $out" if $?;

    return ($c, $k);
}

# The example as nginx -t runs it: the module of the build; paths under
# /etc, /var, /run, /srv, /usr, /opt moved into the sandbox, with what the
# example expects to find there (a certificate, a secret file, mime.types);
# each listen address a free loopback port; the temp paths and the default
# access log in the sandbox.
sub sandbox {
    my ($conf, $sandbox) = @_;

    my $root = "$sandbox/root";
    my %ports;

    # the module under test, which may be installed under /usr (make
    # test-deb): put in after the paths move
    $conf =~ s{^load_module modules/ngx_http_admin_module\.so;$}
        {load_module %%MODULE%%;}m;

    $conf =~ s{(?<![\w./:-])(/(?:etc|var|run|srv|usr|opt)/[^\s;'"{}]*)}
        {$root$1}g;

    $conf =~ s{^load_module %%MODULE%%;$}{load_module $module;}m;

    for my $path ($conf =~ m{(\Q$root\E/[^\s;'"{}]*)}g) {
        make_path(dirname($path));
    }

    while ($conf =~ /^\s*ssl_certificate(_key)?\s+(\S+);/mg) {
        copy_file($1 ? $key : $cert, $2);
    }

    while ($conf =~ /^\s*admin_gate_secret_file\s+(\S+);/mg) {
        my $secret = $1;
        open my $fh, '>', $secret or die "$secret: $!";
        print $fh join('', map { chr(int(rand(256))) } 1 .. 32);
        close $fh;
        chmod 0600, $secret;
    }

    while ($conf =~ /^\s*include\s+(\S+);/mg) {
        my $file = $1;

        if ($file =~ /mime\.types$/) {
            -f '/etc/nginx/mime.types'
                ? copy_file('/etc/nginx/mime.types', $file)
                : write_text($file, "types {\n    text/html html;\n"
                    . "    application/javascript js;\n}\n");
            next;
        }

        fail("an example includes $file, which the test cannot make");
    }

    $conf =~ s{^([ \t]*listen[ \t]+)([^\s;]+)}{
        my ($l, $addr) = ($1, $2);
        $addr =~ /^unix:/ ? "$l$addr"
            : $l . '127.0.0.1:' . ($ports{$addr} //= free_port());
    }gme;

    # and the access log of servers that name none, which nginx would
    # open at its compiled-in path
    my $paths = join('', map { "${_}_temp_path $sandbox/$_;\n" }
        qw(client_body proxy fastcgi uwsgi scgi))
        . "access_log $sandbox/access.log;\n";

    write_text("$sandbox/temp-paths.conf", $paths);

    $conf =~ s{^(http \{\n)}{$1    include $sandbox/temp-paths.conf;\n}m
        or fail('the example has an http block');

    return $conf;
}

sub copy_file {
    my ($from, $to) = @_;
    write_text($to, slurp($from));
}

sub write_text {
    my ($file, $text) = @_;

    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh;
}

# Loads the ACL file into a redis-server, then, as each user that has a
# key pattern of its own: what the module sends works on its prefix and
# is refused on every other user's, and more than that is refused.  The
# nginx example of the same name must use exactly these users.
sub check_acl {
    my ($file) = @_;

    my $redis = RedisServer->new(dir => $dir, name => basename($file, '.acl'));

    copy_file($file, "$dir/users.acl");

    $redis->{extra} = ["aclfile $dir/users.acl"];
    $redis->start;

    my %users;

    for (split /\n/, $text{$file}) {
        my ($user, $password, $prefix) =
            /^user (\S+) on >(\S+) .*?~(\S+)\*(?:\s|$)/ or next;
        my $role = /\+role\b/ ? 1 : 0;

        $users{$user} = { password => $password, prefix => $prefix,
            role => $role };
    }

    ok(%users, "$file has users limited to a key prefix");

    my $expire = int(time * 1000) + 60000;

    for my $user (sort keys %users) {
        my $u = $users{$user};
        my $key = "$u->{prefix}005-examples";

        my $cli = sub {
            my $out = run_command('redis-cli', '-h', '127.0.0.1', '-p',
                $redis->port, '--user', $user, '--pass', $u->{password},
                '--no-auth-warning', @_);
            chomp $out;
            return $out;
        };

        is($cli->('PING'), 'PONG', "$file: $user may PING");
        is($cli->('SET', $key, 'AG1 a', 'PXAT', $expire, 'NX'), 'OK',
            "$file: $user may store a verdict (SET ... PXAT ... NX)");
        is($cli->('GET', $key), 'AG1 a', "$file: $user may read it (GET)");
        is($cli->('SET', $key, 'revoked', 'PXAT', $expire), 'OK',
            "$file: $user may revoke it (SET ... PXAT)");

        like($cli->('ROLE'), qr/^master/,
            "$file: $user may ask for the role (ROLE, with Sentinel)")
            if $u->{role};

        for my $other (grep { $_ ne $user } sort keys %users) {
            like($cli->('GET', "$users{$other}{prefix}x"), qr/^NOPERM/,
                "$file: $user may not read the keys of $other");
            like($cli->('SET', "$users{$other}{prefix}x", 'AG1 a'),
                qr/^NOPERM/, "$file: $user may not write the keys of $other");
        }

        for my $cmd (['DEL', $key], ['KEYS', '*'], ['FLUSHALL'],
            ['CONFIG', 'GET', '*'])
        {
            like($cli->(@$cmd), qr/^NOPERM/,
                "$file: $user may not run $cmd->[0]");
        }
    }

    $redis->stop;

    # the nginx example's admin_gate_redis and admin_gate_key_prefix

    (my $conf = $file) =~ s/\.acl$/.conf/;
    my $nginx_conf = $text{$conf} // '';
    my %seen;

    # a server's own prefix, or the one prefix of the file
    my @prefixes = $nginx_conf =~ /admin_gate_key_prefix\s+([^\s;]+);/g;

    for my $server (split /\n    server \{/, $nginx_conf) {
        my ($user) = $server =~ /admin_gate_redis\s[^;]*\busername=(\S+)/;
        next unless defined $user;

        my ($password) =
            $server =~ /admin_gate_redis\s[^;]*\bpassword=([^\s;]+)/;
        my ($prefix) = $server =~ /admin_gate_key_prefix\s+([^\s;]+);/;

        $prefix //= $prefixes[0] if @prefixes == 1;

        $seen{$user} = 1;

        ok($users{$user}, "$conf: its Redis user $user is in $file");
        is($password, $users{$user}{password},
            "$conf: the password of $user is the one of $file");
        is($prefix, $users{$user}{prefix},
            "$conf: the server of $user has the key prefix of $file");
    }

    is_deeply([sort keys %seen], [sort keys %users],
        "$conf uses every gate user of $file");
}

# The messages the module writes: for each, a pattern that a line of the
# troubleshooting page must match (the text, each conversion a wildcard),
# the text itself and where it is.
sub module_messages {
    my (@files) = @_;

    my %macros = (ngx_open_file_n => 'open()', ngx_fd_info_n => 'fstat()',
        ngx_read_fd_n => 'read()', ngx_close_file_n => 'close()');

    my $str = qr/"(?:[^"\\]|\\.)*"/;
    my $run = qr/$str(?:\s*$str)*/;

    my (@messages, %seen);

    for my $file (@files) {
        my $src = slurp($file);

        $src =~ s{/\*.*?\*/}{}gs;

        my @found;

        # log calls: their format string (a macro may come first)
        while ($src =~ /\b(ngx_log_error|ngx_conf_log_error|ngx_log_debug\d)
                        \s*\(/gx)
        {
            my $call = balanced($src, pos($src) - 1);

            next unless $call =~ /(?:\b(\w+_n)\s+)?($run)/;

            my $text = ($1 ? ($macros{$1} // '%s') : '') . c_string($2);
            push @found, [$text, 'a log line'];
        }

        # the reasons given to the log lines: redis and verification
        # failures, and the "why" of the callers
        while ($src =~ /\bngx_http_admin_(?:redis|verify)_fail\s*\(/g) {
            my $call = balanced($src, pos($src) - 1);
            push @found, map { [c_string($_), 'a reason'] } $call =~ /($run)/g;
        }

        while ($src =~ /\bwhy\s*=\s*([^;]*);/g) {
            my $rhs = $1;
            push @found, map { [c_string($_), 'a reason'] } $rhs =~ /($run)/g;
        }

        # what directive handlers return ("is duplicate", ...)
        while ($src =~ /\breturn\s+($run)\s*;/g) {
            push @found, [c_string($1), 'a directive error'];
        }

        (my $short = $file) =~ s{.*/}{};

        for my $f (@found) {
            my ($text, $what) = @$f;

            next if $seen{$text}++;

            push @messages, {
                text => $text,
                where => "$what of $short",
                re => format_pattern($text),
            };
        }
    }

    return @messages;
}

# the text of $src from the "(" at $pos to its matching ")"
sub balanced {
    my ($src, $pos) = @_;

    my $depth = 0;
    my $i = $pos;

    while ($i < length $src) {
        my $c = substr($src, $i, 1);

        if ($c eq '"') {
            $i++;
            $i += (substr($src, $i, 1) eq '\\') ? 2 : 1
                while substr($src, $i, 1) ne '"';

        } elsif ($c eq '(') {
            $depth++;

        } elsif ($c eq ')') {
            return substr($src, $pos, $i - $pos + 1) if --$depth == 0;
        }

        $i++;
    }

    die "no ) after position $pos";
}

# adjacent C string literals, joined and unescaped
sub c_string {
    my ($run) = @_;

    my $text = join('', $run =~ /"((?:[^"\\]|\\.)*)"/g);

    $text =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;

    return $text;
}

# nginx's conversions (%V, %s, %*s, %ui, %uz, %M, %O, ...) match anything
sub format_pattern {
    my ($text) = @_;

    my $conv = qr/%(?:\*|[0-9]+)?(?:\.\*)?[uxX]*[OTzidlDVvsSrNcZMmfPb]|%%/;

    my $re = join('.*?', map { quotemeta } split /$conv/, $text, -1);

    return qr/$re/;
}
