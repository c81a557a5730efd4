/*
** store_events.c: pending history events per execution (a hash of
** entries keyed by the execution's integer key) and the row format:
**
**   ID SP PREV SP TIMESTAMP SP TYPE SP LENGTH LF DETAILS LF
**
** per event, numbers in decimal, LENGTH the byte length of DETAILS (any
** text: the length, not a delimiter, ends it). See docs/STORE.md.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_events.h"

/* Each entry is allocated alone, so pointers to it stay valid while the
** buckets grow. */
typedef struct node {
  sf_pending p;
  struct node *chain;
} node;

struct sf_events {
  node **buckets;
  size_t nbuckets;      /* a power of two, or 0 before the first entry */
  size_t count;
  sf_pending **dirty;   /* entries with pending text */
  size_t ndirty, cdirty;
};

static size_t slot (const sf_events *ev, int64_t exec) {
  /* Fibonacci hashing: consecutive keys spread over the buckets */
  uint64_t h = (uint64_t)exec * UINT64_C(0x9E3779B97F4A7C15);
  return (size_t)(h >> 32) & (ev->nbuckets - 1);
}

sf_events *sf_events_new (void) {
  return calloc(1, sizeof(sf_events));
}

static void free_nodes (sf_events *ev) {
  size_t i;
  for (i = 0; i < ev->nbuckets; i++) {
    node *n = ev->buckets[i];
    while (n != NULL) {
      node *next = n->chain;
      free(n->p.buf);
      free(n);
      n = next;
    }
    ev->buckets[i] = NULL;
  }
  ev->count = 0;
  ev->ndirty = 0;
}

void sf_events_free (sf_events *ev) {
  if (ev == NULL) return;
  free_nodes(ev);
  free(ev->buckets);
  free(ev->dirty);
  free(ev);
}

void sf_events_clear (sf_events *ev) {
  free_nodes(ev);
}

sf_pending *sf_events_find (sf_events *ev, int64_t exec) {
  node *n;
  if (ev->nbuckets == 0) return NULL;
  for (n = ev->buckets[slot(ev, exec)]; n != NULL; n = n->chain)
    if (n->p.exec == exec) return &n->p;
  return NULL;
}

/* Doubles the buckets (at least 64): 0, or -1 when out of memory. */
static int grow (sf_events *ev) {
  size_t old = ev->nbuckets, nb = old ? old * 2 : 64, i;
  node **ob = ev->buckets;
  node **b = calloc(nb, sizeof(*b));
  if (b == NULL) return -1;
  ev->buckets = b;
  ev->nbuckets = nb;
  for (i = 0; i < old; i++) {
    node *n = ob[i];
    while (n != NULL) {
      node *next = n->chain;
      size_t k = slot(ev, n->p.exec);
      n->chain = b[k];
      b[k] = n;
      n = next;
    }
  }
  free(ob);
  return 0;
}

sf_pending *sf_events_add (sf_events *ev, int64_t exec, int64_t last) {
  node *n;
  size_t k;
  if (ev->count >= ev->nbuckets && grow(ev) != 0) return NULL;
  n = calloc(1, sizeof(*n));
  if (n == NULL) return NULL;
  n->p.exec = exec;
  n->p.last = last;
  k = slot(ev, exec);
  n->chain = ev->buckets[k];
  ev->buckets[k] = n;
  ev->count++;
  return &n->p;
}

static void drop (sf_events *ev, int64_t exec) {
  node **pn = &ev->buckets[slot(ev, exec)];
  while (*pn != NULL) {
    node *n = *pn;
    if (n->p.exec == exec) {
      *pn = n->chain;
      free(n->p.buf);
      free(n);
      ev->count--;
      return;
    }
    pn = &n->chain;
  }
}

