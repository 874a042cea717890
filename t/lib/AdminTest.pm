package AdminTest;

# The test harness: one temp prefix and one nginx per test file.
#
#   my $t = AdminTest->new(secrets => [@tokens]);
#   $t->run($conf);               # expands %%...%%, starts, waits for ports
#   my $res = $t->get('/path', Authorization => 'Bearer x');
#   $t->stop;                     # QUIT, then asserts on the logs
#   $t->reload($conf);            # HUP (a new conf, or the same), waits
#                                 # until the new workers replace the old
#
# Placeholders: %%TEST_GLOBALS%% (load_module, pid, error_log),
# %%TEST_GLOBALS_HTTP%% (temp paths, access_log), %%TESTDIR%%, %%MODULE%%,
# %%PORT_n%% (a free loopback port per n), %%SYNAPSE%% / %%SYNAPSE_name%%
# (the port of a fake Synapse started with $t->synapse), %%REDIS_TIMEOUT%%
# (100ms, the default, or 3s under valgrind, where everything is slower).
#
# Written for this project after nginx-tests' lib/Test/Nginx.pm.

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(free_port http parse_response wait_port log_problems
    valgrind_command valgrind_problems end_process read_answer mute_server);

my $VALGRIND = $ENV{TEST_VALGRIND};

# how much slower everything is under memcheck
our $SLOW = $VALGRIND ? 10 : 1;

sub new {
    my ($class, %o) = @_;

    my $self = bless {
        secrets => $o{secrets} || [],
        level   => $o{error_log_level} || 'info',
        ports   => {},
    }, $class;

    $self->{dir} = tempdir('admin-test-XXXXXX', TMPDIR => 1,
        CLEANUP => !$ENV{TEST_NGINX_LEAVE});

    # nginx's workers run as nobody and must reach the files in it
    chmod 0755, $self->{dir};

    $self->{binary} = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    $self->{module} = $ENV{TEST_ADMIN_MODULE}
        || 'build/gcc/objs/ngx_http_admin_module.so';

    plan(skip_all => "no module at $self->{module} (run make)")
        unless -f $self->{module};

    diag("test dir: $self->{dir}") if $ENV{TEST_NGINX_LEAVE};

    return $self;
}

sub testdir { $_[0]->{dir} }

# more strings that must never reach a log (tokens of a FakeSynapse pattern)
sub secret {
    my ($self, @s) = @_;
    push @{ $self->{secrets} }, @s;
}

sub port {
    my ($self, $n) = @_;
    return $self->{ports}{$n} //= free_port();
}

# starts a FakeSynapse on a free port; its log lives in the test dir
sub synapse {
    my ($self, %o) = @_;

    require FakeSynapse;

    my $name = $o{name} || 'synapse';
    my $fs = FakeSynapse->new(%o, name => $name, dir => $self->{dir},
        port => free_port())->start;

    push @{ $self->{secrets} }, grep { !/^\*/ } keys %{ $fs->{tokens} };

    return $self->{synapses}{$name} = $fs;
}

sub expand {
    my ($self, $text) = @_;

    my $dir = $self->{dir};
    my $module = $self->{module};
    $module = Cwd::abs_path($module) if $module !~ m{^/};

    my $globals = <<"END";
load_module $module;
pid $dir/nginx.pid;
error_log $dir/error.log $self->{level};
END

    my $http = <<"END";
client_body_temp_path $dir/client_body_temp;
proxy_temp_path $dir/proxy_temp;
fastcgi_temp_path $dir/fastcgi_temp;
uwsgi_temp_path $dir/uwsgi_temp;
scgi_temp_path $dir/scgi_temp;
access_log $dir/access.log;
END

    $text =~ s/%%TEST_GLOBALS%%/$globals/g;
    $text =~ s/%%TEST_GLOBALS_HTTP%%/$http/g;
    $text =~ s/%%TESTDIR%%/$dir/g;
    $text =~ s/%%REDIS_TIMEOUT%%/$VALGRIND ? '3s' : '100ms'/ge;
    $text =~ s/%%MODULE%%/$module/g;
    $text =~ s/%%PORT_(\d+)%%/$self->port($1)/ge;
    $text =~ s/%%SYNAPSE(?:_(\w+))?%%/$self->{synapses}{$1 || 'synapse'}->port/ge;

    return $text;
}

sub write_file {
    my ($self, $name, $content) = @_;

    open my $fh, '>', "$self->{dir}/$name" or die "$name: $!";
    print $fh $content;
    close $fh;

    return "$self->{dir}/$name";
}

sub read_file {
    my ($self, $name) = @_;

    open my $fh, '<', "$self->{dir}/$name" or return '';
    local $/;
    my $content = <$fh>;
    close $fh;

    return $content;
}

