/*
** store.c: placeholder.
*/
typedef int stepflow_store_placeholder;
