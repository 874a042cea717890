package RedisServer;

# A real redis-server for one test file: loopback port (and optionally a
# unix socket), persistence off, files in the test dir.
#
#   my $redis = RedisServer->new(dir => $t->testdir, requirepass => 'pw');
#   $redis->start;  $redis->cli('KEYS', '*');  $redis->stop;
#   $redis->pause;  $redis->resume;           # SIGSTOP / SIGCONT
#   $redis->command('SET', $key, "a\0b");     # binary-safe, over RESP
#   $redis->calls('get');                     # INFO commandstats: calls
#
# skip_all when redis-server is not installed.

use strict;
use warnings;

use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);

use AdminTest qw(free_port wait_port end_process);

sub new {
    my ($class, %o) = @_;

    plan(skip_all => 'redis-server is not installed')
        unless `which redis-server redis-cli` =~ /redis-server.*\n.*redis-cli/s;

    my $self = bless { %o }, $class;

    $self->{port} //= free_port();
    $self->{name} //= "redis-$self->{port}";

    return $self;
}

sub port { $_[0]->{port} }

sub socket { "$_[0]->{dir}/$_[0]->{name}.sock" }

sub start {
    my ($self) = @_;

    my $conf = <<"END";
bind 127.0.0.1
port $self->{port}
save ""
appendonly no
daemonize no
dir $self->{dir}
logfile $self->{dir}/$self->{name}.log
END

    if ($self->{unixsocket}) {
        # nginx's workers run as nobody
        $conf .= "unixsocket " . $self->socket . "\nunixsocketperm 777\n";
    }

    $conf .= "requirepass $self->{requirepass}\n" if $self->{requirepass};
    $conf .= "$_\n" for @{ $self->{extra} || [] };

    my $file = "$self->{dir}/$self->{name}.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $conf;
    close $fh;

    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open STDOUT, '>>', "$self->{dir}/$self->{name}.out";
        open STDERR, '>&', \*STDOUT;
        exec 'redis-server', $file or die "exec: $!";
    }

    $self->{pid} = $pid;

    wait_port($self->{port}, 10) or die "redis-server did not start";

    return $self;
}

sub stop {
    my ($self) = @_;

    return unless $self->{pid};

    kill 'CONT', $self->{pid};
    end_process($self->{pid}, 'TERM', 10);

    delete $self->{pid};
}

sub pause { kill 'STOP', $_[0]->{pid} }

sub resume { kill 'CONT', $_[0]->{pid} }

# redis-cli against this server, as the default user (or AUTH as given)
sub cli {
    my ($self, @args) = @_;

    my @auth = $self->{requirepass} ? ('--no-auth-warning', '-a',
        $self->{requirepass}) : ();

    open my $fh, '-|', 'redis-cli', '-h', '127.0.0.1', '-p', $self->{port},
        @auth, @args or die "redis-cli: $!";
    my @out = <$fh>;
    close $fh;

    chomp @out;

    return wantarray ? @out : join("\n", @out);
}

# one command over RESP, binary-safe (redis-cli cannot pass a NUL byte):
# the reply, a string or a number, undef for nil, an array ref; dies on
# an error reply
sub command {
    my ($self, @args) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
        Proto => 'tcp', Timeout => 10) or die "redis $self->{port}: $!";

    my @cmds = ($self->{requirepass} ? ([ 'AUTH', $self->{requirepass} ])
        : (), \@args);

    for my $cmd (@cmds) {
        $s->syswrite('*' . @$cmd . "\r\n"
            . join('', map { '$' . length($_) . "\r\n$_\r\n" } @$cmd));
    }

    my $in = { s => $s, buf => '', deadline => time + 10 };

    resp_reply($in) if $self->{requirepass};
    my $r = resp_reply($in);
    close $s;

    return $r;
}

sub resp_reply {
    my ($in) = @_;

    my $l = resp_read($in, undef);
    my ($type, $rest) = (substr($l, 0, 1), substr($l, 1));

    die "redis: $rest\n" if $type eq '-';
    return $rest if $type eq '+' || $type eq ':';
    return undef if ($type eq '$' || $type eq '*') && $rest < 0;
    return substr(resp_read($in, $rest + 2), 0, $rest) if $type eq '$';
    return [ map { resp_reply($in) } 1 .. $rest ] if $type eq '*';

    die "redis: unexpected reply \"$l\"";
}

# $n bytes, or a line without its CRLF when $n is undef
sub resp_read {
    my ($in, $n) = @_;

    while (defined $n ? length($in->{buf}) < $n : $in->{buf} !~ /\r\n/) {
        die "redis: no reply\n" if time > $in->{deadline}
            || !$in->{s}->sysread($in->{buf}, 65536, length $in->{buf});
    }

    return substr($in->{buf}, 0, $n, '') if defined $n;

    $in->{buf} =~ s/^(.*?)\r\n//s;
    return $1;
}

# how many times Redis has run a command (INFO commandstats)
sub calls {
    my ($self, $cmd) = @_;

    my $name = lc $cmd;
    my $info = $self->command('INFO', 'commandstats');
    return $info =~ /^cmdstat_\Q$name\E:calls=(\d+)/m ? $1 : 0;
}

sub DESTROY { $_[0]->stop }

1;
