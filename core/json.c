/*
** json.c: placeholder.
*/
typedef int stepflow_json_placeholder;