/* Writes v in decimal at p (room for 20 digits and a sign); the end. */
static char *put_int (char *p, int64_t v) {
  char tmp[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  if (v < 0) *p++ = '-';
  do {
    tmp[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

int sf_events_append (sf_events *ev, sf_pending *p,
                      const stepflow_event_rec *e) {
  size_t tlen = strlen(e->type);
  /* 4 numbers of at most 21 characters, 4 spaces, 2 newlines */
  size_t need = p->len + tlen + e->details_len + 4 * 21 + 6;
  char *w;
  if (need > p->cap) {
    size_t cap = p->cap ? p->cap : 1024;
    char *nb;
    while (cap < need) cap *= 2;
    nb = realloc(p->buf, cap);
    if (nb == NULL) return -1;
    p->buf = nb;
    p->cap = cap;
  }
  if (!p->dirty) {
    if (ev->ndirty == ev->cdirty) {
      size_t c = ev->cdirty ? ev->cdirty * 2 : 64;
      sf_pending **nd = realloc(ev->dirty, c * sizeof(*nd));
      if (nd == NULL) return -1;
      ev->dirty = nd;
      ev->cdirty = c;
    }
    ev->dirty[ev->ndirty++] = p;
    p->dirty = 1;
    p->first = e->id;
  }
  w = p->buf + p->len;
  w = put_int(w, e->id);
  *w++ = ' ';
  w = put_int(w, e->prev_id);
  *w++ = ' ';
  w = put_int(w, e->timestamp);
  *w++ = ' ';
  memcpy(w, e->type, tlen);
  w += tlen;
  *w++ = ' ';
  w = put_int(w, (int64_t)e->details_len);
  *w++ = '\n';
  if (e->details_len > 0) memcpy(w, e->details, e->details_len);
  w += e->details_len;
  *w++ = '\n';
  p->len = (size_t)(w - p->buf);
  p->last = e->id;
  return 0;
}

void sf_events_finish (sf_events *ev, sf_pending *p) {
  if (p->dirty) p->done = 1;
  else drop(ev, p->exec);
}

size_t sf_events_ndirty (const sf_events *ev) {
  return ev->ndirty;
}

sf_pending *sf_events_dirty (sf_events *ev, size_t i) {
  return ev->dirty[i];
}

void sf_events_written (sf_events *ev) {
  size_t i;
  for (i = 0; i < ev->ndirty; i++) {
    sf_pending *p = ev->dirty[i];
    if (p->done) {
      drop(ev, p->exec);
      continue;
    }
    /* a parked execution keeps only its entry, not the buffer */
    free(p->buf);
    p->buf = NULL;
    p->len = p->cap = 0;
    p->dirty = 0;
  }
  ev->ndirty = 0;
}

int sf_event_type_ok (const char *type) {
  size_t n = 0;
  for (; type[n] != '\0'; n++) {
    unsigned char c = (unsigned char)type[n];
    if (c <= ' ' || c == 0x7f || n >= SF_EVENT_TYPE_MAX) return 0;
  }
  return n > 0;
}

/* Reads a decimal integer ending with `stop`: 0, or -1. */
static int get_int (const char *d, size_t len, size_t *pos, char stop,
                    int64_t *out) {
  size_t i = *pos;
  int neg = 0, digits = 0;
  uint64_t u = 0;
  if (i < len && d[i] == '-') {
    neg = 1;
    i++;
  }
  while (i < len && d[i] >= '0' && d[i] <= '9') {
    if (++digits > 19) return -1;
    u = u * 10 + (uint64_t)(d[i] - '0');
    i++;
  }
  if (digits == 0 || i >= len || d[i] != stop || u > (uint64_t)INT64_MAX)
    return -1;
  *out = neg ? -(int64_t)u : (int64_t)u;
  *pos = i + 1;
  return 0;
}

int sf_event_parse (const char *d, size_t len, size_t *pos,
                    stepflow_event_rec *out, char *typebuf) {
  size_t i = *pos, t0;
  int64_t dlen;
  if (i >= len) return 0;
  if (get_int(d, len, &i, ' ', &out->id) != 0 ||
      get_int(d, len, &i, ' ', &out->prev_id) != 0 ||
      get_int(d, len, &i, ' ', &out->timestamp) != 0)
    return -1;
  t0 = i;
  while (i < len && d[i] != ' ' && i - t0 <= SF_EVENT_TYPE_MAX) i++;
  if (i >= len || d[i] != ' ' || i == t0 || i - t0 > SF_EVENT_TYPE_MAX)
    return -1;
  memcpy(typebuf, d + t0, i - t0);
  typebuf[i - t0] = '\0';
  i++;
  if (get_int(d, len, &i, '\n', &dlen) != 0 || dlen < 0 ||
      (uint64_t)dlen >= len - i || d[i + (size_t)dlen] != '\n')
    return -1;
  out->type = typebuf;
  out->details = d + i;
  out->details_len = (size_t)dlen;
  *pos = i + (size_t)dlen + 1;
  return 1;
}
