/*
** loop.c: placeholder.
*/
typedef int stepflow_loop_placeholder;
