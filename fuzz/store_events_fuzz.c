/*
** store_events_fuzz.c: libFuzzer harness of the store's event row parser
** (core/store_events.c). Any text must parse to events or stop with -1,
** never reading outside it; the events parsed, written back as a row by
** sf_events_append, must parse again to the same events.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_events.h"

#define MAXEV 256

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  static char types[MAXEV][SF_EVENT_TYPE_MAX + 1];
  stepflow_event_rec ev[MAXEV], again;
  char typebuf[SF_EVENT_TYPE_MAX + 1];
  char *copy = malloc(size ? size : 1);   /* exactly size bytes: ASan sees overreads */
  size_t pos = 0, n = 0, i;
  sf_events *evs;
  sf_pending *p;
  int r;
  memcpy(copy, data, size);
  while (n < MAXEV && (r = sf_event_parse(copy, size, &pos, &ev[n], types[n])) == 1) {
    if (pos > size || ev[n].details < copy ||
        ev[n].details + ev[n].details_len > copy + size)
      abort();
    n++;
  }
  if (n == 0) { free(copy); return 0; }
  evs = sf_events_new();
  p = sf_events_add(evs, 1, 0);
  for (i = 0; i < n; i++) {
    if (!sf_event_type_ok(ev[i].type)) continue;   /* append's caller checks */
    if (sf_events_append(evs, p, &ev[i]) != 0) abort();
  }
  pos = 0;
  for (i = 0; i < n; i++) {
    if (!sf_event_type_ok(ev[i].type)) continue;
    if (sf_event_parse(p->buf, p->len, &pos, &again, typebuf) != 1) abort();
    if (again.id != ev[i].id || again.prev_id != ev[i].prev_id ||
        again.timestamp != ev[i].timestamp || strcmp(again.type, ev[i].type) != 0 ||
        again.details_len != ev[i].details_len ||
        memcmp(again.details, ev[i].details, again.details_len) != 0) {
      fprintf(stderr, "event %zu differs after the round trip\n", i);
      abort();
    }
  }
  sf_events_free(evs);
  free(copy);
  return 0;
}
