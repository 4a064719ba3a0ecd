# channel_sync — PGXS build of the extension, plus the project's front door:
#   make demo   build, start a throwaway cluster, run the demo
#   make test   install deps, build, unit tests, regression + isolation + crash tests
#   make bench  benchmarks side by side with their baselines (bench/README.md)
#   make soak   SOAK_SECONDS (600) of steady mixed load, then drain; test/soak/out/REPORT.md
#   make freeze VERSION=x.y.z   freeze a release's install script into upgrade/ (README "Releasing")
EXTENSION  = channel_sync
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
MODULE_big = channel_sync

# One folder per capability; the install script is stitched from their SQL in this order.
EXT_AREAS  = common allocation propagation ingest parity security
CPP_SRCS   = $(foreach a,$(EXT_AREAS),$(sort $(wildcard src/$(a)/*.cpp)))
OBJS       = $(CPP_SRCS:.cpp=.o)
# Pure C++ core: every file but the *_pg.cpp glue and src/common/ (the boundary).
PURE_OBJS  = $(filter-out %_pg.o src/common/%,$(OBJS))
SQL_PARTS  = $(foreach a,$(EXT_AREAS),$(sort $(wildcard src/$(a)/*.sql)))

# The current version's script is generated; released versions are frozen in upgrade/ beside
# the upgrade scripts between them (README "Releasing a version").
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA       = $(filter-out upgrade/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard upgrade/$(EXTENSION)--*.sql))
REGRESS    = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --outputdir=build/regress
ISOLATION  = $(basename $(notdir $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=build/isolation

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register
PG_CPPFLAGS = -Isrc -isystem $(includedir_server)
SHLIB_LINK  = -lstdc++ -lxxhash
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

.PHONY: deps test demo bench fuzz soak unit check-purity format check-format core freeze

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)

# Pure files never see PostgreSQL's include directories: including postgres.h fails.
PURE_CPPFLAGS = -Isrc
$(PURE_OBJS) $(PURE_OBJS:.o=.bc): override CPPFLAGS = $(PURE_CPPFLAGS)
COMPILE.cxx.bc = $(CLANG) -xc++ -std=c++17 -Wall -Wextra -Wno-ignored-attributes -Wno-register \
                 $(BITCODE_CXXFLAGS) $(CPPFLAGS) -flto=thin -emit-llvm -c

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) $(EXTENSION).control scripts/stitch_sql.sh
	scripts/stitch_sql.sh $(EXTVERSION) $(SQL_PARTS) > $@

# make freeze VERSION=x.y.z: the install script of release x.y.z, from the current tree minus
# the parts marked "-- since: <later version>", committed as upgrade/channel_sync--x.y.z.sql.
freeze:
	@test -n "$(VERSION)" || { echo "usage: make freeze VERSION=x.y.z" >&2; exit 2; }
	scripts/stitch_sql.sh $(VERSION) $(SQL_PARTS) > upgrade/$(EXTENSION)--$(VERSION).sql
	@echo "froze upgrade/$(EXTENSION)--$(VERSION).sql ($$(wc -l < upgrade/$(EXTENSION)--$(VERSION).sql) lines)"

$(OBJS): $(wildcard src/*/*.hpp)

installcheck: | build/regress build/isolation
build/regress build/isolation:
	mkdir -p $@

check-purity:
	@if $(CXX) -std=c++17 $(PURE_CPPFLAGS) -fsyntax-only test/purity_probe.cpp 2>/dev/null; then \
	  echo "check-purity: FAILED (a pure file could include postgres.h)"; exit 1; \
	else echo "check-purity: ok (pure files cannot include postgres.h)"; fi
else
all install installcheck:
	@echo "PostgreSQL 15 server dev files not found (PG_CONFIG=$(PG_CONFIG)); run 'make deps' first." >&2; exit 1
endif

deps:
	@scripts/deps.sh

core:
	cmake -S . -B build/core -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/core -j2

unit: core
	cd build/core && ctest --output-on-failure

test:
	@scripts/test.sh

demo:
	@scripts/demo.sh

bench:
	@bench/run.sh

fuzz:
	@test/fuzz/run.sh $${FUZZ_SECONDS:-60}

soak:
	@test/soak/run.sh

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'test/*.cpp' 'test/*.hpp' 'examples/*.cpp' 'examples/*.hpp' 'bench/*.cpp' 'bench/*.c')

check-format:
	clang-format --dry-run -Werror $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'test/*.cpp' 'test/*.hpp' 'examples/*.cpp' 'examples/*.hpp' 'bench/*.cpp' 'bench/*.c')