# nginx -t on a configuration: (exit code, output)
sub test_config {
    my ($self, $conf) = @_;

    $self->write_file('nginx.conf', $self->expand($conf));

    my $out = `$self->{binary} -t -p $self->{dir}/ -c $self->{dir}/nginx.conf -e $self->{dir}/nginx-t.log 2>&1`;

    return ($? >> 8, $out);
}

sub run {
    my ($self, $conf) = @_;

    my $text = $self->expand($conf);
    $self->write_file('nginx.conf', $text);

    my @cmd = ($self->{binary}, '-p', "$self->{dir}/",
        '-c', "$self->{dir}/nginx.conf", '-e', "$self->{dir}/error.log",
        '-g', 'daemon off;');

    unshift @cmd, valgrind_command($self->{dir}) if $VALGRIND;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/stderr.log";
        open STDERR, '>>', "$self->{dir}/stderr.log";
        exec @cmd or die "exec: $!";
    }

    $self->{pid} = $pid;

    for my $port ($text =~ /listen\s+127\.0\.0\.1:(\d+)/g) {
        next if wait_port($port, 30 * $SLOW);
        my $log = $self->read_file('error.log') . $self->read_file('stderr.log');
        die "nginx did not start listening on $port:\n$log";
    }

    return $self;
}

# nginx -s reload: writes $conf (expanded) over nginx.conf when given,
# sends HUP to the master and waits until as many workers as it started
# the first time have started again and as many old ones have exited.
# False when that did not happen in time (a configuration nginx refused).
sub reload {
    my ($self, $conf) = @_;

    $self->write_file('nginx.conf', $self->expand($conf)) if defined $conf;

    my $count = sub {
        my $log = $self->error_log;
        return (scalar(() = $log =~ /start worker process \d+/g),
            scalar(() = $log =~ /worker process \d+ exited/g));
    };

    my ($started, $exited) = $count->();

    # the workers of the first start (and of each reload since)
    my $workers = $self->{workers} //= $started;

    kill 'HUP', $self->{pid};

    my $deadline = time + 30 * $SLOW;
    while (time < $deadline) {
        my ($s, $e) = $count->();
        return 1 if $s >= $started + $workers && $e >= $exited + $workers;
        sleep 0.05;
    }

    return 0;
}

sub stop {
    my ($self) = @_;

    $self->shutdown;
    $self->check_logs;
}

# stops nginx (QUIT) and the fake Synapses, asserting nothing about logs
sub shutdown {
    my ($self) = @_;

    return unless $self->{pid};

    end_process($self->{pid}, 'QUIT', 30 * $SLOW)
        or fail('nginx stopped on QUIT');

    delete $self->{pid};

    $_->stop for values %{ $self->{synapses} || {} };
}

# asserts on what nginx wrote: no alert/crit/emerg, no secret, no
# valgrind error
sub check_logs {
    my ($self) = @_;

    my $error = $self->read_file('error.log');
    my $access = $self->read_file('access.log');

    my @problems = log_problems($error . $access, $self->{secrets});

    push @problems, valgrind_problems($self->{dir}) if $VALGRIND;

    ok(!@problems, 'error log clean: no alert, crit, emerg, token or '
        . 'valgrind error') or diag(join("\n", @problems));

    diag("error.log:\n$error") if $ENV{TEST_NGINX_CATLOG};
}

# the problems a log shows: lines at alert/crit/emerg, and any secret
sub log_problems {
    my ($log, $secrets) = @_;

    my @problems = grep { /\[(alert|crit|emerg)\]/ } split /\n/, $log;

    for my $s (@$secrets) {
        push @problems, "secret \"$s\" in the logs" if index($log, $s) >= 0;
    }

    return @problems;
}

sub error_log { $_[0]->read_file('error.log') }

# lines of the error log written since the last call
sub new_errors {
    my ($self) = @_;

    my $log = $self->error_log;
    my $new = substr($log, $self->{error_seen} || 0);
    $self->{error_seen} = length $log;

    return $new;
}

sub get {
    my ($self, $target, @headers) = @_;
    return $self->request_on(0, 'GET', $target, @headers);
}

sub request {
    my ($self, $method, $target, @headers) = @_;
    return $self->request_on(0, $method, $target, @headers);
}

sub get_on {
    my ($self, $n, $target, @headers) = @_;
    return $self->request_on($n, 'GET', $target, @headers);
}

# a request to %%PORT_n%%; "body => ..." among the headers sends a body
sub request_on {
    my ($self, $n, $method, $target, @headers) = @_;

    my $port = $self->port($n);
    my $body = '';
    my $raw = "$method $target HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n";

    while (my ($k, $v) = splice @headers, 0, 2) {
        if ($k eq 'body') {
            $body = $v;
            $raw .= 'Content-Length: ' . length($v) . "\r\n";
            next;
        }
        $raw .= "$k: $v\r\n";
    }

    return parse_response(http($port, "$raw\r\n$body"));
}

