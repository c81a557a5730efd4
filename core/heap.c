/*
** heap.c: binary min-heap of (due, seq) keys with removal by handle.
** Keys live in the array next to the entry pointer so that sifting only
** touches the array; each entry remembers its index for O(log n) removal.
*/
#include <stdlib.h>

#include "stepflow_core.h"


/* a < b in (due, seq) order */
static int node_less (const stepflow_hnode *a, const stepflow_hnode *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}


static void place (stepflow_heap *h, size_t i, const stepflow_hnode *nd) {
  h->nodes[i] = *nd;
  nd->entry->index = i;
}


/* Moves node nd up from hole i. */
static void sift_up (stepflow_heap *h, size_t i, stepflow_hnode nd) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!node_less(&nd, &h->nodes[parent]))
      break;
    place(h, i, &h->nodes[parent]);
    i = parent;
  }
  place(h, i, &nd);
}


/* Moves node nd down from hole i. */
static void sift_down (stepflow_heap *h, size_t i, stepflow_hnode nd) {
  size_t n = h->n;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n)
      break;
    if (child + 1 < n && node_less(&h->nodes[child + 1], &h->nodes[child]))
      child++;
    if (!node_less(&h->nodes[child], &nd))
      break;
    place(h, i, &h->nodes[child]);
    i = child;
  }
  place(h, i, &nd);
}


void stepflow_heap_init (stepflow_heap *h) {
  h->nodes = NULL;
  h->n = 0;
  h->cap = 0;
}


void stepflow_heap_free (stepflow_heap *h) {
  size_t i;
  for (i = 0; i < h->n; i++)
    h->nodes[i].entry->index = STEPFLOW_HEAP_NONE;
  free(h->nodes);
  stepflow_heap_init(h);
}


int stepflow_heap_push (stepflow_heap *h, stepflow_hentry *e) {
  stepflow_hnode nd;
  if (h->n == h->cap) {
    size_t ncap = h->cap ? h->cap * 2 : 64;
    stepflow_hnode *nodes;
    if (ncap > (size_t)-1 / sizeof(stepflow_hnode) / 2)
      return -1;
    nodes = (stepflow_hnode *)realloc(h->nodes, ncap * sizeof(*nodes));
    if (nodes == NULL)
      return -1;
    h->nodes = nodes;
    h->cap = ncap;
  }
  nd.due = e->due;
  nd.seq = e->seq;
  nd.entry = e;
  sift_up(h, h->n++, nd);
  return 0;
}


/* Removes the node at position i (i < n). */
static void remove_at (stepflow_heap *h, size_t i) {
  stepflow_hnode last;
  h->nodes[i].entry->index = STEPFLOW_HEAP_NONE;
  last = h->nodes[--h->n];
  if (i == h->n)
    return;  /* it was the last node */
  /* Fill the hole with the last node, then restore order either way. */
  if (i > 0 && node_less(&last, &h->nodes[(i - 1) / 2]))
    sift_up(h, i, last);
  else
    sift_down(h, i, last);
}


stepflow_hentry *stepflow_heap_pop (stepflow_heap *h) {
  stepflow_hentry *e;
  if (h->n == 0)
    return NULL;
  e = h->nodes[0].entry;
  remove_at(h, 0);
  return e;
}


int stepflow_heap_remove (stepflow_heap *h, stepflow_hentry *e) {
  size_t i = e->index;
  if (i == STEPFLOW_HEAP_NONE || i >= h->n || h->nodes[i].entry != e)
    return 0;
  remove_at(h, i);
  return 1;
}
