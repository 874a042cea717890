# ngx_admin_module
#
#   make                build the module (build/gcc/objs/*.so)
#   make test           install missing Debian packages, build, run t/
#   make test-valgrind  the same suite with nginx under memcheck
#   make test-asan      the same suite against nginx and the module built
#                       with ASan and UBSan (Debian's nginx source)
#   make test-nginx-1.26  the same suite against nginx 1.26.3 (Debian 13's
#                       release), built from source with the module
#   make fuzz           the libFuzzer harnesses of fuzz/, FUZZ_TIME each
#   make run            a local demo on 127.0.0.1:8080
#   make bench          wrk: the gate against plain proxy_pass,
#                       auth_request (with and without proxy_cache) and
#                       a Lua gate, cached, refused and missing tokens
#   make bench-instructions  instructions per request of the same peers
#                       in the same scenarios (callgrind)
#   make bench-memory   the worker's memory over a million requests with
#                       100,000 tokens through a 1 MiB zone
#                       (the benches are not run by the tests)
#   make soak           mixed load through two workers while Redis,
#                       Sentinel, Synapse and reloads fail it, checked
#                       from both sides' records (SOAK_SECONDS, 300)
#   make lint           clang and gcc -Wextra builds, util/style-check,
#                       cppcheck and scan-build
#   make deb            the Debian package libnginx-mod-http-admin-gate
#                       (pkg/debian, dh_nginx) in build/deb
#   make test-deb       that package installed, checked, the suite run
#                       against the installed module, then purged

BUILD   ?= build
MODULE  := $(BUILD)/gcc/objs/ngx_http_admin_module.so
CLANG   := $(BUILD)/clang/objs/ngx_http_admin_module.so
EXTRA   := $(BUILD)/extra/objs/ngx_http_admin_module.so
# a test-only access module (t/018-satisfy-any.t)
YES     := $(BUILD)/yes/objs/ngx_http_admin_test_yes_module.so

