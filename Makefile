# sshdoctor - build, test, demo. `make check` and `make demo` install their own
# Debian dependencies first (scripts/deps.sh, only what is missing).

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
PKGS := json-c zlib libsystemd libcrypto sqlite3
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -g
CFLAGS ?= -O2
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRCS := $(sort $(wildcard src/*.c))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
BUILD ?= build

OBJS = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIB_OBJS = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all deps check unit integration asan clang fuzz bench demo install clean lab-test deb deb-check

all: $(BUILD)/sshdoctor

deps:
	@./scripts/deps.sh

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	@echo '  CC      $<'
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/sshdoctor: $(OBJS)
	@echo '  LINK    $@'
	@$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	@echo '  TEST    $@'
	@$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS) -Isrc -o $@ $< $(LIB_OBJS) \
		$(PKG_LIBS) $(shell pkg-config --libs cmocka) $(LDFLAGS)

unit-bins: $(UNIT_BINS)

# Sanitized build of everything, in its own tree.
asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" all unit-bins

# Warning-free with clang too (-Werror): compile only.
clang:
	$(MAKE) BUILD=build/clang CC=clang all

fuzz:
	$(MAKE) -C fuzz

bench: all
	./bench/run.sh

# The whole suite: unit (plain and ASan+UBSan), lab integration (plain and
# sanitized), clang build, fuzz smoke. Ends with "N passed, N failed".
check: deps
	$(MAKE) all unit-bins
	$(MAKE) asan
	$(MAKE) clang
	./tests/run.sh

demo: deps all
	./tests/lab/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/sshdoctor $(DESTDIR)$(PREFIX)/bin/sshdoctor
	install -m 644 doc/sshdoctor.1 $(DESTDIR)$(PREFIX)/share/man/man1/sshdoctor.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	install -m 644 completions/sshdoctor.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/sshdoctor
	install -m 644 completions/_sshdoctor $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_sshdoctor

# The Debian package, built in a copy of the tree (build/ stays as it is).
deb: deps
	./scripts/deb.sh build/deb

# Builds it, lintian (no errors), dpkg -i, runs it, dpkg --purge (needs root).
deb-check: deps
	./tests/deb_check.sh

clean:
	rm -rf build
	-$(MAKE) -C fuzz clean
