// Compiled by `make check-purity` with the flags of a pure C++ file: it must FAIL to
// compile, proving that pure files cannot reach PostgreSQL's headers.
#include "postgres.h"
int purity_probe() {
  return 0;
}
