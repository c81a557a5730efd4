/*
** stepflow_core.h: declarations shared by the C core's files.
** Only the lmod_*.c bindings and json*.c include lua.h.
*/
#ifndef STEPFLOW_CORE_H
#define STEPFLOW_CORE_H

#define STEPFLOW_EXPORT __attribute__((visibility("default")))

#endif
