/* Commit-to-listener latency: one connection LISTENs channel_sync, another runs N
 * single-row stock UPDATEs (autocommit, each committed with fsync) of SKUs with no pending
 * message (the caller empties the outbox; SKU i is updated i-th); for each, the time
 * from sending the UPDATE to the listener receiving the NOTIFY. Prints one latency in
 * microseconds per line. Usage: listen_latency N SKU_COUNT */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static PGconn* connect_or_die(void) {
  PGconn* c = PQconnectdb("");
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "connect: %s", PQerrorMessage(c));
    exit(1);
  }
  return c;
}

static void exec_or_die(PGconn* c, const char* sql) {
  PGresult* r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    exit(1);
  }
  PQclear(r);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200, skus = argc > 2 ? atoi(argv[2]) : 1000;
  PGconn *listener = connect_or_die(), *writer = connect_or_die();
  exec_or_die(listener, "LISTEN channel_sync");
  int timeouts = 0;
  for (int i = 0; i < n; ++i) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE channel_sync.stock SET on_hand = on_hand %% 200 + 1 + %d "
             "WHERE sku = 'B%05d' AND location_id = 'wh1'",
             i % 7, 1 + i % skus);
    PGnotify* stale;
    PQconsumeInput(listener);
    while ((stale = PQnotifies(listener)) != NULL) PQfreemem(stale); /* earlier commits */
    double t0 = now_us();
    exec_or_die(writer, sql);
    PGnotify* note = NULL;
    while (note == NULL) {
      PQconsumeInput(listener);
      note = PQnotifies(listener);
      if (note != NULL) break;
      int sock = PQsocket(listener);
      fd_set in;
      FD_ZERO(&in);
      FD_SET(sock, &in);
      struct timeval tv = {2, 0};
      if (select(sock + 1, &in, NULL, NULL, &tv) == 0) break; /* no notification in 2 s */
    }
    if (note == NULL) {
      printf("timeout\n");
      if (++timeouts >= 3) break; /* something is wrong: stop, do not wait 2 s per update */
      continue;
    }
    printf("%.0f\n", now_us() - t0);
    PQfreemem(note);
    while ((note = PQnotifies(listener)) != NULL) PQfreemem(note); /* other channels, same commit */
  }
  PQfinish(writer);
  PQfinish(listener);
  return 0;
}
