/*
** heap.c: placeholder.
*/
typedef int stepflow_heap_placeholder;
