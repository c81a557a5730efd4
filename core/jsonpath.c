/*
** jsonpath.c: placeholder.
*/
typedef int stepflow_jsonpath_placeholder;