# -Wextra on top of nginx's own flags; it turns -Wunused-parameter back on,
# which nginx disables on purpose (handlers have fixed signatures)
WEXTRA  := -Wextra -Wno-unused-parameter
SOURCES := config $(wildcard ngx_admin_module/*.c ngx_admin_module/*.h)

# everything make test and make run need on a fresh Debian 12
PACKAGES := make gcc clang clang-tools cppcheck perl nginx nginx-dev \
            libhiredis-dev libjansson-dev libssl-dev valgrind curl \
            redis-server redis-tools redis-sentinel \
            libnginx-mod-http-auth-pam libnginx-mod-http-lua prometheus \
            openssl

PROVE   := prove -r -I t/lib

.PHONY: all deps test test-valgrind run bench lint analyze clean

all: $(MODULE)

$(MODULE): $(SOURCES)
	util/build $(BUILD)/gcc gcc

$(CLANG): $(SOURCES)
	util/build $(BUILD)/clang clang "$(WEXTRA)"

$(EXTRA): $(SOURCES)
	util/build $(BUILD)/extra gcc "$(WEXTRA)"

$(YES): $(wildcard t/modules/yes/*)
	util/build $(BUILD)/yes gcc "" t/modules/yes

deps:
	util/install-deps $(PACKAGES)

lint: $(CLANG) $(EXTRA) analyze
	util/style-check

# cppcheck and clang's analyzer on the module sources; any finding fails
analyze: $(MODULE)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --suppress=missingIncludeSystem -D__linux__ \
	    $(addprefix -I $(BUILD)/gcc/,src/core src/event src/event/modules \
	        src/os/unix objs src/http src/http/modules src/http/v2) \
	    ngx_admin_module/*.c
	scan-build-14 --status-bugs -o $(BUILD)/analyze-report \
	    util/build $(BUILD)/analyze env

test: deps
	$(MAKE) --no-print-directory $(MODULE) $(YES) lint
	TEST_ADMIN_MODULE=$(abspath $(MODULE)) \
	    TEST_YES_MODULE=$(abspath $(YES)) $(PROVE) t/

test-valgrind: deps
	$(MAKE) --no-print-directory $(MODULE) $(YES)
	TEST_VALGRIND=1 TEST_ADMIN_MODULE=$(abspath $(MODULE)) \
	    TEST_YES_MODULE=$(abspath $(YES)) $(PROVE) t/

run: deps
	$(MAKE) --no-print-directory $(MODULE)
	util/demo $(abspath $(MODULE))

# make bench: throughput, latency and CPU time of every peer in every
# scenario (util/bench; util/bench-lib has the configurations), and the
# targets.  BENCH_SECONDS (5) a run, BENCH_CONNECTIONS (32), BENCH_ROUNDS
# (2), BENCH_PAIRS (5), BENCH_ZONE (auto, on, off), BENCH_KEEPALIVE (on),
# BENCH_PIN (off), BENCH_KEEP (keep the files), BENCH_STRICT (a missed
# target fails); docs/performance.md.
BENCH_PACKAGES := make gcc perl curl nginx nginx-dev libhiredis-dev \
                  libjansson-dev libssl-dev redis-server redis-tools wrk \
                  libnginx-mod-http-lua lua-nginx-redis lua-nginx-string \
                  lua-cjson

bench:
	util/install-deps $(BENCH_PACKAGES)
	$(MAKE) --no-print-directory $(MODULE)
	util/bench $(abspath $(MODULE))

clean:
	rm -rf $(BUILD)

# make test-asan: the suite against nginx itself and the module built with
# AddressSanitizer and UndefinedBehaviorSanitizer (util/asan): Debian's
# nginx source through apt's deb-src (util/nginx-source), build/asan
ASAN_PACKAGES := clang libclang-rt-14-dev llvm-14 libpcre2-dev zlib1g-dev \
                 libssl-dev patch xz-utils

.PHONY: test-asan

test-asan: deps
	util/install-deps $(ASAN_PACKAGES)
	BUILD=$(BUILD) util/asan

# make test-nginx-1.26: the suite against nginx 1.26.3, the release of
# Debian 13, and the module, built from the upstream tarball of trixie's
# source package with the third-party modules that tests load (auth_pam,
# ndk, lua), from trixie's sources too (util/nginx-1.26, through
# util/nginx-source), in $(BUILD)/nginx-1.26
NGINX_126_PACKAGES := gcc make libpcre2-dev zlib1g-dev libssl-dev \
                      libpam0g-dev libluajit2-5.1-dev patch xz-utils

.PHONY: test-nginx-1.26

test-nginx-1.26: deps
	util/install-deps $(NGINX_126_PACKAGES)
	BUILD=$(BUILD) util/nginx-1.26

# make fuzz: libFuzzer harnesses of the pure parsers (fuzz/, util/fuzz),
# built with clang, ASan and UBSan into $(BUILD)/fuzz against the nginx
# headers configured in $(BUILD)/gcc; FUZZ_TIME seconds each, for example
# make fuzz FUZZ_TIME=30.  Fails on any crash, leak, UB or broken invariant.
FUZZ_PACKAGES := make gcc nginx-dev clang libclang-rt-14-dev \
                 libhiredis-dev libjansson-dev libssl-dev
FUZZ_TIME     ?= 60

# phony above all because fuzz/ is a directory
.PHONY: fuzz

fuzz:
	util/install-deps $(FUZZ_PACKAGES)
	BUILD=$(BUILD) FUZZ_TIME=$(FUZZ_TIME) util/fuzz

# make bench-instructions: instructions per request, counted by callgrind,
# of plain proxy_pass, the gate with Redis and with the zone,
# auth_request, auth_request + proxy_cache and the Lua gate, in the
# scenarios of make bench, in one run, and where the gate's instructions
# go (util/bench-instructions); files in $(BUILD)/bench-instructions.
# BENCH_N1, BENCH_N2 (200, 1200) requests, BENCH_SCENARIOS (all).
BENCH_INSTRUCTIONS_PACKAGES := $(BENCH_PACKAGES) valgrind

.PHONY: bench-instructions

bench-instructions:
	util/install-deps $(BENCH_INSTRUCTIONS_PACKAGES)
	$(MAKE) --no-print-directory $(MODULE)
	BENCH_DIR=$(abspath $(BUILD))/bench-instructions \
	    util/bench-instructions $(abspath $(MODULE))

# make bench-memory: the front worker's RSS, sampled while 1,000,000
# requests cycle through 100,000 admin tokens and a 1 MiB zone
# (util/bench-memory): start, after the warm-up, peak, end; fails unless
# the end is within BENCH_MEMORY_BOUND (512) KiB of the level after the
# warm-up.  BENCH_REQUESTS, BENCH_TOKENS, BENCH_ZONE_SIZE,
# BENCH_MEMORY_SECONDS (600, the time cap).

.PHONY: bench-memory

bench-memory:
	util/install-deps $(BENCH_PACKAGES)
	$(MAKE) --no-print-directory $(MODULE)
	util/bench-memory $(abspath $(MODULE))

# make soak: SOAK_SECONDS (300) of mixed traffic through the gate with two
# workers (wrk, util/soak-wrk.lua) while Redis is restarted, frozen and
# failed over by Sentinel, Synapse is killed, slow and failing, and nginx
# is reloaded (util/soak); then util/soak-check judges the records of the
# client and of the upstream, the error log and the workers' resources
# at rest (docs/reliability.md).  CI runs SOAK_SECONDS=60.
SOAK_PACKAGES := make gcc perl curl nginx nginx-dev libhiredis-dev \
                 libjansson-dev libssl-dev redis-server redis-tools \
                 redis-sentinel wrk libnginx-mod-http-lua
SOAK_SECONDS  ?= 300

.PHONY: soak

soak:
	util/install-deps $(SOAK_PACKAGES)
	$(MAKE) --no-print-directory $(MODULE)
	SOAK_SECONDS=$(SOAK_SECONDS) util/soak $(abspath $(MODULE))

# make deb: the Debian package libnginx-mod-http-admin-gate, built with
# dh_nginx from nginx-dev (util/deb, pkg/debian/) into $(BUILD)/deb; its
# version is the one of pkg/debian/changelog.  make test-deb installs it
# with apt-get, checks its files, symlink and dependencies and nginx -t with
# the system's configuration, runs the suite against the installed module,
# and purges it, also after a failure, checking that nothing is left
# (util/test-deb).  Root only: it changes the system's nginx for a while.
DEB_PACKAGES := build-essential debhelper dpkg-dev nginx nginx-dev \
                libhiredis-dev libjansson-dev libssl-dev

.PHONY: deb test-deb

deb:
	util/install-deps $(DEB_PACKAGES)
	BUILD=$(BUILD) util/deb

test-deb: deps
	util/install-deps $(DEB_PACKAGES)
	$(MAKE) --no-print-directory $(YES)
	BUILD=$(BUILD) util/deb
	BUILD=$(BUILD) TEST_YES_MODULE=$(abspath $(YES)) util/test-deb