# a test that died: stop nginx fast (TERM), never orphaning its workers
sub DESTROY {
    my ($self) = @_;

    end_process($self->{pid}, 'TERM', 10 * $SLOW) if $self->{pid};
}

###############################################################################

# sends the signal and waits; KILLs what is still there after $seconds.
# True when the process ended by itself.
sub end_process {
    my ($pid, $signal, $seconds) = @_;

    kill $signal, $pid;

    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    kill 'KILL', $pid;
    waitpid($pid, 0);

    return 0;
}

# memcheck as the suite runs it: definite leaks count as errors
sub valgrind_command {
    my ($dir) = @_;

    return ('valgrind', '--tool=memcheck', '--leak-check=full',
        '--errors-for-leak-kinds=definite', '--show-leak-kinds=definite',
        '--num-callers=30',
        '--suppressions=' . Cwd::abs_path('t/valgrind.supp'),
        "--log-file=$dir/valgrind.%p.log");
}

# the valgrind logs in $dir that report an error or a leak
sub valgrind_problems {
    my ($dir) = @_;

    my @problems;

    opendir my $dh, $dir or return ();
    for my $f (sort grep { /^valgrind\.\d+\.log$/ } readdir $dh) {
        open my $fh, '<', "$dir/$f" or next;
        my $v = do { local $/; <$fh> };
        close $fh;
        push @problems, "valgrind errors in $f:\n$v"
            if $v !~ /ERROR SUMMARY: 0 errors/;
    }
    closedir $dh;

    return @problems;
}

# a port the kernel has free now, never one this process was given before
# (the kernel may hand a closed one out again before nginx binds it)
my %given;

sub free_port {
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => 0, Proto => 'tcp', Listen => 1, ReuseAddr => 1)
            or die "port: $!";
        my $port = $s->sockport;
        close $s;
        return $port unless $given{$port}++;
    }

    die "port: no free port that was not given out already";
}

sub wait_port {
    my ($port, $timeout) = @_;

    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
            Proto => 'tcp');
        return 1 if $s;
        sleep 0.05;
    }

    return 0;
}

# sends a raw request, returns the raw answer (the server closes)
# what a socket receives until the peer closes it or $seconds pass
sub read_answer {
    my ($s, $seconds) = @_;

    require IO::Select;

    my $answer = '';
    my $deadline = time + ($seconds // 20 * $SLOW);

    while (time < $deadline) {
        last unless IO::Select->new($s)->can_read($deadline - time);
        last unless $s->sysread(my $buf, 65536);
        $answer .= $buf;
    }

    return $answer;
}

# a loopback server that accepts connections and never answers (a mute
# upstream, Sentinel or Redis): (port, pid); KILL the pid when done
sub mute_server {
    my $port = free_port();

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port, Listen => 64, ReuseAddr => 1)
        or die "listen: $!";

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        alarm(600);
        my @held;
        while (my $c = $listen->accept) {
            push @held, $c;
        }
        POSIX::_exit(0);
    }

    close $listen;

    return ($port, $pid);
}

sub http {
    my ($port, $raw, %o) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
        Proto => 'tcp', Timeout => 10) or die "connect $port: $!";

    $s->syswrite($raw);

    my $answer = '';
    my $deadline = time + ($o{timeout} || 30 * $SLOW);

    local $SIG{ALRM} = sub { die "timeout\n" };
    eval {
        while (time < $deadline) {
            alarm(int($deadline - time) + 1);
            my $n = $s->sysread(my $buf, 65536);
            alarm(0);
            last unless $n;
            $answer .= $buf;
        }
    };
    alarm(0);

    return $answer;
}

# (status, headers: lowercase name => [values], body)
sub parse_response {
    my ($raw) = @_;

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return { status => 0, headers => {}, body => '', raw => $raw }
        unless defined $head && $head =~ m{^HTTP/\d\.\d (\d+)};

    my %res = (status => $1, headers => {}, body => $body // '', raw => $raw);

    for my $line (split /\r\n/, $head) {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        push @{ $res{headers}{lc $1} }, $2;
    }

    if (($res{headers}{'transfer-encoding'}[0] // '') eq 'chunked') {
        my ($decoded, $rest) = ('', $res{body});
        while ($rest =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $decoded .= substr($rest, 0, $n, '');
            $rest =~ s/^\r\n//;
        }
        $res{body} = $decoded;
    }

    return \%res;
}

use Cwd ();

1;
